/*
 * Segment arrival, following RFC 9293 section 3.10.7 step by step: a
 * segment for no connection (3.10.7.1), for a listener (3.10.7.2), in
 * SYN_SENT (3.10.7.3), and in the other states (3.10.7.4: sequence check,
 * RST, SYN, ACK, text, FIN), hardened by RFC 5961 (RST, SYN and ACK
 * checks) and RFC 7323 (PAWS). The segment is an explicit argument; no
 * state lives outside the control block and the stack.
 */
#include <errno.h>
#include <string.h>

#include "tcp/tcp_priv.h"

static void sync_input(struct synfin_stack *st, struct tcb *tp, const struct tcp_seg *seg);

/* Options on a SYN (RFC 9293 3.7.1, RFC 7323 2.2 and 3.2). */
static void syn_options(struct synfin_stack *st, struct tcb *tp, const struct tcp_seg *seg)
{
	if ((seg->opt.has & TOF_WSCALE) && (tp->t_flags & TF_REQ_SCALE)) {
		tp->t_flags |= TF_RCVD_SCALE;
		tp->snd_scale = seg->opt.wscale > 14 ? 14 : seg->opt.wscale;
	} else {
		tp->snd_scale = 0;
		tp->rcv_scale = 0;
	}
	if ((seg->opt.has & TOF_TS) && (tp->t_flags & TF_REQ_TSTMP)) {
		tp->t_flags |= TF_RCVD_TSTMP;
		tp->ts_recent = seg->opt.tsval;
		tp->ts_recent_age_s = (uint32_t)(st->now / SYNFIN_US_PER_S);
	}
	if ((seg->opt.has & TOF_SACKPERM) && (tp->t_flags & TF_REQ_SACK))
		tp->t_flags |= TF_SACK_PERMIT;
	tcp_set_maxseg(tp, (seg->opt.has & TOF_MSS) ? seg->opt.mss : 536, (uint16_t)(st->cfg.mtu - 40));
	tp->cwnd = cc_initial_window(tcp_effective_mss(tp));
}

/* ---- 3.10.7.2: a segment for a listener ---- */
static void copy_socket_options(struct tcb *child, const struct tcb *l)
{
	child->t_flags |= l->t_flags & (TF_NODELAY | TF_KEEPALIVE | TF_LINGER | TF_REUSEADDR);
	child->linger_s = l->linger_s;
	child->keepidle_s = l->keepidle_s;
	child->keepintvl_s = l->keepintvl_s;
	child->keepcnt = l->keepcnt;
	child->sndbuf = l->sndbuf;
	child->rcvbuf = l->rcvbuf;
	child->owner = l->owner;
}

static struct tcb *new_child(struct synfin_stack *st, struct tcb *l, const struct tcp_seg *seg,
			     uint32_t iss)
{
	struct tcb *tp = tcp_newtcb(st);
	if (!tp)
		return NULL;
	copy_socket_options(tp, l);
	tp->laddr = seg->daddr;
	tp->faddr = seg->saddr;
	tp->fport = seg->sport;
	tcp_bind_add(st, tp, seg->dport);
	tcp_init_conn(st, tp);
	tp->t_flags |= TF_PASSIVE;
	tp->irs = seg->seq;
	tp->rcv_nxt = tp->rcv_adv = seg->seq + 1;
	if (iss)
		tp->iss = iss; /* a TIME_WAIT reopen: beyond the old incarnation */
	tp->snd_una = tp->snd_nxt = tp->snd_max = tp->iss;
	tp->snd_wnd = seg->wnd; /* never scaled on a SYN (RFC 7323 2.2) */
	tp->max_sndwnd = tp->snd_wnd;
	tp->snd_wl1 = seg->seq;
	tp->snd_wl2 = tp->iss;
	/* The RFC's picture is one block going LISTEN -> SYN_RCVD; here the
	 * listener stays and its child takes that step. */
	tp->state = TCPS_LISTEN;
	tp->parent = l;
	tp->qnext = l->u.lq->syn_head;
	l->u.lq->syn_head = tp;
	l->u.lq->q0len++;
	st->stats.passive_opens++;
	return tp;
}

/* A SYN,ACK whose ISN is a SYN cookie, and no state kept. When the SYN has
 * timestamps, the low 4 bits of our TSval carry its window scale (15: none),
 * as Linux does, so that the connection keeps both options; the TSval is
 * rounded down so that it never runs ahead of our clock. */
static SF_NOINLINE void syncookie_reply(struct synfin_stack *st, const struct tcb *l, const struct tcp_seg *seg)
{
	uint16_t ours = (uint16_t)(st->cfg.mtu - 40);
	uint16_t mss = !(seg->opt.has & TOF_MSS) ? 536 : seg->opt.mss < ours ? seg->opt.mss : ours;
	struct tcp_opts o;
	memset(&o, 0, sizeof o);
	o.has = TOF_MSS;
	o.mss = ours;
	if (seg->opt.has & TOF_TS) {
		uint8_t ws = (seg->opt.has & TOF_WSCALE) ? (seg->opt.wscale > 14 ? 14 : seg->opt.wscale) : 0xf;
		uint64_t f = tcp_tuple_secret(st, seg->daddr, seg->dport, seg->saddr, seg->sport);
		uint32_t now_ts = st_ms(st) + (uint32_t)(f >> 32);
		uint32_t ts = (now_ts & ~0xfu) | ws;
		if (seq_gt(ts, now_ts))
			ts -= 16;
		o.has |= TOF_TS;
		o.tsval = ts;
		o.tsecr = seg->opt.tsval;
		if (ws != 0xf) {
			o.has |= TOF_WSCALE;
			o.wscale = tcp_rcv_scale_for(l->rcvbuf);
		}
	}
	uint32_t space = l->rcvbuf > 65535 ? 65535 : l->rcvbuf;
	tcp_respond(st, seg->daddr, seg->dport, seg->saddr, seg->sport, syncookie_make(st, seg, mss),
		    seg->seq + 1, TH_SYN | TH_ACK, (uint16_t)space, &o);
	st->stats.syncookies_sent++;
}

static void listen_input(struct synfin_stack *st, struct tcb *l, const struct tcp_seg *seg,
			 uint32_t iss)
{
	struct listenq *q = l->u.lq;
	char cause[32];

	if (seg->flags & TH_RST)
		return; /* first: an RST to a listener is ignored */
	if (seg->flags & TH_ACK) {
		/* second: an ACK for nothing, unless it returns one of our SYN
		 * cookies */
		uint16_t mss;
		if (!(seg->flags & TH_SYN) && st->cfg.syncookies &&
		    (mss = syncookie_check(st, seg)) != 0) {
			if (q->qlen >= q->backlog) {
				st->stats.listen_overflows++;
				return;
			}
			/* rebuild the SYN the cookie stands for: its MSS from the
			 * cookie, its window scale and timestamps from the bits
			 * our SYN,ACK's TSval carried, echoed back in TSecr */
			struct tcp_seg syn = *seg;
			syn.seq = seg->seq - 1;
			memset(&syn.opt, 0, sizeof syn.opt);
			syn.opt.has = TOF_MSS;
			syn.opt.mss = mss;
			if (seg->opt.has & TOF_TS) {
				uint8_t ws = (uint8_t)(seg->opt.tsecr & 0xf);
				syn.opt.has |= TOF_TS;
				syn.opt.tsval = seg->opt.tsval;
				if (ws != 0xf) {
					syn.opt.has |= TOF_WSCALE;
					syn.opt.wscale = ws;
				}
			}
			struct tcb *tp = new_child(st, l, &syn, seg->ack - 1);
			if (!tp)
				return;
			st->stats.syncookies_ok++;
			syn_options(st, tp, &syn);
			tp->snd_nxt = tp->snd_max = tp->iss + 1;
			/* the window the cookie's SYN,ACK offered */
			tp->rcv_adv = tp->rcv_nxt + (tp->rcvbuf > 65535 ? 65535 : tp->rcvbuf);
			tcp_set_state(st, tp, TCPS_SYN_RCVD, "valid SYN cookie");
			tcp_hash_insert(st, tp);
			sync_input(st, tp, seg);
			return;
		}
		if (!(seg->flags & TH_SYN) && st->cfg.syncookies)
			st->stats.syncookies_bad += st->stats.syncookies_sent ? 1 : 0;
		st->stats.rst_no_socket++;
		tcp_reset_reply(st, seg);
		return;
	}
	if (!(seg->flags & TH_SYN))
		return; /* fourth: anything else is dropped */
	if (st->now < st->quiet_until) {
		st->stats.quiet_drops++;
		return;
	}
	/* third: a SYN. A full accept queue drops it, as Linux does: the
	 * client retransmits and gets in once the application accepts. */
	if (q->qlen >= q->backlog) {
		st->stats.listen_overflows++;
		return;
	}
	if (q->q0len >= st->cfg.max_syn_backlog || (st->cfg.syncookies == SYNFIN_SYNCOOKIES_ALWAYS && !iss)) {
		if (q->q0len >= st->cfg.max_syn_backlog)
			st->stats.syn_queue_overflows++;
		if (st->cfg.syncookies)
			syncookie_reply(st, l, seg);
		return;
	}
	struct tcb *tp = new_child(st, l, seg, iss);
	if (!tp)
		return;
	syn_options(st, tp, seg);
	tcp_set_state(st, tp, TCPS_SYN_RCVD, tcp_flags_cause(st, seg->flags, cause));
	tcp_hash_insert(st, tp);
	tp->t_keep = st->now + st->cfg.conn_timeout;
	/* Data or FIN on the SYN is not taken (no TCP Fast Open): the peer
	 * sends it again once it sees that only the SYN was acknowledged. */
	tcp_output(st, tp);
}

/* ---- 3.10.7.3: SYN_SENT ---- */
static void syn_sent_input(struct synfin_stack *st, struct tcb *tp, const struct tcp_seg *seg)
{
	char cause[48];
	/* first: the ACK must acknowledge our SYN */
	if (seg->flags & TH_ACK) {
		if (seq_leq(seg->ack, tp->iss) || seq_gt(seg->ack, tp->snd_max)) {
			st->stats.bad_ack_drops++;
			if (!(seg->flags & TH_RST))
				tcp_reset_reply(st, seg);
			return;
		}
	}
	/* second: an RST is taken only with an acceptable ACK (RFC 5961 3.2) */
	if (seg->flags & TH_RST) {
		st->stats.rst_in++;
		if (seg->flags & TH_ACK)
			tcp_close(st, tp, ECONNREFUSED, "rcv RST");
		return;
	}
	/* fourth: the SYN */
	if (!(seg->flags & TH_SYN))
		return;
	tp->irs = seg->seq;
	tp->rcv_nxt = tp->rcv_adv = seg->seq + 1;
	syn_options(st, tp, seg);
	tp->snd_wnd = seg->wnd; /* a SYN's window is never scaled */
	tp->max_sndwnd = tp->snd_wnd;
	tp->snd_wl1 = seg->seq;
	tp->snd_wl2 = seg->ack;
	if (seg->flags & TH_ACK) {
		tp->snd_una = seg->ack;
		if ((tp->t_flags & TF_TIMING) && seq_gt(seg->ack, tp->rtseq)) {
			tcp_rto_sample(st, tp, (st_ms(st) - tp->t_rtttime_ms) * 1000u);
			tp->t_flags &= ~TF_TIMING;
		}
	}
	if (seq_gt(tp->snd_una, tp->iss)) {
		tcp_set_state(st, tp, TCPS_ESTABLISHED, tcp_flags_cause(st, seg->flags, cause));
		tcp_rto_after_syn(st, tp);
		tp->rxtshift = 0;
		tp->t_rexmt = SYNFIN_TIME_NEVER;
		tp->t_keep = SYNFIN_TIME_NEVER;
		tcp_keep_reset(st, tp);
		/* Data on the SYN,ACK is not taken; our ACK says so. */
		tp->t_flags |= TF_ACKNOW;
		if (tp->t_flags & TF_FIN_QUEUED)
			tcp_set_state(st, tp, TCPS_FIN_WAIT_1, "close");
		tcp_output(st, tp);
		return;
	}
	/* Simultaneous open: both SYNs crossed. Answer with SYN,ACK carrying
	 * our original ISN. */
	tcp_set_state(st, tp, TCPS_SYN_RCVD, "rcv SYN (simultaneous open)");
	tp->snd_nxt = tp->iss;
	tp->t_flags &= ~TF_TIMING;
	tcp_output(st, tp);
}

/* RFC 5961 challenge ACK: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, rate-limited. */
static void challenge_ack(struct synfin_stack *st, struct tcb *tp)
{
	if (!tcp_challenge_ack_allowed(st))
		return;
	tp->t_flags |= TF_ACKNOW;
	tcp_output(st, tp);
}

/* The application has closed: what remains of the connection. */
static void apply_close_pending(struct synfin_stack *st, struct tcb *tp)
{
	if (!(tp->t_flags & TF_CLOSE_PENDING))
		return;
	tp->t_flags &= ~TF_CLOSE_PENDING;
	if (tp->state == TCPS_ESTABLISHED)
		tcp_set_state(st, tp, TCPS_FIN_WAIT_1, "close");
	else if (tp->state == TCPS_CLOSE_WAIT)
		tcp_set_state(st, tp, TCPS_LAST_ACK, "close");
}

/* ---- 3.10.7.4: every other state ---- */
/* SEG.ACK acknowledges something new (SND.UNA < SEG.ACK <= SND.MAX): the
 * send buffer gives up what was acknowledged, an RTT sample is taken, and
 * the congestion control and the retransmission timer hear of it. */
static SF_HOT_INLINE void ack_advance(struct synfin_stack *st, struct tcb *tp, const struct tcp_seg *seg)
{
	uint32_t acked = seg->ack - tp->snd_una;
	uint32_t data_acked = acked;
	if (tp->snd_una == tp->iss)
		data_acked--; /* our SYN */
	bool fin_acked = (tp->t_flags & TF_SENTFIN) && seg->ack == tp->snd_max;
	if (fin_acked)
		data_acked--;
	if (tp->u.b.snd)
		tcp_snd_drop(st, tp->u.b.snd, data_acked);
	tp->snd_una = seg->ack;
	if (SF_UNLIKELY(seq_lt(tp->snd_nxt, tp->snd_una)))
		tp->snd_nxt = tp->snd_una;
	/* an RTT sample: from the echoed timestamp when there is one
	 * (RFC 7323 4.1, valid for retransmissions too), else from the
	 * timed segment unless it was resent (Karn) */
	uint32_t rtt_us = 0;
	if (SF_LIKELY((tp->t_flags & TF_RCVD_TSTMP) && (seg->opt.has & TOF_TS) && seg->opt.tsecr)) {
		uint32_t ms = st_ms(st) + tp->ts_offset - seg->opt.tsecr;
		if (SF_LIKELY(ms < 600000u))
			rtt_us = ms ? ms * 1000u : 500u;
		tp->t_flags &= ~TF_TIMING;
	} else if ((tp->t_flags & TF_TIMING) && seq_gt(seg->ack, tp->rtseq)) {
		rtt_us = (st_ms(st) - tp->t_rtttime_ms) * 1000u;
		tp->t_flags &= ~TF_TIMING;
	}
	if (rtt_us)
		tcp_rto_sample(st, tp, rtt_us);
	tp->rxtshift = 0;
	tp->t_softerror = 0; /* the path works: an old ICMP error is stale */
	tcp_sack_update(st, tp, seg);
	tcp_recovery_ack(st, tp, acked, rtt_us);
	if (SF_LIKELY(!(tp->t_flags & TF_PERSIST)))
		tcp_arm_rexmt(st, tp);
}

/* The send window, from the newest segment only (SND.WL1/WL2). Of
 * segments with the same SEQ and ACK only a larger window is taken,
 * as Linux does: a reordered older ACK must not shut the window. */
static SF_HOT_INLINE void update_snd_wnd(struct tcb *tp, uint32_t seq, const struct tcp_seg *seg)
{
	uint32_t nwnd = (uint32_t)seg->wnd << tp->snd_scale;
	if (seq_lt(tp->snd_wl1, seq) || (tp->snd_wl1 == seq && seq_lt(tp->snd_wl2, seg->ack)) ||
	    (tp->snd_wl1 == seq && tp->snd_wl2 == seg->ack && nwnd > tp->snd_wnd)) {
		tp->snd_wnd = nwnd;
		tp->snd_wl1 = seq;
		tp->snd_wl2 = seg->ack;
		if (tp->snd_wnd > tp->max_sndwnd)
			tp->max_sndwnd = tp->snd_wnd;
	}
}

/* Text at `seq` (in the window, after RCV.NXT or at it) into the receive
 * ring: RCV.NXT moves over what is now in order, and the ACK is sent at
 * once or delayed (RFC 5681 4.2). A FIN past text not taken loses its
 * place (*flags). Returns the text length kept in the segment's view. */
static SF_HOT_INLINE uint32_t take_text(struct synfin_stack *st, struct tcb *tp, uint32_t seq,
					 const uint8_t *data, uint32_t len, uint8_t *flags)
{
	if (!tp->u.b.rcv) {
		tp->u.b.rcv = ring_new(st, tp->rcvbuf);
		tcp_ext_get(st, tp);
		if (!tp->u.b.rcv) {
			*flags &= (uint8_t)~TH_FIN;
			return 0;
		}
	}
	bool stored;
	uint32_t off = seq - tp->rcv_nxt;
	uint32_t adv = ring_reass(st, tp->u.b.rcv, off, data, len, &stored);
	tp->rcv_nxt += adv;
	if (tp->x) {
		tp->x->bytes_received += adv;
		if (off > 0 && stored)
			tp->x->last_ooo = seq;
	}
	if (off > 0) {
		st->stats.ooo_segs++;
		tp->t_flags |= TF_ACKNOW; /* a duplicate ACK tells the sender */
		*flags &= (uint8_t)~TH_FIN;
	} else if (!stored || adv > len || tp->u.b.rcv->nooo || (tp->t_flags & TF_DELACK)) {
		/* a hole filled in whole or in part (RFC 5681 4.2), or every
		 * second segment */
		tp->t_flags |= TF_ACKNOW;
	} else {
		tp->t_flags |= TF_DELACK;
		tp->t_delack = st->now + st->cfg.delack;
	}
	if (adv < len)
		*flags &= (uint8_t)~TH_FIN;
	return len;
}

/* Header prediction (Van Jacobson's, as in 4.4BSD and Linux's fast path).
 * Most segments of an established connection are the next one expected,
 * carry only ACK (and PSH) with the options the connection always uses, and
 * bring either text that fits the free room or an ACK of new data. For
 * them every test of the general path up to the ACK is known to pass, and
 * none of its RST, SYN, FIN or state changes applies: the timestamp, the
 * acknowledgment, the window, the text and output are all that is left.
 * Anything else (a duplicate ACK, SACK blocks, recovery, a zero window, a
 * FIN, a closed or half-closed socket) returns false with nothing changed,
 * and takes the general path. */
static bool fast_input(struct synfin_stack *st, struct tcb *tp, const struct tcp_seg *seg)
{
	const struct tcb_ext *x = tp->x;
	uint32_t len = seg->len;
	if ((seg->flags & (TH_SYN | TH_FIN | TH_RST | TH_URG | TH_ACK)) != TH_ACK || seg->seq != tp->rcv_nxt ||
	    (tp->t_flags & (TF_PERSIST | TF_RCV_SHUT | TF_USER_CLOSED | TF_CLOSE_PENDING)) ||
	    seq_gt(seg->ack, tp->snd_max) || seq_lt(seg->ack, tp->snd_una) ||
	    (x && (x->ca_state != CA_OPEN || x->nsacked)))
		return false;
	if (tp->t_flags & TF_RCVD_TSTMP) {
		/* PAWS passes: the timestamp is not older than TS.Recent */
		if (seg->opt.has != TOF_TS || seq_lt(seg->opt.tsval, tp->ts_recent))
			return false;
	} else if (seg->opt.has) {
		return false;
	}
	if (len ? len > tcp_rcv_space(tp) : !seq_gt(seg->ack, tp->snd_una))
		return false;

	if (len)
		st->stats.predicted_data++;
	else
		st->stats.predicted_acks++;
	if (tp->t_flags & TF_RCVD_TSTMP) {
		tp->ts_recent = seg->opt.tsval;
		tp->ts_recent_age_s = (uint32_t)(st->now / SYNFIN_US_PER_S);
	}
	if (seq_gt(seg->ack, tp->snd_una))
		ack_advance(st, tp, seg);
	update_snd_wnd(tp, seg->seq, seg);
	tcp_keep_reset(st, tp);
	if (len) {
		uint8_t flags = seg->flags;
		take_text(st, tp, seg->seq, seg->data, len, &flags);
	}
	tcp_output(st, tp);
	return true;
}

/* The rare turns of sync_input, out of line so that its usual path stays
 * short and keeps its values in registers. */

/* PAWS (RFC 7323 5.3) for a segment whose timestamp is older than
 * TS.Recent: true if it is dropped (and ACKed), false if TS.Recent itself
 * was over 24 days old and is forgotten. */
static SF_COLD bool paws_reject(struct synfin_stack *st, struct tcb *tp)
{
	uint32_t now_s = (uint32_t)(st->now / SYNFIN_US_PER_S);
	if (now_s - tp->ts_recent_age_s > 24u * 24 * 3600) {
		tp->ts_recent = 0;
		return false;
	}
	st->stats.paws_drops++;
	tp->t_flags |= TF_ACKNOW;
	tcp_output(st, tp);
	return true;
}

/* A segment outside the receive window: an RST is dropped, anything else
 * answered with an ACK. */
static SF_COLD void unacceptable(struct synfin_stack *st, struct tcb *tp, uint8_t flags, uint32_t seglen)
{
	if (flags & TH_RST)
		return;
	st->stats.dup_segs++;
	/* Two ends that each find the other's bare ACKs out of window would
	 * answer each other forever: an ACK for an unacceptable bare ACK goes
	 * at most every 500 ms (Linux's tcp_invalid_ratelimit). Segments with
	 * data are always answered: that ACK is what the sender needs. */
	if (seglen == 0 && tp->x) {
		uint32_t now_ms = st_ms(st);
		if (tp->x->oow_ack_ms && now_ms - tp->x->oow_ack_ms < 500)
			return;
		tp->x->oow_ack_ms = now_ms ? now_ms : 1;
	}
	tp->t_flags |= TF_ACKNOW;
	tcp_output(st, tp);
}

/* A passive open's child goes back to LISTEN: for us, the child goes and
 * the listener is still there. */
static void back_to_listen(struct synfin_stack *st, struct tcb *tp, const char *cause)
{
	tcp_set_state(st, tp, TCPS_LISTEN, cause);
	tw_restore(st, tp);
	tp->state = TCPS_CLOSED;
	tcp_free(st, tp);
}

/* An RST in the window (RFC 5961 3.2): exactly at RCV.NXT it resets the
 * connection, elsewhere it draws a challenge ACK. */
static SF_COLD void rst_input(struct synfin_stack *st, struct tcb *tp, uint32_t seq)
{
	st->stats.rst_in++;
	if (seq != tp->rcv_nxt) {
		challenge_ack(st, tp);
		return;
	}
	switch (tp->state) {
	case TCPS_SYN_RCVD:
		if (tp->t_flags & TF_PASSIVE)
			back_to_listen(st, tp, "rcv RST (passive open)");
		else
			tcp_close(st, tp, ECONNREFUSED, "rcv RST");
		return;
	case TCPS_ESTABLISHED:
	case TCPS_FIN_WAIT_1:
	case TCPS_FIN_WAIT_2:
	case TCPS_CLOSE_WAIT:
		tcp_close(st, tp, ECONNRESET, "rcv RST");
		return;
	default: /* CLOSING, LAST_ACK */
		tcp_close(st, tp, 0, "rcv RST");
		return;
	}
}

/* A SYN in the window: a passive open's child goes; anything else gets a
 * challenge ACK, whatever the SYN's number (RFC 5961 4.2). */
static SF_COLD void syn_in_window(struct synfin_stack *st, struct tcb *tp)
{
	if (tp->state == TCPS_SYN_RCVD && (tp->t_flags & TF_PASSIVE))
		back_to_listen(st, tp, "rcv SYN in window (passive open)");
	else
		challenge_ack(st, tp);
}

/* An ACK that acknowledges nothing new. A duplicate ACK (RFC 5681 2) has
 * no data and the same window; with SACK, an ACK that SACKs new data
 * counts whatever its window says (RFC 6675 2): Linux moves its window in
 * the ACKs it sends while it holds out-of-order data. */
static SF_NOINLINE void old_ack(struct synfin_stack *st, struct tcb *tp, const struct tcp_seg *seg, uint32_t len,
				uint8_t flags)
{
	uint32_t sacked_before = tp->x ? tp->x->sacked_bytes : 0;
	tcp_sack_update(st, tp, seg);
	bool news = tp->x && tp->x->sacked_bytes > sacked_before;
	if (seg->ack == tp->snd_una && len == 0 && !(flags & TH_FIN) && tp->snd_max != tp->snd_una &&
	    !(tp->t_flags & TF_PERSIST) && (news || ((uint32_t)seg->wnd << tp->snd_scale) == tp->snd_wnd))
		tcp_recovery_dupack(st, tp);
}

static void sync_input(struct synfin_stack *st, struct tcb *tp, const struct tcp_seg *seg)
{
	char cause[48];
	uint8_t flags = seg->flags;
	uint32_t seq = seg->seq;
	const uint8_t *data = seg->data;
	uint32_t len = seg->len;

	/* A retransmission of the SYN that opened this passive connection:
	 * our SYN,ACK was lost; send it again. */
	if (tp->state == TCPS_SYN_RCVD && (flags & TH_SYN) && !(flags & (TH_ACK | TH_RST)) &&
	    seq == tp->irs) {
		tp->snd_nxt = tp->iss;
		tcp_output(st, tp);
		return;
	}

	/* PAWS (RFC 7323 5.3): an older timestamp marks an old duplicate,
	 * unless TS.Recent itself is over 24 days old. */
	if ((tp->t_flags & TF_RCVD_TSTMP) && (seg->opt.has & TOF_TS) && !(flags & TH_RST) &&
	    seq_lt(seg->opt.tsval, tp->ts_recent) && paws_reject(st, tp))
		return;

	/* An old SYN (numbered IRS) loses its SYN before the window test, as
	 * in 4.4BSD: in SYN_RCVD a SYN,ACK then completes a simultaneous open
	 * with four segments (RFC 9293 figure 8); in a synchronized state a
	 * retransmitted SYN,ACK means our ACK was lost, so ACK again. */
	if ((flags & TH_SYN) && seq_lt(seq, tp->rcv_nxt)) {
		flags &= (uint8_t)~TH_SYN;
		seq++;
		if (len == 0 && !(flags & TH_FIN) && tp->state != TCPS_SYN_RCVD)
			tp->t_flags |= TF_ACKNOW;
	}

	/* first: is the sequence number acceptable? (the four cases) */
	uint32_t wnd = tcp_rcv_space(tp);
	if (seq_gt(tp->rcv_adv, tp->rcv_nxt) && tp->rcv_adv - tp->rcv_nxt > wnd)
		wnd = tp->rcv_adv - tp->rcv_nxt;
	uint32_t seglen = len + ((flags & TH_SYN) ? 1u : 0u) + ((flags & TH_FIN) ? 1u : 0u);
	bool ok;
	if (seglen == 0)
		/* a bare ACK sent from the very edge of a full window is taken,
		 * as 4.4BSD and Linux take it: a sender that filled our window
		 * speaks from SND.MAX = RCV.NXT + RCV.WND */
		ok = wnd == 0 ? seq == tp->rcv_nxt
			      : seq_in(seq, tp->rcv_nxt, tp->rcv_nxt + wnd + ((flags & TH_RST) ? 0u : 1u));
	else if (wnd == 0)
		ok = false;
	else
		ok = seq_in(seq, tp->rcv_nxt, tp->rcv_nxt + wnd) ||
		     seq_in(seq + seglen - 1, tp->rcv_nxt, tp->rcv_nxt + wnd);
	if (SF_UNLIKELY(!ok && wnd == 0 && seq == tp->rcv_nxt)) {
		/* a zero window still takes ACKs and RSTs (RFC 9293 3.10.7.4);
		 * the text is not taken, and an ACK answers it: that is what
		 * a zero-window probe waits for (3.8.6.1) */
		ok = true;
		if (seglen > 0)
			tp->t_flags |= TF_ACKNOW;
		len = 0;
		flags &= (uint8_t)~(TH_FIN | TH_SYN);
	}
	if (SF_UNLIKELY(!ok)) {
		unacceptable(st, tp, flags, seglen);
		return;
	}
	/* RFC 7323 4.3: an acceptable segment that starts at or before the
	 * edge we acknowledge brings the newest timestamp */
	if (SF_LIKELY((tp->t_flags & TF_RCVD_TSTMP) && (seg->opt.has & TOF_TS) && seq_leq(seq, tp->rcv_nxt) &&
		      seq_geq(seg->opt.tsval, tp->ts_recent))) {
		tp->ts_recent = seg->opt.tsval;
		tp->ts_recent_age_s = (uint32_t)(st->now / SYNFIN_US_PER_S);
	}

	/* trim to the window: what lies before RCV.NXT ... */
	if (SF_UNLIKELY(seq_lt(seq, tp->rcv_nxt))) {
		uint32_t todrop = tp->rcv_nxt - seq;
		if (todrop > len || (todrop == len && !(flags & TH_FIN))) {
			if (todrop > len)
				flags &= (uint8_t)~TH_FIN; /* an old FIN too */
			todrop = len;
			tp->t_flags |= TF_ACKNOW;
		}
		data += todrop;
		len -= todrop;
		seq += todrop;
	}
	/* ... and what lies past its right edge */
	if (SF_UNLIKELY(seq_gt(seq + len, tp->rcv_nxt + wnd))) {
		uint32_t excess = seq + len - (tp->rcv_nxt + wnd);
		len = excess >= len ? 0 : len - excess;
		flags &= (uint8_t)~TH_FIN;
		tp->t_flags |= TF_ACKNOW;
	}

	/* second: RST (RFC 5961 3.2) */
	if (SF_UNLIKELY(flags & TH_RST)) {
		rst_input(st, tp, seq);
		return;
	}

	/* fourth: SYN in the window */
	if (SF_UNLIKELY(flags & TH_SYN)) {
		syn_in_window(st, tp);
		return;
	}

	/* fifth: ACK */
	if (SF_UNLIKELY(!(flags & TH_ACK))) {
		if (tp->t_flags & TF_ACKNOW)
			tcp_output(st, tp); /* an old SYN trimmed above still gets its ACK */
		return;
	}
	if (tp->state == TCPS_SYN_RCVD) {
		if (SF_UNLIKELY(!(seq_lt(tp->snd_una, seg->ack) && seq_leq(seg->ack, tp->snd_max)))) {
			tcp_reset_reply(st, seg);
			return;
		}
		struct tcb *l = tp->parent;
		if (SF_UNLIKELY(l && l->u.lq->qlen >= l->u.lq->backlog)) {
			/* The accept queue is full: stay in SYN_RCVD and let
			 * the handshake complete on a later ACK (Linux's
			 * tcp_abort_on_overflow=0). */
			st->stats.listen_overflows++;
			return;
		}
		tcp_set_state(st, tp, TCPS_ESTABLISHED, tcp_flags_cause(st, flags, cause));
		tcp_rto_after_syn(st, tp);
		tw_reopen_confirmed(st, tp);
		tp->snd_wnd = (uint32_t)seg->wnd << tp->snd_scale;
		tp->snd_wl1 = seq;
		tp->snd_wl2 = seg->ack;
		tp->t_keep = SYNFIN_TIME_NEVER;
		if (l) {
			struct listenq *q = l->u.lq;
			tcp_listen_unlink(st, tp);
			tp->parent = l;
			if (q->acc_tail)
				q->acc_tail->qnext = tp;
			else
				q->acc_head = tp;
			q->acc_tail = tp;
			q->qlen++;
		}
		tcp_keep_reset(st, tp);
		apply_close_pending(st, tp);
	}
	/* RFC 5961 5.2: SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT */
	if (SF_UNLIKELY(seq_gt(seg->ack, tp->snd_max) || seq_lt(seg->ack, tp->snd_una - tp->max_sndwnd))) {
		st->stats.bad_ack_drops++;
		challenge_ack(st, tp);
		return;
	}
	if (seq_gt(seg->ack, tp->snd_una)) {
		ack_advance(st, tp, seg);
	} else {
		old_ack(st, tp, seg, len, flags);
	}
	update_snd_wnd(tp, seq, seg);
	if (SF_UNLIKELY(tp->t_flags & TF_PERSIST)) {
		/* the peer answers the probes: never give up on it */
		tp->rxtshift = 0;
		if (tp->snd_wnd > 0) {
			tp->t_flags &= ~TF_PERSIST;
			tp->t_rexmt = SYNFIN_TIME_NEVER;
			tp->snd_nxt = tp->snd_una;
		}
	}
	bool our_fin_acked = (tp->t_flags & TF_SENTFIN) && tp->snd_una == tp->snd_max;
	switch (tp->state) {
	case TCPS_FIN_WAIT_1:
		if (our_fin_acked) {
			tcp_set_state(st, tp, TCPS_FIN_WAIT_2, "rcv ACK of FIN");
			tp->t_rexmt = SYNFIN_TIME_NEVER;
			/* half-close keeps FIN_WAIT_2 for as long as the
			 * application reads; after close() it is bounded */
			if (tp->fd < 0)
				tp->t_keep = st->now + st->cfg.fin_wait_2_timeout;
			tcp_user_closed_check(st, tp);
		}
		break;
	case TCPS_CLOSING:
		if (our_fin_acked) {
			tcp_user_closed_check(st, tp);
			tw_enter(st, tp, "rcv ACK of FIN");
			return;
		}
		break;
	case TCPS_LAST_ACK:
		if (our_fin_acked) {
			tcp_user_closed_check(st, tp);
			tcp_close(st, tp, 0, "rcv ACK of FIN");
			return;
		}
		break;
	default:
		break;
	}
	if (tp->fd >= 0 || tp->state != TCPS_FIN_WAIT_2)
		tcp_keep_reset(st, tp);

	/* sixth: URG is delivered inline as ordinary data */

	/* seventh: segment text */
	if (len > 0) {
		if (tp->state != TCPS_ESTABLISHED && tp->state != TCPS_FIN_WAIT_1 &&
		    tp->state != TCPS_FIN_WAIT_2) {
			/* after the peer's FIN there is no more text */
			len = 0;
		} else if (tp->t_flags & TF_USER_CLOSED) {
			/* Nobody will read it: tell the peer at once rather
			 * than let it believe the data arrived (Linux does the
			 * same). */
			tcp_drop(st, tp, ECONNRESET, "data after close");
			return;
		} else if (tp->t_flags & TF_RCV_SHUT) {
			/* shutdown(SHUT_RD): taken and thrown away */
			if (seq == tp->rcv_nxt)
				tp->rcv_nxt += len;
			else
				flags &= (uint8_t)~TH_FIN;
			tp->t_flags |= TF_ACKNOW;
		} else {
			len = take_text(st, tp, seq, data, len, &flags);
		}
	}

	/* eighth: FIN, once everything before it has arrived */
	if ((flags & TH_FIN) && seq + len == tp->rcv_nxt && !(tp->t_flags & TF_EOF)) {
		tp->rcv_nxt++;
		tp->t_flags |= TF_EOF;
		switch (tp->state) {
		case TCPS_SYN_RCVD:
		case TCPS_ESTABLISHED:
			tcp_set_state(st, tp, TCPS_CLOSE_WAIT, "rcv FIN");
			tp->t_keep = SYNFIN_TIME_NEVER;
			tcp_keep_reset(st, tp);
			/* The ACK waits a little, so that an application that
			 * closes at once sends ACK and FIN in one segment. */
			if (!(tp->t_flags & TF_DELACK)) {
				tp->t_flags |= TF_DELACK;
				tp->t_delack = st->now + st->cfg.delack;
			}
			break;
		case TCPS_FIN_WAIT_1:
			tcp_set_state(st, tp, TCPS_CLOSING, "rcv FIN (simultaneous close)");
			tp->t_flags |= TF_ACKNOW;
			break;
		case TCPS_FIN_WAIT_2:
			tp->t_flags |= TF_ACKNOW;
			tcp_output(st, tp);
			tw_enter(st, tp, "rcv FIN");
			return;
		default:
			tp->t_flags |= TF_ACKNOW; /* a retransmitted FIN */
			break;
		}
	}
	apply_close_pending(st, tp);
	tcp_output(st, tp);
}

/* The connection a segment belongs to. Consecutive segments mostly go to
 * one connection (a transfer, an exchange): the last one is tried first,
 * as 4.4BSD's one-behind cache did, before the hash table. */
static struct tcb *demux(struct synfin_stack *st, const struct tcp_seg *seg)
{
	struct tcb *tp = st->last_in;
	if (tp && tp->lport == seg->dport && tp->fport == seg->sport && tp->faddr == seg->saddr &&
	    tp->laddr == seg->daddr)
		return tp;
	tp = tcp_lookup(st, seg->daddr, seg->dport, seg->saddr, seg->sport);
	if (tp)
		st->last_in = tp;
	return tp;
}

void tcp_input(struct synfin_stack *st, const struct tcp_seg *seg)
{
	struct tcb *tp = demux(st, seg);
	uint32_t iss = 0;

	if (SF_UNLIKELY(!tp)) {
		struct tw *tw = tw_lookup(st, seg->daddr, seg->dport, seg->saddr, seg->sport);
		if (tw && tw_input(st, tw, seg, &iss))
			return;
		struct tcb *l = tcp_lookup_listener(st, seg->dport);
		if (l) {
			listen_input(st, l, seg, iss);
			return;
		}
		/* 3.10.7.1: CLOSED, no such connection */
		if (!(seg->flags & TH_RST))
			st->stats.rst_no_socket++;
		tcp_reset_reply(st, seg);
		return;
	}
	if (SF_UNLIKELY(tp->state == TCPS_SYN_SENT)) {
		syn_sent_input(st, tp, seg);
		return;
	}
	if (tp->state == TCPS_ESTABLISHED && fast_input(st, tp, seg))
		return;
	sync_input(st, tp, seg);
}
