/*
 * synfin's side of every figure: stacks in this process joined by the
 * zero-delay link of link.c, driven through the public socket API.
 *
 * Time is virtual. A connection cycle takes no virtual time except one step
 * after it of 2MSL/TW_LIVE, so TIME_WAIT records expire as fast as cycles
 * make them and about TW_LIVE of them are alive at any moment: each cycle
 * pays for creating and for expiring its record, and the client's
 * ephemeral ports never run out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define SRV 0
#define CLI 1
#define CYCLE_PORT 80
#define POP_PORT0 10000
#define POP_PER_PORT 16384 /* of the 28232 ephemeral ports per server port */
#define MSG 64
#define BATCH 512
#define SPREAD SYNFIN_SEC(100) /* population connections are opened over this */

#define EXPECT(cond, ...)                                                       \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "synfin-bench: %s:%d: ", __func__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                           \
			fprintf(stderr, "\n");                                  \
			return -1;                                              \
		}                                                               \
	} while (0)

#define DRAIN(net) EXPECT(net_drain(net), "the link did not go quiet")

static const uint8_t request[MSG] = "GET / request of sixty-four bytes, padded.....................";
static const uint8_t reply[MSG] = "200 reply of sixty-four bytes, padded..........................";

static synfin_time_t cycle_step(const struct net *net)
{
	return 2 * synfin_stack_config(net->st[CLI])->msl / TW_LIVE;
}

static int listen_on(struct net *net, int idx, uint16_t port, int backlog, bool keepalive)
{
	struct synfin_stack *st = net->st[idx];
	int one = 1;
	int fd = synfin_socket(st);
	EXPECT(fd >= 0, "socket: %d", fd);
	if (keepalive)
		EXPECT(synfin_setsockopt(st, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_KEEPALIVE, &one, sizeof one) == 0,
		       "SO_KEEPALIVE");
	int r = synfin_bind(st, fd, &(struct synfin_addr){0, port});
	EXPECT(r == 0, "bind %u: %d", port, r);
	r = synfin_listen(st, fd, backlog);
	EXPECT(r == 0, "listen %u: %d", port, r);
	return fd;
}

/* socket, connect, accept, a 64-byte request, a 64-byte reply, close by the
 * client (TIME_WAIT on its side), close by the server. */
static int one_cycle(struct net *net, int lfd, uint16_t port)
{
	struct synfin_stack *s = net->st[SRV], *c = net->st[CLI];
	uint8_t buf[MSG];
	long n;
	int r;

	int cfd = synfin_socket(c);
	EXPECT(cfd >= 0, "socket: %d", cfd);
	r = synfin_connect(c, cfd, &(struct synfin_addr){net_ip(net, SRV), port});
	EXPECT(r == -EINPROGRESS, "connect: %d", r);
	DRAIN(net);
	int sfd = synfin_accept(s, lfd, NULL);
	EXPECT(sfd >= 0, "accept: %d", sfd);
	n = synfin_send(c, cfd, request, MSG);
	EXPECT(n == MSG, "client send: %ld", n);
	DRAIN(net);
	n = synfin_recv(s, sfd, buf, MSG);
	EXPECT(n == MSG, "server recv: %ld", n);
	n = synfin_send(s, sfd, reply, MSG);
	EXPECT(n == MSG, "server send: %ld", n);
	DRAIN(net);
	n = synfin_recv(c, cfd, buf, MSG);
	EXPECT(n == MSG, "client recv: %ld", n);
	r = synfin_close(c, cfd);
	EXPECT(r == 0, "client close: %d", r);
	DRAIN(net);
	n = synfin_recv(s, sfd, buf, MSG);
	EXPECT(n == 0, "server recv at EOF: %ld", n);
	r = synfin_close(s, sfd);
	EXPECT(r == 0, "server close: %d", r);
	DRAIN(net);
	return 0;
}

static int run_cycles(struct net *net, int lfd, uint16_t port, uint64_t count)
{
	synfin_time_t step = cycle_step(net);
	for (uint64_t i = 0; i < count; i++) {
		if (one_cycle(net, lfd, port) < 0)
			return -1;
		EXPECT(net_advance(net, net->now + step), "timers did not settle");
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_batches(double *v, size_t n, struct batch_times *out)
{
	out->batches = n;
	out->median = bench_median(v, n);
	out->fast = n ? v[(size_t)(CYCLE_QUANTILE * (double)(n - 1))] : 0;
}

/* Timed batches of 1000 cycles (about 1 ms) until min_s has passed (at
 * most max cycles); bench.h says which batch gives the figure. */
#define CYCLE_BATCH 1000
#define MAX_BATCHES 100000
static int timed_cycles(struct net *net, int lfd, double min_s, uint64_t max, uint64_t *done,
			struct batch_times *bt)
{
	static double per[MAX_BATCHES];
	size_t nb = 0;
	uint64_t n = 0;
	double t0 = bench_now_s(), t = t0;
	while (n < max && nb < MAX_BATCHES && (t - t0 < min_s || n == 0)) {
		uint64_t b = max - n < CYCLE_BATCH ? max - n : CYCLE_BATCH;
		double tb = bench_now_s();
		if (run_cycles(net, lfd, CYCLE_PORT, b) < 0)
			return -1;
		n += b;
		t = bench_now_s();
		per[nb++] = (t - tb) / (double)b;
	}
	*done = n;
	bench_batches(per, nb, bt);
	return 0;
}

static struct net *pair(uint64_t seed, const struct synfin_config *srv, const struct synfin_config *cli)
{
	const struct synfin_config *cfg[2] = {srv, cli};
	struct net *net = net_create(2, cfg, seed);
	if (!net)
		fprintf(stderr, "synfin-bench: cannot create the stacks\n");
	return net;
}

static int check_cycle_stats(struct net *net, uint64_t cycles)
{
	const struct synfin_stats *c = synfin_get_stats(net->st[CLI]);
	const struct synfin_stats *s = synfin_get_stats(net->st[SRV]);
	EXPECT(c->tw_created >= cycles, "TIME_WAIT records %llu for %llu cycles",
	       (unsigned long long)c->tw_created, (unsigned long long)cycles);
	EXPECT(s->rexmits == 0 && c->rexmits == 0 && s->syn_rexmits == 0 && c->syn_rexmits == 0,
	       "retransmissions on a lossless link");
	EXPECT(s->rst_out == 0 && c->rst_out == 0, "resets on clean cycles");
	return 0;
}

int sf_measure_cycles(double min_s, uint64_t warmup, struct sf_cycles *out)
{
	struct net *net = pair(1, NULL, NULL);
	if (!net)
		return -1;
	int rc = -1;
	int lfd = listen_on(net, SRV, CYCLE_PORT, 4096, false);
	if (lfd < 0 || run_cycles(net, lfd, CYCLE_PORT, warmup) < 0)
		goto out;
	uint64_t p0 = net->pkts, n;
	struct batch_times bt;
	if (timed_cycles(net, lfd, min_s, 50000000, &n, &bt) < 0)
		goto out;
	out->cycles = n;
	out->warmup = warmup;
	out->cycles_per_s = 1 / bt.fast;
	out->cycles_per_s_median = 1 / bt.median;
	out->ns_per_cycle = bt.fast * 1e9;
	out->batches = bt.batches;
	out->pkts_per_cycle = (double)(net->pkts - p0) / (double)n;
	rc = check_cycle_stats(net, warmup + n);
out:
	net_destroy(net, false);
	return rc;
}

int sf_run_cycles_fixed(uint64_t warmup, uint64_t count)
{
	struct net *net = pair(1, NULL, NULL);
	if (!net)
		return -1;
	int lfd = listen_on(net, SRV, CYCLE_PORT, 4096, false);
	int rc = lfd < 0 ? -1 : run_cycles(net, lfd, CYCLE_PORT, warmup + count);
	net_destroy(net, false);
	return rc;
}

/* ---- bulk ---- */
#define PAT ((size_t)1 << 16)
#define RBUF ((size_t)1 << 18)

int sf_measure_bulk(uint64_t total, uint32_t mtu, uint32_t bufsz, bool check_all, struct sf_bulk *out)
{
	struct synfin_config cfg;
	synfin_config_default(&cfg);
	cfg.mtu = mtu;
	cfg.sndbuf = bufsz;
	cfg.rcvbuf = bufsz;
	struct net *net = pair(2, &cfg, &cfg);
	if (!net)
		return -1;
	int rc = -1;
	uint8_t *pattern = malloc(PAT), *rbuf = malloc(RBUF);
	struct synfin_stack *s = net->st[SRV], *c = net->st[CLI];
	if (!pattern || !rbuf)
		goto out;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < PAT; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		pattern[i] = (uint8_t)x;
	}
	int lfd = listen_on(net, SRV, CYCLE_PORT, 16, false);
	if (lfd < 0)
		goto out;
	int cfd = synfin_socket(c);
	if (cfd < 0 || synfin_connect(c, cfd, &(struct synfin_addr){net_ip(net, SRV), CYCLE_PORT}) != -EINPROGRESS ||
	    !net_drain(net))
		goto out;
	int sfd = synfin_accept(s, lfd, NULL);
	if (sfd < 0)
		goto out;

	uint64_t sent = 0, got = 0, stalls = 0, segs0 = synfin_get_stats(s)->tcp_in;
	double t0 = bench_now_s();
	while (got < total) {
		bool progress = false;
		while (sent < total) {
			size_t off = (size_t)(sent % PAT), len = PAT - off;
			if (len > total - sent)
				len = (size_t)(total - sent);
			long k = synfin_send(c, cfd, pattern + off, len);
			if (k == -EAGAIN)
				break;
			if (k <= 0) {
				fprintf(stderr, "synfin-bench: bulk send: %ld\n", k);
				goto out;
			}
			sent += (uint64_t)k;
			progress = true;
		}
		if (!net_drain(net))
			goto out;
		for (;;) {
			long k = synfin_recv(s, sfd, rbuf, RBUF);
			if (k == -EAGAIN)
				break;
			if (k <= 0) {
				fprintf(stderr, "synfin-bench: bulk recv: %ld\n", k);
				goto out;
			}
			bool same = rbuf[0] == pattern[got % PAT] && rbuf[k - 1] == pattern[(got + (uint64_t)k - 1) % PAT];
			for (long j = 0; check_all && same && j < k; j++)
				same = rbuf[j] == pattern[(got + (uint64_t)j) % PAT];
			if (!same) {
				fprintf(stderr, "synfin-bench: bulk data differs at byte %llu\n",
					(unsigned long long)got);
				goto out;
			}
			got += (uint64_t)k;
			progress = true;
		}
		if (!net_drain(net))
			goto out;
		if (!progress) {
			/* Only a timer can move things now: jump to it. */
			synfin_time_t d = synfin_next_deadline(s), dc = synfin_next_deadline(c);
			if (dc < d)
				d = dc;
			if (d == SYNFIN_TIME_NEVER || ++stalls > 100000 || !net_advance(net, d)) {
				fprintf(stderr, "synfin-bench: bulk transfer stalled at %llu bytes\n",
					(unsigned long long)got);
				goto out;
			}
		}
	}
	double secs = bench_now_s() - t0;
	out->bytes = got;
	out->seconds = secs;
	out->mib_per_s = (double)got / (1 << 20) / secs;
	out->mtu = mtu;
	out->buf = bufsz;
	out->segments = synfin_get_stats(s)->tcp_in - segs0;
	out->stalls = stalls;
	rc = 0;
out:
	free(pattern);
	free(rbuf);
	net_destroy(net, false);
	return rc;
}

/* ---- populations of established idle connections ---- */
static int open_listeners(struct net *net, int *lfd, int nl, bool keepalive)
{
	for (int i = 0; i < nl; i++)
		if ((lfd[i] = listen_on(net, SRV, (uint16_t)(POP_PORT0 + i), 4096, keepalive)) < 0)
			return -1;
	return 0;
}

static int nlisteners(uint32_t n)
{
	return (int)(n / POP_PER_PORT + 1);
}

/* n connections from CLI to the listeners, round robin, BATCH at a time,
 * all accepted; the clock moves `spread` over the whole build. */
static int build_population(struct net *net, const int *lfd, int nl, uint32_t n, int *cfd, int *sfd,
			    synfin_time_t spread)
{
	struct synfin_stack *s = net->st[SRV], *c = net->st[CLI];
	uint32_t made = 0, acc = 0;
	synfin_time_t t0 = net->now;
	while (made < n) {
		uint32_t b = n - made < BATCH ? n - made : BATCH;
		for (uint32_t k = 0; k < b; k++) {
			int fd = synfin_socket(c);
			EXPECT(fd >= 0, "socket %u: %d", made, fd);
			int r = synfin_connect(c, fd, &(struct synfin_addr){net_ip(net, SRV), (uint16_t)(POP_PORT0 + made % (uint32_t)nl)});
			EXPECT(r == -EINPROGRESS, "connect %u: %d", made, r);
			cfd[made++] = fd;
		}
		DRAIN(net);
		/* accept queues are FIFO: accepting in connect order pairs
		 * sfd[i] with cfd[i] */
		for (; acc < made; acc++) {
			int fd = synfin_accept(s, lfd[acc % (uint32_t)nl], NULL);
			EXPECT(fd >= 0, "accept %u: %d", acc, fd);
			sfd[acc] = fd;
		}
		if (spread)
			EXPECT(net_advance(net, t0 + spread * made / n), "timers did not settle");
	}
	EXPECT(acc == n, "%u of %u connections accepted", acc, n);
	EXPECT(synfin_state(c, cfd[0]) == TCPS_ESTABLISHED && synfin_state(c, cfd[n - 1]) == TCPS_ESTABLISHED &&
	       synfin_state(s, sfd[0]) == TCPS_ESTABLISHED && synfin_state(s, sfd[n - 1]) == TCPS_ESTABLISHED,
	       "population not established");
	return 0;
}

/* "224 B x 100000, 24 B x 28232, tables 2.1 MiB": the sizes that grew by at
 * least a tenth of an object per item, largest first. */
static void mem_detail(const struct memacct *after, const struct memacct *before, uint32_t n, char *buf,
		       size_t cap)
{
	size_t len = 0;
	buf[0] = 0;
	for (int pass = 0; pass < 3; pass++) {
		for (int c = MEM_SMALL_MAX / 8; c >= 1; c--) {
			int64_t d = after->by_size[c] - before->by_size[c];
			/* pass 0: one or more per item, 1: a tenth or more, 2: none listed */
			bool take = pass == 0 ? d >= (int64_t)n : pass == 1 ? d * 10 >= (int64_t)n && d < (int64_t)n : false;
			if (!take || len + 40 > cap)
				continue;
			len += (size_t)snprintf(buf + len, cap - len, "%s%d B x %lld", len ? ", " : "", c * 8,
						(long long)d);
		}
	}
	int64_t large = after->large_bytes - before->large_bytes;
	int64_t small_rest = after->live_bytes - before->live_bytes - large;
	for (int c = 1; c <= MEM_SMALL_MAX / 8; c++) {
		int64_t d = after->by_size[c] - before->by_size[c];
		if (d * 10 >= (int64_t)n)
			small_rest -= d * c * 8;
	}
	if (len + 60 < cap)
		snprintf(buf + len, cap - len, "%stables %.2f MiB%s", len ? ", " : "", (double)large / (1 << 20),
			 small_rest > 0 ? " + small objects" : "");
}

static double per_item(const struct memacct *after, const struct memacct *before, uint32_t n)
{
	return (double)(after->live_bytes - before->live_bytes) / (double)n;
}

/* A SYN as a Linux client sends it: MSS, SACK permitted, timestamps,
 * window scale. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static size_t build_syn(uint8_t *p, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq,
			uint32_t tsval)
{
	const size_t iph = 20, tcph = 40, total = iph + tcph;
	memset(p, 0, total);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)total);
	put16(p + 6, 0x4000);
	p[8] = 64;
	p[9] = 6;
	put32(p + 12, src);
	put32(p + 16, dst);
	put16(p + 10, fold(sum16(p, iph, 0)));
	uint8_t *t = p + iph;
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	t[12] = (uint8_t)((tcph / 4) << 4);
	t[13] = 0x02; /* SYN */
	put16(t + 14, 65535);
	uint8_t *o = t + 20;
	o[0] = 2, o[1] = 4, put16(o + 2, 1460);
	o[4] = 4, o[5] = 2;
	o[6] = 8, o[7] = 10, put32(o + 8, tsval), put32(o + 12, 0);
	o[16] = 1, o[17] = 3, o[18] = 3, o[19] = 7;
	uint32_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + (uint32_t)tcph;
	put16(t + 16, fold(sum16(t, tcph, s)));
	return total;
}

/* n SYNs from distinct 4-tuples (198.19.x.y, ports 1024..) to port 80;
 * the SYN,ACKs go to addresses with no stack and are dropped. */
static int send_syns(struct net *net, uint32_t first, uint32_t n)
{
	uint8_t pkt[64];
	for (uint32_t i = first; i < first + n; i++) {
		uint32_t src = 0xc6130000u + 1 + i / 60000; /* 198.19.0.1 ... */
		uint16_t sport = (uint16_t)(1024 + i % 60000);
		size_t len = build_syn(pkt, src, sport, net_ip(net, SRV), CYCLE_PORT, 0x10000000u + i * 7919u, i + 1);
		net_inject(net, pkt, len);
		if ((i & 255) == 255)
			DRAIN(net);
	}
	DRAIN(net);
	return 0;
}

int sf_measure_memory(uint32_t n, uint32_t n_buf, struct sf_memory *out)
{
	int nl = nlisteners(n);
	int *lfd = calloc((size_t)nl, sizeof *lfd), *cfd = calloc(n, sizeof *cfd), *sfd = calloc(n, sizeof *sfd);
	struct memacct *m0 = malloc(4 * sizeof *m0);
	struct net *net = NULL;
	int rc = -1;
	if (!lfd || !cfd || !sfd || !m0)
		goto out;
	memset(out, 0, sizeof *out);
	out->n_conn = out->n_tw = out->n_syn = n;
	out->n_buf = n_buf < n ? n_buf : n;

	/* established, idle, no buffers */
	if (!(net = pair(3, NULL, NULL)) || open_listeners(net, lfd, nl, false) < 0)
		goto out;
	m0[0] = net->node[SRV].mem;
	m0[1] = net->node[CLI].mem;
	if (build_population(net, lfd, nl, n, cfd, sfd, 0) < 0)
		goto out;
	out->conn_server = per_item(&net->node[SRV].mem, &m0[0], n);
	out->conn_client = per_item(&net->node[CLI].mem, &m0[1], n);
	mem_detail(&net->node[SRV].mem, &m0[0], n, out->conn_detail, sizeof out->conn_detail);

	/* the same, after 64 bytes each way on n_buf of them */
	m0[2] = net->node[SRV].mem;
	for (uint32_t i = 0; i < out->n_buf; i++) {
		uint8_t buf[MSG];
		if (synfin_send(net->st[CLI], cfd[i], request, MSG) != MSG || !net_drain(net) ||
		    synfin_recv(net->st[SRV], sfd[i], buf, MSG) != MSG ||
		    synfin_send(net->st[SRV], sfd[i], reply, MSG) != MSG || !net_drain(net) ||
		    synfin_recv(net->st[CLI], cfd[i], buf, MSG) != MSG) {
			fprintf(stderr, "synfin-bench: exchange on connection %u failed\n", i);
			goto out;
		}
	}
	out->conn_buffers = out->conn_server + per_item(&net->node[SRV].mem, &m0[2], out->n_buf);
	net_destroy(net, true);

	/* TIME_WAIT: n cycles without the clock moving; the records stay */
	if (!(net = pair(4, NULL, NULL)) || open_listeners(net, lfd, nl, false) < 0)
		goto out;
	m0[1] = net->node[CLI].mem;
	for (uint32_t i = 0; i < n; i++)
		if (one_cycle(net, lfd[i % (uint32_t)nl], (uint16_t)(POP_PORT0 + i % (uint32_t)nl)) < 0)
			goto out;
	if (synfin_get_stats(net->st[CLI])->tw_created != n) {
		fprintf(stderr, "synfin-bench: %llu TIME_WAIT records for %u cycles\n",
			(unsigned long long)synfin_get_stats(net->st[CLI])->tw_created, n);
		goto out;
	}
	out->time_wait = per_item(&net->node[CLI].mem, &m0[1], n);
	mem_detail(&net->node[CLI].mem, &m0[1], n, out->tw_detail, sizeof out->tw_detail);
	net_destroy(net, true);

	/* SYN_RCVD: a SYN queue raised above n, SYN,ACKs unanswered */
	struct synfin_config cfg;
	synfin_config_default(&cfg);
	cfg.max_syn_backlog = n + 1024;
	const struct synfin_config *one[1] = {&cfg};
	if (!(net = net_create(1, one, 5)) || listen_on(net, SRV, CYCLE_PORT, 4096, false) < 0)
		goto out;
	m0[0] = net->node[SRV].mem;
	if (send_syns(net, 0, n) < 0)
		goto out;
	const struct synfin_stats *ss = synfin_get_stats(net->st[SRV]);
	if (ss->passive_opens != n || ss->syncookies_sent != 0) {
		fprintf(stderr, "synfin-bench: %llu embryonic connections, %llu cookies for %u SYNs\n",
			(unsigned long long)ss->passive_opens, (unsigned long long)ss->syncookies_sent, n);
		goto out;
	}
	out->syn_rcvd = per_item(&net->node[SRV].mem, &m0[0], n);
	mem_detail(&net->node[SRV].mem, &m0[0], n, out->syn_detail, sizeof out->syn_detail);
	net_destroy(net, true);

	/* SYN cookies for every SYN (cfg.syncookies = ALWAYS): n SYNs */
	synfin_config_default(&cfg);
	cfg.syncookies = SYNFIN_SYNCOOKIES_ALWAYS;
	if (!(net = net_create(1, one, 6)) || listen_on(net, SRV, CYCLE_PORT, 4096, false) < 0)
		goto out;
	m0[0] = net->node[SRV].mem;
	if (send_syns(net, 0, n) < 0)
		goto out;
	ss = synfin_get_stats(net->st[SRV]);
	if (ss->syncookies_sent != n) {
		fprintf(stderr, "synfin-bench: %llu SYN cookies for %u SYNs\n",
			(unsigned long long)ss->syncookies_sent, n);
		goto out;
	}
	out->syn_cookie = per_item(&net->node[SRV].mem, &m0[0], n);
	rc = 0;
out:
	net_destroy(net, true);
	free(lfd);
	free(cfd);
	free(sfd);
	free(m0);
	return rc;
}

/* ---- scale ---- */
#define SCALE_BATCH 2000 /* cycles per timed batch */
#define SCALE_REWARM 200 /* paired: untimed cycles before each batch */
/* A population held open: a stack pair, n established idle connections
 * with keepalive on the server side, and a listener of its own for the
 * extra cycles. */
struct scale_pop {
	struct net *net;
	int *lfd, *cfd, *sfd;
	int nl, cyc;
	uint32_t n;
	synfin_time_t built_from;
	uint64_t room;    /* cycles the virtual clock can still take */
	uint64_t cycles;  /* run so far, warm-up included */
};

static void pop_close(struct scale_pop *p)
{
	net_destroy(p->net, true);
	free(p->lfd);
	free(p->cfd);
	free(p->sfd);
	memset(p, 0, sizeof *p);
}

static int pop_cycles(struct scale_pop *p, uint64_t count)
{
	EXPECT(count <= p->room, "the scale run outgrew its virtual time");
	if (run_cycles(p->net, p->cyc, CYCLE_PORT, count) < 0)
		return -1;
	p->room -= count;
	p->cycles += count;
	return 0;
}

/* Builds the population over SPREAD of virtual time (so that the
 * keepalive deadlines spread too) and warms the cycle path. The cycles
 * must end before the first keepalive deadline, which bounds `room`. */
static int pop_open(struct scale_pop *p, uint32_t n, uint64_t seed, double *build_s, double *rss_mib)
{
	memset(p, 0, sizeof *p);
	p->n = n;
	p->nl = nlisteners(n);
	p->lfd = calloc((size_t)p->nl, sizeof *p->lfd);
	p->cfd = calloc(n, sizeof *p->cfd);
	p->sfd = calloc(n, sizeof *p->sfd);
	p->net = pair(seed, NULL, NULL);
	if (!p->lfd || !p->cfd || !p->sfd || !p->net)
		return -1;
	p->cyc = listen_on(p->net, SRV, CYCLE_PORT, 4096, false);
	if (p->cyc < 0 || open_listeners(p->net, p->lfd, p->nl, true) < 0)
		return -1;
	p->built_from = p->net->now;
	double t0 = bench_now_s();
	if (build_population(p->net, p->lfd, p->nl, n, p->cfd, p->sfd, SPREAD) < 0)
		return -1;
	if (build_s)
		*build_s = bench_now_s() - t0;
	if (rss_mib)
		*rss_mib = bench_rss_mib();
	synfin_time_t keep = synfin_stack_config(p->net->st[SRV])->keep_idle;
	p->room = (keep - SPREAD - SYNFIN_SEC(200)) / cycle_step(p->net);
	uint64_t warm = TW_LIVE + 1000;
	EXPECT(p->room > warm + 2 * (SCALE_BATCH + SCALE_REWARM), "keepalive idle too short for the scale run");
	return pop_cycles(p, warm);
}

/* Timer events: every population connection's keepalive expires once;
 * each probe is answered by the peer, which re-arms the timer. */
static int pop_timers(struct scale_pop *p, struct sf_scale *out)
{
	struct net *net = p->net;
	const struct synfin_stats *ss = synfin_get_stats(net->st[SRV]);
	EXPECT(ss->keep_probes == 0, "keepalive fired early");
	if (check_cycle_stats(net, p->cycles) < 0)
		return -1;
	synfin_time_t keep = synfin_stack_config(net->st[SRV])->keep_idle;
	synfin_time_t first = p->built_from + keep, last = p->built_from + SPREAD + keep + SYNFIN_SEC(1);
	EXPECT(net_advance(net, first - SYNFIN_SEC(1)), "timers did not settle");
	uint64_t p0 = ss->keep_probes;
	double t0 = bench_now_s();
	for (uint64_t guard = 0; guard < 4ull * p->n + 1000; guard++) {
		synfin_time_t d = synfin_next_deadline(net->st[SRV]), dc = synfin_next_deadline(net->st[CLI]);
		if (dc < d)
			d = dc;
		if (d > last)
			break;
		EXPECT(net_advance(net, d), "timers did not settle");
	}
	double secs = bench_now_s() - t0;
	out->timer_events = ss->keep_probes - p0;
	EXPECT(out->timer_events == p->n, "%llu keepalive probes for %u connections",
	       (unsigned long long)out->timer_events, p->n);
	out->ns_per_timer_event = secs * 1e9 / (double)out->timer_events;
	return 0;
}

/* rewarm untimed cycles, then SCALE_BATCH timed ones: *ns each */
static int pop_batch(struct scale_pop *p, uint64_t rewarm, double *ns)
{
	if (pop_cycles(p, rewarm) < 0)
		return -1;
	double t0 = bench_now_s();
	if (pop_cycles(p, SCALE_BATCH) < 0)
		return -1;
	*ns = (bench_now_s() - t0) * 1e9 / SCALE_BATCH;
	return 0;
}

/* Timed batches of SCALE_BATCH cycles for min_s. With a reference
 * population, its batches alternate with the measured one's, and each
 * pair gives a ratio: both are synfin on the same core a few milliseconds
 * apart, so a spell of load on a shared host slows both alike instead of
 * landing on one point of the comparison. */
static int scale_batches(struct scale_pop *p, struct scale_pop *ref, double min_s, struct sf_scale *out)
{
	static double per[MAX_BATCHES], per_ref[MAX_BATCHES], ratio[MAX_BATCHES];
	uint64_t rewarm = ref ? SCALE_REWARM : 0, need = SCALE_BATCH + rewarm;
	size_t nb = 0;
	double t0 = bench_now_s();
	while (nb < MAX_BATCHES && (bench_now_s() - t0 < min_s || nb == 0) && p->room >= need &&
	       (!ref || ref->room >= need)) {
		/* with a reference, each batch first runs a few untimed
		 * cycles, so that neither side pays for the cache lines the
		 * other one's batch took */
		if (pop_batch(p, rewarm, &per[nb]) < 0)
			return -1;
		if (ref) {
			if (pop_batch(ref, rewarm, &per_ref[nb]) < 0)
				return -1;
			ratio[nb] = per[nb] / per_ref[nb];
		}
		nb++;
	}
	out->cycles = nb * (uint64_t)SCALE_BATCH;
	out->ns_per_cycle = bench_median(per, nb);
	if (ref) {
		out->ref_connections = ref->n;
		out->ref_ns_per_cycle = bench_median(per_ref, nb);
		out->paired_ratio = bench_median(ratio, nb);
	}
	return 0;
}

int sf_measure_scale(uint32_t n, uint32_t ref_n, double min_s, struct sf_scale *out)
{
	struct scale_pop p, r;
	bool paired = ref_n && ref_n < n;
	int rc = -1;
	memset(out, 0, sizeof *out);
	memset(&r, 0, sizeof r);
	out->connections = n;
	if (pop_open(&p, n, 7, &out->build_s, &out->rss_mib) < 0)
		goto out;
	if (paired && pop_open(&r, ref_n, 8, NULL, NULL) < 0)
		goto out;
	if (scale_batches(&p, paired ? &r : NULL, min_s, out) < 0)
		goto out;
	/* the reference's cycles must have been as clean as the measured ones */
	if (paired && check_cycle_stats(r.net, r.cycles) < 0)
		goto out;
	pop_close(&r);
	rc = pop_timers(&p, out);
out:
	pop_close(&r);
	pop_close(&p);
	return rc;
}

double sf_memcpy_gib_per_s(size_t block, size_t total)
{
	/* Page-aligned, the destination 256 bytes further into its page:
	 * with AMD's rep movsb a destination a few bytes past the source
	 * modulo 4 KiB runs ten times slower, which would measure the
	 * allocator's placement rather than the machine. */
	uint8_t *a0 = aligned_alloc(4096, block + 4096), *b0 = aligned_alloc(4096, block + 4096);
	if (!a0 || !b0) {
		free(a0);
		free(b0);
		return 0;
	}
	uint8_t *a = a0, *b = b0 + 256;
	memset(a, 1, block);
	memset(b, 2, block);
	size_t reps = total / block;
	for (size_t r = 0; r < 2; r++) /* fault in, warm up */
		memcpy(b, a, block);
	double t0 = bench_now_s();
	for (size_t r = 0; r < reps; r++) {
		memcpy(b, a, block);
		a[r % block] = b[(r * 7) % block]; /* keeps every copy observable */
	}
	double secs = bench_now_s() - t0;
	volatile uint8_t sink = b[block / 2];
	(void)sink;
	free(a0);
	free(b0);
	return (double)(reps * block) / secs / (1u << 30);
}
