/*
 * The one place that decides what goes on the wire. Input, user calls and
 * timers change the control block and set flags (TF_ACKNOW, TF_FORCE, a
 * queued FIN); tcp_output() looks at the result and sends what it calls for.
 */
#include <string.h>

#include "tcp/tcp_priv.h"
#include "wire/tcp_emit.h"

#define SWS_OVERRIDE SYNFIN_MS(200)

/* What each state sends by default (4.4BSD's tcp_outflags). */
static const uint8_t outflags[TCPS_NSTATES] = {
	[TCPS_CLOSED] = TH_RST | TH_ACK,
	[TCPS_LISTEN] = 0,
	[TCPS_SYN_SENT] = TH_SYN,
	[TCPS_SYN_RCVD] = TH_SYN | TH_ACK,
	[TCPS_ESTABLISHED] = TH_ACK,
	[TCPS_CLOSE_WAIT] = TH_ACK,
	[TCPS_FIN_WAIT_1] = TH_FIN | TH_ACK,
	[TCPS_CLOSING] = TH_FIN | TH_ACK,
	[TCPS_LAST_ACK] = TH_FIN | TH_ACK,
	[TCPS_FIN_WAIT_2] = TH_ACK,
	[TCPS_TIME_WAIT] = TH_ACK,
};

static SF_HOT_INLINE void emit(struct synfin_stack *st, uint8_t *buf, const struct tcp_seg *seg)
{
	size_t n = tcp_emit_inline(buf, st->cfg.mtu, seg, st->ip_id++, !st->cfg.checksum_offload);
	if (n == 0)
		return;
	st->stats.ip_out++;
	st->stats.tcp_out++;
	if (seg->flags & TH_RST)
		st->stats.rst_out++;
	st->ops.output(st->ops.ctx, buf, n);
}

void tcp_respond(struct synfin_stack *st, uint32_t laddr, uint16_t lport, uint32_t faddr,
		 uint16_t fport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
		 const struct tcp_opts *opt)
{
	struct tcp_seg s;
	memset(&s, 0, sizeof s);
	s.saddr = laddr;
	s.daddr = faddr;
	s.sport = lport;
	s.dport = fport;
	s.seq = seq;
	s.ack = (flags & TH_ACK) ? ack : 0;
	s.flags = flags;
	s.wnd = wnd;
	if (opt)
		s.opt = *opt;
	emit(st, st_txbuf(st), &s);
}

/* RFC 9293 3.10.7.1: the reset for a segment that belongs to nothing. */
void tcp_reset_reply(struct synfin_stack *st, const struct tcp_seg *seg)
{
	if (seg->flags & TH_RST)
		return;
	if (seg->flags & TH_ACK)
		tcp_respond(st, seg->daddr, seg->dport, seg->saddr, seg->sport, seg->ack, 0, TH_RST, 0,
			    NULL);
	else
		tcp_respond(st, seg->daddr, seg->dport, seg->saddr, seg->sport, 0,
			    seg->seq + tcp_seg_len(seg), TH_RST | TH_ACK, 0, NULL);
}

/* An abortive close (SO_LINGER 0, unread data, a timeout): SEQ=SND.NXT so
 * that the peer finds it exactly in its window. */
void tcp_send_rst(struct synfin_stack *st, struct tcb *tp)
{
	tcp_respond(st, tp->laddr, tp->lport, tp->faddr, tp->fport, tp->snd_nxt, tp->rcv_nxt,
		    TH_RST | TH_ACK, 0, NULL);
}

static uint32_t window_to_offer(const struct tcb *tp)
{
	uint32_t space = tcp_rcv_space(tp);
	uint32_t mss = tcp_effective_mss(tp);
	/* Receiver side of silly-window avoidance (RFC 9293 3.8.6.2.2): hold
	 * a small opening back until it is worth a segment. */
	if (space < tp->rcvbuf / 4 && space < mss)
		space = 0;
	/* never take back a window already offered (RFC 9293 3.8.6.2.2) */
	if (seq_gt(tp->rcv_adv, tp->rcv_nxt) && space < tp->rcv_adv - tp->rcv_nxt)
		space = tp->rcv_adv - tp->rcv_nxt;
	uint32_t maxwin = 65535u << tp->rcv_scale;
	return space > maxwin ? maxwin : space;
}

/* The options of a segment other than the lone timestamp: a SYN's (MSS,
 * window scale, timestamps, SACK permitted, each as the handshake allows)
 * or SACK blocks for the out-of-order data we hold, written at p when
 * they fit in the `room` bytes there (else the caller finds the segment
 * too long for the MTU and sends nothing). Out of line: two segments of a
 * connection's life carry them, or a lossy path's. Returns their length
 * (a multiple of 4, at most 40). */
static SF_NOINLINE size_t put_full_opts(struct synfin_stack *st, const struct tcb *tp, bool send_syn, uint8_t *p,
					size_t room)
{
	bool ts = send_syn ? (tp->t_flags & TF_REQ_TSTMP) && (tp->state == TCPS_SYN_SENT || (tp->t_flags & TF_RCVD_TSTMP))
			   : (tp->t_flags & TF_RCVD_TSTMP);
	uint32_t tsval = st_ms(st) + tp->ts_offset;
	if (send_syn) {
		/* at most 20 bytes: the buffer's room is at least 28 */
		bool first = tp->state == TCPS_SYN_SENT;
		bool ws = (tp->t_flags & TF_REQ_SCALE) && (first || (tp->t_flags & TF_RCVD_SCALE));
		bool sack_perm = (tp->t_flags & TF_REQ_SACK) && (first || (tp->t_flags & TF_SACK_PERMIT));
		return tcp_put_syn_opts(p, (uint16_t)(st->cfg.mtu - 40), sack_perm, ts, tsval, tp->ts_recent,
					ws ? tp->rcv_scale : -1);
	}
	struct tcp_sack_block b[TCP_MAX_SACK];
	int n = tcp_sack_blocks(tp, b, tcp_sack_max(tp));
	size_t len = (ts ? 12u : 0u) + (n > 0 ? 4u + 8u * (unsigned)n : 0u);
	if (len <= room) {
		uint8_t *q = ts ? tcp_put_opt_ts(p, false, tsval, tp->ts_recent) : p;
		if (n > 0)
			tcp_put_opt_sack(q, b, (unsigned)n);
	}
	return len;
}

/* What every segment sent tells the peer: the window edge offered, and
 * the ACK owed is paid. */
static SF_HOT_INLINE void sent(struct tcb *tp, uint32_t win)
{
	if (tp->x)
		tp->x->segs_out++;
	if (tp->state != TCPS_SYN_SENT) {
		if (seq_gt(tp->rcv_nxt + win, tp->rcv_adv))
			tp->rcv_adv = tp->rcv_nxt + win;
		tp->t_flags &= ~(TF_ACKNOW | TF_DELACK);
		tp->t_delack = SYNFIN_TIME_NEVER;
	}
}

/* Build and send one segment of this connection: SEQ, `len` bytes of the
 * send ring from offset `off`, the flags given (PSH set by the caller on
 * the last buffered byte; ACK added once synchronized), the window, and
 * the options the connection uses (SACK blocks when we hold out-of-order
 * data). The headers are written straight
 * from the control block; the payload goes from the send ring to its place
 * behind them, in the driver's buffer when it lends one (the ring is read
 * once per transmission), or stays in the ring when the driver takes it by
 * reference (ops.output_ref: the headers in the stack's buffer, the ring
 * pinned until synfin_tx_release()). Returns the window offered. */
static SF_HOT_INLINE uint32_t send_segment(struct synfin_stack *st, struct tcb *tp, uint32_t seq, uint32_t off,
					   uint32_t len, uint8_t flags, bool send_syn)
{
	uint32_t ack = 0, win;
	uint16_t wnd;
	if (tp->state != TCPS_SYN_SENT) {
		flags |= TH_ACK;
		ack = tp->rcv_nxt;
	}
	if (SF_UNLIKELY(send_syn)) {
		/* the window of a SYN is never scaled (RFC 7323 2.2) */
		wnd = (uint16_t)(tcp_rcv_space(tp) > 65535 ? 65535 : tcp_rcv_space(tp));
		win = wnd;
	} else {
		win = window_to_offer(tp);
		wnd = (uint16_t)(win >> tp->rcv_scale);
		win = (uint32_t)wnd << tp->rcv_scale;
	}
	bool ref = len >= TX_REF_MIN && st->ops.output_ref && ring_contig(tp->u.b.snd, off) >= len;
	uint8_t *buf = ref ? st->outbuf : st_txbuf(st);
	uint8_t *th = buf + IP4_HDR_MIN;
	size_t optlen = 0;
	if (SF_UNLIKELY(send_syn || tcp_sack_blocks_held(tp))) {
		/* the buffer holds cfg.mtu bytes (at least 68) */
		optlen = put_full_opts(st, tp, send_syn, th + TCP_HDR_MIN, st->cfg.mtu - IP4_HDR_MIN - TCP_HDR_MIN);
	} else if (SF_LIKELY(tp->t_flags & TF_RCVD_TSTMP)) {
		tcp_put_ts(th + TCP_HDR_MIN, st_ms(st) + tp->ts_offset, tp->ts_recent);
		optlen = 2 + TCPOLEN_TIMESTAMP;
	}
	size_t thlen = TCP_HDR_MIN + optlen, hlen = IP4_HDR_MIN + thlen;
	if (SF_LIKELY(hlen + len <= st->cfg.mtu)) {
		const uint8_t *payload = ref ? ring_at(tp->u.b.snd, off) : buf + hlen;
		if (len && !ref)
			ring_peek(tp->u.b.snd, off, buf + hlen, len);
		tcp_put_fixed(buf, (uint16_t)(hlen + len), st->ip_id++, tp->laddr, tp->faddr, tp->lport, tp->fport,
			      seq, ack, thlen, flags, wnd, 0);
		if (SF_LIKELY(!st->cfg.checksum_offload))
			tcp_put_csum(th, thlen, payload, len, tp->laddr, tp->faddr);
		st->stats.ip_out++;
		st->stats.tcp_out++;
		/* (by reference: only segments big enough that their bytes cost
		 * far more than the branch) */
		if (SF_UNLIKELY(ref)) {
			st->tx_pinned = true;
			st->ops.output_ref(st->ops.ctx, buf, hlen, payload, len);
		} else {
			st->ops.output(st->ops.ctx, buf, hlen + len);
		}
	}
	sent(tp, win);
	return win;
}

/* The room SACK blocks take in a data segment's header. */
static uint32_t sack_room(const struct tcb *tp)
{
	struct tcp_sack_block b[4];
	int n = tcp_sack_blocks(tp, b, tcp_sack_max(tp));
	return n ? 4u + 8u * (uint32_t)n : 0;
}

void tcp_retransmit(struct synfin_stack *st, struct tcb *tp, uint32_t seq, uint32_t len)
{
	uint32_t off = seq - tp->snd_una;
	uint32_t pending = tcp_snd_pending(tp);
	uint32_t mss = tcp_effective_mss(tp) - sack_room(tp);
	if (off >= pending)
		return;
	if (len > pending - off)
		len = pending - off;
	if (len > mss)
		len = mss;
	send_segment(st, tp, seq, off, len, off + len == pending ? TH_ACK | TH_PSH : TH_ACK, false);
	st->stats.rexmits++;
	if (tp->x) {
		uint32_t now = st_ms(st) ? st_ms(st) : 1;
		tp->x->retrans_segs++;
		tp->x->last_rxt_ms = now;
		if (seq == tp->snd_una)
			tp->x->una_rxt_ms = now;
	}
	if (tp->t_rexmt == SYNFIN_TIME_NEVER)
		tp->t_rexmt = st->now + tp->rto;
	tcp_timer_update(st, tp);
}

/* A window update worth announcing: two segments, or half the buffer
 * (RFC 9293 3.8.6.2.2). */
static inline bool window_update_due(const struct tcb *tp)
{
	if (tp->state == TCPS_SYN_SENT || (tp->t_flags & TF_RCV_SHUT))
		return false;
	/* The window offered is at most the free room or what is already
	 * offered: when the room reaches no further than the edge we
	 * advertised (nothing read since, the usual case after input), the
	 * edge cannot move. */
	uint32_t edge = tp->rcv_nxt + tcp_rcv_space(tp);
	if (seq_leq(edge, tp->rcv_adv))
		return false;
	/* The window offered reaches at most that far: an edge that could
	 * move less than the threshold below is not worth a look (a read of
	 * a small message). */
	uint32_t most = edge - tp->rcv_adv;
	if (most < 2u * tcp_effective_mss(tp) && 2ull * most < tp->rcvbuf)
		return false;
	uint32_t win = window_to_offer(tp);
	uint32_t adv = seq_gt(tp->rcv_nxt + win, tp->rcv_adv) ? tp->rcv_nxt + win - tp->rcv_adv : 0;
	return adv >= 2 * tcp_effective_mss(tp) || 2 * adv >= tp->rcvbuf;
}

/* Most calls (after an ACK, a read) find nothing to do: synchronized, no
 * ACK owed, no probe, no recovery, every byte and the FIN (if it is due)
 * already sent. Then the loop below would send nothing and arm nothing,
 * and only a window update could change that. */
inline bool tcp_nothing_to_send(const struct tcb *tp)
{
	if (!TCPS_HAVEESTABLISHED(tp->state) || (tp->t_flags & (TF_ACKNOW | TF_FORCE)) ||
	    (tp->x && tp->x->ca_state == CA_RECOVERY))
		return false;
	uint32_t off = tp->snd_nxt - tp->snd_una, buffered = tcp_snd_pending(tp);
	if (off < buffered || (off == buffered && (outflags[tp->state] & TH_FIN)))
		return false;
	return !window_update_due(tp);
}

void tcp_output(struct synfin_stack *st, struct tcb *tp)
{
	struct tcb_ext *x = tp->x;
	if (tcp_nothing_to_send(tp)) {
		tcp_timer_update(st, tp);
		return;
	}
	/* RFC 5681 4.1: after an idle period longer than the RTO the window
	 * starts again from the restart window */
	if (x && tp->snd_max == tp->snd_una && tcp_snd_pending(tp) > 0 && x->last_send_ms &&
	    (st_ms(st) - x->last_send_ms) * 1000ull > tp->rto && TCPS_HAVEESTABLISHED(tp->state)) {
		tcp_cc(tp)->idle(st, tp);
		x->last_send_ms = st_ms(st);
	}
	/* SACK-based recovery first: lost ranges are resent while the pipe
	 * leaves room (RFC 6675 5, NextSeg rule 1) */
	if (SF_UNLIKELY(x && x->ca_state == CA_RECOVERY && (tp->t_flags & TF_SACK_PERMIT))) {
		uint32_t mss = tcp_effective_mss(tp);
		uint32_t hseq, hlen;
		bool resent = false;
		for (int guard = 0; guard < 1024 && tcp_pipe(tp) + mss <= tp->cwnd &&
				    tcp_sack_next_hole(tp, &hseq, &hlen);
		     guard++) {
			uint32_t n = hlen < mss ? hlen : mss;
			tcp_retransmit(st, tp, hseq, n);
			x->high_rxt = hseq + n;
			resent = true;
		}
		/* the recovery probe counts from the newest resend */
		if (resent)
			tcp_arm_rexmt(st, tp);
	}
	/* Each round sends one segment; a round that sends nothing ends the
	 * loop, and the window bounds how much data rounds there can be. The
	 * cap only guards against a bug. */
	for (int round = 0; round < 4096; round++) {
		if (SF_UNLIKELY(tp->state == TCPS_CLOSED || tp->state == TCPS_LISTEN || tp->state == TCPS_TIME_WAIT))
			break;
		uint8_t flags = outflags[tp->state];
		bool send_syn = (flags & TH_SYN) && tp->snd_nxt == tp->iss;
		if (SF_LIKELY(!send_syn))
			flags &= (uint8_t)~TH_SYN;
		if (SF_UNLIKELY(send_syn && st->now < st->quiet_until)) {
			/* RFC 9293 3.4.3: no sequence number goes out before the
			 * quiet time has passed; the SYN waits for it. */
			tp->t_flags |= TF_QUIET;
			tp->t_rexmt = st->quiet_until;
			break;
		}
		bool syn_acked = TCPS_HAVEESTABLISHED(tp->state);
		if (syn_acked && x && seq_lt(tp->snd_nxt, tp->snd_max))
			tp->snd_nxt = tcp_sack_skip(tp, tp->snd_nxt);
		uint32_t off = tp->snd_nxt - tp->snd_una;
		uint32_t buffered = tcp_snd_pending(tp);
		uint32_t mss = tcp_effective_mss(tp);
		uint32_t len = 0;
		bool fin = false, wrapcut = false;

		if (syn_acked) {
			/* the peer's window bounds the sequence space; the
			 * congestion window bounds what is in the network (the
			 * pipe in SACK recovery, plus limited transmit's
			 * allowance) */
			uint32_t cwnd = tp->cwnd + (x ? (uint32_t)x->limited * mss : 0);
			uint32_t inflight = (x && x->ca_state == CA_RECOVERY) ? tcp_pipe(tp) : off;
			uint32_t cwin = cwnd > inflight ? cwnd - inflight : 0;
			uint32_t pwin = tp->snd_wnd > off ? tp->snd_wnd - off : 0;
			if (SF_UNLIKELY((tp->t_flags & TF_FORCE) && tp->snd_wnd == 0))
				pwin = cwin = 1; /* the zero-window probe's one byte */
			uint32_t avail = off < buffered ? buffered - off : 0;
			len = avail;
			if (len > pwin)
				len = pwin;
			if (len > cwin)
				len = cwin;
			uint32_t room = len ? mss - sack_room(tp) : mss;
			if (len > room)
				len = room;
			mss = room;
			/* by reference, a segment ends where the ring wraps; the
			 * rest follows at once (not a small segment for Nagle) */
			if (len > TX_REF_MIN && st->ops.output_ref && tp->u.b.snd) {
				uint32_t contig = ring_contig(tp->u.b.snd, off);
				if (len > contig && contig >= TX_REF_MIN) {
					len = contig;
					wrapcut = true;
				}
			}
			/* the FIN goes once all data is in this segment (it needs
			 * no window: RFC 9293 3.10.4) */
			fin = (flags & TH_FIN) && off <= buffered && off + len == buffered;
		}
		if (!fin)
			flags &= (uint8_t)~TH_FIN;

		bool sendit = send_syn || fin || (tp->t_flags & TF_ACKNOW);
		if (len > 0) {
			bool all = off + len == buffered;
			bool idle = tp->snd_max == tp->snd_una;
			if (len == mss || wrapcut || (tp->t_flags & TF_FORCE) || seq_lt(tp->snd_nxt, tp->snd_max) ||
			    (all && (idle || (tp->t_flags & TF_NODELAY))) ||
			    (tp->max_sndwnd && len >= tp->max_sndwnd / 2))
				sendit = true; /* else Nagle holds a small segment back */
		}
		if (!sendit && window_update_due(tp))
			sendit = true;
		if (!sendit) {
			/* Data waits on a closed window: the persist timer will
			 * probe it (RFC 9293 3.8.6.1). */
			if (syn_acked && buffered > off && tp->t_rexmt == SYNFIN_TIME_NEVER &&
			    (tp->snd_wnd == 0 || tp->snd_max == tp->snd_una)) {
				tp->rxtshift = 0;
				if (tp->snd_wnd == 0) {
					/* whatever is in flight (4.4BSD): after a
					 * timeout's go-back the window may be shut */
					tcp_setpersist(st, tp);
				} else {
					/* Nothing in flight, yet data held back by
					 * sender silly-window avoidance: the override
					 * timeout (RFC 9293 3.8.6.2.1, 0.1 to 1 s)
					 * sends what the small window allows. */
					tp->t_flags |= TF_PERSIST;
					tp->t_rexmt = st->now + SWS_OVERRIDE;
				}
			}
			break;
		}

		uint32_t seq;
		if (SF_UNLIKELY(send_syn))
			seq = tp->iss;
		else if (len || fin || (tp->t_flags & TF_FORCE))
			seq = tp->snd_nxt;
		else
			seq = tp->snd_max; /* a bare ACK speaks from the front */
		if (len && off + len == buffered)
			flags |= TH_PSH;
		send_segment(st, tp, seq, off, len, flags, send_syn);

		/* account for what went out */
		uint32_t seqspace = len + (send_syn ? 1u : 0u) + (fin ? 1u : 0u);
		if (seqspace == 0)
			break;
		if (x && len) {
			x->last_send_ms = st_ms(st);
			if (seq_lt(seq, tp->snd_max))
				x->retrans_segs++; /* go-back-N after a timeout */
		}
		if (x && x->limited && len && seq_geq(seq, tp->snd_max))
			x->limited--; /* limited transmit spent one segment */
		if (fin)
			tp->t_flags |= TF_SENTFIN;
		if (SF_UNLIKELY((tp->t_flags & TF_FORCE) && (tp->t_flags & TF_PERSIST))) {
			/* A probe leaves SND.NXT where it is (4.4BSD): the byte is
			 * sent again until the window opens. */
			if (seq_gt(seq + seqspace, tp->snd_max))
				tp->snd_max = seq + seqspace;
			break;
		}
		tp->snd_nxt = seq + seqspace;
		if (SF_LIKELY(seq_gt(tp->snd_nxt, tp->snd_max))) { /* new data, not a resend */
			if (!(tp->t_flags & (TF_TIMING | TF_RCVD_TSTMP)) && seq == tp->snd_max) {
				/* time this segment for an RTT sample (RFC 6298);
				 * with timestamps every ACK brings one (RFC 7323 4.1) */
				tp->t_flags |= TF_TIMING;
				tp->rtseq = seq;
				tp->t_rtttime_ms = st_ms(st);
			}
			tp->snd_max = tp->snd_nxt;
		}
		if (tp->t_rexmt == SYNFIN_TIME_NEVER || (tp->t_flags & (TF_PERSIST | TF_TLP))) {
			/* (a probe timer is re-armed from the newest segment) */
			tp->t_flags &= ~TF_PERSIST;
			tcp_arm_rexmt(st, tp);
		}
		/* a SYN or FIN ends the sequence space to send; so does the
		 * last buffered byte while the state owes no FIN (the ACK and
		 * the window went out with this segment) */
		if (send_syn || fin || (off + len == buffered && !(outflags[tp->state] & TH_FIN)))
			break;
	}
	tcp_timer_update(st, tp);
}
