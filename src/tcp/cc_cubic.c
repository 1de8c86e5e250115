/*
 * CUBIC (RFC 9438), in bytes and milliseconds, integer arithmetic only.
 *
 * The RFC writes its window function in segments and seconds:
 *     W_cubic(t) = C*(t - K)^3 + W_max,   K = cbrt((W_max - cwnd_epoch)/C)
 * Here windows are bytes (W_bytes = W_segments * SMSS) and times are
 * milliseconds, so with C = 0.4 = 4/10:
 *     C*(t_s - K_s)^3 * SMSS = d^3 * SMSS / 2.5e9      (d = t - K in ms)
 *     K_ms = cbrt(gap_bytes / SMSS / C) * 1000 = cbrt(gap_bytes * 2.5e9 / SMSS)
 * and both fit 64 bits for any 32-bit window (checked where they are used).
 *
 * Choices where the RFC leaves room:
 *  - slow start is RFC 5681's (4.10 allows it; no HyStart++);
 *  - ssthresh comes from FlightSize as 4.6 writes it, not from cwnd, so the
 *    guard against application-limited growth that 4.6 asks of cwnd-based
 *    implementations is not needed here;
 *  - the RTT of "t + RTT" (4.2) is SRTT, else the ACK's own sample, else 0
 *    (no look-ahead: growth then trails the curve by one RTT, the cautious
 *    side);
 *  - the epoch starts at the first ACK of a congestion avoidance stage
 *    (4.2), and idle time is kept out of it by ending the epoch when the
 *    connection restarts from idle (5.8);
 *  - without the connection extension (tp->x, no data has flowed) there is
 *    no state: CUBIC is then Reno, except that reductions still use
 *    beta_cubic.
 *
 * State (struct cc_cubic in the extension) against the RFC's names:
 *   w_max       W_max, the saturation point; 0 means none is known (before
 *               any congestion, or after a timeout, 4.8), and the next
 *               epoch then takes cwnd_epoch as W_max with K = 0
 *   w_last_max  cwnd_prior: cwnd just before the last reduction (which is
 *               also RFC 8312's W_last_max), for the alpha switch of 4.3
 *   cwnd_prior  cwnd_epoch: cwnd when the current epoch started
 *   epoch_ms    when the epoch started, st_ms() time; 0 means no epoch
 *   k_ms        K; w_est W_est; ack_bytes bytes acknowledged not yet
 *               turned into W_est growth
 */
#include <string.h>

#include "tcp/tcp_priv.h"

/* as in cc_newreno.c: past any window a peer can offer, far from 2^32 */
#define CWND_MAX (UINT32_MAX / 2)

/* beta_cubic = 0.7 (4.6) */
#define BETA_NUM 7u
#define BETA_DEN 10u
/* alpha_cubic = 3*(1 - beta_cubic)/(1 + beta_cubic) = 0.9/1.7 = 9/17 (4.3) */
#define ALPHA_NUM 9u
#define ALPHA_DEN 17u
/* C = 0.4 segments/s^3 (4.2) with t in ms and W in bytes: see above */
#define CUBE_DIV 2500000000ull
/* the largest d with d^3 < 2^64 */
#define CUBE_ARG_MAX 2642245u
/* where W_cubic saturates: beyond any window, yet safe to add to */
#define W_SAT (1ull << 40)

/* floor(cbrt(x)), one bit of the root per three bits of x (Hacker's
 * Delight 11-2), so that the core needs no libm. (x >> s) >= b tests
 * x >= b << s without shifting b out of 64 bits. */
static uint32_t icbrt(uint64_t x)
{
	uint64_t y = 0;
	for (int s = 63; s >= 0; s -= 3) {
		y <<= 1;
		uint64_t b = 3 * y * (y + 1) + 1;
		if ((x >> s) >= b) {
			x -= b << s;
			y++;
		}
	}
	return (uint32_t)y;
}

/* the time for the cubic to cover `gap` bytes from its plateau, ms:
 * gap < 2^32 so gap * 2.5e9 < 1.1e19 < 2^64 */
static uint32_t cubic_k_ms(uint32_t gap, uint32_t mss)
{
	return icbrt((uint64_t)gap * CUBE_DIV / mss);
}

/* C*(d/1000)^3 segments in bytes, saturating */
static uint64_t cube_bytes(uint64_t d_ms, uint32_t mss)
{
	if (d_ms > CUBE_ARG_MAX)
		return W_SAT;
	uint64_t d3 = d_ms * d_ms * d_ms;
	if (d3 > UINT64_MAX / mss)
		return W_SAT;
	uint64_t b = d3 * mss / CUBE_DIV;
	return b < W_SAT ? b : W_SAT;
}

/* W_cubic(t) of 4.2, bytes, t in ms from the epoch start; 0 below zero */
static uint64_t w_cubic(const struct cc_cubic *c, uint64_t t_ms, uint32_t mss)
{
	if (t_ms >= c->k_ms)
		return c->w_max + cube_bytes(t_ms - c->k_ms, mss);
	uint64_t off = cube_bytes(c->k_ms - t_ms, mss);
	return off < c->w_max ? c->w_max - off : 0;
}

/* A congestion avoidance stage begins (4.2, 4.3, 4.8). */
static void cubic_epoch_start(struct cc_cubic *c, uint32_t cwnd, uint32_t mss, uint32_t now)
{
	uint32_t start = now;
	c->cwnd_prior = cwnd;
	c->w_est = cwnd;
	c->ack_bytes = 0;
	if (c->w_max == 0) {
		/* 4.8: after a timeout (and here, before any congestion) the
		 * curve starts flat where the window is: W_max = cwnd_epoch,
		 * K = 0 */
		c->w_max = cwnd;
		c->k_ms = 0;
	} else if (c->w_max >= cwnd) {
		c->k_ms = cubic_k_ms(c->w_max - cwnd, mss);
	} else {
		/* The window is already above W_max (the 2-segment floor of
		 * 4.6, a restart after idle): K is negative and the stage
		 * begins on the convex side. The same curve with K = 0 and an
		 * epoch that began |K| earlier keeps k_ms unsigned. */
		c->k_ms = 0;
		start = now - cubic_k_ms(cwnd - c->w_max, mss);
	}
	/* 0 means no epoch; the first millisecond of the stack's life is
	 * moved back by one */
	c->epoch_ms = start ? start : UINT32_MAX;
}

/* 4.6 (and 4.8 for timeouts): FlightSize * beta_cubic, at least 2 SMSS */
static uint32_t cubic_ssthresh(const struct tcb *tp, uint32_t mss)
{
	uint64_t s = (uint64_t)(tp->snd_max - tp->snd_una) * BETA_NUM / BETA_DEN;
	return s > 2u * mss ? (uint32_t)s : 2u * mss;
}

static void cubic_init(struct synfin_stack *st, struct tcb *tp)
{
	(void)st;
	if (tp->x)
		memset(&tp->x->cc.cubic, 0, sizeof tp->x->cc.cubic);
}

static void cubic_ack(struct synfin_stack *st, struct tcb *tp, uint32_t acked, uint32_t rtt_us)
{
	struct tcb_ext *x = tp->x;
	if (acked == 0)
		return;
	if (!x || tp->cwnd < tp->ssthresh) {
		/* 4.10: slow start is Reno's; without state, so is the rest */
		cc_newreno.ack(st, tp, acked, rtt_us);
		return;
	}
	struct cc_cubic *c = &x->cc.cubic;
	uint32_t mss = tcp_effective_mss(tp);
	uint32_t now = st_ms(st);
	if (tp->cwnd < mss)
		tp->cwnd = mss; /* below a segment nothing would clock growth */
	if (c->epoch_ms == 0)
		cubic_epoch_start(c, tp->cwnd, mss, now);

	uint64_t rtt_ms = ((uint64_t)(tp->srtt ? tp->srtt : rtt_us) + 500) / 1000;
	uint64_t t = (uint32_t)(now - c->epoch_ms); /* wraps with st_ms */
	uint64_t w_now = w_cubic(c, t, mss);
	uint64_t w_next = w_cubic(c, t + rtt_ms, mss);
	uint64_t cwnd = tp->cwnd;

	/* 4.3: W_est += alpha_cubic * segments_acked / cwnd, counted in
	 * bytes: alpha_cubic * SMSS for each cwnd of bytes acknowledged.
	 * Once W_est reaches cwnd_prior, alpha_cubic is 1 (Reno's rate). */
	uint64_t bytes = (uint64_t)c->ack_bytes + acked;
	if (bytes >= cwnd) {
		uint64_t n = bytes / cwnd;
		uint64_t alpha = c->w_est >= c->w_last_max ? ALPHA_DEN : ALPHA_NUM;
		uint64_t est = c->w_est + n * alpha * mss / ALPHA_DEN;
		bytes -= n * cwnd;
		c->w_est = est < CWND_MAX ? (uint32_t)est : CWND_MAX;
	}
	c->ack_bytes = (uint32_t)bytes;

	if (w_now < c->w_est) {
		/* 4.3: the Reno-friendly region, cwnd follows W_est (never
		 * down: cwnd may already be ahead on the cubic) */
		if (c->w_est > cwnd)
			cwnd = c->w_est;
	} else {
		/* 4.4, 4.5: aim at the curve one RTT ahead, within
		 * [cwnd, 1.5*cwnd], and close (target - cwnd)/cwnd segments
		 * per segment acknowledged, i.e. (target - cwnd)*acked/cwnd
		 * bytes: rounded up so that a large window close to its
		 * target still moves, never past the target. The product is
		 * below 2^31 * 2^32. */
		uint64_t target = w_next;
		if (target > cwnd + cwnd / 2)
			target = cwnd + cwnd / 2;
		if (target > cwnd) {
			uint64_t inc = ((target - cwnd) * acked + cwnd - 1) / cwnd;
			cwnd = cwnd + inc < target ? cwnd + inc : target;
		}
	}
	tp->cwnd = cwnd < CWND_MAX ? (uint32_t)cwnd : CWND_MAX;
}

static void cubic_congestion(struct synfin_stack *st, struct tcb *tp)
{
	(void)st;
	uint32_t mss = tcp_effective_mss(tp);
	if (tp->x) {
		struct cc_cubic *c = &tp->x->cc.cubic;
		/* 4.7 fast convergence: a loss below the last saturation
		 * point means others took a share; give some up by aiming
		 * lower, W_max = cwnd * (1 + beta_cubic) / 2 */
		if (tp->cwnd < c->w_max)
			c->w_max = (uint32_t)((uint64_t)tp->cwnd * (BETA_DEN + BETA_NUM) /
					      (2 * BETA_DEN));
		else
			c->w_max = tp->cwnd;
		c->w_last_max = tp->cwnd; /* cwnd_prior */
		c->epoch_ms = 0;
		c->ack_bytes = 0;
	}
	/* 4.6: ssthresh = max(FlightSize * beta_cubic, 2 SMSS), and the
	 * window drops to it (cwnd = max(ssthresh, 2 SMSS) is the same
	 * with the floor applied first). The engine inflates it itself
	 * when it recovers without SACK (RFC 6582). */
	tp->ssthresh = cubic_ssthresh(tp, mss);
	tp->cwnd = tp->ssthresh;
}

static void cubic_recovered(struct synfin_stack *st, struct tcb *tp)
{
	(void)st;
	/* whatever the engine inflated goes; the next ACK starts the
	 * congestion avoidance epoch from ssthresh */
	tp->cwnd = tp->ssthresh;
	if (tp->x)
		tp->x->cc.cubic.ack_bytes = 0;
}

static void cubic_timeout(struct synfin_stack *st, struct tcb *tp)
{
	(void)st;
	uint32_t mss = tcp_effective_mss(tp);
	/* 4.8: ssthresh as on any congestion event (4.6), cwnd the loss
	 * window of RFC 5681 3.1. As in RFC 5681, a segment already resent
	 * by the timer (the engine counted this expiry in rxtshift) leaves
	 * ssthresh, and cwnd_prior, alone. */
	if (tp->rxtshift <= 1) {
		tp->ssthresh = cubic_ssthresh(tp, mss);
		if (tp->x)
			tp->x->cc.cubic.w_last_max = tp->cwnd;
	}
	tp->cwnd = mss;
	if (tp->x) {
		struct cc_cubic *c = &tp->x->cc.cubic;
		/* the first stage after the timeout takes its own start as
		 * W_max, with K = 0 (4.8): see cubic_epoch_start */
		c->w_max = 0;
		c->epoch_ms = 0;
		c->ack_bytes = 0;
	}
}

static void cubic_idle(struct synfin_stack *st, struct tcb *tp)
{
	(void)st;
	/* RFC 5681 4.1 restart window; a new epoch so that the idle time is
	 * not counted as time spent growing (RFC 9438 5.8) */
	uint32_t rw = cc_initial_window(tcp_effective_mss(tp));
	if (tp->cwnd > rw)
		tp->cwnd = rw;
	if (tp->x)
		tp->x->cc.cubic.epoch_ms = 0;
}

const struct cc_ops cc_cubic = {
	.name = "cubic",
	.init = cubic_init,
	.ack = cubic_ack,
	.congestion = cubic_congestion,
	.recovered = cubic_recovered,
	.timeout = cubic_timeout,
	.idle = cubic_idle,
};
