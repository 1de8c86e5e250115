/*
 * User calls: the BSD-like, non-blocking socket API on a stack. Each call
 * checks its arguments, changes the control block and leaves the decision
 * of what to send to tcp_output(). Errors are negative errno values.
 */
#include <errno.h>
#include <string.h>

#include "tcp/tcp_priv.h"

#define SOMAXCONN_ 4096
#define BUF_MIN 2048u
#define BUF_MAX (64u << 20) /* enough for 2 BDP of 1 Gbit/s at 200 ms */

/* ---- descriptors ---- */
static struct tcb *fd_get(const struct synfin_stack *st, int fd)
{
	if (fd < 0 || (uint32_t)fd >= st->nfds)
		return NULL;
	return st->fds[fd];
}

static int fd_alloc(struct synfin_stack *st, struct tcb *tp)
{
	uint32_t i = st->fd_hint;
	while (i < st->nfds && st->fds[i])
		i++;
	if (i == st->nfds) {
		if (st->nfds >= (1u << 30))
			return -EMFILE;
		uint32_t n = st->nfds ? st->nfds * 2 : 16;
		struct tcb **nf = st_alloc(st, n * sizeof *nf);
		if (!nf)
			return -ENOMEM;
		if (st->nfds)
			memcpy(nf, st->fds, st->nfds * sizeof *nf);
		st_free(st, st->fds, st->nfds * sizeof *st->fds);
		st->fds = nf;
		st->nfds = n;
	}
	st->fds[i] = tp;
	st->fd_hint = i + 1;
	tp->fd = (int32_t)i;
	return (int)i;
}

static void fd_release(struct synfin_stack *st, struct tcb *tp)
{
	if (tp->fd < 0)
		return;
	st->fds[tp->fd] = NULL;
	if ((uint32_t)tp->fd < st->fd_hint)
		st->fd_hint = (uint32_t)tp->fd;
	tp->fd = -1;
}

int synfin_socket(struct synfin_stack *st)
{
	struct tcb *tp = tcp_newtcb(st);
	if (!tp)
		return -ENOMEM;
	int fd = fd_alloc(st, tp);
	if (fd < 0)
		st_obj_put(st, tp, sizeof *tp);
	return fd;
}

/* ---- ports ---- */
/* Would binding `tp` to `port` clash? Linux's rules: a listener always
 * clashes; TIME_WAIT only without SO_REUSEADDR; any other socket unless
 * both sides set SO_REUSEADDR. */
static bool bind_conflict(const struct synfin_stack *st, const struct tcb *tp, uint16_t port)
{
	const struct bindb *b = tcp_bind_find(st, port);
	if (!b)
		return false;
	bool reuse = tp->t_flags & TF_REUSEADDR;
	if (b->ntw && !reuse)
		return true;
	for (const struct tcb *o = b->owners; o; o = o->bnext) {
		if (o == tp)
			continue;
		if (o->state == TCPS_LISTEN || !reuse || !(o->t_flags & TF_REUSEADDR))
			return true;
	}
	return false;
}

static uint32_t port_count(const struct synfin_stack *st)
{
	return (uint32_t)st->cfg.ephemeral_hi - st->cfg.ephemeral_lo + 1;
}

/* bind(port 0) and listen() without bind: any port nobody uses */
static int bind_any(struct synfin_stack *st, struct tcb *tp)
{
	uint32_t n = port_count(st);
	uint32_t start = (uint32_t)st_rand(st);
	for (uint32_t i = 0; i < n; i++) {
		uint16_t port = (uint16_t)(st->cfg.ephemeral_lo + (start + i) % n);
		if (!tcp_bind_find(st, port)) {
			tcp_bind_add(st, tp, port);
			return (tp->t_flags & TF_BOUND) ? 0 : -ENOMEM;
		}
	}
	return -EADDRINUSE;
}

/* RFC 6056 algorithm 3: the search starts at a keyed hash of the remote
 * end, so a port is random to outsiders yet successive connections to one
 * peer do not collide; a port is taken if its 4-tuple is free (also of
 * TIME_WAIT) and no listener or merely-bound socket holds it. */
static uint16_t ephemeral_candidate(const struct synfin_stack *st)
{
	return (uint16_t)(st->cfg.ephemeral_lo + (st->ephemeral_next + st->eph_offset) % port_count(st));
}

/* The next connect() to the same peer tries the next port first: its port
 * record and its 4-tuple's bucket are asked for now, so that they are in
 * the cache by then (among many connections both would be cold). */
static void prefetch_next_port(const struct synfin_stack *st, uint32_t faddr, uint16_t fport)
{
	uint16_t port = ephemeral_candidate(st);
	const struct bindb *b = tcp_bind_find(st, port);
	if (!b)
		return; /* a port no one holds is taken without a look */
	SF_PREFETCH(b);
	tcp_lookup_prefetch(st, st->ip, port, faddr, fport);
}

static int bind_ephemeral(struct synfin_stack *st, struct tcb *tp, uint32_t faddr, uint16_t fport)
{
	uint32_t n = port_count(st);
	if (st->eph_faddr != faddr || st->eph_fport != fport || st->eph_offset == 0) {
		uint32_t key[3] = {st->ip, faddr, fport};
		st->eph_offset = (uint32_t)st_siphash(st, key, sizeof key) | 1u;
		st->eph_faddr = faddr;
		st->eph_fport = fport;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint16_t port = ephemeral_candidate(st);
		st->ephemeral_next++;
		/* every block and TIME_WAIT record on a port is counted in
		 * its port record: a port without one is free, and the tables
		 * (cold for a port last used long ago) are not searched */
		const struct bindb *b = tcp_bind_find(st, port);
		if (b && (b->nopen || (b->owners && tcp_lookup(st, st->ip, port, faddr, fport)) ||
			  (b->ntw && tw_lookup(st, st->ip, port, faddr, fport))))
			continue;
		/* the peer is set first, so that the port table counts this
		 * socket as connected, not as merely bound */
		tp->faddr = faddr;
		tcp_bind_add(st, tp, port);
		if (!(tp->t_flags & TF_BOUND)) {
			tp->faddr = 0;
			return -ENOMEM;
		}
		prefetch_next_port(st, faddr, fport);
		return 0;
	}
	return -EADDRNOTAVAIL;
}

int synfin_bind(struct synfin_stack *st, int fd, const struct synfin_addr *a)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	if (!a)
		return -EFAULT;
	if (tp->state != TCPS_CLOSED || (tp->t_flags & TF_BOUND) || tp->faddr)
		return -EINVAL;
	if (a->ip != 0 && a->ip != st->ip)
		return -EADDRNOTAVAIL;
	if (a->port == 0)
		return bind_any(st, tp);
	if (bind_conflict(st, tp, a->port))
		return -EADDRINUSE;
	tcp_bind_add(st, tp, a->port);
	return (tp->t_flags & TF_BOUND) ? 0 : -ENOMEM;
}

int synfin_listen(struct synfin_stack *st, int fd, int backlog)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	if (backlog < 1)
		backlog = 1;
	if (backlog > SOMAXCONN_)
		backlog = SOMAXCONN_;
	if (tp->state == TCPS_LISTEN) {
		tp->u.lq->backlog = (uint32_t)backlog;
		return 0;
	}
	if (tp->state != TCPS_CLOSED || tp->faddr)
		return -EINVAL;
	if (!(tp->t_flags & TF_BOUND)) {
		int r = bind_any(st, tp);
		if (r < 0)
			return r;
	}
	if (tcp_lookup_listener(st, tp->lport))
		return -EADDRINUSE;
	struct listenq *q = st_alloc(st, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->backlog = (uint32_t)backlog;
	ring_free(st, tp->u.b.snd);
	ring_free(st, tp->u.b.rcv);
	tp->u.lq = q;
	tp->laddr = st->ip;
	tcp_set_state(st, tp, TCPS_LISTEN, "listen");
	tcp_bind_lead(st, tp);
	tp->hnext = st->listeners;
	st->listeners = tp;
	tp->t_flags |= TF_IN_HASH;
	return 0;
}

int synfin_accept(struct synfin_stack *st, int fd, struct synfin_addr *peer)
{
	struct tcb *l = fd_get(st, fd);
	if (!l)
		return -EBADF;
	if (l->state != TCPS_LISTEN)
		return -EINVAL;
	struct tcb *c = l->u.lq->acc_head;
	if (!c)
		return -EAGAIN;
	int nfd = fd_alloc(st, c);
	if (nfd < 0)
		return nfd;
	tcp_listen_unlink(st, c);
	if (peer) {
		peer->ip = c->faddr;
		peer->port = c->fport;
	}
	return nfd;
}

int synfin_connect(struct synfin_stack *st, int fd, const struct synfin_addr *a)
{
	struct tcb *tp = fd_get(st, fd);
	int r;
	if (!tp)
		return -EBADF;
	if (!a)
		return -EFAULT;
	if (tp->state == TCPS_SYN_SENT || tp->state == TCPS_SYN_RCVD)
		return -EALREADY;
	if (tp->state == TCPS_LISTEN)
		return -EINVAL;
	if (tp->state == TCPS_CLOSED && tp->so_error && (tp->t_flags & TF_CONNECTING)) {
		/* the earlier attempt failed: report it, once */
		int e = tp->so_error;
		tp->so_error = 0;
		tp->t_flags &= ~TF_CONNECTING;
		return -e;
	}
	if (tp->state != TCPS_CLOSED || tp->faddr)
		return -EISCONN;
	if (a->ip == 0 || a->port == 0 || a->ip == 0xffffffffu || (a->ip >> 28) == 0xe)
		return -EINVAL;
	if (!(tp->t_flags & TF_BOUND)) {
		r = bind_ephemeral(st, tp, a->ip, a->port);
		if (r < 0)
			return r;
	} else if (tcp_lookup(st, st->ip, tp->lport, a->ip, a->port) ||
		   tw_lookup(st, st->ip, tp->lport, a->ip, a->port)) {
		/* SO_REUSEADDR lets bind() share the port, but the 4-tuple
		 * itself stays reserved until TIME_WAIT ends */
		return -EADDRINUSE;
	}
	if (tp->faddr == 0 && (tp->t_flags & TF_BOUND)) {
		/* bound by bind(): now a connection, no longer a bare port */
		struct bindb *b = tcp_bind_find(st, tp->lport);
		if (b)
			b->nopen--;
	}
	tp->laddr = st->ip;
	tp->faddr = a->ip;
	tp->fport = a->port;
	tcp_init_conn(st, tp);
	tp->snd_una = tp->snd_nxt = tp->snd_max = tp->iss;
	tp->so_error = 0;
	tp->t_flags |= TF_CONNECTING;
	tcp_set_state(st, tp, TCPS_SYN_SENT, "connect");
	tcp_hash_insert(st, tp);
	tp->t_keep = st->now + st->cfg.conn_timeout;
	st->stats.active_opens++;
	tcp_output(st, tp);
	return -EINPROGRESS;
}

static int take_error(struct tcb *tp)
{
	int e = tp->so_error;
	tp->so_error = 0;
	return e;
}

long synfin_send(struct synfin_stack *st, int fd, const void *buf, size_t len)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	if (!buf && len)
		return -EFAULT;
	if (tp->so_error)
		return -take_error(tp);
	switch (tp->state) {
	case TCPS_ESTABLISHED:
	case TCPS_CLOSE_WAIT:
		break;
	case TCPS_SYN_SENT:
	case TCPS_SYN_RCVD:
		return -EAGAIN; /* not yet connected; poll for EV_OUT */
	case TCPS_CLOSED:
	case TCPS_LISTEN:
		return tp->faddr && tp->state == TCPS_CLOSED ? -EPIPE : -ENOTCONN;
	default:
		return -EPIPE;
	}
	if (tp->t_flags & TF_FIN_QUEUED)
		return -EPIPE;
	if (len == 0)
		return 0;
	if (!tp->u.b.snd && !(tp->u.b.snd = ring_new(st, tp->sndbuf)))
		return -ENOMEM;
	if (!tcp_ext_get(st, tp))
		return -ENOMEM;
	uint32_t n = ring_write(tp->u.b.snd, buf, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len,
				tcp_snd_hold(st, tp->u.b.snd));
	if (n == 0)
		return -EAGAIN;
	tcp_output(st, tp);
	return (long)n;
}

long synfin_recv(struct synfin_stack *st, int fd, void *buf, size_t len)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	if (!buf && len)
		return -EFAULT;
	if (tp->state == TCPS_LISTEN)
		return -ENOTCONN;
	struct ring *r = tp->u.b.rcv;
	if (r && r->len && !(tp->t_flags & TF_RCV_SHUT)) {
		uint32_t n = ring_read(r, buf, len > UINT32_MAX ? UINT32_MAX : (uint32_t)len);
		/* reading may open the window enough to be worth saying (no
		 * deadline changed: when nothing is due there is no call) */
		if (tp->state != TCPS_CLOSED && !tcp_nothing_to_send(tp))
			tcp_output(st, tp);
		return (long)n;
	}
	if (tp->so_error)
		return -take_error(tp);
	if ((tp->t_flags & (TF_EOF | TF_RCV_SHUT)) || (tp->state == TCPS_CLOSED && tp->faddr))
		return 0;
	if (tp->state == TCPS_CLOSED)
		return -ENOTCONN;
	return -EAGAIN;
}

/* The send side is done: queue the FIN after the data (RFC 9293 3.10.4). */
static void close_send(struct synfin_stack *st, struct tcb *tp, const char *cause)
{
	if (tp->t_flags & TF_FIN_QUEUED)
		return;
	tp->t_flags |= TF_FIN_QUEUED;
	switch (tp->state) {
	case TCPS_SYN_RCVD:
		tp->t_flags |= TF_CLOSE_PENDING;
		break;
	case TCPS_ESTABLISHED:
		tcp_set_state(st, tp, TCPS_FIN_WAIT_1, cause);
		break;
	case TCPS_CLOSE_WAIT:
		tcp_set_state(st, tp, TCPS_LAST_ACK, cause);
		break;
	default:
		break;
	}
	tcp_output(st, tp);
}

int synfin_shutdown(struct synfin_stack *st, int fd, int how)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	if (how != SYNFIN_SHUT_RD && how != SYNFIN_SHUT_WR && how != SYNFIN_SHUT_RDWR)
		return -EINVAL;
	if (tp->state == TCPS_CLOSED || tp->state == TCPS_LISTEN)
		return (tp->state == TCPS_CLOSED && tp->faddr) ? 0 : -ENOTCONN;
	if (tp->state == TCPS_SYN_SENT) {
		tcp_close(st, tp, 0, "shutdown");
		return 0;
	}
	if (how != SYNFIN_SHUT_WR) {
		tp->t_flags |= TF_RCV_SHUT;
		if (tp->u.b.rcv)
			ring_drop(tp->u.b.rcv, tp->u.b.rcv->len);
	}
	if (how != SYNFIN_SHUT_RD)
		close_send(st, tp, "shutdown");
	return 0;
}

/* The FIN is acknowledged (or the connection is over): a lingering close
 * has what it waited for. */
void tcp_user_closed_check(struct synfin_stack *st, struct tcb *tp)
{
	if (!(tp->t_flags & TF_LINGERING))
		return;
	tp->t_flags &= ~TF_LINGERING;
	tp->t_keep = tp->state == TCPS_FIN_WAIT_2 ? st->now + st->cfg.fin_wait_2_timeout
						  : SYNFIN_TIME_NEVER;
}

static void close_listener(struct synfin_stack *st, struct tcb *l)
{
	struct listenq *q = l->u.lq;
	/* Connections nobody accepted are reset, as Linux does; half-open
	 * ones just go (the peer's ACK will meet an RST). */
	while (q->acc_head) {
		struct tcb *c = q->acc_head;
		tcp_listen_unlink(st, c);
		tcp_drop(st, c, ECONNABORTED, "listener closed");
	}
	while (q->syn_head) {
		struct tcb *c = q->syn_head;
		tcp_listen_unlink(st, c);
		tcp_close(st, c, 0, "listener closed");
	}
	tcp_hash_remove(st, l);
	st_free(st, q, sizeof *q);
	l->u.lq = NULL;
	tcp_set_state(st, l, TCPS_CLOSED, "close");
}

static int do_close(struct synfin_stack *st, struct tcb *tp, bool exiting)
{
	if (tp->t_flags & TF_USER_CLOSED) {
		/* the second call of a lingering close */
		if (tp->t_flags & TF_LINGERING) {
			if (!exiting)
				return -EINPROGRESS;
			tp->t_flags &= ~TF_LINGERING;
			tp->t_keep = tp->state == TCPS_FIN_WAIT_2 ? st->now + st->cfg.fin_wait_2_timeout
								  : SYNFIN_TIME_NEVER;
			tcp_timer_update(st, tp);
		}
		int r = (tp->t_flags & TF_LINGER_EXPIRED) ? -EWOULDBLOCK : -take_error(tp);
		fd_release(st, tp);
		tcp_maybe_free(st, tp);
		return r;
	}
	tp->t_flags |= TF_USER_CLOSED;
	switch (tp->state) {
	case TCPS_LISTEN:
		close_listener(st, tp);
		fd_release(st, tp);
		tcp_free(st, tp);
		return 0;
	case TCPS_CLOSED:
	case TCPS_SYN_SENT:
		fd_release(st, tp);
		tcp_close(st, tp, 0, "close");
		return 0;
	default:
		break;
	}
	bool unread = tp->u.b.rcv && tp->u.b.rcv->len > 0;
	if (unread || ((tp->t_flags & TF_LINGER) && tp->linger_s == 0)) {
		/* Abortive close: RST, no TIME_WAIT, unsent data discarded.
		 * Unread data gets the same, so that the peer learns its
		 * data was not consumed (RFC 2525 2.17, and Linux). */
		fd_release(st, tp);
		tcp_drop(st, tp, 0, unread ? "close with unread data" : "close (SO_LINGER 0)");
		return 0;
	}
	tp->t_flags |= TF_RCV_SHUT;
	close_send(st, tp, "close");
	/* close_send's output cannot end the connection, so tp lives on */
	if ((tp->t_flags & TF_LINGER) && !exiting && tp->state != TCPS_CLOSED &&
	    tp->state != TCPS_FIN_WAIT_2 && tp->state != TCPS_TIME_WAIT) {
		tp->t_flags |= TF_LINGERING;
		tp->t_keep = st->now + SYNFIN_SEC(tp->linger_s);
		tcp_timer_update(st, tp);
		return -EINPROGRESS;
	}
	fd_release(st, tp);
	if (tp->state == TCPS_FIN_WAIT_2) {
		tp->t_keep = st->now + st->cfg.fin_wait_2_timeout;
		tcp_timer_update(st, tp);
	}
	tcp_maybe_free(st, tp);
	return 0;
}

int synfin_close(struct synfin_stack *st, int fd)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	return do_close(st, tp, false);
}

int synfin_set_owner(struct synfin_stack *st, int fd, unsigned owner)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	tp->owner = (uint16_t)owner;
	return 0;
}

void synfin_exit(struct synfin_stack *st, unsigned owner)
{
	for (uint32_t i = 0; i < st->nfds; i++) {
		struct tcb *tp = st->fds[i];
		if (tp && tp->owner == (uint16_t)owner) {
			/* a process that exits does not wait for SO_LINGER */
			if (do_close(st, tp, true) == -EINPROGRESS)
				do_close(st, tp, true);
		}
	}
}

/* ---- options ---- */
static int get_int(const void *val, size_t len, int *out)
{
	if (!val || len < sizeof(int))
		return -EINVAL;
	memcpy(out, val, sizeof(int));
	return 0;
}

int synfin_setsockopt(struct synfin_stack *st, int fd, int level, int name, const void *val,
		      size_t len)
{
	struct tcb *tp = fd_get(st, fd);
	int v = 0;
	if (!tp)
		return -EBADF;
	if (level == SYNFIN_SOL_SOCKET && name == SYNFIN_SO_LINGER) {
		struct synfin_linger l;
		if (!val || len < sizeof l)
			return -EINVAL;
		memcpy(&l, val, sizeof l);
		if (l.l_linger < 0)
			l.l_linger = 0;
		if (l.l_linger > 65535)
			l.l_linger = 65535;
		tp->t_flags = l.l_onoff ? tp->t_flags | TF_LINGER : tp->t_flags & ~TF_LINGER;
		tp->linger_s = (uint16_t)l.l_linger;
		return 0;
	}
	if (get_int(val, len, &v) < 0)
		return -EINVAL;
	if (level == SYNFIN_SOL_SOCKET) {
		switch (name) {
		case SYNFIN_SO_REUSEADDR:
			tp->t_flags = v ? tp->t_flags | TF_REUSEADDR : tp->t_flags & ~TF_REUSEADDR;
			return 0;
		case SYNFIN_SO_KEEPALIVE:
			tp->t_flags = v ? tp->t_flags | TF_KEEPALIVE : tp->t_flags & ~TF_KEEPALIVE;
			if (tp->state != TCPS_LISTEN && tp->state != TCPS_CLOSED) {
				tcp_keep_reset(st, tp);
				tcp_timer_update(st, tp);
			}
			return 0;
		case SYNFIN_SO_SNDBUF:
		case SYNFIN_SO_RCVBUF: {
			if (v <= 0)
				return -EINVAL;
			uint32_t b = (uint32_t)v < BUF_MIN ? BUF_MIN : (uint32_t)v > BUF_MAX ? BUF_MAX : (uint32_t)v;
			/* buffers are sized once, before they are first used */
			if (tp->state != TCPS_CLOSED && tp->state != TCPS_LISTEN)
				return -EISCONN;
			if (name == SYNFIN_SO_SNDBUF)
				tp->sndbuf = b;
			else
				tp->rcvbuf = b;
			return 0;
		}
		case SYNFIN_SO_ERROR:
			return -ENOPROTOOPT;
		default:
			return -ENOPROTOOPT;
		}
	}
	if (level == SYNFIN_SOL_TCP) {
		switch (name) {
		case SYNFIN_TCP_NODELAY:
			tp->t_flags = v ? tp->t_flags | TF_NODELAY : tp->t_flags & ~TF_NODELAY;
			if (v && TCPS_HAVEESTABLISHED(tp->state))
				tcp_output(st, tp);
			return 0;
		case SYNFIN_TCP_KEEPIDLE:
		case SYNFIN_TCP_KEEPINTVL:
			if (v < 1 || v > 32767)
				return -EINVAL;
			if (name == SYNFIN_TCP_KEEPIDLE)
				tp->keepidle_s = (uint32_t)v;
			else
				tp->keepintvl_s = (uint32_t)v;
			if (tp->state != TCPS_LISTEN && tp->state != TCPS_CLOSED) {
				tcp_keep_reset(st, tp);
				tcp_timer_update(st, tp);
			}
			return 0;
		case SYNFIN_TCP_KEEPCNT:
			if (v < 1 || v > 127)
				return -EINVAL;
			tp->keepcnt = (uint8_t)v;
			return 0;
		case SYNFIN_TCP_CONGESTION: {
			const struct cc_ops *cc = cc_get((uint8_t)v);
			if (v < 0 || v > 255 || !cc)
				return -EINVAL;
			bool change = tp->cc != (uint8_t)v;
			tp->cc = (uint8_t)v;
			tp->t_flags |= TF_CC_SET;
			if (change && tp->x) {
				/* a new algorithm starts from a clean state */
				memset(&tp->x->cc, 0, sizeof tp->x->cc);
				if (cc->init)
					cc->init(st, tp);
			}
			return 0;
		}
		default:
			return -ENOPROTOOPT;
		}
	}
	return -ENOPROTOOPT;
}

static int put_int(void *val, size_t *len, int v)
{
	if (!val || !len || *len < sizeof(int))
		return -EINVAL;
	memcpy(val, &v, sizeof v);
	*len = sizeof v;
	return 0;
}

int synfin_getsockopt(struct synfin_stack *st, int fd, int level, int name, void *val, size_t *len)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	if (level == SYNFIN_SOL_SOCKET) {
		switch (name) {
		case SYNFIN_SO_LINGER: {
			struct synfin_linger l = {(tp->t_flags & TF_LINGER) ? 1 : 0, tp->linger_s};
			if (!val || !len || *len < sizeof l)
				return -EINVAL;
			memcpy(val, &l, sizeof l);
			*len = sizeof l;
			return 0;
		}
		case SYNFIN_SO_REUSEADDR:
			return put_int(val, len, (tp->t_flags & TF_REUSEADDR) ? 1 : 0);
		case SYNFIN_SO_KEEPALIVE:
			return put_int(val, len, (tp->t_flags & TF_KEEPALIVE) ? 1 : 0);
		case SYNFIN_SO_ERROR: {
			int r = put_int(val, len, tp->so_error);
			if (r == 0)
				tp->so_error = 0;
			return r;
		}
		case SYNFIN_SO_SNDBUF:
			return put_int(val, len, (int)tp->sndbuf);
		case SYNFIN_SO_RCVBUF:
			return put_int(val, len, (int)tp->rcvbuf);
		default:
			return -ENOPROTOOPT;
		}
	}
	if (level == SYNFIN_SOL_TCP) {
		switch (name) {
		case SYNFIN_TCP_NODELAY:
			return put_int(val, len, (tp->t_flags & TF_NODELAY) ? 1 : 0);
		case SYNFIN_TCP_MAXSEG:
			return put_int(val, len, tp->state == TCPS_CLOSED || tp->state == TCPS_LISTEN
							 ? (int)(st->cfg.mtu - 40)
							 : (int)tcp_effective_mss(tp));
		case SYNFIN_TCP_KEEPIDLE:
			return put_int(val, len, (int)(tcp_keepidle(st, tp) / SYNFIN_US_PER_S));
		case SYNFIN_TCP_KEEPINTVL:
			return put_int(val, len, (int)(tcp_keepintvl(st, tp) / SYNFIN_US_PER_S));
		case SYNFIN_TCP_KEEPCNT:
			return put_int(val, len, (int)tcp_keepcnt(st, tp));
		case SYNFIN_TCP_CONGESTION:
			return put_int(val, len, tp->cc);
		default:
			return -ENOPROTOOPT;
		}
	}
	return -ENOPROTOOPT;
}

int synfin_getsockname(struct synfin_stack *st, int fd, struct synfin_addr *a)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	if (!a)
		return -EFAULT;
	a->ip = (tp->t_flags & TF_BOUND) || tp->faddr ? st->ip : 0;
	a->port = tp->lport;
	return 0;
}

int synfin_getpeername(struct synfin_stack *st, int fd, struct synfin_addr *a)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	if (!a)
		return -EFAULT;
	if (!tp->faddr || tp->state == TCPS_CLOSED || tp->state == TCPS_LISTEN)
		return -ENOTCONN;
	a->ip = tp->faddr;
	a->port = tp->fport;
	return 0;
}

unsigned synfin_events(struct synfin_stack *st, int fd)
{
	struct tcb *tp = fd_get(st, fd);
	unsigned ev = 0;
	if (!tp)
		return SYNFIN_EV_ERR;
	if (tp->state == TCPS_LISTEN)
		return tp->u.lq->acc_head ? SYNFIN_EV_IN : 0;
	if (tp->so_error)
		ev |= SYNFIN_EV_ERR;
	bool was_connected = tp->faddr != 0;
	if ((tp->u.b.rcv && tp->u.b.rcv->len) || (tp->t_flags & (TF_EOF | TF_RCV_SHUT)) ||
	    (tp->state == TCPS_CLOSED && was_connected))
		ev |= SYNFIN_EV_IN;
	if (tp->t_flags & TF_EOF)
		ev |= SYNFIN_EV_RDHUP;
	if ((tp->state == TCPS_ESTABLISHED || tp->state == TCPS_CLOSE_WAIT) &&
	    !(tp->t_flags & TF_FIN_QUEUED) &&
	    (!tp->u.b.snd || tp->u.b.snd->len + tcp_snd_hold(st, tp->u.b.snd) < tp->u.b.snd->cap))
		ev |= SYNFIN_EV_OUT;
	if (tp->state == TCPS_CLOSED && was_connected)
		ev |= SYNFIN_EV_OUT | SYNFIN_EV_HUP;
	if ((tp->t_flags & TF_EOF) && (tp->t_flags & TF_FIN_QUEUED))
		ev |= SYNFIN_EV_HUP;
	if ((tp->t_flags & TF_USER_CLOSED) && !(tp->t_flags & TF_LINGERING))
		ev |= SYNFIN_EV_CLOSED;
	return ev;
}

int synfin_state(struct synfin_stack *st, int fd)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	if (tp->state == TCPS_CLOSED && (tp->t_flags & TF_WENT_TW) &&
	    tw_lookup(st, tp->laddr, tp->lport, tp->faddr, tp->fport))
		return TCPS_TIME_WAIT;
	return tp->state;
}

int synfin_tuple_state(const struct synfin_stack *st, uint16_t lport, uint32_t faddr, uint16_t fport)
{
	const struct tcb *tp = tcp_lookup(st, st->ip, lport, faddr, fport);
	if (tp)
		return tp->state;
	return tw_lookup(st, st->ip, lport, faddr, fport) ? TCPS_TIME_WAIT : TCPS_CLOSED;
}

int synfin_tcp_info(struct synfin_stack *st, int fd, struct synfin_tcp_info *info)
{
	struct tcb *tp = fd_get(st, fd);
	if (!tp)
		return -EBADF;
	if (!info)
		return -EFAULT;
	memset(info, 0, sizeof *info);
	info->state = (uint8_t)synfin_state(st, fd);
	if (tp->state == TCPS_LISTEN)
		return 0;
	const struct tcb_ext *x = tp->x;
	info->ca_state = x ? x->ca_state : CA_OPEN;
	info->snd_wscale = tp->snd_scale;
	info->rcv_wscale = tp->rcv_scale;
	info->sack = (tp->t_flags & TF_SACK_PERMIT) != 0;
	info->timestamps = (tp->t_flags & TF_RCVD_TSTMP) != 0;
	info->congestion = tp->cc;
	info->mss = tcp_effective_mss(tp);
	info->cwnd = tp->cwnd;
	info->ssthresh = tp->ssthresh;
	info->srtt_us = tp->srtt;
	info->rttvar_us = tp->rttvar;
	info->rto_us = tp->rto;
	info->in_flight = tcp_pipe(tp);
	info->snd_wnd = tp->snd_wnd;
	info->rcv_wnd = tcp_rcv_space(tp);
	if (x) {
		info->bytes_acked = x->bytes_acked;
		info->bytes_received = x->bytes_received;
		info->segs_out = x->segs_out;
		info->retrans_segs = x->retrans_segs;
		info->fast_retrans = x->fast_retrans;
		info->rto_count = x->rto_count;
	}
	return 0;
}
