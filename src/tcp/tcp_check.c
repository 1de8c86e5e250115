/*
 * The engine's invariants, checked on demand (synfin_check): the soak test
 * calls it after every simulator event. Reading only; nothing is repaired.
 */
#include <stdarg.h>
#include <stdio.h>

#include "tcp/tcp_priv.h"

static int fail(char *why, size_t cap, const struct tcb *tp, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *why, size_t cap, const struct tcb *tp, const char *fmt, ...)
{
	if (why && cap) {
		int n = snprintf(why, cap, "%u->%u %s: ", tp->lport, tp->fport, synfin_state_name(tp->state));
		va_list ap;
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < cap)
			vsnprintf(why + n, cap - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int check_tcb(const struct synfin_stack *st, const struct tcb *tp, char *why, size_t cap)
{
	if (tp->state == TCPS_LISTEN)
		return 0;
	if (!seq_leq(tp->snd_una, tp->snd_nxt) || !seq_leq(tp->snd_nxt, tp->snd_max))
		return fail(why, cap, tp, "snd_una %u snd_nxt %u snd_max %u out of order", tp->snd_una,
			    tp->snd_nxt, tp->snd_max);
	/* what is outstanding was sent: the SYN, the data in the ring, the FIN */
	uint32_t out = tp->snd_max - tp->snd_una;
	uint32_t can = tcp_snd_pending(tp) + (tp->snd_una == tp->iss ? 1u : 0u) +
		       ((tp->t_flags & TF_SENTFIN) ? 1u : 0u);
	if (out > can)
		return fail(why, cap, tp, "%u bytes outstanding but only %u were ever sent", out, can);
	if (TCPS_HAVEESTABLISHED(tp->state) && tp->cwnd < tcp_effective_mss(tp))
		return fail(why, cap, tp, "cwnd %u below one segment (%u)", tp->cwnd, tcp_effective_mss(tp));
	if (tp->x) {
		const struct tcb_ext *x = tp->x;
		uint32_t sum = 0;
		for (uint16_t i = 0; i < x->nsacked; i++) {
			uint32_t l = x->sacked[i].left, r = x->sacked[i].right;
			if (!seq_lt(l, r) || seq_lt(l, tp->snd_una) || seq_gt(r, tp->snd_max))
				return fail(why, cap, tp, "SACK block %u-%u outside %u-%u", l, r, tp->snd_una,
					    tp->snd_max);
			if (i && !seq_gt(l, x->sacked[i - 1].right))
				return fail(why, cap, tp, "SACK blocks overlap or are unsorted");
			sum += r - l;
		}
		if (sum != x->sacked_bytes)
			return fail(why, cap, tp, "scoreboard counts %u bytes, blocks hold %u", x->sacked_bytes, sum);
	}
	const struct ring *r = tp->u.b.rcv;
	if (r) {
		if (r->len > r->cap)
			return fail(why, cap, tp, "receive ring holds %u of %u", r->len, r->cap);
		for (uint16_t i = 0; i < r->nooo; i++)
			if (r->ooo[i].off + r->ooo[i].len > r->cap - r->len)
				return fail(why, cap, tp, "out-of-order range past the receive buffer");
	}
	if (tp->u.b.snd && (uint64_t)tp->u.b.snd->len + tcp_snd_hold(st, tp->u.b.snd) > tp->u.b.snd->cap)
		return fail(why, cap, tp, "send ring (with the bytes held for the driver) over its size");
	if (tp->tmr.idx != TMR_NONE && (tp->tmr.idx >= st->heap_len || st->heap[tp->tmr.idx].t != &tp->tmr))
		return fail(why, cap, tp, "timer heap slot does not point back");
	/* the heap may hold a deadline early (tcp_timer_update is lazy about
	 * later ones), never late, and never lose one */
	synfin_time_t next = tcp_timer_next(tp);
	if (next != SYNFIN_TIME_NEVER &&
	    (tp->tmr.idx == TMR_NONE || st->heap[tp->tmr.idx].when > next))
		return fail(why, cap, tp, "a deadline is missing from the timer heap or queued late");
	return 0;
}

int synfin_check(const struct synfin_stack *st, char *why, size_t cap)
{
	for (uint32_t i = 0; i < st->heap_len; i++) {
		if (st->heap[i].t->idx != i)
			return snprintf(why, cap, "heap slot %u holds a timer that says %u", i, st->heap[i].t->idx), -1;
		if (st->heap[i].when == SYNFIN_TIME_NEVER)
			return snprintf(why, cap, "heap slot %u holds no deadline", i), -1;
		if (i && st->heap[(i - 1) / HEAP_D].when > st->heap[i].when)
			return snprintf(why, cap, "heap order broken at %u", i), -1;
	}
	for (uint32_t b = 0; b <= st->conn_mask; b++) {
		/* each hash tag word describes the block it stands for */
		uint16_t word = st->conn_tag[b];
		for (const struct tcb *tp = st->conn_hash[b]; tp; tp = tp->hnext) {
			uint32_t h = tcp_tuple_hash(st, tp->laddr, tp->lport, tp->faddr, tp->fport);
			if ((h & st->conn_mask) != b)
				return snprintf(why, cap, "a block in hash bucket %u belongs elsewhere", b), -1;
			if ((word & 0xfffeu) != ((h >> 16) & 0xfffeu) || (tp->hnext && !(word & 1u)))
				return snprintf(why, cap, "hash tag word of bucket %u does not describe its block", b), -1;
			word = tp->hunder;
			if (check_tcb(st, tp, why, cap) < 0)
				return -1;
		}
	}
	uint32_t ntw = 0;
	for (uint32_t b = 0; b <= st->tw_mask; b++) {
		for (const struct tw *tw = tw_chain_next(st, b, NULL); tw && ntw <= st->ntw;
		     tw = tw_chain_next(st, b, tw), ntw++) {
			if ((tcp_tuple_hash(st, st->ip, tw->lport, tw->faddr, tw->fport) & st->tw_mask) != b ||
			    (tw->flags & TWF_DEAD))
				return snprintf(why, cap, "TIME_WAIT bucket %u holds a record of elsewhere or a dead one", b), -1;
		}
	}
	if (ntw != st->ntw)
		return snprintf(why, cap, "TIME_WAIT table holds %u records, counted %u", ntw, st->ntw), -1;
	for (const struct tw *tw = st->tw_head; tw && tw->qnext; tw = tw->qnext)
		if (tw->qnext->expire < tw->expire)
			return snprintf(why, cap, "TIME_WAIT FIFO out of order"), -1;
	return 0;
}
