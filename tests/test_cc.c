/*
 * Congestion control arithmetic, algorithm by algorithm: a control block
 * with its window, flight and RTT written in directly, the ops called the
 * way the engine calls them, on a clock moved by hand. NewReno against
 * RFC 5681 and RFC 6582, CUBIC against RFC 9438, RFC 6928's initial window
 * for both. Sequence numbers sit just below the 2^32 wrap.
 */
#include <math.h>
#include <stdlib.h>

#include "synfin/synfin.h"
#include "tcp/tcp_priv.h"
#include "test.h"

#define SMSS 1000u /* a round segment size keeps the expected values readable */
#define UNA0 0xfffff000u

struct fix {
	struct synfin_stack *st;
	struct tcb *tp;
	const struct cc_ops *cc;
};
/* file scope: a failed ASSERT longjmps out of the test, and the next
 * fixture frees what it left behind */
static struct fix fx;

static void cc_output(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)pkt;
	(void)len;
}

static void fix_done(void)
{
	if (fx.tp)
		tcp_free(fx.st, fx.tp);
	if (fx.st)
		synfin_stack_destroy(fx.st);
	memset(&fx, 0, sizeof fx);
}

static void set_flight(struct tcb *tp, uint32_t bytes)
{
	tp->snd_max = tp->snd_una + bytes;
	tp->snd_nxt = tp->snd_max;
}

/* A connection with algorithm `which`, MSS `mss`, the window and ssthresh
 * given, a flight of `cwnd` bytes, no RTT sample; with its extension (the
 * algorithm's state) when `ext`. */
static struct fix *fix_new(uint8_t which, uint16_t mss, uint32_t cwnd, uint32_t ssthresh, bool ext)
{
	fix_done();
	struct synfin_config cfg;
	synfin_config_default(&cfg);
	struct synfin_ops ops = {.output = cc_output};
	fx.st = synfin_stack_create(&cfg, &ops, 0xc6120001u, 7, SYNFIN_SEC(1000));
	ASSERT(fx.st);
	fx.tp = tcp_newtcb(fx.st);
	ASSERT(fx.tp);
	fx.tp->cc = which;
	fx.cc = cc_get(which);
	ASSERT(fx.cc);
	fx.tp->state = TCPS_ESTABLISHED;
	/* the payload per segment the algorithms read (no timestamps here) */
	fx.tp->t_maxseg = fx.tp->t_mss = mss;
	fx.tp->cwnd = cwnd;
	fx.tp->ssthresh = ssthresh;
	fx.tp->srtt = 0;
	fx.tp->snd_una = UNA0;
	set_flight(fx.tp, cwnd);
	if (ext)
		ASSERT(tcp_ext_get(fx.st, fx.tp));
	/* a clock well past the stack's start */
	st_advance(fx.st, fx.st->now + SYNFIN_SEC(5));
	return &fx;
}

static void advance_us(struct fix *f, synfin_time_t us)
{
	st_advance(f->st, f->st->now + us);
}

/* One round trip of a window-limited sender: exactly one window of bytes
 * is acknowledged, in `per_ack` pieces spread evenly over `rtt_us`, and
 * the next window goes out (the flight follows cwnd). */
static void round_trip(struct fix *f, uint32_t rtt_us, uint32_t per_ack)
{
	uint32_t window = f->tp->cwnd;
	uint32_t n = (window + per_ack - 1) / per_ack;
	synfin_time_t t0 = f->st->now;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t acked = i + 1 < n ? per_ack : window - per_ack * (n - 1);
		st_advance(f->st, t0 + (synfin_time_t)rtt_us * (i + 1) / n);
		f->tp->snd_una += acked;
		f->cc->ack(f->st, f->tp, acked, rtt_us);
	}
	set_flight(f->tp, f->tp->cwnd);
}

static struct cc_cubic *cub(struct fix *f)
{
	return &f->tp->x->cc.cubic;
}

/* K of RFC 9438 4.2 in ms, in floating point, for the comparison */
static double k_ref_ms(double w_max, double cwnd_epoch, double mss)
{
	return cbrt((w_max - cwnd_epoch) / mss / 0.4) * 1000.0;
}

/* ==== registry and initial window ==== */

TEST(cc_get_and_rfc6928_initial_window)
{
	ASSERT(cc_get(SYNFIN_CC_CUBIC) == &cc_cubic);
	ASSERT(cc_get(SYNFIN_CC_NEWRENO) == &cc_newreno);
	ASSERT(cc_get(2) == NULL);
	ASSERT(cc_get(255) == NULL);
	ASSERT_STR(cc_cubic.name, "cubic");
	ASSERT_STR(cc_newreno.name, "newreno");
	/* min(10*MSS, max(2*MSS, 14600)) */
	ASSERT_U32(cc_initial_window(1460), 14600);
	ASSERT_U32(cc_initial_window(1448), 14480); /* timestamps on */
	ASSERT_U32(cc_initial_window(536), 5360);
	ASSERT_U32(cc_initial_window(1500), 14600);
	ASSERT_U32(cc_initial_window(8960), 17920); /* jumbo: two segments */
	ASSERT_U32(cc_initial_window(65535), 131070);
	ASSERT_U32(cc_initial_window(1), 10);
}

/* ==== NewReno (RFC 5681, RFC 6582) ==== */

TEST(cc_newreno_slow_start_adds_at_most_one_smss_per_ack)
{
	struct fix *f = fix_new(SYNFIN_CC_NEWRENO, 1460, 14600, UINT32_MAX / 2, true);
	/* RFC 5681 3.1 eq. 2: cwnd += min(N, SMSS) */
	f->cc->ack(f->st, f->tp, 1460, 0);
	ASSERT_U32(f->tp->cwnd, 16060);
	f->cc->ack(f->st, f->tp, 2920, 0); /* a delayed ACK: still one SMSS */
	ASSERT_U32(f->tp->cwnd, 17520);
	f->cc->ack(f->st, f->tp, 500, 0);
	ASSERT_U32(f->tp->cwnd, 18020);
	f->cc->ack(f->st, f->tp, 0, 0);
	ASSERT_U32(f->tp->cwnd, 18020);
	/* a window of ACKs doubles it */
	f->tp->cwnd = 10 * SMSS;
	f->tp->t_maxseg = f->tp->t_mss = SMSS;
	round_trip(f, 100000, SMSS);
	ASSERT_U32(f->tp->cwnd, 20 * SMSS);
	ASSERT_U32(f->tp->ssthresh, UINT32_MAX / 2);
	fix_done();
}

TEST(cc_newreno_congestion_avoidance_one_smss_per_rtt)
{
	struct fix *f = fix_new(SYNFIN_CC_NEWRENO, SMSS, 20 * SMSS, 20 * SMSS, true);
	/* RFC 5681 3.1 byte counting: SMSS for every cwnd acknowledged */
	for (int i = 0; i < 10; i++)
		round_trip(f, 50000, SMSS);
	ASSERT_U32(f->tp->cwnd, 30 * SMSS);
	/* delayed ACKs (RFC 9293 3.8.6.3) do not slow it down */
	for (int i = 0; i < 10; i++)
		round_trip(f, 50000, 2 * SMSS);
	ASSERT_U32(f->tp->cwnd, 40 * SMSS);
	/* nor do stretch ACKs, and one ACK never adds more than SMSS */
	round_trip(f, 50000, 40 * SMSS);
	ASSERT_U32(f->tp->cwnd, 41 * SMSS);
	f->cc->ack(f->st, f->tp, 200 * SMSS, 0);
	ASSERT_U32(f->tp->cwnd, 42 * SMSS);
	/* the RTT does not matter to Reno: per RTT is per window */
	round_trip(f, 1000, SMSS);
	ASSERT_U32(f->tp->cwnd, 43 * SMSS);
	ASSERT_U32(f->tp->ssthresh, 20 * SMSS);
	fix_done();
}

TEST(cc_newreno_without_state_uses_rfc5681_eq3)
{
	struct fix *f = fix_new(SYNFIN_CC_NEWRENO, SMSS, 20 * SMSS, 10 * SMSS, false);
	ASSERT(f->tp->x == NULL);
	/* SMSS*SMSS/cwnd per ACK */
	f->cc->ack(f->st, f->tp, SMSS, 0);
	ASSERT_U32(f->tp->cwnd, 20 * SMSS + 50);
	/* at least one byte when that rounds to 0 */
	f->tp->cwnd = 2000000000u;
	f->tp->ssthresh = 2 * SMSS;
	f->cc->ack(f->st, f->tp, SMSS, 0);
	ASSERT_U32(f->tp->cwnd, 2000000001u);
	fix_done();
}

TEST(cc_newreno_congestion_halves_the_flight)
{
	struct fix *f = fix_new(SYNFIN_CC_NEWRENO, SMSS, 40 * SMSS, UINT32_MAX / 2, true);
	/* RFC 5681 eq. 4 from FlightSize (across the wrap), not from cwnd */
	set_flight(f->tp, 30 * SMSS);
	ASSERT(f->tp->snd_max < f->tp->snd_una);
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(f->tp->ssthresh, 15 * SMSS);
	ASSERT_U32(f->tp->cwnd, 15 * SMSS); /* the engine adds 3*SMSS without SACK */
	/* SACKed bytes are still in FlightSize (RFC 6675 5 step 4.2) */
	f->tp->cwnd = 40 * SMSS;
	f->tp->x->sacked_bytes = 5 * SMSS;
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(f->tp->ssthresh, 15 * SMSS);
	/* never below two segments */
	f->tp->x->sacked_bytes = 0;
	set_flight(f->tp, 3 * SMSS);
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(f->tp->ssthresh, 2 * SMSS);
	ASSERT_U32(f->tp->cwnd, 2 * SMSS);
	fix_done();
}

TEST(cc_newreno_full_ack_deflates_per_rfc6582)
{
	struct fix *f = fix_new(SYNFIN_CC_NEWRENO, SMSS, 40 * SMSS, UINT32_MAX / 2, true);
	set_flight(f->tp, 30 * SMSS);
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(f->tp->ssthresh, 15 * SMSS);
	f->tp->cwnd += 3 * SMSS + 5 * SMSS; /* the engine's inflation */
	/* step 3 option (1): min(ssthresh, max(FlightSize, SMSS) + SMSS) */
	f->tp->snd_una = f->tp->snd_max - 4 * SMSS;
	f->cc->recovered(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 5 * SMSS);
	set_flight(f->tp, 20 * SMSS);
	f->cc->recovered(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 15 * SMSS);
	set_flight(f->tp, 0);
	f->cc->recovered(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 2 * SMSS);
	fix_done();
}

TEST(cc_newreno_timeout_loss_window_and_held_ssthresh)
{
	struct fix *f = fix_new(SYNFIN_CC_NEWRENO, SMSS, 40 * SMSS, UINT32_MAX / 2, true);
	set_flight(f->tp, 30 * SMSS);
	f->tp->rxtshift = 1; /* the engine counts the expiry before calling */
	f->cc->timeout(f->st, f->tp);
	ASSERT_U32(f->tp->ssthresh, 15 * SMSS);
	ASSERT_U32(f->tp->cwnd, SMSS);
	/* the resent segment times out again: ssthresh is held (RFC 5681
	 * 3.1), not recomputed from a flight of one segment */
	set_flight(f->tp, SMSS);
	f->tp->rxtshift = 2;
	f->cc->timeout(f->st, f->tp);
	ASSERT_U32(f->tp->ssthresh, 15 * SMSS);
	ASSERT_U32(f->tp->cwnd, SMSS);
	/* and slow start again from one segment */
	f->tp->rxtshift = 0;
	f->cc->ack(f->st, f->tp, SMSS, 0);
	ASSERT_U32(f->tp->cwnd, 2 * SMSS);
	fix_done();
}

TEST(cc_newreno_idle_restart_window)
{
	struct fix *f = fix_new(SYNFIN_CC_NEWRENO, 1460, 100000, 50000, true);
	/* RFC 5681 4.1: min(IW, cwnd) */
	f->cc->idle(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 14600);
	ASSERT_U32(f->tp->ssthresh, 50000);
	f->tp->cwnd = 5000;
	f->cc->idle(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 5000);
	fix_done();
}

/* ==== CUBIC (RFC 9438) ==== */

TEST(cc_cubic_slow_start_is_reno)
{
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, 1460, 14600, UINT32_MAX / 2, true);
	f->cc->ack(f->st, f->tp, 1460, 0);
	ASSERT_U32(f->tp->cwnd, 16060);
	f->cc->ack(f->st, f->tp, 2920, 0);
	ASSERT_U32(f->tp->cwnd, 17520);
	ASSERT_U32(cub(f)->epoch_ms, 0); /* no congestion avoidance epoch */
	fix_done();
}

TEST(cc_cubic_congestion_is_beta_0_7_and_sets_k)
{
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, SMSS, 100 * SMSS, UINT32_MAX / 2, true);
	f->cc->congestion(f->st, f->tp);
	/* 4.6: FlightSize * 0.7 */
	ASSERT_U32(f->tp->ssthresh, 70 * SMSS);
	ASSERT_U32(f->tp->cwnd, 70 * SMSS);
	ASSERT_U32(cub(f)->w_max, 100 * SMSS);
	ASSERT_U32(cub(f)->w_last_max, 100 * SMSS);
	ASSERT_U32(cub(f)->epoch_ms, 0);
	/* the first ACK in congestion avoidance starts the epoch:
	 * K = cbrt(W_max * (1 - 0.7) / 0.4) = cbrt(75) s */
	f->cc->ack(f->st, f->tp, SMSS, 0);
	ASSERT_NE(cub(f)->epoch_ms, 0);
	ASSERT_U32(cub(f)->cwnd_prior, 70 * SMSS);
	ASSERT_U32(cub(f)->w_est, 70 * SMSS);
	double k = k_ref_ms(100 * SMSS, 70 * SMSS, SMSS);
	ASSERT_MSG(fabs(cub(f)->k_ms - k) <= 1.0, "K %u ms, want %.1f", cub(f)->k_ms, k);
	ASSERT_U32(cub(f)->k_ms, 4217);
	/* never below two segments */
	set_flight(f->tp, 2 * SMSS);
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(f->tp->ssthresh, 2 * SMSS);
	ASSERT_U32(f->tp->cwnd, 2 * SMSS);
	fix_done();
}

TEST(cc_cubic_k_matches_the_real_cube_root)
{
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, 1448, 14480, UINT32_MAX / 2, true);
	static const uint32_t windows[] = {2, 3, 10, 47, 100, 333, 1000, 12345, 700000};
	for (size_t i = 0; i < sizeof windows / sizeof windows[0]; i++) {
		uint32_t w = windows[i] * 1448u;
		f->tp->cwnd = w;
		set_flight(f->tp, w);
		memset(cub(f), 0, sizeof *cub(f));
		f->cc->congestion(f->st, f->tp);
		f->cc->ack(f->st, f->tp, 1448, 0);
		if (cub(f)->k_ms == 0) {
			/* the 2-segment floor left cwnd at W_max: K = 0 */
			ASSERT_U32(cub(f)->cwnd_prior, cub(f)->w_max);
			continue;
		}
		double k = k_ref_ms(cub(f)->w_max, cub(f)->cwnd_prior, 1448);
		ASSERT_MSG(fabs(cub(f)->k_ms - k) <= 1.0, "W %u: K %u ms, want %.2f", w,
			   cub(f)->k_ms, k);
	}
	fix_done();
}

/* W_max of 1000 segments, RTT 100 ms: K = cbrt(750) = 9.086 s */
TEST(cc_cubic_reaches_w_max_at_k_concave_then_convex)
{
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, SMSS, 1000 * SMSS, UINT32_MAX / 2, true);
	const uint32_t rtt = 100000;
	f->tp->srtt = rtt;
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 700 * SMSS);
	set_flight(f->tp, f->tp->cwnd);
	/* per second of the epoch: growth, and the window at its end */
	uint32_t grew[14], at[14];
	uint32_t prev = f->tp->cwnd;
	for (int s = 0; s < 14; s++) {
		for (int r = 0; r < 10; r++) {
			round_trip(f, rtt, SMSS);
			/* concave side: never beyond W_max before K (the target
			 * looks one RTT ahead, so one RTT of margin) */
			uint64_t t_ms = (uint32_t)(st_ms(f->st) - cub(f)->epoch_ms);
			if (t_ms + rtt / 1000 < cub(f)->k_ms)
				ASSERT_MSG(f->tp->cwnd <= 1000 * SMSS, "t %" PRIu64 ": cwnd %u > W_max",
					   t_ms, f->tp->cwnd);
			/* and W_est stays well behind: the cubic is in charge */
			ASSERT(cub(f)->w_est < f->tp->cwnd);
			if (t_ms >= 9000 && t_ms < 9100) {
				/* t = K (to the 100 ms step): W_cubic(K) = W_max */
				ASSERT_MSG(f->tp->cwnd + SMSS >= 1000 * SMSS &&
						   f->tp->cwnd <= 1000 * SMSS + SMSS,
					   "t %" PRIu64 " ms: cwnd %u, W_max %u", t_ms, f->tp->cwnd,
					   1000 * SMSS);
			}
		}
		at[s] = f->tp->cwnd;
		grew[s] = f->tp->cwnd - prev;
		prev = f->tp->cwnd;
	}
	ASSERT_U32(cub(f)->k_ms, 9085);
	/* concave: each second adds less than the one before, up to K */
	for (int s = 1; s < 9; s++)
		ASSERT_MSG(grew[s] < grew[s - 1], "second %d grew %u, second %d %u", s, grew[s],
			   s - 1, grew[s - 1]);
	ASSERT(at[7] < 1000 * SMSS);
	/* convex: past K each second adds more than the one before */
	for (int s = 10; s < 14; s++)
		ASSERT_MSG(grew[s] > grew[s - 1], "second %d grew %u, second %d %u", s, grew[s],
			   s - 1, grew[s - 1]);
	ASSERT(at[13] > 1000 * SMSS);
	/* against the curve: at t = 14 s, W_cubic = W_max + 0.4*(14-K)^3
	 * segments, within the RTT of look-ahead */
	double t = (uint32_t)(st_ms(f->st) - cub(f)->epoch_ms) / 1000.0;
	double k = cub(f)->k_ms / 1000.0;
	double lo = 1000.0 + 0.4 * pow(t - k, 3), hi = 1000.0 + 0.4 * pow(t + 0.1 - k, 3);
	double segs = f->tp->cwnd / (double)SMSS;
	ASSERT_MSG(segs >= lo - 1 && segs <= hi + 1, "cwnd %.2f segments, curve %.2f..%.2f", segs,
		   lo, hi);
	fix_done();
}

TEST(cc_cubic_fast_convergence_lowers_w_max)
{
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, SMSS, 100 * SMSS, UINT32_MAX / 2, true);
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(cub(f)->w_max, 100 * SMSS);
	/* the next loss comes at 90 segments, below W_max: 4.7 releases
	 * bandwidth, W_max = 90 * (1 + 0.7) / 2 = 76.5 segments */
	f->tp->cwnd = 90 * SMSS;
	set_flight(f->tp, 90 * SMSS);
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(cub(f)->w_max, 76500);
	ASSERT_U32(cub(f)->w_last_max, 90 * SMSS);
	ASSERT_U32(f->tp->ssthresh, 63 * SMSS);
	ASSERT_U32(f->tp->cwnd, 63 * SMSS);
	/* K is then from 63 to 76.5 segments: cbrt(13.5 / 0.4) s */
	f->cc->ack(f->st, f->tp, SMSS, 0);
	double k = k_ref_ms(76500, 63 * SMSS, SMSS);
	ASSERT_MSG(fabs(cub(f)->k_ms - k) <= 1.0, "K %u, want %.1f", cub(f)->k_ms, k);
	/* a loss at or above W_max: no fast convergence */
	f->tp->cwnd = 80 * SMSS;
	set_flight(f->tp, 80 * SMSS);
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(cub(f)->w_max, 80 * SMSS);
	ASSERT_U32(cub(f)->w_last_max, 80 * SMSS);
	ASSERT_U32(f->tp->ssthresh, 56 * SMSS);
	fix_done();
}

TEST(cc_cubic_reno_friendly_region_at_small_rtt)
{
	/* RTT 1 ms: the cubic, a function of time, barely moves in 30 ms;
	 * Reno's estimate, a function of round trips, does (4.3) */
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, SMSS, 100 * SMSS, UINT32_MAX / 2, true);
	f->tp->srtt = 1000;
	f->cc->congestion(f->st, f->tp);
	set_flight(f->tp, f->tp->cwnd);
	for (int r = 0; r < 30; r++)
		round_trip(f, 1000, SMSS);
	/* W_est grows alpha_cubic = 9/17 segment per window acknowledged
	 * (the first window was stretched by a few bytes of cubic growth,
	 * so its count completes in the next round) */
	ASSERT_U32(cub(f)->w_est, 70 * SMSS + 29 * (9 * SMSS / 17));
	ASSERT_U32(f->tp->cwnd, cub(f)->w_est);
	/* while W_cubic(30 ms) is within a segment of where it started */
	ASSERT(cub(f)->w_est > 70 * SMSS + 15 * SMSS);
	/* once W_est reaches cwnd_prior (100 segments), alpha is 1: one
	 * segment per RTT, as Reno */
	while (cub(f)->w_est < 100 * SMSS)
		round_trip(f, 1000, SMSS);
	uint32_t w = f->tp->cwnd;
	round_trip(f, 1000, SMSS);
	ASSERT_U32(f->tp->cwnd, w + SMSS);
	round_trip(f, 1000, 2 * SMSS);
	ASSERT_U32(f->tp->cwnd, w + 2 * SMSS);
	fix_done();
}

TEST(cc_cubic_timeout_one_segment_then_k_zero)
{
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, SMSS, 100 * SMSS, UINT32_MAX / 2, true);
	cub(f)->w_max = 120 * SMSS; /* an older saturation point */
	f->tp->rxtshift = 1;
	f->cc->timeout(f->st, f->tp);
	/* 4.8: ssthresh as 4.6, cwnd the loss window */
	ASSERT_U32(f->tp->ssthresh, 70 * SMSS);
	ASSERT_U32(f->tp->cwnd, SMSS);
	ASSERT_U32(cub(f)->w_last_max, 100 * SMSS);
	ASSERT_U32(cub(f)->epoch_ms, 0);
	/* a second expiry for the same segment holds ssthresh */
	set_flight(f->tp, SMSS);
	f->tp->rxtshift = 2;
	f->cc->timeout(f->st, f->tp);
	ASSERT_U32(f->tp->ssthresh, 70 * SMSS);
	ASSERT_U32(f->tp->cwnd, SMSS);
	ASSERT_U32(cub(f)->w_last_max, 100 * SMSS);
	/* slow start back to ssthresh */
	f->tp->rxtshift = 0;
	while (f->tp->cwnd < f->tp->ssthresh)
		f->cc->ack(f->st, f->tp, SMSS, 0);
	ASSERT_U32(f->tp->cwnd, 70 * SMSS);
	ASSERT_U32(cub(f)->epoch_ms, 0);
	/* the first stage after the timeout: W_max = cwnd_epoch, K = 0 */
	f->cc->ack(f->st, f->tp, SMSS, 0);
	ASSERT_NE(cub(f)->epoch_ms, 0);
	ASSERT_U32(cub(f)->k_ms, 0);
	ASSERT_U32(cub(f)->w_max, 70 * SMSS);
	ASSERT_U32(cub(f)->w_est, 70 * SMSS);
	/* from a plateau it grows slowly at first */
	f->tp->srtt = 100000;
	round_trip(f, 100000, SMSS);
	ASSERT(f->tp->cwnd > 70 * SMSS && f->tp->cwnd < 71 * SMSS);
	fix_done();
}

TEST(cc_cubic_recovered_and_idle)
{
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, 1460, 100 * 1460, UINT32_MAX / 2, true);
	f->tp->srtt = 50000;
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(f->tp->ssthresh, 70 * 1460);
	f->tp->cwnd += 3 * 1460 + 4 * 1460; /* the engine's inflation */
	f->cc->recovered(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 70 * 1460);
	round_trip(f, 50000, 1460);
	ASSERT_NE(cub(f)->epoch_ms, 0);
	ASSERT(f->tp->cwnd > 70 * 1460);
	/* RFC 5681 4.1 restart window, and the epoch ends (RFC 9438 5.8) */
	advance_us(f, SYNFIN_SEC(30));
	f->cc->idle(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 14600);
	ASSERT_U32(f->tp->ssthresh, 70 * 1460);
	ASSERT_U32(cub(f)->epoch_ms, 0);
	/* a window already below the restart window stays */
	f->tp->cwnd = 4 * 1460;
	f->cc->idle(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 4 * 1460);
	fix_done();
}

TEST(cc_cubic_idle_time_is_not_growth)
{
	/* a long pause inside congestion avoidance, restarting from a
	 * window at ssthresh: the new epoch starts at the restart, so the
	 * 30 s pause does not turn into a jump along the cubic */
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, SMSS, 10 * SMSS, UINT32_MAX / 2, true);
	f->tp->srtt = 100000;
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 7 * SMSS);
	round_trip(f, 100000, SMSS);
	advance_us(f, SYNFIN_SEC(30));
	f->cc->idle(f->st, f->tp);
	uint32_t w = f->tp->cwnd;
	round_trip(f, 100000, SMSS);
	ASSERT_MSG(f->tp->cwnd < w + SMSS, "cwnd %u after idle from %u", f->tp->cwnd, w);
	fix_done();
}

/* ==== limits: tiny and huge windows, no RTT, no state, clock wrap ==== */

TEST(cc_small_windows_and_no_rtt)
{
	for (uint8_t which = 0; which <= 1; which++) {
		/* one segment, congestion avoidance, no RTT sample at all */
		struct fix *f = fix_new(which, SMSS, SMSS, SMSS, true);
		for (int i = 0; i < 1000; i++) {
			advance_us(f, 1000);
			f->cc->ack(f->st, f->tp, SMSS, 0);
			ASSERT(f->tp->cwnd >= SMSS);
		}
		ASSERT(f->tp->cwnd > SMSS);
		ASSERT(f->tp->cwnd < 1000 * SMSS);
		/* a zero window in congestion avoidance divides by nothing */
		f->tp->cwnd = 0;
		f->tp->ssthresh = 0;
		f->cc->ack(f->st, f->tp, SMSS, 0);
		f->cc->ack(f->st, f->tp, SMSS, 0);
		set_flight(f->tp, 0);
		f->cc->congestion(f->st, f->tp);
		ASSERT_U32(f->tp->ssthresh, 2 * SMSS);
		f->cc->timeout(f->st, f->tp);
		ASSERT_U32(f->tp->cwnd, SMSS);
		f->cc->recovered(f->st, f->tp);
		f->cc->idle(f->st, f->tp);
		/* the smallest MSS the arithmetic can meet: 1 byte (tcp_set_maxseg
		 * keeps it at 52 or more) */
		f->tp->t_maxseg = f->tp->t_mss = 1;
		f->tp->cwnd = 1;
		f->tp->ssthresh = 1;
		for (int i = 0; i < 100; i++) {
			advance_us(f, 10000);
			f->cc->ack(f->st, f->tp, 1, 0);
		}
		ASSERT(f->tp->cwnd >= 1);
		f->cc->congestion(f->st, f->tp);
		ASSERT_U32(f->tp->ssthresh, 2);
		f->cc->timeout(f->st, f->tp);
		ASSERT_U32(f->tp->cwnd, 1);
		fix_done();
	}
}

TEST(cc_huge_windows_do_not_overflow)
{
	const uint32_t gib = 1u << 30;
	for (uint8_t which = 0; which <= 1; which++) {
		struct fix *f = fix_new(which, 65495, gib, UINT32_MAX / 2, true);
		f->tp->srtt = 200000;
		f->cc->congestion(f->st, f->tp);
		ASSERT_U32(f->tp->ssthresh, which == SYNFIN_CC_CUBIC ? (uint32_t)(gib * 7ull / 10) : gib / 2);
		/* ACKs hours apart, of a whole window: the cubic saturates at
		 * 1.5 * cwnd per ACK and the window stays below 2^31 */
		for (int i = 0; i < 40; i++) {
			uint32_t before = f->tp->cwnd;
			advance_us(f, SYNFIN_SEC(3600 * 10));
			f->cc->ack(f->st, f->tp, f->tp->cwnd, 200000);
			ASSERT(f->tp->cwnd >= before);
			ASSERT(f->tp->cwnd <= UINT32_MAX / 2);
			ASSERT((uint64_t)f->tp->cwnd <= (uint64_t)before * 3 / 2 + 65495);
		}
		if (which == SYNFIN_CC_CUBIC)
			ASSERT_U32(f->tp->cwnd, UINT32_MAX / 2);
		else /* one SMSS per ACK of a window */
			ASSERT_U32(f->tp->cwnd, gib / 2 + 40 * 65495);
		/* a flight of nearly 4 GiB */
		set_flight(f->tp, UINT32_MAX - 1);
		f->cc->congestion(f->st, f->tp);
		ASSERT(f->tp->ssthresh >= (UINT32_MAX - 1) / 2);
		f->tp->rxtshift = 1;
		f->cc->timeout(f->st, f->tp);
		ASSERT_U32(f->tp->cwnd, 65495);
		/* slow start into the cap */
		f->tp->cwnd = UINT32_MAX / 2 - 10;
		f->tp->ssthresh = UINT32_MAX;
		f->cc->ack(f->st, f->tp, 65495, 0);
		ASSERT_U32(f->tp->cwnd, UINT32_MAX / 2);
		fix_done();
	}
	/* CUBIC with a K near its largest (4 GiB gap, 1-byte MSS) */
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, 1, 100, 100, true);
	cub(f)->w_max = UINT32_MAX;
	f->tp->srtt = 100000;
	f->cc->ack(f->st, f->tp, 1, 0);
	ASSERT(cub(f)->k_ms > 2000000);
	for (int i = 0; i < 20; i++) {
		advance_us(f, SYNFIN_SEC(600));
		uint32_t before = f->tp->cwnd;
		f->cc->ack(f->st, f->tp, f->tp->cwnd, 0);
		ASSERT(f->tp->cwnd >= before && f->tp->cwnd <= UINT32_MAX / 2);
	}
	fix_done();
}

TEST(cc_cubic_epoch_across_the_millisecond_wrap)
{
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, SMSS, 100 * SMSS, UINT32_MAX / 2, true);
	f->tp->srtt = 10000;
	f->cc->congestion(f->st, f->tp);
	/* st_ms() wraps after 2^32 ms (49.7 days): start the epoch 50 ms
	 * before, grow across it */
	st_advance(f->st, f->st->start + SYNFIN_MS(0xffffffffull - 50));
	f->cc->ack(f->st, f->tp, SMSS, 10000);
	ASSERT_NE(cub(f)->epoch_ms, 0);
	for (int r = 0; r < 10; r++)
		round_trip(f, 10000, SMSS);
	ASSERT(st_ms(f->st) < 100);
	/* 100 ms into a 4.2 s concave climb, at 10 ms RTT: Reno's estimate
	 * leads (10 windows of 9/17 segment), not a jump along the cubic */
	ASSERT_U32(f->tp->cwnd, cub(f)->w_est);
	ASSERT_MSG(f->tp->cwnd > 74 * SMSS && f->tp->cwnd < 76 * SMSS, "cwnd %u", f->tp->cwnd);
	/* an epoch that would start at st_ms() = 0 (the second wrap: the
	 * clock only moves forward) is still an epoch */
	f->cc->congestion(f->st, f->tp);
	st_advance(f->st, f->st->start + SYNFIN_MS(2ull << 32));
	ASSERT_U32(st_ms(f->st), 0);
	f->cc->ack(f->st, f->tp, SMSS, 0);
	ASSERT_NE(cub(f)->epoch_ms, 0);
	uint32_t w = f->tp->cwnd;
	round_trip(f, 10000, SMSS);
	ASSERT(f->tp->cwnd >= w && f->tp->cwnd < w + 2 * SMSS);
	fix_done();
}

TEST(cc_cubic_without_state_is_reno_with_beta)
{
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, SMSS, 10 * SMSS, UINT32_MAX / 2, false);
	ASSERT(f->tp->x == NULL);
	f->cc->ack(f->st, f->tp, SMSS, 0);
	ASSERT_U32(f->tp->cwnd, 11 * SMSS);
	set_flight(f->tp, 10 * SMSS);
	f->cc->congestion(f->st, f->tp);
	ASSERT_U32(f->tp->ssthresh, 7 * SMSS);
	ASSERT_U32(f->tp->cwnd, 7 * SMSS);
	f->cc->ack(f->st, f->tp, SMSS, 0);
	ASSERT(f->tp->cwnd > 7 * SMSS && f->tp->cwnd < 8 * SMSS);
	f->tp->cwnd += 3 * SMSS;
	f->cc->recovered(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 7 * SMSS);
	f->tp->rxtshift = 1;
	f->cc->timeout(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, SMSS);
	f->tp->cwnd = 50 * SMSS;
	f->cc->idle(f->st, f->tp);
	ASSERT_U32(f->tp->cwnd, 10 * SMSS);
	f->cc->init(f->st, f->tp);
	fix_done();
}

TEST(cc_init_clears_the_state)
{
	struct fix *f = fix_new(SYNFIN_CC_CUBIC, SMSS, 100 * SMSS, UINT32_MAX / 2, true);
	f->cc->congestion(f->st, f->tp);
	f->cc->ack(f->st, f->tp, SMSS, 0);
	ASSERT_NE(cub(f)->w_max, 0);
	f->cc->init(f->st, f->tp);
	ASSERT_U32(cub(f)->w_max, 0);
	ASSERT_U32(cub(f)->epoch_ms, 0);
	ASSERT_U32(cub(f)->k_ms, 0);
	/* NewReno's byte counter starts from zero too */
	f->tp->cc = SYNFIN_CC_NEWRENO;
	f->cc = &cc_newreno;
	cub(f)->ack_bytes = 12345;
	f->cc->init(f->st, f->tp);
	ASSERT_U32(cub(f)->ack_bytes, 0);
	fix_done();
}
