/*
 * Control-block lifecycle: allocation, the 4-tuple and bind tables, the one
 * state-change function, ISNs (RFC 6528), closing and freeing.
 */
#include <errno.h>
#include <string.h>

#include "tcp/tcp_priv.h"

struct tcb *tcp_newtcb(struct synfin_stack *st)
{
	struct tcb *tp = st_obj_get(st, sizeof *tp, true);
	if (!tp)
		return NULL;
	tp->fd = -1;
	tp->state = TCPS_CLOSED;
	tp->tmr.idx = TMR_NONE;
	tp->t_rexmt = tp->t_keep = tp->t_delack = SYNFIN_TIME_NEVER;
	tp->laddr = st->ip;
	tp->sndbuf = st->cfg.sndbuf;
	tp->rcvbuf = st->cfg.rcvbuf;
	tp->rto = (uint32_t)st->cfg.rto_initial;
	tcp_set_maxseg(tp, 536, (uint16_t)(st->cfg.mtu - 40));
	return tp;
}

/* Out of line: only a stack with a state_change hook builds the event,
 * and the transitions it is called from stay small. */
SF_COLD void tcp_state_event(struct synfin_stack *st, int fd, uint32_t laddr, uint16_t lport,
				 uint32_t faddr, uint16_t fport, int from, int to, const char *cause)
{
	if (!st->ops.state_change)
		return;
	struct synfin_state_event ev = {
		.fd = fd,
		.local = {laddr, lport},
		.remote = {faddr, fport},
		.old_state = from,
		.new_state = to,
		.cause = cause,
		.now = st->now,
	};
	st->ops.state_change(st->ops.ctx, &ev);
}

/* The transition tp just made, to the hook (few arguments: the
 * transitions inline this call) */
static SF_COLD void state_hook(struct synfin_stack *st, const struct tcb *tp, int old, const char *cause)
{
	tcp_state_event(st, tp->fd, tp->laddr, tp->lport, tp->faddr, tp->fport, old, tp->state, cause);
}

/* Every transition of every connection passes through here. */
void tcp_set_state(struct synfin_stack *st, struct tcb *tp, int state, const char *cause)
{
	int old = tp->state;
	if (old == state)
		return;
	tp->state = (uint8_t)state;
	if (state == TCPS_ESTABLISHED)
		st->stats.established++;
	if (st->ops.state_change)
		state_hook(st, tp, old, cause);
}

SF_COLD const char *tcp_flags_text(uint8_t flags, char *buf)
{
	static const struct {
		uint8_t bit;
		const char *name;
	} names[] = {{TH_SYN, "SYN"}, {TH_FIN, "FIN"}, {TH_RST, "RST"}, {TH_ACK, "ACK"}};
	size_t n = 0;
	memcpy(buf, "rcv ", 4);
	n = 4;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!(flags & names[i].bit))
			continue;
		if (n > 4)
			buf[n++] = ',';
		size_t l = strlen(names[i].name);
		memcpy(buf + n, names[i].name, l);
		n += l;
	}
	buf[n] = 0;
	return buf;
}

/* ---- 4-tuple table ---- */
uint32_t tcp_tuple_hash(const struct synfin_stack *st, uint32_t laddr, uint16_t lport,
			uint32_t faddr, uint16_t fport)
{
	/* Every segment pays for this, so not SipHash: a keyed multiply-xorshift
	 * mix (like the kernels' keyed jhash). The key is the table's own. */
	uint64_t x = ((uint64_t)laddr << 32 | faddr) ^ st->hkey[0];
	uint64_t y = ((uint64_t)lport << 16 | fport) ^ st->hkey[1];
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	x += y;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (uint32_t)x;
}

/* Each bucket of the 4-tuple table has a 16-bit word beside it: 15 bits of
 * the head's hash and a bit saying the head may have a successor; each
 * block keeps the same word for its successor (hunder). A lookup that
 * finds a bucket whose one block has another tag is done without reading
 * that block, which for a new 4-tuple (a SYN, a connect() checking a port)
 * among a million connections is a cache miss saved. The bit may be set
 * with no successor (then the walk reads a block for nothing), never the
 * other way round, and a tag is never wrong. */
static inline uint16_t tag_of(uint32_t hash)
{
	return (uint16_t)(hash >> 16) & 0xfffeu;
}

static void chain_push(struct tcb **bucket, uint16_t *word, struct tcb *tp, uint32_t hash)
{
	tp->hnext = *bucket;
	tp->hunder = *bucket ? *word : 0;
	*word = (uint16_t)(tag_of(hash) | (*bucket ? 1u : 0u));
	*bucket = tp;
}

static uint32_t tcb_hash(const struct synfin_stack *st, const struct tcb *tp)
{
	return tcp_tuple_hash(st, tp->laddr, tp->lport, tp->faddr, tp->fport);
}

static void conn_grow(struct synfin_stack *st)
{
	uint32_t nmask = st->conn_mask * 2 + 1;
	struct tcb **nh = st_alloc(st, (nmask + 1) * sizeof *nh);
	uint16_t *nt = st_alloc(st, (nmask + 1) * sizeof *nt);
	if (!nh || !nt) {
		st_free(st, nh, (nmask + 1) * sizeof *nh);
		st_free(st, nt, (nmask + 1) * sizeof *nt);
		return; /* stay at the old size: longer chains, still correct */
	}
	for (uint32_t i = 0; i <= st->conn_mask; i++) {
		while (st->conn_hash[i]) {
			struct tcb *tp = st->conn_hash[i];
			st->conn_hash[i] = tp->hnext;
			uint32_t h = tcb_hash(st, tp);
			chain_push(&nh[h & nmask], &nt[h & nmask], tp, h);
		}
	}
	st_free(st, st->conn_hash, (st->conn_mask + 1) * sizeof *st->conn_hash);
	st_free(st, st->conn_tag, (st->conn_mask + 1) * sizeof *st->conn_tag);
	st->conn_hash = nh;
	st->conn_tag = nt;
	st->conn_mask = nmask;
}

void tcp_hash_insert(struct synfin_stack *st, struct tcb *tp)
{
	if (tp->t_flags & TF_IN_HASH)
		return;
	if (st->nconn > st->conn_mask)
		conn_grow(st);
	uint32_t h = tcb_hash(st, tp);
	chain_push(&st->conn_hash[h & st->conn_mask], &st->conn_tag[h & st->conn_mask], tp, h);
	tp->t_flags |= TF_IN_HASH;
	st->nconn++;
}

void tcp_hash_remove(struct synfin_stack *st, struct tcb *tp)
{
	if (!(tp->t_flags & TF_IN_HASH))
		return;
	if (tp->state == TCPS_LISTEN) {
		for (struct tcb **pp = &st->listeners; *pp; pp = &(*pp)->hnext) {
			if (*pp == tp) {
				*pp = tp->hnext;
				break;
			}
		}
	} else {
		if (st->last_in == tp)
			st->last_in = NULL;
		uint32_t b = tcb_hash(st, tp) & st->conn_mask;
		struct tcb *head = st->conn_hash[b];
		if (head == tp) {
			st->conn_hash[b] = tp->hnext;
			st->conn_tag[b] = tp->hunder;
		} else {
			for (struct tcb *p = head; p && p->hnext; p = p->hnext) {
				if (p->hnext != tp)
					continue;
				/* p now leads to what tp led to */
				p->hnext = tp->hnext;
				p->hunder = tp->hunder;
				if (p == head && !p->hnext)
					st->conn_tag[b] &= 0xfffeu;
				break;
			}
		}
		st->nconn--;
	}
	tp->hnext = NULL;
	tp->hunder = 0;
	tp->t_flags &= ~TF_IN_HASH;
}

struct tcb *tcp_lookup(const struct synfin_stack *st, uint32_t laddr, uint16_t lport,
		       uint32_t faddr, uint16_t fport)
{
	uint32_t h = tcp_tuple_hash(st, laddr, lport, faddr, fport);
	uint16_t tag = tag_of(h), word = st->conn_tag[h & st->conn_mask];
	for (struct tcb *tp = st->conn_hash[h & st->conn_mask]; tp; tp = tp->hnext) {
		if ((word & 0xfffeu) == tag) {
			if (tp->lport == lport && tp->fport == fport && tp->faddr == faddr && tp->laddr == laddr)
				return tp;
		} else if (!(word & 1u)) {
			return NULL; /* not ours, and the last: the block is not read */
		}
		word = tp->hunder;
	}
	return NULL;
}

void tcp_lookup_prefetch(const struct synfin_stack *st, uint32_t laddr, uint16_t lport,
			 uint32_t faddr, uint16_t fport)
{
	uint32_t b = tcp_tuple_hash(st, laddr, lport, faddr, fport) & st->conn_mask;
	SF_PREFETCH(&st->conn_tag[b]);
	SF_PREFETCH(&st->conn_hash[b]);
}

/* A port's listener leads its owners chain (tcp_bind_add, tcp_bind_lead):
 * a SYN finds it in the port table, however many ports listen. A child
 * also passes through LISTEN (new_child) but has a parent. */
static bool is_listener(const struct tcb *tp)
{
	return tp && tp->state == TCPS_LISTEN && !tp->parent;
}

struct tcb *tcp_lookup_listener(const struct synfin_stack *st, uint16_t lport)
{
	const struct bindb *b = tcp_bind_find(st, lport);
	return b && is_listener(b->owners) ? b->owners : NULL;
}

/* ---- bind table ---- */
struct bindb *tcp_bind_find(const struct synfin_stack *st, uint16_t port)
{
	struct bindb **chunk = st->ports[port / PORT_CHUNK];
	return chunk ? chunk[port % PORT_CHUNK] : NULL;
}

struct bindb *tcp_bind_get(struct synfin_stack *st, uint16_t port)
{
	struct bindb **chunk = st->ports[port / PORT_CHUNK];
	if (chunk && chunk[port % PORT_CHUNK])
		return chunk[port % PORT_CHUNK];
	if (!chunk) {
		chunk = st_alloc(st, PORT_CHUNK * sizeof *chunk);
		if (!chunk)
			return NULL;
		st->ports[port / PORT_CHUNK] = chunk;
	}
	struct bindb *b = st_alloc(st, sizeof *b);
	if (!b) {
		if (st->port_chunk_used[port / PORT_CHUNK] == 0) {
			st_free(st, chunk, PORT_CHUNK * sizeof *chunk);
			st->ports[port / PORT_CHUNK] = NULL;
		}
		return NULL;
	}
	b->port = port;
	chunk[port % PORT_CHUNK] = b;
	st->port_chunk_used[port / PORT_CHUNK]++;
	return b;
}

void tcp_bind_put(struct synfin_stack *st, struct bindb *b)
{
	if (b->owners || b->ntw)
		return;
	uint16_t port = b->port;
	struct bindb **chunk = st->ports[port / PORT_CHUNK];
	chunk[port % PORT_CHUNK] = NULL;
	st_free(st, b, sizeof *b);
	if (--st->port_chunk_used[port / PORT_CHUNK] == 0) {
		st_free(st, chunk, PORT_CHUNK * sizeof *chunk);
		st->ports[port / PORT_CHUNK] = NULL;
	}
}

void tcp_bind_add(struct synfin_stack *st, struct tcb *tp, uint16_t port)
{
	struct bindb *b = tcp_bind_get(st, port);
	tp->lport = port;
	if (!b)
		return;
	/* behind the port's listener, which stays first */
	struct tcb **at = is_listener(b->owners) ? &b->owners->bnext : &b->owners;
	tp->bnext = *at;
	*at = tp;
	if (tp->faddr == 0)
		b->nopen++;
	tp->t_flags |= TF_BOUND;
}

void tcp_bind_lead(struct synfin_stack *st, struct tcb *tp)
{
	struct bindb *b = tcp_bind_find(st, tp->lport);
	if (!b || !(tp->t_flags & TF_BOUND))
		return;
	for (struct tcb **pp = &b->owners; *pp; pp = &(*pp)->bnext) {
		if (*pp == tp) {
			*pp = tp->bnext;
			tp->bnext = b->owners;
			b->owners = tp;
			return;
		}
	}
}

void tcp_bind_remove(struct synfin_stack *st, struct tcb *tp)
{
	if (!(tp->t_flags & TF_BOUND))
		return;
	struct bindb *b = tcp_bind_find(st, tp->lport);
	tp->t_flags &= ~TF_BOUND;
	if (!b)
		return;
	for (struct tcb **pp = &b->owners; *pp; pp = &(*pp)->bnext) {
		if (*pp == tp) {
			*pp = tp->bnext;
			break;
		}
	}
	if (tp->faddr == 0)
		b->nopen--;
	tp->bnext = NULL;
	tcp_bind_put(st, b);
}

/* ---- RFC 6528: ISN = M + F(4-tuple, secret), M a 4 microsecond clock ---- */
uint64_t tcp_tuple_secret(const struct synfin_stack *st, uint32_t laddr, uint16_t lport,
			  uint32_t faddr, uint16_t fport)
{
	uint32_t t[3] = {laddr, faddr, ((uint32_t)lport << 16) | fport};
	return st_siphash(st, t, sizeof t);
}

/* the smallest shift under which the receive buffer fits the 16-bit field */
uint8_t tcp_rcv_scale_for(uint32_t rcvbuf)
{
	uint8_t s = 0;
	while (s < 14 && (rcvbuf >> s) > 65535)
		s++;
	return s;
}

void tcp_init_conn(struct synfin_stack *st, struct tcb *tp)
{
	tp->rto = (uint32_t)st->cfg.rto_initial;
	tp->srtt = tp->rttvar = 0;
	tp->rxtshift = 0;
	/* RFC 9293 3.7.1 default until the peer says */
	tcp_set_maxseg(tp, 536, (uint16_t)(st->cfg.mtu - 40));
	tp->ssthresh = UINT32_MAX / 2;
	tp->cwnd = 0; /* set once the MSS is known */
	tp->t_flags |= TF_REQ_TSTMP | TF_REQ_SCALE;
	if (st->cfg.sack)
		tp->t_flags |= TF_REQ_SACK;
	if (!(tp->t_flags & TF_CC_SET))
		tp->cc = st->cfg.congestion;
	tp->rcv_scale = tcp_rcv_scale_for(tp->rcvbuf);
	uint64_t f = tcp_tuple_secret(st, tp->laddr, tp->lport, tp->faddr, tp->fport);
	tp->ts_offset = (uint32_t)(f >> 32);
	tp->iss = st->test_iss ? st->test_iss : (uint32_t)f + (uint32_t)(st->now / 4);
}

struct tcb_ext *tcp_ext_get(struct synfin_stack *st, struct tcb *tp)
{
	if (!tp->x) {
		tp->x = st_obj_get(st, sizeof *tp->x, true);
		if (tp->x && tcp_cc(tp)->init)
			tcp_cc(tp)->init(st, tp);
	}
	return tp->x;
}

uint32_t tcp_flight(const struct tcb *tp)
{
	uint32_t out = tp->snd_max - tp->snd_una;
	uint32_t sacked = tp->x ? tp->x->sacked_bytes : 0;
	return out > sacked ? out - sacked : 0;
}

const struct cc_ops *tcp_cc(const struct tcb *tp)
{
	const struct cc_ops *cc = cc_get(tp->cc);
	return cc ? cc : &cc_cubic;
}

/* ---- listener queues ---- */
void tcp_listen_unlink(struct synfin_stack *st, struct tcb *child)
{
	struct tcb *l = child->parent;
	(void)st;
	if (!l || !l->u.lq) {
		child->parent = NULL;
		return;
	}
	struct listenq *q = l->u.lq;
	struct tcb **pp, *prev = NULL;
	for (pp = &q->syn_head; *pp; pp = &(*pp)->qnext) {
		if (*pp == child) {
			*pp = child->qnext;
			q->q0len--;
			goto out;
		}
	}
	for (pp = &q->acc_head; *pp; prev = *pp, pp = &(*pp)->qnext) {
		if (*pp == child) {
			*pp = child->qnext;
			if (q->acc_tail == child)
				q->acc_tail = prev;
			q->qlen--;
			goto out;
		}
	}
out:
	child->qnext = NULL;
	child->parent = NULL;
}

/* ---- ending a connection ---- */
void tcp_free(struct synfin_stack *st, struct tcb *tp)
{
	if (tp->parent)
		tcp_listen_unlink(st, tp);
	tcp_hash_remove(st, tp);
	tcp_bind_remove(st, tp);
	timer_cancel(st, &tp->tmr);
	if (tp->state == TCPS_LISTEN) {
		st_free(st, tp->u.lq, sizeof *tp->u.lq);
	} else {
		ring_free(st, tp->u.b.snd);
		ring_free(st, tp->u.b.rcv);
	}
	if (tp->x)
		st_free(st, tp->x->sacked, tp->x->sacked_cap * sizeof *tp->x->sacked);
	st_obj_put(st, tp->x, sizeof *tp->x);
	st_obj_put(st, tp, sizeof *tp);
}

void tcp_maybe_free(struct synfin_stack *st, struct tcb *tp)
{
	if (tp->fd < 0 && tp->state == TCPS_CLOSED)
		tcp_free(st, tp);
}

void tcp_close(struct synfin_stack *st, struct tcb *tp, int err, const char *cause)
{
	if (err)
		tp->so_error = (uint8_t)err;
	if (tp->parent)
		tcp_listen_unlink(st, tp);
	tcp_hash_remove(st, tp);
	tp->t_rexmt = tp->t_keep = tp->t_delack = SYNFIN_TIME_NEVER;
	timer_cancel(st, &tp->tmr);
	tp->t_flags &= ~(TF_LINGERING | TF_DELACK | TF_ACKNOW);
	if (tp->state == TCPS_SYN_RCVD && (tp->t_flags & TF_PASSIVE))
		tw_restore(st, tp);
	if (tp->state != TCPS_CLOSED) {
		if (tp->state >= TCPS_SYN_RCVD)
			st->stats.conn_drops += err ? 1 : 0;
		tcp_set_state(st, tp, TCPS_CLOSED, cause);
	}
	/* The port stays bound while the application holds the socket, as a
	 * kernel keeps it until close(). */
	tcp_maybe_free(st, tp);
}

void tcp_drop(struct synfin_stack *st, struct tcb *tp, int err, const char *cause)
{
	if (TCPS_HAVERCVDSYN(tp->state) && tp->state != TCPS_TIME_WAIT)
		tcp_send_rst(st, tp);
	tcp_close(st, tp, err, cause);
}

/* RFC 5961 section 7: a global budget of challenge ACKs per second. */
SF_COLD bool tcp_challenge_ack_allowed(struct synfin_stack *st)
{
	synfin_time_t second = st->now / SYNFIN_US_PER_S;
	if (second != st->chack_second) {
		st->chack_second = second;
		st->chack_count = 0;
	}
	if (st->chack_count >= st->cfg.challenge_ack_limit) {
		st->stats.challenge_acks_limited++;
		return false;
	}
	st->chack_count++;
	st->stats.challenge_acks++;
	return true;
}
