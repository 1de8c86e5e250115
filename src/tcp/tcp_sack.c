/*
 * Loss recovery: the SACK scoreboard (RFC 2018), SACK-based recovery
 * (RFC 6675), NewReno's partial ACKs when SACK is off (RFC 6582), fast
 * retransmit and limited transmit (RFC 5681, RFC 3042), and the state after
 * a retransmission timeout. The congestion control algorithm (cc.h) says
 * how much the window changes; this file says when.
 */
#include <string.h>

#include "tcp/tcp_priv.h"

#define DUPTHRESH 3

static bool sack_on(const struct tcb *tp)
{
	return (tp->t_flags & TF_SACK_PERMIT) && tp->x;
}

/* Drop what SND.UNA has passed and recount. */
static void prune(struct tcb *tp)
{
	struct tcb_ext *x = tp->x;
	uint16_t w = 0;
	uint32_t bytes = 0;
	for (uint16_t i = 0; i < x->nsacked; i++) {
		uint32_t l = x->sacked[i].left, r = x->sacked[i].right;
		if (seq_leq(r, tp->snd_una))
			continue;
		if (seq_lt(l, tp->snd_una))
			l = tp->snd_una;
		x->sacked[w].left = l;
		x->sacked[w].right = r;
		bytes += r - l;
		w++;
	}
	x->nsacked = w;
	x->sacked_bytes = bytes;
}

/* Insert [l, r) keeping the list sorted and disjoint (touching merges). */
static void insert(struct synfin_stack *st, struct tcb_ext *x, uint32_t l, uint32_t r)
{
	uint16_t i = 0;
	while (i < x->nsacked && seq_lt(x->sacked[i].right, l))
		i++;
	uint16_t j = i;
	while (j < x->nsacked && seq_leq(x->sacked[j].left, r)) {
		l = seq_min(l, x->sacked[j].left);
		r = seq_max(r, x->sacked[j].right);
		j++;
	}
	uint16_t merged = (uint16_t)(j - i);
	if (merged == 0) {
		if (x->nsacked == x->sacked_cap) {
			uint16_t ncap = x->sacked_cap ? (uint16_t)(x->sacked_cap * 2) : 8;
			struct sack_range *na = x->sacked_cap < SACK_MAX ? st_alloc_raw(st, ncap * sizeof *na) : NULL;
			if (!na) {
				/* full: forget the highest range; it is the least
				 * useful for finding holes and will be reported again */
				if (i == x->nsacked)
					return;
				x->nsacked--;
			} else {
				if (x->nsacked)
					memcpy(na, x->sacked, x->nsacked * sizeof *na);
				st_free(st, x->sacked, x->sacked_cap * sizeof *x->sacked);
				x->sacked = na;
				x->sacked_cap = ncap;
			}
		}
		memmove(&x->sacked[i + 1], &x->sacked[i], (size_t)(x->nsacked - i) * sizeof x->sacked[0]);
		x->nsacked++;
	} else if (merged > 1) {
		memmove(&x->sacked[i + 1], &x->sacked[j], (size_t)(x->nsacked - j) * sizeof x->sacked[0]);
		x->nsacked = (uint16_t)(x->nsacked - (merged - 1));
	}
	x->sacked[i].left = l;
	x->sacked[i].right = r;
}

SF_NOINLINE void tcp_sack_merge(struct synfin_stack *st, struct tcb *tp, const struct tcp_seg *seg)
{
	if (!sack_on(tp))
		return;
	if (seg->opt.has & TOF_SACK) {
		for (uint8_t i = 0; i < seg->opt.nsack && i < TCP_MAX_SACK; i++) {
			uint32_t l = seg->opt.sack[i].left, r = seg->opt.sack[i].right;
			/* only blocks inside what we sent and above SND.UNA
			 * count (RFC 2018 says nothing else is possible; a
			 * forged or stale block is ignored) */
			if (!seq_lt(l, r) || seq_leq(r, tp->snd_una) || seq_gt(r, tp->snd_max) ||
			    seq_lt(l, tp->snd_una))
				continue;
			insert(st, tp->x, l, r);
		}
	}
	prune(tp);
}

/* The highest byte the receiver has SACKed, or SND.UNA. */
static uint32_t highest_sacked(const struct tcb *tp)
{
	const struct tcb_ext *x = tp->x;
	return x && x->nsacked ? x->sacked[x->nsacked - 1].right : tp->snd_una;
}

/* Bytes not SACKed in [from, to). */
static uint32_t unsacked_between(const struct tcb *tp, uint32_t from, uint32_t to)
{
	if (!seq_lt(from, to))
		return 0;
	uint32_t n = to - from;
	for (uint16_t i = 0; i < tp->x->nsacked; i++) {
		uint32_t l = seq_max(tp->x->sacked[i].left, from);
		uint32_t r = seq_min(tp->x->sacked[i].right, to);
		if (seq_lt(l, r))
			n -= r - l;
	}
	return n;
}

uint32_t tcp_pipe(const struct tcb *tp)
{
	uint32_t out = tp->snd_max - tp->snd_una;
	if (!sack_on(tp) || tp->x->ca_state != CA_RECOVERY)
		return out;
	/* RFC 6675 SetPipe, by ranges: a hole below the highest SACKed byte
	 * is lost (not in the network) unless it was retransmitted */
	uint32_t lost = unsacked_between(tp, seq_max(tp->x->high_rxt, tp->snd_una), highest_sacked(tp));
	uint32_t gone = tp->x->sacked_bytes + lost;
	return out > gone ? out - gone : 0;
}

bool tcp_sack_next_hole(const struct tcb *tp, uint32_t *seq, uint32_t *len)
{
	if (!sack_on(tp) || tp->x->ca_state != CA_RECOVERY)
		return false;
	uint32_t s = seq_max(tp->x->high_rxt, tp->snd_una);
	uint32_t top = highest_sacked(tp);
	for (uint16_t i = 0; i < tp->x->nsacked && seq_lt(s, top); i++) {
		const uint32_t l = tp->x->sacked[i].left, r = tp->x->sacked[i].right;
		if (seq_leq(r, s))
			continue;
		if (seq_lt(s, l)) {
			*seq = s;
			*len = l - s;
			return true;
		}
		s = r; /* inside a SACKed range: skip it */
	}
	return false;
}

static SF_COLD void enter_recovery(struct synfin_stack *st, struct tcb *tp)
{
	struct tcb_ext *x = tp->x;
	uint32_t mss = tcp_effective_mss(tp);
	x->recover = tp->snd_max;
	x->high_rxt = tp->snd_una;
	x->ca_state = CA_RECOVERY;
	x->fast_retrans++;
	tcp_cc(tp)->congestion(st, tp);
	if (!sack_on(tp))
		tp->cwnd += DUPTHRESH * mss; /* RFC 6582 3.2 step 2 / RFC 5681 step 3 */
	tp->t_flags &= ~TF_TIMING; /* Karn: no sample from what is resent */
	/* the first lost segment goes at once (RFC 5681 step 2, RFC 6675 4);
	 * if only the FIN is outstanding, the timer resends it */
	uint32_t len = tcp_snd_pending(tp) < mss ? tcp_snd_pending(tp) : mss;
	uint32_t hseq, hlen;
	if (sack_on(tp) && tcp_sack_next_hole(tp, &hseq, &hlen) && hseq == tp->snd_una && hlen < len)
		len = hlen;
	if (len > 0) {
		tcp_retransmit(st, tp, tp->snd_una, len);
		x->high_rxt = tp->snd_una + len;
	}
	x->rprobes = 0;
	tcp_arm_rexmt(st, tp); /* the recovery probe, from now */
}

/* HyStart++ (RFC 9406 4.2), its delay test: slow start ends when a
 * round's minimum RTT exceeds the previous round's by eta =
 * clamp(lastRTT/8, 4 ms, 16 ms), that is when a queue starts to build,
 * before it overflows. (The conservative slow start phase of 4.3 is left
 * out: the window goes straight to congestion avoidance.) */
static void hystart(struct tcb *tp, uint32_t rtt_us)
{
	struct tcb_ext *x = tp->x;
	if (seq_geq(tp->snd_una, x->hs_round_end)) {
		/* a new round: the window sent so far is acknowledged */
		if (x->hs_samples)
			x->hs_last_min_us = x->hs_cur_min_us;
		x->hs_cur_min_us = UINT32_MAX;
		x->hs_samples = 0;
		x->hs_round_end = tp->snd_max;
	}
	if (!rtt_us)
		return;
	if (rtt_us < x->hs_cur_min_us)
		x->hs_cur_min_us = rtt_us;
	if (x->hs_samples < UINT16_MAX)
		x->hs_samples++;
	if (x->hs_samples >= 8 && x->hs_last_min_us) {
		uint32_t eta = x->hs_last_min_us / 8;
		eta = eta < 4000 ? 4000 : eta > 16000 ? 16000 : eta;
		if (x->hs_cur_min_us >= x->hs_last_min_us + eta)
			tp->ssthresh = tp->cwnd; /* leave slow start here */
	}
}

inline void tcp_recovery_ack(struct synfin_stack *st, struct tcb *tp, uint32_t acked, uint32_t rtt_us)
{
	struct tcb_ext *x = tp->x;
	tp->dupacks = 0;
	if (!x) {
		/* no data has flowed (a SYN or FIN was acknowledged): the
		 * window still grows as Reno's would */
		uint32_t mss = tcp_effective_mss(tp);
		if (tp->cwnd < tp->ssthresh)
			tp->cwnd += acked < mss ? acked : mss;
		return;
	}
	x->bytes_acked += acked;
	x->limited = 0;
	x->tlp_out = 0;
	x->rprobes = 0;
	switch (x->ca_state) {
	case CA_RECOVERY:
		if (seq_geq(tp->snd_una, x->recover)) {
			/* a full ACK: recovery is over (RFC 6582 3.2 step 3) */
			x->ca_state = CA_OPEN;
			tcp_cc(tp)->recovered(st, tp);
			return;
		}
		if (!sack_on(tp)) {
			/* NewReno partial ACK (RFC 6582 3.2 step 3): the next
			 * hole is SND.UNA; resend it and deflate the window by
			 * what this ACK took out */
			uint32_t mss = tcp_effective_mss(tp);
			uint32_t len = tcp_snd_pending(tp) < mss ? tcp_snd_pending(tp) : mss;
			if (len)
				tcp_retransmit(st, tp, tp->snd_una, len);
			tp->cwnd = tp->cwnd > acked ? tp->cwnd - acked : 0;
			if (acked >= mss)
				tp->cwnd += mss;
			if (tp->cwnd < mss)
				tp->cwnd = mss;
		} else if (seq_lt(x->high_rxt, tp->snd_una)) {
			x->high_rxt = tp->snd_una;
		} else {
			/* the new first hole was resent, at the latest when
			 * the last resend went */
			x->una_rxt_ms = x->last_rxt_ms;
		}
		return;
	case CA_LOSS:
		if (seq_geq(tp->snd_una, x->recover))
			x->ca_state = CA_OPEN;
		/* after a timeout the window grows again by slow start */
		tcp_cc(tp)->ack(st, tp, acked, rtt_us);
		return;
	default:
		x->ca_state = CA_OPEN;
		/* Grow only a window that is in use (RFC 7661's concern,
		 * RFC 9438 5.8): a sender held back by the peer's window or
		 * by the application must not build a cwnd it never tested.
		 * In slow start half the window in flight counts as in use. */
		uint32_t flight = tp->snd_max - (tp->snd_una - acked);
		uint32_t mss = tcp_effective_mss(tp);
		bool limited = tp->cwnd < tp->ssthresh ? 2ull * flight >= tp->cwnd
						       : (uint64_t)flight + 3ull * mss >= tp->cwnd;
		if (tp->cwnd < tp->ssthresh)
			hystart(tp, rtt_us);
		if (limited)
			tcp_cc(tp)->ack(st, tp, acked, rtt_us);
		return;
	}
}

SF_NOINLINE void tcp_recovery_dupack(struct synfin_stack *st, struct tcb *tp)
{
	struct tcb_ext *x = tcp_ext_get(st, tp);
	if (!x)
		return;
	if (x->ca_state == CA_RECOVERY) {
		/* NewReno keeps the ACK clock going by inflating the window one
		 * segment per duplicate (RFC 5681 step 4); with SACK the pipe
		 * estimate does that */
		if (!sack_on(tp)) {
			tp->cwnd += tcp_effective_mss(tp);
			return;
		}
		/* A lost retransmission (the idea of RACK, RFC 8985, kept
		 * simple): ACKs keep coming more than an RTT after the segment
		 * at SND.UNA was resent, and it is still missing; resend the
		 * holes from SND.UNA instead of waiting for the RTO. */
		uint32_t now = st_ms(st);
		uint32_t rtt_ms = tp->srtt / 1000;
		if (seq_lt(tp->snd_una, x->high_rxt) && x->una_rxt_ms &&
		    now - x->una_rxt_ms > rtt_ms + rtt_ms / 4 + 4) {
			x->high_rxt = tp->snd_una;
			x->una_rxt_ms = 0;
		}
		return;
	}
	if (x->ca_state == CA_LOSS)
		return; /* resending after a timeout: duplicates are expected */
	tp->dupacks++;
	/* RFC 6675 IsLost: DupThresh duplicates, or that many segments'
	 * worth SACKed above the first hole */
	bool lost = tp->dupacks >= DUPTHRESH ||
		    (sack_on(tp) && x->sacked_bytes > (DUPTHRESH - 1) * tcp_effective_mss(tp));
	if (!lost) {
		/* limited transmit (RFC 3042): each of the first two
		 * duplicates lets one new segment out */
		x->ca_state = CA_DISORDER;
		x->limited = tp->dupacks < 2 ? tp->dupacks : 2;
		return;
	}
	x->limited = 0;
	enter_recovery(st, tp);
}

void tcp_recovery_timeout(struct synfin_stack *st, struct tcb *tp)
{
	struct tcb_ext *x = tp->x;
	tp->dupacks = 0;
	if (!x) {
		uint32_t mss = tcp_effective_mss(tp);
		uint32_t flight = tp->snd_max - tp->snd_una;
		tp->ssthresh = flight / 2 > 2 * mss ? flight / 2 : 2 * mss;
		tp->cwnd = mss;
		return;
	}
	x->rto_count++;
	tcp_cc(tp)->timeout(st, tp);
	/* Everything outstanding is sent again from SND.UNA (RFC 6298 5.4),
	 * skipping what the receiver SACKed. A receiver may renege on SACKed
	 * data (RFC 2018 8), so from the second timeout in a row the
	 * scoreboard is dropped and everything is resent. */
	if (tp->rxtshift > 1) {
		x->nsacked = 0;
		x->sacked_bytes = 0;
	}
	x->limited = 0;
	x->ca_state = CA_LOSS;
	x->recover = tp->snd_max;
	x->high_rxt = tp->snd_una;
}

/* Only through tcp_sack_blocks(), which has checked that SACK is on,
 * out-of-order data waits and there is room for a block. */
int tcp_sack_fill(const struct tcb *tp, struct tcp_sack_block *out, int max)
{
	const struct ring *r = tp->u.b.rcv;
	int n = 0;
	/* the block holding the latest segment first (RFC 2018 4), then the
	 * others from the lowest */
	int first = -1;
	if (tp->x) {
		for (int i = 0; i < r->nooo; i++) {
			uint32_t l = tp->rcv_nxt + r->ooo[i].off;
			if (seq_in(tp->x->last_ooo, l, l + r->ooo[i].len)) {
				first = i;
				break;
			}
		}
	}
	if (first >= 0) {
		out[n].left = tp->rcv_nxt + r->ooo[first].off;
		out[n].right = out[n].left + r->ooo[first].len;
		n++;
	}
	for (int i = 0; i < r->nooo && n < max; i++) {
		if (i == first)
			continue;
		out[n].left = tp->rcv_nxt + r->ooo[i].off;
		out[n].right = out[n].left + r->ooo[i].len;
		n++;
	}
	return n;
}

uint32_t tcp_sack_skip(const struct tcb *tp, uint32_t seq)
{
	if (!sack_on(tp) || tp->x->ca_state != CA_LOSS)
		return seq;
	for (uint16_t i = 0; i < tp->x->nsacked; i++)
		if (seq_in(seq, tp->x->sacked[i].left, tp->x->sacked[i].right))
			return tp->x->sacked[i].right;
	return seq;
}

/* RFC 8985 7: a tail loss probe. When the last segments of a flight are
 * lost, no duplicate ACK ever comes and only the RTO (1 s at least) would
 * find them; a probe after about two RTTs draws an ACK whose SACK blocks
 * start fast recovery instead. One probe per flight; SACK needed. */
/* The probe timeout (RFC 8985 7.2): two RTTs, at least 10 ms. */
static synfin_time_t probe_timeout(const struct tcb *tp)
{
	synfin_time_t pto = 2 * (synfin_time_t)tp->srtt;
	return pto < SYNFIN_MS(10) ? SYNFIN_MS(10) : pto;
}

inline void tcp_arm_rexmt(struct synfin_stack *st, struct tcb *tp)
{
	struct tcb_ext *x = tp->x;
	tp->t_flags &= ~TF_TLP;
	if (tp->snd_una == tp->snd_max) {
		tp->t_rexmt = SYNFIN_TIME_NEVER;
		return;
	}
	synfin_time_t when = st->now + tp->rto;
	/* In SACK recovery, once the first hole has been resent: a probe
	 * after the PTO (doubling with each probe that brings no progress)
	 * instead of the RTO. A resent segment that is lost again, with no
	 * more ACKs on the way to say so, then costs a few RTTs, not the
	 * 1 s RTO floor (RACK's reordering timer, RFC 8985 6.2, kept simple). */
	if (sack_on(tp) && x->ca_state == CA_RECOVERY && x->rprobes < RPROBE_MAX && tp->srtt &&
	    seq_lt(tp->snd_una, x->high_rxt)) {
		synfin_time_t pto = probe_timeout(tp) << x->rprobes;
		if (st->now + pto < when) {
			when = st->now + pto;
			tp->t_flags |= TF_TLP;
		}
		tp->t_rexmt = when;
		return;
	}
	if (sack_on(tp) && x->ca_state == CA_OPEN && !x->tlp_out && tp->srtt &&
	    TCPS_HAVEESTABLISHED(tp->state) && tcp_snd_pending(tp) > 0) {
		synfin_time_t pto = probe_timeout(tp);
		if (tp->snd_max - tp->snd_una <= tcp_effective_mss(tp))
			pto += SYNFIN_MS(200); /* a lone segment may wait for a delayed ACK */
		if (st->now + pto < when) {
			when = st->now + pto;
			tp->t_flags |= TF_TLP;
		}
	}
	tp->t_rexmt = when;
}

/* The recovery probe fired: nothing has acknowledged the resent first
 * hole for the PTO. Its retransmission (and those after it) are taken as
 * lost: the holes go again from SND.UNA, at least the first one. */
static void recovery_probe(struct synfin_stack *st, struct tcb *tp)
{
	struct tcb_ext *x = tp->x;
	x->rprobes++;
	x->high_rxt = tp->snd_una;
	x->una_rxt_ms = 0;
	uint64_t before = st->stats.rexmits;
	tcp_output(st, tp);
	if (st->stats.rexmits == before) {
		uint32_t mss = tcp_effective_mss(tp), hseq, hlen;
		uint32_t len = tcp_snd_pending(tp) < mss ? tcp_snd_pending(tp) : mss;
		if (tcp_sack_next_hole(tp, &hseq, &hlen) && hseq == tp->snd_una && hlen < len)
			len = hlen;
		if (len) {
			tcp_retransmit(st, tp, tp->snd_una, len);
			x->high_rxt = tp->snd_una + len;
		}
	}
	tcp_arm_rexmt(st, tp);
	tcp_timer_update(st, tp);
}

void tcp_tlp_fire(struct synfin_stack *st, struct tcb *tp)
{
	struct tcb_ext *x = tp->x;
	tp->t_flags &= ~TF_TLP;
	if (x->ca_state == CA_RECOVERY) {
		recovery_probe(st, tp);
		return;
	}
	x->tlp_out = 1;
	uint32_t pending = tcp_snd_pending(tp);
	uint32_t mss = tcp_effective_mss(tp);
	uint32_t sent = tp->snd_nxt - tp->snd_una;
	if (pending > sent && tp->snd_wnd > sent) {
		/* new data if the peer's window has room: one segment past
		 * the congestion window */
		x->limited = 1;
		tcp_output(st, tp);
		x->limited = 0;
	} else {
		/* else the last segment again */
		uint32_t len = pending < mss ? pending : mss;
		tcp_retransmit(st, tp, tp->snd_una + pending - len, len);
	}
	tp->t_rexmt = st->now + tp->rto;
}
