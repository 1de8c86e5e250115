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

/* Buckets grow at four records each: TIME_WAIT lookups only happen when no
 * connection matched, and the table is most of a record's overhead. */
#define TW_LOAD 4

/* Each bucket chains its records in a circle, oldest to newest, and points
 * at the newest: a record goes in after the newest, and the one that
 * expires (the oldest of its bucket, since every record lives the same
 * 2MSL) comes out next to where the bucket points, without a walk over
 * the others, which are cold by then. */
static void chain_add(struct tw **bucket, struct tw *tw)
{
	struct tw *newest = *bucket;
	if (newest) {
		tw->hnext = newest->hnext;
		newest->hnext = tw;
	} else {
		tw->hnext = tw;
	}
	*bucket = tw;
}

static void tw_grow(struct synfin_stack *st)
{
	uint32_t nmask = st->tw_mask * 2 + 1;
	struct tw **nh = st_alloc(st, (nmask + 1) * sizeof *nh);
	if (!nh)
		return;
	for (uint32_t i = 0; i <= st->tw_mask; i++) {
		struct tw *newest = st->tw_hash[i];
		if (!newest)
			continue;
		/* oldest first, so that each new circle keeps the order */
		struct tw *tw = newest->hnext;
		for (;;) {
			struct tw *next = tw->hnext;
			uint32_t h = tcp_tuple_hash(st, st->ip, tw->lport, tw->faddr, tw->fport) & nmask;
			chain_add(&nh[h], tw);
			if (tw == newest)
				break;
			tw = next;
		}
	}
	st_free(st, st->tw_hash, (st->tw_mask + 1) * sizeof *st->tw_hash);
	st->tw_hash = nh;
	st->tw_mask = nmask;
}

const struct tw *tw_chain_next(const struct synfin_stack *st, uint32_t bucket, const struct tw *tw)
{
	const struct tw *newest = st->tw_hash[bucket];
	if (!newest || tw == newest)
		return NULL;
	return tw ? tw->hnext : newest->hnext;
}

struct tw *tw_lookup(const struct synfin_stack *st, uint32_t laddr, uint16_t lport,
		     uint32_t faddr, uint16_t fport)
{
	if (st->ntw == 0 || laddr != st->ip)
		return NULL;
	uint32_t h = tcp_tuple_hash(st, laddr, lport, faddr, fport) & st->tw_mask;
	for (const struct tw *tw = tw_chain_next(st, h, NULL); tw; tw = tw_chain_next(st, h, tw))
		if (tw->lport == lport && tw->fport == fport && tw->faddr == faddr)
			return (struct tw *)tw;
	return NULL;
}

static void hash_insert(struct synfin_stack *st, struct tw *tw)
{
	if (st->ntw >= TW_LOAD * (st->tw_mask + 1))
		tw_grow(st);
	uint32_t h = tcp_tuple_hash(st, st->ip, tw->lport, tw->faddr, tw->fport) & st->tw_mask;
	chain_add(&st->tw_hash[h], tw);
	st->ntw++;
}

static void hash_unlink(struct synfin_stack *st, struct tw *tw)
{
	uint32_t h = tcp_tuple_hash(st, st->ip, tw->lport, tw->faddr, tw->fport) & st->tw_mask;
	struct tw *newest = st->tw_hash[h];
	/* the predecessor in the circle: for the oldest, the newest itself */
	struct tw *prev = newest;
	for (uint32_t guard = 0; prev && prev->hnext != tw && guard <= st->ntw; guard++)
		prev = prev->hnext;
	if (!prev || prev->hnext != tw)
		return; /* not in the table */
	if (prev == tw)
		st->tw_hash[h] = NULL; /* it was alone */
	else {
		prev->hnext = tw->hnext;
		if (newest == tw)
			st->tw_hash[h] = prev;
	}
	st->ntw--;
	tw->hnext = NULL;
}

static void fifo_append(struct synfin_stack *st, struct tw *tw)
{
	tw->qnext = NULL;
	if (st->tw_tail)
		st->tw_tail->qnext = tw;
	else
		st->tw_head = tw;
	st->tw_tail = tw;
}

/* Dead records at the head are freed at once, so that the head is always
 * a live record and its expiry is the next TIME_WAIT deadline. */
static void fifo_trim_dead(struct synfin_stack *st)
{
	while (st->tw_head && (st->tw_head->flags & TWF_DEAD)) {
		struct tw *tw = st->tw_head;
		st->tw_head = tw->qnext;
		if (!st->tw_head)
			st->tw_tail = NULL;
		st_obj_put(st, tw, sizeof *tw);
	}
}

static void mark_dead(struct synfin_stack *st, struct tw *tw, const char *cause)
{
	if (tw->flags & TWF_DEAD)
		return;
	hash_unlink(st, tw);
	tw->flags |= TWF_DEAD;
	struct bindb *b = tcp_bind_find(st, tw->lport);
	if (b) {
		b->ntw--;
		tcp_bind_put(st, b);
	}
	if (cause && !(tw->flags & TWF_HIDDEN)) /* a hidden record has said it was closed */
		tcp_state_event(st, -1, st->ip, tw->lport, tw->faddr, tw->fport, TCPS_TIME_WAIT,
				TCPS_CLOSED, cause);
}

void tw_remove(struct synfin_stack *st, struct tw *tw, const char *cause)
{
	mark_dead(st, tw, cause);
	fifo_trim_dead(st);
}

void tw_run(struct synfin_stack *st)
{
	struct tw *head = st->tw_head;
	if (!head || head->expire > st->now)
		return;
	do {
		mark_dead(st, head, "2MSL timer");
		fifo_trim_dead(st);
		head = st->tw_head;
	} while (head && head->expire <= st->now);
	/* Records leave in FIFO order, so the next ones are known: the port
	 * record of the next (which was itself asked for when its
	 * predecessor left) and the record after it. */
	if (head) {
		SF_PREFETCH(tcp_bind_find(st, head->lport));
		if (head->qnext)
			SF_PREFETCH(head->qnext);
	}
}

synfin_time_t tw_next_deadline(const struct synfin_stack *st)
{
	return st->tw_head ? st->tw_head->expire : SYNFIN_TIME_NEVER;
}

void tw_destroy_all(struct synfin_stack *st)
{
	while (st->tw_head) {
		struct tw *tw = st->tw_head;
		st->tw_head = tw->qnext;
		st_free(st, tw, sizeof *tw);
	}
	st->tw_tail = NULL;
	st->ntw = 0;
}

void tw_enter(struct synfin_stack *st, struct tcb *tp, const char *cause)
{
	tcp_set_state(st, tp, TCPS_TIME_WAIT, cause);
	tcp_user_closed_check(st, tp);
	/* The port record counts the TIME_WAIT records on its port (a port
	 * without one is known free); the block still holds it, so it is
	 * there unless the block never got one. */
	struct bindb *b = tcp_bind_get(st, tp->lport);
	struct tw *tw = b ? st_obj_get(st, sizeof *tw, true) : NULL;
	if (tw) {
		tw->lport = tp->lport;
		tw->faddr = tp->faddr;
		tw->fport = tp->fport;
		tw->snd_nxt = tp->snd_max;
		tw->rcv_nxt = tp->rcv_nxt;
		tw->flags = (tp->t_flags & TF_RCVD_TSTMP) ? TWF_TS : 0;
		tw->ts_recent = tp->ts_recent;
		tw->rcv_scale = tp->rcv_scale;
		tw->expire = st->now + 2 * st->cfg.msl;
		hash_insert(st, tw);
		fifo_append(st, tw);
		st->stats.tw_created++;
		b->ntw++;
	} else if (b) {
		tcp_bind_put(st, b); /* no record: a port record made for it goes */
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

/* 2MSL starts again: a fresh copy at the FIFO's tail takes the record's
 * place in the table (the old one is dead and freed in its turn). */
static void tw_restart(struct synfin_stack *st, struct tw *tw)
{
	struct tw *n = st_obj_get(st, sizeof *n, false);
	if (!n)
		return; /* keep the old deadline: shorter, never longer */
	*n = *tw;
	/* the same connection goes on: its port count and trace stay */
	hash_unlink(st, tw);
	tw->flags |= TWF_DEAD;
	n->expire = st->now + 2 * st->cfg.msl;
	hash_insert(st, n);
	fifo_append(st, n);
	fifo_trim_dead(st);
}

static void tw_ack(struct synfin_stack *st, const struct tw *tw)
{
	struct tcp_opts o;
	memset(&o, 0, sizeof o);
	if (tw->flags & TWF_TS) {
		uint64_t f = tcp_tuple_secret(st, st->ip, tw->lport, tw->faddr, tw->fport);
		o.has = TOF_TS;
		o.tsval = st_ms(st) + (uint32_t)(f >> 32);
		o.tsecr = tw->ts_recent;
	}
	uint32_t win = st->cfg.rcvbuf >> tw->rcv_scale;
	tcp_respond(st, st->ip, tw->lport, tw->faddr, tw->fport, tw->snd_nxt, tw->rcv_nxt, TH_ACK,
		    (uint16_t)(win > 65535 ? 65535 : win), &o);
}

bool tw_input(struct synfin_stack *st, struct tw *tw, const struct tcp_seg *seg,
	      uint32_t *reopen_iss)
{
	uint8_t flags = seg->flags;
	bool has_ts = (tw->flags & TWF_TS) && (seg->opt.has & TOF_TS);
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
			tw_remove(st, tw, "rcv RST");
		} else if (seq_in(seg->seq, tw->rcv_nxt, tw->rcv_nxt + (st->cfg.rcvbuf ? st->cfg.rcvbuf : 1)) &&
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
			tcp_state_event(st, -1, st->ip, tw->lport, tw->faddr, tw->fport,
					TCPS_TIME_WAIT, TCPS_CLOSED, "rcv SYN (reopen)");
			tw->flags |= TWF_HIDDEN;
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
		tw_restart(st, tw);
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
		tw_remove(st, tw, "reopened by a new connection");
}

SF_COLD void tw_restore(struct synfin_stack *st, struct tcb *tp)
{
	struct tw *tw = tw_lookup(st, tp->laddr, tp->lport, tp->faddr, tp->fport);
	if (!tw || !(tw->flags & TWF_HIDDEN))
		return;
	tw->flags &= (uint8_t)~TWF_HIDDEN;
	tcp_state_event(st, -1, st->ip, tw->lport, tw->faddr, tw->fport, TCPS_CLOSED,
			TCPS_TIME_WAIT, "the reopening SYN was an old duplicate");
}
