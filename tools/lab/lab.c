/* synfin-lab's framework: the network, the checks, the socket helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"
#include "wire/wire.h"

static int host_index(const struct lab *lab, const struct sim_host *h)
{
	for (int i = 0; i < lab->nhosts; i++)
		if (lab->h[i] == h)
			return i;
	return -1;
}

/* Every datagram passes here when sent: it is logged, and the scenario's
 * own drop rule is asked. */
static bool lab_filter(void *ctx, const struct sim_host *from, const uint8_t *pkt, size_t len)
{
	struct lab *lab = ctx;
	struct ip4_view ip;
	struct tcp_seg seg;
	if (ip4_parse(pkt, len, &ip) != WIRE_OK || ip.proto != IPPROTO_TCP_ ||
	    tcp_parse(&ip, &seg) != WIRE_OK)
		return false;
	struct lab_seg s = {
		.t = sim_now(lab->sim),
		.from = host_index(lab, from),
		.flags = seg.flags,
		.seq = seg.seq,
		.ack = seg.ack,
		.len = seg.len,
		.has_ts = (seg.opt.has & TOF_TS) != 0,
		.tsval = seg.opt.tsval,
	};
	if (lab->drop && lab->drop(lab, s.from, &s)) {
		s.dropped = true;
		lab->drop_count++;
	}
	if (lab->nsegs < LAB_MAX_SEGS)
		lab->segs[lab->nsegs++] = s;
	return s.dropped;
}

static void lab_state_hook(void *ctx, struct sim_host *h, const struct synfin_state_event *ev)
{
	struct lab *lab = ctx;
	(void)h;
	(void)ev;
	lab->state_events++;
}

void lab_setup(struct lab *lab, int n, const struct synfin_config *cfg)
{
	static const char *const names[LAB_MAX_HOSTS] = {"server", "client", "other", "fourth"};
	static const uint32_t ips[LAB_MAX_HOSTS] = {LAB_SERVER_IP, LAB_CLIENT_IP, LAB_OTHER_IP,
						    0xC6120004u};
	struct synfin_config c;
	struct sim_link l;
	if (cfg)
		c = *cfg;
	else
		synfin_config_default(&c);
	lab->sim = sim_create(lab->o->seed, &c);
	sim_link_default(&l);
	l.delay = lab->o->delay;
	l.loss = lab->o->loss;
	l.dup = lab->o->dup;
	l.reorder = lab->o->reorder;
	sim_set_default_link(lab->sim, &l);
	for (int i = 0; i < n && i < LAB_MAX_HOSTS; i++)
		lab->h[i] = sim_add_host(lab->sim, names[i], ips[i], NULL);
	lab->nhosts = n;
	sim_set_filter(lab->sim, lab_filter, lab);
	sim_set_state_hook(lab->sim, lab_state_hook, lab);
	if (lab->out)
		sim_set_trace(lab->sim, lab->out, SIM_TRACE_SEGMENTS | SIM_TRACE_STATES);
	if (lab->o->pcap && sim_set_pcap(lab->sim, lab->o->pcap) < 0)
		lab_fail(lab, __FILE__, __LINE__, "cannot write pcap file %s", lab->o->pcap);
}

struct synfin_stack *lab_st(struct lab *lab, int host)
{
	return sim_stack(lab->h[host]);
}

synfin_time_t lab_now(struct lab *lab)
{
	return sim_now(lab->sim);
}

bool lab_clean(const struct lab *lab)
{
	return lab->o->loss == 0 && lab->o->dup == 0 && lab->o->reorder == 0;
}

static void print_time(struct lab *lab)
{
	synfin_time_t t = lab_now(lab);
	fprintf(lab->out, "%llu.%06llu", (unsigned long long)(t / SYNFIN_US_PER_S),
		(unsigned long long)(t % SYNFIN_US_PER_S));
}

void lab_note(struct lab *lab, const char *fmt, ...)
{
	if (!lab->out)
		return;
	va_list ap;
	print_time(lab);
	fputs(" # ", lab->out);
	va_start(ap, fmt);
	vfprintf(lab->out, fmt, ap);
	va_end(ap);
	fputc('\n', lab->out);
}

void lab_netstat(struct lab *lab, int host)
{
	if (!lab->out)
		return;
	char buf[8192];
	struct synfin_stack *st = lab_st(lab, host);
	if (!st)
		return;
	size_t n = synfin_netstat(st, buf, sizeof buf);
	print_time(lab);
	fprintf(lab->out, " # netstat on %s:\n%s", sim_host_name(lab->h[host]), buf);
	if (n >= sizeof buf)
		fprintf(lab->out, "   (table truncated)\n");
}

void lab_fail(struct lab *lab, const char *file, int line, const char *fmt, ...)
{
	if (lab->failed)
		return;
	lab->failed = true;
	va_list ap;
	int n = snprintf(lab->why, sizeof lab->why, "at %llu.%06llu s (%s:%d): ",
			 (unsigned long long)(lab_now(lab) / SYNFIN_US_PER_S),
			 (unsigned long long)(lab_now(lab) % SYNFIN_US_PER_S), file, line);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof lab->why)
		vsnprintf(lab->why + n, sizeof lab->why - (size_t)n, fmt, ap);
	va_end(ap);
}

void lab_run_for(struct lab *lab, synfin_time_t d)
{
	sim_run_for(lab->sim, d);
}

struct wait_ctx {
	struct lab *lab;
	bool (*cond)(struct lab *lab, void *ctx);
	void *ctx;
};

static bool wait_tramp(void *p)
{
	struct wait_ctx *w = p;
	return w->cond(w->lab, w->ctx);
}

bool lab_wait(struct lab *lab, bool (*cond)(struct lab *lab, void *ctx), void *ctx,
	      synfin_time_t limit)
{
	struct wait_ctx w = {lab, cond, ctx};
	if (cond(lab, ctx))
		return true;
	return sim_run_until_cond(lab->sim, wait_tramp, &w, lab_now(lab) + limit);
}

struct fd_ctx {
	int host, fd, state;
	unsigned mask;
	uint16_t lport, fport;
	uint32_t faddr;
};

static bool state_reached(struct lab *lab, void *p)
{
	struct fd_ctx *c = p;
	struct synfin_stack *st = lab_st(lab, c->host);
	return st && synfin_state(st, c->fd) == c->state;
}

bool lab_wait_state(struct lab *lab, int host, int fd, int state, synfin_time_t limit)
{
	struct fd_ctx c = {.host = host, .fd = fd, .state = state};
	return lab_wait(lab, state_reached, &c, limit);
}

static bool events_seen(struct lab *lab, void *p)
{
	struct fd_ctx *c = p;
	struct synfin_stack *st = lab_st(lab, c->host);
	return st && (synfin_events(st, c->fd) & c->mask);
}

unsigned lab_wait_events(struct lab *lab, int host, int fd, unsigned mask, synfin_time_t limit)
{
	struct fd_ctx c = {.host = host, .fd = fd, .mask = mask};
	lab_wait(lab, events_seen, &c, limit);
	struct synfin_stack *st = lab_st(lab, host);
	return st ? synfin_events(st, fd) : 0;
}

int lab_tuple_state(struct lab *lab, int host, uint16_t lport, uint32_t faddr, uint16_t fport)
{
	struct synfin_stack *st = lab_st(lab, host);
	return st ? synfin_tuple_state(st, lport, faddr, fport) : TCPS_CLOSED;
}

static bool tuple_gone(struct lab *lab, void *p)
{
	struct fd_ctx *c = p;
	return lab_tuple_state(lab, c->host, c->lport, c->faddr, c->fport) == TCPS_CLOSED;
}

bool lab_wait_gone(struct lab *lab, int host, uint16_t lport, uint32_t faddr, uint16_t fport,
		   synfin_time_t limit)
{
	struct fd_ctx c = {.host = host, .lport = lport, .faddr = faddr, .fport = fport};
	return lab_wait(lab, tuple_gone, &c, limit);
}

int lab_listen(struct lab *lab, int host, uint16_t port, int backlog, bool reuseaddr)
{
	struct synfin_stack *st = lab_st(lab, host);
	int fd = synfin_socket(st);
	if (fd < 0) {
		lab_fail(lab, __FILE__, __LINE__, "socket: %s", lab_errname(fd));
		return -1;
	}
	if (reuseaddr)
		lab_set_int(lab, host, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_REUSEADDR, 1);
	struct synfin_addr a = {0, port};
	int r = synfin_bind(st, fd, &a);
	if (r == 0)
		r = synfin_listen(st, fd, backlog);
	if (r < 0) {
		lab_fail(lab, __FILE__, __LINE__, "bind/listen port %u: %s", port, lab_errname(r));
		synfin_close(st, fd);
		return -1;
	}
	return fd;
}

int lab_connect(struct lab *lab, int host, uint16_t lport, uint32_t ip, uint16_t port)
{
	struct synfin_stack *st = lab_st(lab, host);
	int fd = synfin_socket(st);
	if (fd < 0) {
		lab_fail(lab, __FILE__, __LINE__, "socket: %s", lab_errname(fd));
		return -1;
	}
	if (lport) {
		struct synfin_addr a = {0, lport};
		int r = synfin_bind(st, fd, &a);
		if (r < 0) {
			lab_fail(lab, __FILE__, __LINE__, "bind %u: %s", lport, lab_errname(r));
			synfin_close(st, fd);
			return -1;
		}
	}
	struct synfin_addr to = {ip, port};
	int r = synfin_connect(st, fd, &to);
	if (r != -EINPROGRESS) {
		lab_fail(lab, __FILE__, __LINE__, "connect: %s", lab_errname(r));
		synfin_close(st, fd);
		return -1;
	}
	return fd;
}

int lab_accept(struct lab *lab, int host, int lfd, synfin_time_t limit)
{
	lab_wait_events(lab, host, lfd, SYNFIN_EV_IN, limit);
	struct synfin_addr peer;
	int fd = synfin_accept(lab_st(lab, host), lfd, &peer);
	if (fd < 0)
		lab_fail(lab, __FILE__, __LINE__, "accept: %s", lab_errname(fd));
	return fd;
}

bool lab_send_str(struct lab *lab, int host, int fd, const char *s)
{
	size_t n = strlen(s);
	long r = synfin_send(lab_st(lab, host), fd, s, n);
	if (r != (long)n) {
		lab_fail(lab, __FILE__, __LINE__, "send: %ld (%s)", r, r < 0 ? lab_errname((int)r) : "short");
		return false;
	}
	return true;
}

long lab_recv_str(struct lab *lab, int host, int fd, char *buf, size_t cap)
{
	long r = synfin_recv(lab_st(lab, host), fd, buf, cap - 1);
	buf[r > 0 ? r : 0] = 0;
	return r;
}

struct read_ctx {
	int host, fd;
	char *buf;
	size_t want, got;
	long last;
};

static bool read_more(struct lab *lab, void *p)
{
	struct read_ctx *c = p;
	while (c->got < c->want) {
		long r = synfin_recv(lab_st(lab, c->host), c->fd, c->buf + c->got, c->want - c->got);
		c->last = r;
		if (r <= 0)
			return r != -EAGAIN;
		c->got += (size_t)r;
	}
	return true;
}

long lab_read_n(struct lab *lab, int host, int fd, char *buf, size_t n, synfin_time_t limit)
{
	struct read_ctx c = {host, fd, buf, n, 0, 0};
	lab_wait(lab, read_more, &c, limit);
	return c.got == n ? (long)n : (c.last < 0 && c.last != -EAGAIN ? c.last : (long)c.got);
}

static bool eof_seen(struct lab *lab, void *p)
{
	struct read_ctx *c = p;
	char tmp[512];
	long r;
	while ((r = synfin_recv(lab_st(lab, c->host), c->fd, tmp, sizeof tmp)) > 0)
		c->got += (size_t)r;
	c->last = r;
	return r != -EAGAIN;
}

long lab_wait_eof(struct lab *lab, int host, int fd, synfin_time_t limit)
{
	struct read_ctx c = {host, fd, NULL, 0, 0, -EAGAIN};
	lab_wait(lab, eof_seen, &c, limit);
	return c.last;
}

void lab_set_int(struct lab *lab, int host, int fd, int level, int name, int v)
{
	int r = synfin_setsockopt(lab_st(lab, host), fd, level, name, &v, sizeof v);
	if (r < 0)
		lab_fail(lab, __FILE__, __LINE__, "setsockopt %d/%d: %s", level, name, lab_errname(r));
}

void lab_set_linger(struct lab *lab, int host, int fd, int on, int secs)
{
	struct synfin_linger l = {on, secs};
	int r = synfin_setsockopt(lab_st(lab, host), fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_LINGER, &l, sizeof l);
	if (r < 0)
		lab_fail(lab, __FILE__, __LINE__, "SO_LINGER: %s", lab_errname(r));
}

int lab_so_error(struct lab *lab, int host, int fd)
{
	int v = 0;
	size_t len = sizeof v;
	synfin_getsockopt(lab_st(lab, host), fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_ERROR, &v, &len);
	return v;
}

static bool seg_match(const struct lab_seg *s, int from, uint8_t with, uint8_t without)
{
	return (from < 0 || s->from == from) && (s->flags & with) == with && !(s->flags & without);
}

int lab_count(struct lab *lab, int from, uint8_t with, uint8_t without, int since)
{
	int n = 0;
	for (int i = since < 0 ? 0 : since; i < lab->nsegs; i++)
		n += seg_match(&lab->segs[i], from, with, without);
	return n;
}

int lab_find(struct lab *lab, int from, uint8_t with, uint8_t without, int since)
{
	for (int i = since < 0 ? 0 : since; i < lab->nsegs; i++)
		if (seg_match(&lab->segs[i], from, with, without))
			return i;
	return -1;
}

const char *lab_errname(int err)
{
	static const struct {
		int e;
		const char *n;
	} names[] = {
		{ECONNREFUSED, "ECONNREFUSED"}, {ECONNRESET, "ECONNRESET"}, {ETIMEDOUT, "ETIMEDOUT"},
		{EADDRINUSE, "EADDRINUSE"},     {EPIPE, "EPIPE"},           {ENOTCONN, "ENOTCONN"},
		{EISCONN, "EISCONN"},           {EALREADY, "EALREADY"},     {EINPROGRESS, "EINPROGRESS"},
		{EAGAIN, "EAGAIN"},             {EINVAL, "EINVAL"},         {EBADF, "EBADF"},
		{ECONNABORTED, "ECONNABORTED"}, {EADDRNOTAVAIL, "EADDRNOTAVAIL"}, {ENOMEM, "ENOMEM"},
	};
	if (err < 0)
		err = -err;
	if (err == 0)
		return "0";
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].e == err)
			return names[i].n;
	return strerror(err);
}

#define PAIR_LIMIT SYNFIN_SEC(600)

bool lab_pair(struct lab *lab, uint16_t port, uint16_t lport, int *l, int *c, int *s)
{
	if (*l < 0)
		*l = lab_listen(lab, SERVER, port, 5, false);
	if (*l < 0)
		return false;
	*c = lab_connect(lab, CLIENT, lport, LAB_SERVER_IP, port);
	if (*c < 0)
		return false;
	if (!lab_wait_state(lab, CLIENT, *c, TCPS_ESTABLISHED, PAIR_LIMIT)) {
		lab_fail(lab, __FILE__, __LINE__, "client never ESTABLISHED");
		return false;
	}
	*s = lab_accept(lab, SERVER, *l, PAIR_LIMIT);
	if (*s < 0)
		return false;
	if (!lab_wait_state(lab, SERVER, *s, TCPS_ESTABLISHED, PAIR_LIMIT)) {
		lab_fail(lab, __FILE__, __LINE__, "server side never ESTABLISHED");
		return false;
	}
	return true;
}

bool lab_line(struct lab *lab, int from, int ffd, int to, int tfd, const char *text)
{
	char buf[128];
	size_t n = strlen(text);
	if (n > sizeof buf) {
		lab_fail(lab, __FILE__, __LINE__, "line too long for lab_line");
		return false;
	}
	if (!lab_send_str(lab, from, ffd, text))
		return false;
	if (lab_read_n(lab, to, tfd, buf, n, PAIR_LIMIT) != (long)n || memcmp(buf, text, n)) {
		lab_fail(lab, __FILE__, __LINE__, "the line \"%.*s\" did not arrive intact",
			 (int)(n ? n - 1 : 0), text);
		return false;
	}
	return true;
}

uint16_t lab_local_port(struct lab *lab, int host, int fd)
{
	struct synfin_addr a = {0, 0};
	synfin_getsockname(lab_st(lab, host), fd, &a);
	return a.port;
}

bool lab_parse_prob(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.0 && v <= 1.0))
		return false;
	*out = v;
	return true;
}
