/*
 * Timers. Every connection block with a deadline has one entry in an
 * 8-ary min-heap of absolute deadlines: the earliest of its own timers,
 * kept lazily (tcp_timer_update). TIME_WAIT records expire through their
 * own FIFO (tcp_timewait.c). Nothing ever scans all connections;
 * synfin_next_deadline() is the heap's settled top. The expiry handlers
 * follow RFC 9293 3.8 / RFC 6298 / RFC 1122.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "tcp/tcp_priv.h"

/* ---- the heap: HEAP_D-ary, deadlines kept in the array ---- */
static inline void heap_place(struct synfin_stack *st, uint32_t i, struct heap_ent e)
{
	st->heap[i] = e;
	e.t->idx = i;
}

/* Entry e goes to hole i or above it. */
static void heap_up(struct synfin_stack *st, uint32_t i, struct heap_ent e)
{
	while (i > 0) {
		uint32_t p = (i - 1) / HEAP_D;
		if (st->heap[p].when <= e.when)
			break;
		heap_place(st, i, st->heap[p]);
		i = p;
	}
	heap_place(st, i, e);
}

/* Entry e goes to hole i or below it. */
static void heap_down(struct synfin_stack *st, uint32_t i, struct heap_ent e)
{
	for (;;) {
		uint32_t c = i * HEAP_D + 1;
		if (c >= st->heap_len)
			break;
		uint32_t end = c + HEAP_D < st->heap_len ? c + HEAP_D : st->heap_len, m = c;
		for (uint32_t k = c + 1; k < end; k++)
			if (st->heap[k].when < st->heap[m].when)
				m = k;
		if (st->heap[m].when >= e.when)
			break;
		heap_place(st, i, st->heap[m]);
		i = m;
	}
	heap_place(st, i, e);
}

/* A timer in the heap knows its slot, one out of it has TMR_NONE: every
 * move sets the slot (heap_place), timer_cancel clears it, and
 * synfin_check() verifies both directions. */
static bool queued(const struct tmr *t)
{
	return t->idx != TMR_NONE;
}

inline void timer_cancel(struct synfin_stack *st, struct tmr *t)
{
	if (!queued(t))
		return;
	uint32_t i = t->idx;
	struct heap_ent last = st->heap[--st->heap_len];
	t->idx = TMR_NONE;
	if (i == st->heap_len)
		return;
	/* the last entry fills the hole, then finds its level */
	if (i > 0 && st->heap[(i - 1) / HEAP_D].when > last.when)
		heap_up(st, i, last);
	else
		heap_down(st, i, last);
}

/* Twice the room (rare: the heap keeps its size), out of line so that
 * timer_set() itself saves few registers. */
static SF_COLD bool heap_grow(struct synfin_stack *st)
{
	uint32_t ncap = st->heap_cap ? st->heap_cap * 2 : 64;
	struct heap_ent *nh = st_regrow(st, st->heap, st->heap_cap * sizeof *nh, st->heap_len * sizeof *nh,
					ncap * sizeof *nh);
	if (!nh)
		return false;
	st->heap = nh;
	st->heap_cap = ncap;
	return true;
}

inline void timer_set(struct synfin_stack *st, struct tmr *t, synfin_time_t when)
{
	if (when == SYNFIN_TIME_NEVER) {
		timer_cancel(st, t);
		return;
	}
	if (queued(t)) {
		uint32_t i = t->idx;
		synfin_time_t old = st->heap[i].when;
		if (when == old)
			return; /* the common case: output re-arms what is armed */
		struct heap_ent e = {when, t};
		if (when < old)
			heap_up(st, i, e);
		else
			heap_down(st, i, e);
		return;
	}
	if (SF_UNLIKELY(st->heap_len == st->heap_cap) && !heap_grow(st))
		return; /* the deadline is lost; callers re-arm on the next event */
	heap_up(st, st->heap_len++, (struct heap_ent){when, t});
}

struct tmr *timer_peek(const struct synfin_stack *st, synfin_time_t *when)
{
	if (!st->heap_len)
		return NULL;
	*when = st->heap[0].when;
	return st->heap[0].t;
}

static synfin_time_t tmin(synfin_time_t a, synfin_time_t b)
{
	return a < b ? a : b;
}

synfin_time_t tcp_timer_next(const struct tcb *tp)
{
	return tmin(tp->t_rexmt, tmin(tp->t_keep, tp->t_delack));
}

/* After t_rexmt, t_keep or t_delack changed. Lazily, as Linux's
 * sk_reset_timer does not re-key a pending timer for a later expiry
 * either: an earlier deadline moves the heap entry up at once, a later one
 * (an ACK restarting the retransmission or keepalive timer) leaves the
 * entry where it is, and none at all removes it. The heap then holds, for each connection,
 * a deadline at or before its true one; synfin_poll() and
 * synfin_next_deadline() settle an entry that comes to the top early
 * (tcp_timer_settle), so nothing fires early and the deadline reported is
 * exact. Most changes within a connection's life cost no heap move. */
inline void tcp_timer_update(struct synfin_stack *st, struct tcb *tp)
{
	synfin_time_t when = tcp_timer_next(tp);
	struct tmr *t = &tp->tmr;
	if (queued(t)) {
		/* a connection with no deadline leaves the heap at once: an idle
		 * connection holds no slot (16 bytes each) */
		if (when < st->heap[t->idx].when || when == SYNFIN_TIME_NEVER)
			timer_set(st, t, when);
		return;
	}
	if (when != SYNFIN_TIME_NEVER)
		timer_set(st, t, when);
}

/* The heap's earliest entry, with its true deadline: entries left early by
 * tcp_timer_update are re-keyed (or removed) on the way. */
struct tcb *tcp_timer_settle(struct synfin_stack *st, synfin_time_t *when)
{
	/* each round moves one entry later or out: at most heap_len rounds */
	for (uint32_t guard = st->heap_len + 1; guard > 0; guard--) {
		synfin_time_t stored;
		struct tmr *t = timer_peek(st, &stored);
		if (!t)
			break;
		struct tcb *tp = (struct tcb *)((char *)t - offsetof(struct tcb, tmr));
		synfin_time_t real = tcp_timer_next(tp);
		if (real == stored) {
			*when = stored;
			return tp;
		}
		timer_set(st, t, real);
	}
	*when = SYNFIN_TIME_NEVER;
	return NULL;
}

/* ---- RTO (RFC 6298) ---- */
void tcp_rto_sample(struct synfin_stack *st, struct tcb *tp, uint32_t r)
{
	if (tp->srtt == 0) {
		tp->srtt = r ? r : 1;
		tp->rttvar = r / 2;
	} else {
		uint32_t diff = tp->srtt > r ? tp->srtt - r : r - tp->srtt;
		tp->rttvar = tp->rttvar - tp->rttvar / 4 + diff / 4;
		tp->srtt = tp->srtt - tp->srtt / 8 + r / 8;
	}
	uint64_t k = 4ull * tp->rttvar;
	if (k < 1000) /* clock granularity G: 1 ms */
		k = 1000;
	uint64_t rto = tp->srtt + k;
	if (rto < st->cfg.rto_min)
		rto = st->cfg.rto_min;
	if (rto > st->cfg.rto_max)
		rto = st->cfg.rto_max;
	tp->rto = (uint32_t)rto;
}

/* The persist interval: the RTO backed off by the probes sent so far,
 * within [persist_min, persist_max] (4.4BSD's tcp_setpersist). */
void tcp_setpersist(struct synfin_stack *st, struct tcb *tp)
{
	synfin_time_t p = tp->rto;
	for (unsigned i = 0; i < tp->rxtshift && p < st->cfg.persist_max; i++)
		p *= 2;
	if (p < st->cfg.persist_min)
		p = st->cfg.persist_min;
	if (p > st->cfg.persist_max)
		p = st->cfg.persist_max;
	tp->t_flags |= TF_PERSIST;
	tp->t_rexmt = st->now + p;
}

/* RFC 6298 5.7: when the SYN (or SYN,ACK) had to be retransmitted and no
 * RTT was measured, data transmission starts with an RTO of 3 s. */
void tcp_rto_after_syn(struct synfin_stack *st, struct tcb *tp)
{
	if (tp->rxtshift > 0 && tp->srtt == 0)
		tp->rto = (uint32_t)(st->cfg.rto_initial > SYNFIN_SEC(3) ? st->cfg.rto_initial : SYNFIN_SEC(3));
}

/* ---- keepalive parameters: per-socket override or the stack's ---- */
synfin_time_t tcp_keepidle(const struct synfin_stack *st, const struct tcb *tp)
{
	return tp->keepidle_s ? SYNFIN_SEC(tp->keepidle_s) : st->cfg.keep_idle;
}

synfin_time_t tcp_keepintvl(const struct synfin_stack *st, const struct tcb *tp)
{
	return tp->keepintvl_s ? SYNFIN_SEC(tp->keepintvl_s) : st->cfg.keep_intvl;
}

uint32_t tcp_keepcnt(const struct synfin_stack *st, const struct tcb *tp)
{
	return tp->keepcnt ? tp->keepcnt : st->cfg.keep_cnt;
}

/* Something arrived: the connection is not idle. t_keep also serves the
 * connection-establishment limit, the FIN_WAIT_2 timer and SO_LINGER, so
 * only the keepalive states touch it here. */
void tcp_keep_reset(struct synfin_stack *st, struct tcb *tp)
{
	tp->keep_probes = 0;
	if ((tp->state == TCPS_ESTABLISHED || tp->state == TCPS_CLOSE_WAIT) &&
	    !(tp->t_flags & TF_LINGERING)) {
		tp->t_keep = (tp->t_flags & TF_KEEPALIVE) ? st->now + tcp_keepidle(st, tp)
							  : SYNFIN_TIME_NEVER;
	}
}

/* ---- expiry ---- */
/* The error a connection that timed out reports: the last ICMP soft error
 * if one arrived (RFC 1122 4.2.3.9: make it available to the application;
 * Linux's tcp_write_err() reports sk_err_soft the same way), else
 * ETIMEDOUT. */
static int timeout_errno(const struct tcb *tp)
{
	return tp->t_softerror ? tp->t_softerror : ETIMEDOUT;
}

/* Returns true if the block was freed. */
static bool timer_rexmt(struct synfin_stack *st, struct tcb *tp)
{
	tp->t_rexmt = SYNFIN_TIME_NEVER;

	if (tp->t_flags & TF_QUIET) {
		/* the quiet time is over: the first SYN, not a retransmission */
		tp->t_flags &= ~TF_QUIET;
		tcp_output(st, tp);
		return false;
	}
	if (tp->t_flags & TF_TLP) {
		tcp_tlp_fire(st, tp);
		return false;
	}
	if (tp->t_flags & TF_PERSIST) {
		/* Zero-window probe. It never gives up while the peer answers:
		 * every ACK resets rxtshift. */
		if (tp->rxtshift >= st->cfg.retries) {
			st->stats.timeouts++;
			tcp_drop(st, tp, timeout_errno(tp), "persist timeout");
			return true;
		}
		tp->rxtshift++;
		st->stats.persist_probes++;
		tp->t_flags |= TF_FORCE;
		tcp_output(st, tp);
		tp->t_flags &= ~TF_FORCE;
		if ((tp->t_flags & TF_PERSIST) && tp->t_rexmt == SYNFIN_TIME_NEVER)
			tcp_setpersist(st, tp);
		return false;
	}

	uint32_t limit = tp->state == TCPS_SYN_SENT   ? st->cfg.syn_retries
			 : tp->state == TCPS_SYN_RCVD ? st->cfg.synack_retries
						      : st->cfg.retries;
	if (tp->rxtshift >= limit) {
		st->stats.timeouts++;
		int err = tp->so_error ? tp->so_error : timeout_errno(tp);
		if (tp->state == TCPS_SYN_RCVD && (tp->t_flags & TF_PASSIVE))
			tcp_close(st, tp, 0, "SYN,ACK retransmission limit");
		else
			tcp_drop(st, tp, err, tp->state == TCPS_SYN_SENT ? "SYN retransmission limit"
									 : "retransmission limit");
		return true;
	}
	tp->rxtshift++;
	/* RFC 6298 5.5: back the timer off; the longer RTO stays until a new
	 * measurement replaces it (5.6 note) */
	tp->rto = tp->rto * 2 > st->cfg.rto_max ? (uint32_t)st->cfg.rto_max : tp->rto * 2;
	if (tp->state == TCPS_SYN_SENT || tp->state == TCPS_SYN_RCVD)
		st->stats.syn_rexmits++;
	else
		st->stats.rexmits++;
	/* Go back to the oldest unacknowledged byte (RFC 6298 5.4), forget the
	 * RTT sample (Karn), and restart slow start (RFC 5681 3.1, through the
	 * congestion control). */
	if (TCPS_HAVEESTABLISHED(tp->state))
		tcp_recovery_timeout(st, tp);
	tp->t_flags &= ~TF_TIMING;
	tp->snd_nxt = tp->snd_una;
	if (tp->t_flags & TF_SENTFIN && tp->snd_una == tp->snd_max)
		tp->t_flags &= ~TF_SENTFIN;
	tcp_output(st, tp);
	return false;
}

static bool timer_keep(struct synfin_stack *st, struct tcb *tp)
{
	tp->t_keep = SYNFIN_TIME_NEVER;

	if (tp->t_flags & TF_LINGERING) {
		/* SO_LINGER's time ran out before everything was acknowledged. */
		tp->t_flags |= TF_LINGER_EXPIRED;
		tp->t_flags &= ~TF_LINGERING;
		if (tp->state == TCPS_FIN_WAIT_2)
			tp->t_keep = st->now + st->cfg.fin_wait_2_timeout;
		else
			tcp_keep_reset(st, tp);
		return false;
	}
	switch (tp->state) {
	case TCPS_SYN_SENT:
	case TCPS_SYN_RCVD:
		st->stats.timeouts++;
		if (tp->state == TCPS_SYN_RCVD && (tp->t_flags & TF_PASSIVE))
			tcp_close(st, tp, 0, "connection-establishment timer");
		else
			tcp_drop(st, tp, timeout_errno(tp), "connection-establishment timer");
		return true;
	case TCPS_FIN_WAIT_2:
		/* Only armed once the application has closed: it wants no more
		 * data, so a peer that never sends its FIN is given up on
		 * (the Berkeley and Linux practice, outside RFC 9293). */
		tcp_close(st, tp, 0, "FIN_WAIT_2 timer");
		return true;
	case TCPS_ESTABLISHED:
	case TCPS_CLOSE_WAIT:
		if (!(tp->t_flags & TF_KEEPALIVE))
			return false;
		if (tp->keep_probes >= tcp_keepcnt(st, tp)) {
			st->stats.keep_drops++;
			tcp_drop(st, tp, timeout_errno(tp), "keepalive timeout");
			return true;
		}
		/* A probe is an old byte: SEG.SEQ = SND.UNA - 1 and no data,
		 * which any live peer must answer with an ACK. */
		tp->keep_probes++;
		st->stats.keep_probes++;
		{
			struct tcp_opts o;
			memset(&o, 0, sizeof o);
			if (tp->t_flags & TF_RCVD_TSTMP) {
				o.has = TOF_TS;
				o.tsval = st_ms(st) + tp->ts_offset;
				o.tsecr = tp->ts_recent;
			}
			uint32_t win = tcp_rcv_space(tp) >> tp->rcv_scale;
			tcp_respond(st, tp->laddr, tp->lport, tp->faddr, tp->fport, tp->snd_una - 1,
				    tp->rcv_nxt, TH_ACK, (uint16_t)(win > 65535 ? 65535 : win), &o);
		}
		tp->t_keep = st->now + tcp_keepintvl(st, tp);
		return false;
	default:
		return false;
	}
}

void tcp_timer_fire(struct synfin_stack *st, struct tcb *tp)
{
	synfin_time_t now = st->now;
	/* Delayed ACK first: it may then ride on a retransmission fired at
	 * the same instant. Output never frees the block. */
	if (tp->t_delack <= now) {
		tp->t_delack = SYNFIN_TIME_NEVER;
		tp->t_flags &= ~TF_DELACK;
		tp->t_flags |= TF_ACKNOW;
		st->stats.delayed_acks++;
		tcp_output(st, tp);
	}
	/* A handler may free the block; then it must not be touched again. */
	if (tp->t_rexmt <= now && timer_rexmt(st, tp))
		return;
	if (tp->t_keep <= now && timer_keep(st, tp))
		return;
	tcp_timer_update(st, tp);
}
