/*
 * NewReno: the window arithmetic of RFC 5681 (slow start, congestion
 * avoidance, the loss and restart windows) and RFC 6582 (the window after a
 * full ACK), in bytes.
 *
 * Loss recovery itself is the engine's (tcp_sack.c): with SACK it runs
 * RFC 6675's pipe-based recovery and uses cwnd as set here; without SACK
 * it runs RFC 6582 and inflates cwnd itself, 3*SMSS right after
 * congestion() (RFC 5681 3.2 step 3) and one SMSS per further duplicate
 * (step 4), which recovered() takes back.
 *
 * FlightSize is RFC 5681's: "sent but not yet cumulatively acknowledged",
 * SND.MAX - SND.UNA. RFC 6675 5 (4.2) reduces from the same FlightSize,
 * not from the pipe: SACKed bytes are still in flight for this purpose,
 * and leaving them out would cut the window by more than half.
 */
#include "tcp/tcp_priv.h"

/* No window beyond 2 GiB: well past the largest the peer can offer (1 GiB
 * with window scale 14), and far enough from 2^32 that cwnd + SMSS and
 * 1.5 * cwnd cannot wrap. The initial ssthresh is the same value. */
#define CWND_MAX (UINT32_MAX / 2)

static uint32_t flight_size(const struct tcb *tp)
{
	return tp->snd_max - tp->snd_una;
}

static void cwnd_grow(struct tcb *tp, uint32_t inc)
{
	tp->cwnd = inc >= CWND_MAX || tp->cwnd >= CWND_MAX - inc ? CWND_MAX : tp->cwnd + inc;
}

/* RFC 5681 eq. 4: half the flight, at least two segments */
static uint32_t half_flight(const struct tcb *tp, uint32_t mss)
{
	uint32_t half = flight_size(tp) / 2;
	return half > 2 * mss ? half : 2 * mss;
}

static void newreno_init(struct synfin_stack *st, struct tcb *tp)
{
	(void)st;
	if (tp->x)
		tp->x->cc.cubic.ack_bytes = 0;
}

static void newreno_ack(struct synfin_stack *st, struct tcb *tp, uint32_t acked, uint32_t rtt_us)
{
	(void)st;
	(void)rtt_us; /* Reno's growth is per ACK, not per unit of time */
	uint32_t mss = tcp_effective_mss(tp);
	if (acked == 0)
		return;
	if (tp->cwnd < tp->ssthresh) {
		/* RFC 5681 3.1 slow start, eq. 2: at most one SMSS per ACK,
		 * so a stretch ACK does not turn into a burst */
		cwnd_grow(tp, acked < mss ? acked : mss);
		return;
	}
	uint32_t cwnd = tp->cwnd ? tp->cwnd : 1;
	if (!tp->x) {
		/* No state to count bytes in (no data has flowed yet): RFC
		 * 5681 eq. 3, SMSS*SMSS/cwnd per ACK, at least one byte and
		 * (should cwnd be below a segment) at most one SMSS. */
		uint64_t inc = (uint64_t)mss * mss / cwnd;
		cwnd_grow(tp, inc == 0 ? 1 : inc > mss ? mss : (uint32_t)inc);
		return;
	}
	/* RFC 5681 3.1 byte counting: one SMSS once a full window has been
	 * acknowledged, which is one SMSS per RTT whatever the ACK pattern
	 * (delayed or stretch ACKs make eq. 3 too slow). The union of
	 * algorithm states has no NewReno member: NewReno needs only this
	 * counter and borrows CUBIC's, as the two never run together on a
	 * connection and a switch of algorithm clears the state. */
	uint32_t *count = &tp->x->cc.cubic.ack_bytes;
	uint64_t bytes = (uint64_t)*count + acked;
	if (bytes >= cwnd) {
		bytes -= cwnd;
		cwnd_grow(tp, mss);
		/* "up to SMSS" per ACK (RFC 5681 3.1): what one ACK covers
		 * beyond a second window is not banked for later bursts */
		if (bytes >= tp->cwnd)
			bytes = tp->cwnd - 1;
	}
	*count = (uint32_t)bytes;
}

static void newreno_congestion(struct synfin_stack *st, struct tcb *tp)
{
	(void)st;
	uint32_t mss = tcp_effective_mss(tp);
	/* RFC 5681 3.2 step 2 (eq. 4), RFC 6675 5 (4.2). cwnd = ssthresh
	 * here; the engine adds the 3*SMSS of RFC 5681 step 3 / RFC 6582
	 * when it recovers without SACK. */
	tp->ssthresh = half_flight(tp, mss);
	tp->cwnd = tp->ssthresh;
	if (tp->x)
		tp->x->cc.cubic.ack_bytes = 0;
}

static void newreno_recovered(struct synfin_stack *st, struct tcb *tp)
{
	(void)st;
	uint32_t mss = tcp_effective_mss(tp);
	/* RFC 6582 3.2 step 3, option (1): deflate to ssthresh, but to no
	 * more than one segment beyond what is still in flight, so that the
	 * full ACK does not release a burst (SND.UNA has already moved). */
	uint32_t flight = flight_size(tp);
	uint64_t cap = (uint64_t)(flight > mss ? flight : mss) + mss;
	tp->cwnd = cap < tp->ssthresh ? (uint32_t)cap : tp->ssthresh;
	if (tp->x)
		tp->x->cc.cubic.ack_bytes = 0;
}

static void newreno_timeout(struct synfin_stack *st, struct tcb *tp)
{
	(void)st;
	uint32_t mss = tcp_effective_mss(tp);
	/* RFC 5681 3.1: eq. 4 from the flight before anything is resent;
	 * but when the segment has already been resent by the timer (the
	 * engine counts this expiry in rxtshift before calling), ssthresh
	 * is held: the flight is then a segment or two and would collapse
	 * it. cwnd becomes the loss window, one SMSS. */
	if (tp->rxtshift <= 1)
		tp->ssthresh = half_flight(tp, mss);
	tp->cwnd = mss;
	if (tp->x)
		tp->x->cc.cubic.ack_bytes = 0;
}

static void newreno_idle(struct synfin_stack *st, struct tcb *tp)
{
	(void)st;
	/* RFC 5681 4.1: the restart window, min(IW, cwnd); ssthresh stays */
	uint32_t rw = cc_initial_window(tcp_effective_mss(tp));
	if (tp->cwnd > rw)
		tp->cwnd = rw;
}

const struct cc_ops cc_newreno = {
	.name = "newreno",
	.init = newreno_init,
	.ack = newreno_ack,
	.congestion = newreno_congestion,
	.recovered = newreno_recovered,
	.timeout = newreno_timeout,
	.idle = newreno_idle,
};
