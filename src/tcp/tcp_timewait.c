/*
 * TIME_WAIT, held in a compact record (struct tw) instead of a connection
 * block: it keeps the 4-tuple busy for 2MSL, re-ACKs a retransmitted FIN
 * and restarts 2MSL (RFC 9293), lets a new SYN reopen the 4-tuple when its
 * sequence number is above the old RCV.NXT or, with timestamps, when its
 * timestamp is newer (RFC 6191), and treats RST per the RFC 1337 switch.
 */
#include <errno.h>
#include <string.h>

#include "tcp/tcp_priv.h"

static void tw_grow(struct synfin_stack *st)
{
	uint32_t nmask = st->tw_mask * 2 + 1;
	struct tw **nh = st_alloc(st, (nmask + 1) * sizeof *nh);
	if (!nh)
		return;
	for (uint32_t i = 0; i <= st->tw_mask; i++) {
		while (st->tw_hash[i]) {
			struct tw *tw = st->tw_hash[i];
			st->tw_hash[i] = tw->hnext;
			uint32_t h = tcp_tuple_hash(st, tw->laddr, tw->lport, tw->faddr, tw->fport) & nmask;
			tw->hnext = nh[h];
			nh[h] = tw;
		}
	}
	st_free(st, st->tw_hash, (st->tw_mask + 1) * sizeof *st->tw_hash);
	st->tw_hash = nh;
	st->tw_mask = nmask;
}

struct tw *tw_lookup(const struct synfin_stack *st, uint32_t laddr, uint16_t lport,
		     uint32_t faddr, uint16_t fport)
{
	if (st->ntw == 0)
		return NULL;
	uint32_t h = tcp_tuple_hash(st, laddr, lport, faddr, fport) & st->tw_mask;
	for (struct tw *tw = st->tw_hash[h]; tw; tw = tw->hnext)
		if (tw->lport == lport && tw->fport == fport && tw->faddr == faddr && tw->laddr == laddr)
			return tw;
	return NULL;
}

void tw_free(struct synfin_stack *st, struct tw *tw, const char *cause)
{
	uint32_t h = tcp_tuple_hash(st, tw->laddr, tw->lport, tw->faddr, tw->fport) & st->tw_mask;
	for (struct tw **pp = &st->tw_hash[h]; *pp; pp = &(*pp)->hnext) {
		if (*pp == tw) {
			*pp = tw->hnext;
			break;
		}
	}
	st->ntw--;
	timer_cancel(st, &tw->tmr);
	struct bindb *b = tcp_bind_find(st, tw->lport);
	if (b) {
		b->ntw--;
		tcp_bind_put(st, b);
	}
	if (!tw->hidden) /* a hidden record has already said it was closed */
		tcp_state_event(st, -1, tw->laddr, tw->lport, tw->faddr, tw->fport, TCPS_TIME_WAIT,
				TCPS_CLOSED, cause);
	st_free(st, tw, sizeof *tw);
}

void tw_enter(struct synfin_stack *st, struct tcb *tp, const char *cause)
{
	tcp_set_state(st, tp, TCPS_TIME_WAIT, cause);
	tcp_user_closed_check(st, tp);
	struct tw *tw = st_alloc(st, sizeof *tw);
	if (tw) {
		tw->laddr = tp->laddr;
		tw->lport = tp->lport;
		tw->faddr = tp->faddr;
		tw->fport = tp->fport;
		tw->snd_nxt = tp->snd_max;
		tw->rcv_nxt = tp->rcv_nxt;
		tw->ts = (tp->t_flags & TF_RCVD_TSTMP) ? 1 : 0;
		tw->ts_recent = tp->ts_recent;
		tw->ts_offset = tp->ts_offset;
		uint32_t win = tcp_rcv_space(tp) >> tp->rcv_scale;
		tw->rcv_wnd = (uint16_t)(win > 65535 ? 65535 : win);
		tw->tmr.kind = TMR_TW;
		tw->tmr.idx = UINT32_MAX;
		if (st->ntw > st->tw_mask)
			tw_grow(st);
		uint32_t h = tcp_tuple_hash(st, tw->laddr, tw->lport, tw->faddr, tw->fport) & st->tw_mask;
		tw->hnext = st->tw_hash[h];
		st->tw_hash[h] = tw;
		st->ntw++;
		st->stats.tw_created++;
		struct bindb *b = tcp_bind_get(st, tw->lport);
		if (b)
			b->ntw++;
		timer_set(st, &tw->tmr, st->now + 2 * st->cfg.msl);
	}
	/* The block itself is done: the record stands for the connection.
	 * A socket the application still holds reports TIME_WAIT through
	 * the record (synfin_state). */
	if (tp->parent)
		tcp_listen_unlink(st, tp);
	tcp_hash_remove(st, tp);
	tp->t_rexmt = tp->t_keep = tp->t_delack = SYNFIN_TIME_NEVER;
	timer_cancel(st, &tp->tmr);
	tp->state = TCPS_CLOSED;
	tp->t_flags |= TF_WENT_TW;
	tcp_maybe_free(st, tp);
}

void tw_expire(struct synfin_stack *st, struct tw *tw)
{
	tw_free(st, tw, "2MSL timer");
}

static void tw_ack(struct synfin_stack *st, const struct tw *tw)
{
	struct tcp_opts o;
	memset(&o, 0, sizeof o);
	if (tw->ts) {
		o.has = TOF_TS;
		o.tsval = st_ms(st) + tw->ts_offset;
		o.tsecr = tw->ts_recent;
	}
	tcp_respond(st, tw->laddr, tw->lport, tw->faddr, tw->fport, tw->snd_nxt, tw->rcv_nxt,
		    TH_ACK, tw->rcv_wnd, &o);
}

bool tw_input(struct synfin_stack *st, struct tw *tw, const struct tcp_seg *seg,
	      uint32_t *reopen_iss)
{
	uint8_t flags = seg->flags;
	bool has_ts = tw->ts && (seg->opt.has & TOF_TS);
	bool paws_old = has_ts && seq_lt(seg->opt.tsval, tw->ts_recent);

	if (flags & TH_RST) {
		st->stats.rst_in++;
		if (st->cfg.rfc1337) {
			/* RFC 1337: an RST must not cut TIME_WAIT short */
			st->stats.tw_rst_ignored++;
			return true;
		}
		if (paws_old)
			return true;
		if (seg->seq == tw->rcv_nxt) {
			/* the Linux default (tcp_rfc1337=0): the RST ends it */
			st->stats.tw_killed_by_rst++;
			tw_free(st, tw, "rcv RST");
		} else if (seq_in(seg->seq, tw->rcv_nxt, tw->rcv_nxt + ((uint32_t)tw->rcv_wnd ? tw->rcv_wnd : 1)) &&
			   tcp_challenge_ack_allowed(st)) {
			tw_ack(st, tw); /* RFC 5961 3.2 */
		}
		return true;
	}
	if ((flags & TH_SYN) && !(flags & TH_ACK)) {
		/* RFC 6191: with timestamps on both, a newer timestamp makes
		 * the SYN new; otherwise its sequence number must be above
		 * what the old incarnation reached. */
		bool newer = has_ts ? seq_gt(seg->opt.tsval, tw->ts_recent)
				    : seq_gt(seg->seq, tw->rcv_nxt);
		if (newer && tcp_lookup_listener(st, seg->dport)) {
			/* Start the new incarnation's sequence numbers beyond
			 * anything the old one can still have in flight. */
			/* The record stays, hidden behind the new block in the
			 * lookup order: if the SYN proves an old duplicate (the
			 * new incarnation is reset in SYN_RCVD), TIME_WAIT is
			 * simply there again (RFC 1122 4.2.2.13). It goes once
			 * the new connection is established. */
			uint32_t iss = tw->snd_nxt + 65535 + 2;
			*reopen_iss = iss ? iss : 1;
			st->stats.tw_reopened++;
			tcp_state_event(st, -1, tw->laddr, tw->lport, tw->faddr, tw->fport,
					TCPS_TIME_WAIT, TCPS_CLOSED, "rcv SYN (reopen)");
			tw->hidden = 1;
			return false;
		}
		/* an old duplicate, or nobody listens: say where we are */
		if (tcp_challenge_ack_allowed(st))
			tw_ack(st, tw);
		return true;
	}
	if (paws_old) {
		st->stats.paws_drops++;
		tw_ack(st, tw);
		return true;
	}
	if ((flags & TH_FIN) && seg->seq + seg->len + 1 == tw->rcv_nxt) {
		/* the peer did not get our last ACK and sent its FIN again:
		 * ACK it again and wait 2MSL from now */
		st->stats.tw_fin_reacked++;
		tw_ack(st, tw);
		timer_set(st, &tw->tmr, st->now + 2 * st->cfg.msl);
		return true;
	}
	if (seg->seq == tw->rcv_nxt && tcp_seg_len(seg) == 0)
		return true; /* a bare in-window ACK needs nothing */
	tw_ack(st, tw); /* anything else is told where we are */
	return true;
}

void tw_reopen_confirmed(struct synfin_stack *st, struct tcb *tp)
{
	struct tw *tw = tw_lookup(st, tp->laddr, tp->lport, tp->faddr, tp->fport);
	if (tw)
		tw_free(st, tw, "reopened by a new connection");
}

void tw_restore(struct synfin_stack *st, struct tcb *tp)
{
	struct tw *tw = tw_lookup(st, tp->laddr, tp->lport, tp->faddr, tp->fport);
	if (!tw || !tw->hidden)
		return;
	tw->hidden = 0;
	tcp_state_event(st, -1, tw->laddr, tw->lport, tw->faddr, tw->fport, TCPS_CLOSED,
			TCPS_TIME_WAIT, "the reopening SYN was an old duplicate");
}
