/*
 * The simulator's link model: the rate (serialization, exact to the
 * microsecond with no rounding carried from one datagram to the next),
 * the drop-tail queue, bursty Gilbert-Elliott loss, and that a seed still
 * replays a run with all of them on.
 *
 * Timing tests put crafted datagrams on the wire with sim_inject(): IPv4
 * with protocol 253 (RFC 3692, experiments), which a stack counts in
 * ip_in and answers with nothing, so only one direction carries traffic.
 */
#include <errno.h>
#include <stdlib.h>

#include "dev/sim.h"
#include "test.h"
#include "wire/wire.h"

#define A_IP 0xc6120001u /* 198.18.0.1 */
#define B_IP 0xc6120002u /* 198.18.0.2 */
#define C_IP 0xc6120003u /* 198.18.0.3 */

/* ---- fixtures ---- */

/* An IPv4 datagram of `len` bytes (20 of header) from src to dst. */
static void make_datagram(uint8_t *p, size_t len, uint32_t src, uint32_t dst, uint16_t id)
{
	memset(p, 0, len);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[4] = (uint8_t)(id >> 8);
	p[5] = (uint8_t)id;
	p[8] = 64;
	p[9] = 253;
	for (int i = 0; i < 4; i++) {
		p[12 + i] = (uint8_t)(src >> (24 - 8 * i));
		p[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	uint16_t ck = inet_fold(inet_sum(p, 20, 0));
	p[10] = (uint8_t)(ck >> 8);
	p[11] = (uint8_t)ck;
}

static void inject_n(struct sim_host *from, uint32_t dst, size_t len, int n)
{
	uint8_t buf[9000];

	ASSERT(len >= 20 && len <= sizeof buf);
	for (int i = 0; i < n; i++) {
		make_datagram(buf, len, sim_host_ip(from), dst, (uint16_t)i);
		sim_inject(from, buf, len);
	}
}

static uint64_t arrived(struct sim_host *h)
{
	return synfin_get_stats(sim_stack(h))->ip_in;
}

struct net {
	struct sim *s;
	struct sim_host *a, *b, *c;
};

static void net_init(struct net *n, uint64_t seed, const struct sim_link *l)
{
	memset(n, 0, sizeof *n);
	n->s = sim_create(seed, NULL);
	ASSERT(n->s);
	n->a = sim_add_host(n->s, "a", A_IP, NULL);
	n->b = sim_add_host(n->s, "b", B_IP, NULL);
	n->c = sim_add_host(n->s, "c", C_IP, NULL);
	ASSERT(n->a && n->b && n->c);
	sim_set_link(n->s, n->a, n->b, l);
}

static struct sim_link rate_link(uint64_t rate, synfin_time_t delay, uint32_t queue)
{
	struct sim_link l;

	sim_link_default(&l);
	l.delay = delay;
	l.rate_bps = rate;
	l.queue_pkts = queue;
	l.mtu = 9000;
	return l;
}

/* ================= rate ================= */

TEST(sim_link_rate_1500_bytes_at_12mbit_take_1ms_each)
{
	struct sim_link l = rate_link(12000000, SYNFIN_MS(10), 0);
	struct net n;

	net_init(&n, 1, &l);
	inject_n(n.a, B_IP, 1500, 3);
	/* transmissions end at 1, 2 and 3 ms; then 10 ms on the wire */
	sim_run_until(n.s, SYNFIN_MS(11) - 1);
	ASSERT_EQ(arrived(n.b), 0);
	sim_run_until(n.s, SYNFIN_MS(11));
	ASSERT_EQ(arrived(n.b), 1);
	sim_run_until(n.s, SYNFIN_MS(12) - 1);
	ASSERT_EQ(arrived(n.b), 1);
	sim_run_until(n.s, SYNFIN_MS(12));
	ASSERT_EQ(arrived(n.b), 2);
	sim_run_until(n.s, SYNFIN_MS(13));
	ASSERT_EQ(arrived(n.b), 3);

	/* an idle transmitter starts at once: sent at 20 ms, in at 31 ms */
	sim_run_until(n.s, SYNFIN_MS(20));
	inject_n(n.a, B_IP, 1500, 1);
	sim_run_until(n.s, SYNFIN_MS(31) - 1);
	ASSERT_EQ(arrived(n.b), 3);
	sim_run_until(n.s, SYNFIN_MS(31));
	ASSERT_EQ(arrived(n.b), 4);
	sim_destroy(n.s);
}

TEST(sim_link_rate_fractions_do_not_accumulate)
{
	/* 1001 bytes at 1 Gbit/s: 8.008 us each. Rounding each one up would
	 * take 9 us per datagram; 1000 of them end at 8008 us exactly. */
	struct sim_link l = rate_link(1000000000, 0, 0);
	struct net n;

	net_init(&n, 1, &l);
	inject_n(n.a, B_IP, 1001, 1000);
	sim_run_until(n.s, 8);
	ASSERT_EQ(arrived(n.b), 0);
	sim_run_until(n.s, 9); /* the first ends at 8.008: in at the next microsecond */
	ASSERT_EQ(arrived(n.b), 1);
	sim_run_until(n.s, 8007);
	ASSERT_EQ(arrived(n.b), 999);
	sim_run_until(n.s, 8008);
	ASSERT_EQ(arrived(n.b), 1000);
	sim_destroy(n.s);
}

TEST(sim_link_rate_each_direction_and_pair_has_its_own_transmitter)
{
	/* the default link with a rate: a -> b, b -> a and a -> c each send
	 * one datagram at 0, and each is in after exactly one transmission */
	struct sim_link l = rate_link(12000000, SYNFIN_MS(5), 0);
	struct sim *s = sim_create(3, NULL);

	ASSERT(s);
	sim_set_default_link(s, &l);
	struct sim_host *a = sim_add_host(s, "a", A_IP, NULL);
	struct sim_host *b = sim_add_host(s, "b", B_IP, NULL);
	struct sim_host *c = sim_add_host(s, "c", C_IP, NULL);
	ASSERT(a && b && c);
	inject_n(a, B_IP, 1500, 1);
	inject_n(b, A_IP, 1500, 1);
	inject_n(a, C_IP, 1500, 1);
	inject_n(a, B_IP, 1500, 1); /* behind the first a -> b */
	sim_run_until(s, SYNFIN_MS(6));
	ASSERT_EQ(arrived(a), 1);
	ASSERT_EQ(arrived(b), 1);
	ASSERT_EQ(arrived(c), 1);
	sim_run_until(s, SYNFIN_MS(7));
	ASSERT_EQ(arrived(b), 2);
	sim_destroy(s);
}

TEST(sim_link_without_rate_arrives_after_the_delay_alone)
{
	struct sim_link l = rate_link(0, SYNFIN_MS(10), 2);
	struct net n;

	net_init(&n, 1, &l);
	inject_n(n.a, B_IP, 1500, 50); /* a queue limit without a rate: nothing waits */
	sim_run_until(n.s, SYNFIN_MS(10) - 1);
	ASSERT_EQ(arrived(n.b), 0);
	sim_run_until(n.s, SYNFIN_MS(10));
	ASSERT_EQ(arrived(n.b), 50);
	ASSERT_EQ(sim_get_counts(n.s)->queue_drops, 0);
	sim_destroy(n.s);
}

/* ================= the queue ================= */

TEST(sim_link_queue_drops_what_finds_it_full)
{
	struct sim_link l = rate_link(12000000, SYNFIN_MS(10), 4);
	struct net n;
	char *text = NULL;
	size_t tlen = 0;
	FILE *tr = open_memstream(&text, &tlen);

	ASSERT(tr);
	net_init(&n, 1, &l);
	sim_set_trace(n.s, tr, SIM_TRACE_DROPS);
	/* one on the wire, four waiting, five dropped */
	inject_n(n.a, B_IP, 1500, 10);
	ASSERT_EQ(sim_get_counts(n.s)->queue_drops, 5);
	ASSERT_EQ(sim_get_counts(n.s)->sent, 10);
	sim_run_until(n.s, SYNFIN_MS(100));
	ASSERT_EQ(arrived(n.b), 5);
	ASSERT_EQ(sim_get_counts(n.s)->delivered, 5);
	sim_set_trace(n.s, NULL, 0);
	fclose(tr);
	ASSERT_MSG(text && strstr(text, "  [queue full]"), "no [queue full] in the trace: %s", text ? text : "");
	free(text);

	/* drained: room again */
	inject_n(n.a, B_IP, 1500, 5);
	ASSERT_EQ(sim_get_counts(n.s)->queue_drops, 5);
	sim_destroy(n.s);
}

TEST(sim_link_queue_counts_only_datagrams_not_yet_on_the_wire)
{
	struct sim_link l = rate_link(12000000, SYNFIN_MS(1), 1);
	struct net n;

	net_init(&n, 1, &l);
	inject_n(n.a, B_IP, 1500, 3); /* on the wire, waiting, dropped */
	ASSERT_EQ(sim_get_counts(n.s)->queue_drops, 1);
	/* at 1 ms the second starts: the queue is empty again */
	sim_run_until(n.s, SYNFIN_MS(1));
	inject_n(n.a, B_IP, 1500, 1);
	ASSERT_EQ(sim_get_counts(n.s)->queue_drops, 1);
	inject_n(n.a, B_IP, 1500, 1);
	ASSERT_EQ(sim_get_counts(n.s)->queue_drops, 2);
	sim_run_until(n.s, SYNFIN_MS(10));
	ASSERT_EQ(arrived(n.b), 3);
	sim_destroy(n.s);
}

/* ================= bursty loss ================= */

TEST(sim_link_gilbert_elliott_loses_p_over_p_plus_r)
{
	struct sim_link l = rate_link(0, SYNFIN_MS(1), 0);
	struct net n;
	const int rounds = 200, per = 1000;
	const double p = 0.01, r = 0.3;

	l.ge_p = p;
	l.ge_r = r;
	net_init(&n, 42, &l);
	for (int i = 0; i < rounds; i++) {
		inject_n(n.a, B_IP, 40, per);
		sim_run_for(n.s, SYNFIN_MS(2));
	}
	const struct sim_counts *c = sim_get_counts(n.s);
	double want = p / (p + r), got = (double)c->lost / (rounds * per);
	ASSERT_EQ(c->lost, c->burst_lost);
	ASSERT_EQ(c->lost + arrived(n.b), (uint64_t)rounds * per);
	ASSERT_MSG(got > want - 0.004 && got < want + 0.004, "loss %.4f, want %.4f", got, want);
	sim_destroy(n.s);
}

/* The losses come in bursts of mean length 1/r: with r = 0.25 about 4
 * datagrams, where independent loss at the same rate makes runs of about
 * one. */
TEST(sim_link_gilbert_elliott_losses_come_in_bursts)
{
	struct sim_link l = rate_link(0, SYNFIN_MS(1), 0);
	struct net n;
	uint8_t pkt[40];
	uint64_t runs = 0, before = 0;
	bool last_lost = false;

	l.ge_p = 0.02;
	l.ge_r = 0.25;
	net_init(&n, 9, &l);
	for (int i = 0; i < 40000; i++) {
		make_datagram(pkt, sizeof pkt, A_IP, B_IP, (uint16_t)i);
		sim_inject(n.a, pkt, sizeof pkt);
		bool lost = sim_get_counts(n.s)->lost > before;

		before = sim_get_counts(n.s)->lost;
		runs += lost && !last_lost;
		last_lost = lost;
		if (i % 1000 == 999)
			sim_run_for(n.s, SYNFIN_MS(2));
	}
	ASSERT(runs > 0);
	double mean = (double)before / (double)runs;
	ASSERT_MSG(mean > 3.4 && mean < 4.6, "mean burst %.2f datagrams, want about 4", mean);
	/* and a direction that carries nothing keeps its own, good, state */
	inject_n(n.b, A_IP, 40, 1);
	sim_run_for(n.s, SYNFIN_MS(2));
	ASSERT_EQ(arrived(n.a), 1);
	sim_destroy(n.s);
}

/* ================= determinism ================= */

struct xfer {
	struct sim *s;
	struct sim_host *srv, *cli;
	int lfd, cfd, afd;
	size_t sent, got, total;
	bool bad;
};

static bool xfer_pump(void *ctx)
{
	struct xfer *x = ctx;
	struct synfin_stack *cs = sim_stack(x->cli), *ss = sim_stack(x->srv);
	uint8_t buf[4096];

	if (x->afd < 0) {
		struct synfin_addr peer;
		int fd = synfin_accept(ss, x->lfd, &peer);

		if (fd >= 0)
			x->afd = fd;
	}
	while (x->sent < x->total) {
		size_t n = x->total - x->sent < sizeof buf ? x->total - x->sent : sizeof buf;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)((x->sent + i) * 7);
		long r = synfin_send(cs, x->cfd, buf, n);
		if (r <= 0)
			break;
		x->sent += (size_t)r;
	}
	while (x->afd >= 0) {
		long r = synfin_recv(ss, x->afd, buf, sizeof buf);

		if (r <= 0)
			break;
		for (long i = 0; i < r; i++)
			if (buf[i] != (uint8_t)((x->got + (size_t)i) * 7))
				x->bad = true;
		x->got += (size_t)r;
	}
	return x->got == x->total;
}

/* A 300 kB transfer over a slow, queued, bursty and jittery link; the
 * trace of every datagram and state change goes to *text. */
static void xfer_run(uint64_t seed, char **text, struct sim_counts *counts, synfin_time_t *end)
{
	struct xfer x = { .lfd = -1, .cfd = -1, .afd = -1, .total = 300000 };
	struct sim_link l = rate_link(10000000, SYNFIN_MS(5), 8);
	size_t tlen = 0;
	FILE *tr = open_memstream(text, &tlen);

	ASSERT(tr);
	l.mtu = 1500;
	l.jitter = SYNFIN_MS(1);
	l.ge_p = 0.005;
	l.ge_r = 0.5;
	l.loss = 0.005;
	x.s = sim_create(seed, NULL);
	ASSERT(x.s);
	sim_set_default_link(x.s, &l);
	x.srv = sim_add_host(x.s, "server", A_IP, NULL);
	x.cli = sim_add_host(x.s, "client", B_IP, NULL);
	ASSERT(x.srv && x.cli);
	sim_set_trace(x.s, tr, SIM_TRACE_SEGMENTS | SIM_TRACE_STATES);

	struct synfin_stack *ss = sim_stack(x.srv), *cs = sim_stack(x.cli);
	struct synfin_addr a = { .ip = A_IP, .port = 80 };
	x.lfd = synfin_socket(ss);
	ASSERT_EQ(synfin_bind(ss, x.lfd, &a), 0);
	ASSERT_EQ(synfin_listen(ss, x.lfd, 4), 0);
	x.cfd = synfin_socket(cs);
	ASSERT_EQ(synfin_connect(cs, x.cfd, &a), -EINPROGRESS);
	ASSERT(sim_run_until_cond(x.s, xfer_pump, &x, SYNFIN_SEC(600)));
	ASSERT(!x.bad);
	*counts = *sim_get_counts(x.s);
	*end = sim_now(x.s);
	sim_set_trace(x.s, NULL, 0);
	fclose(tr);
	sim_destroy(x.s);
}

TEST(sim_link_same_seed_same_run_with_rate_queue_and_bursts)
{
	char *t1 = NULL, *t2 = NULL, *t3 = NULL;
	struct sim_counts c1, c2, c3;
	synfin_time_t e1, e2, e3;

	xfer_run(5, &t1, &c1, &e1);
	xfer_run(5, &t2, &c2, &e2);
	xfer_run(6, &t3, &c3, &e3);
	ASSERT(t1 && t2 && t3);
	ASSERT_MSG(strcmp(t1, t2) == 0, "two runs with seed 5 differ");
	ASSERT(memcmp(&c1, &c2, sizeof c1) == 0);
	ASSERT_EQ(e1, e2);
	/* the faults did happen, and another seed makes another run */
	ASSERT(c1.queue_drops + c1.lost > 0);
	ASSERT(strcmp(t1, t3) != 0);
	free(t1);
	free(t2);
	free(t3);
}
