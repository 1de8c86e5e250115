/*
 * The simulator itself, checked with real stacks: virtual time, every kind
 * of fault, crashes, the trace format, and that a seed replays a run.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "dev/sim.h"
#include "test.h"

#define SERVER_IP 0xc6120001u /* 198.18.0.1 */
#define CLIENT_IP 0xc6120002u /* 198.18.0.2 */
#define OTHER_IP 0xc6120003u  /* 198.18.0.3 */
#define NOBODY_IP 0xc6120009u /* 198.18.0.9: no host has it */

/* ---- fixtures ---- */

static int listen_on(struct synfin_stack *st, uint16_t port)
{
	struct synfin_addr a = { .ip = synfin_stack_ip(st), .port = port };
	int fd = synfin_socket(st);

	ASSERT_MSG(fd >= 0, "socket: %d", fd);
	ASSERT_EQ(synfin_bind(st, fd, &a), 0);
	ASSERT_EQ(synfin_listen(st, fd, 16), 0);
	return fd;
}

static int connect_to(struct synfin_stack *st, uint32_t ip, uint16_t port)
{
	struct synfin_addr a = { .ip = ip, .port = port };
	int fd = synfin_socket(st);
	int rc;

	ASSERT_MSG(fd >= 0, "socket: %d", fd);
	rc = synfin_connect(st, fd, &a);
	ASSERT_MSG(rc == 0 || rc == -EINPROGRESS, "connect: %d", rc);
	return fd;
}

/* A server listening on port 80 and a client, over the sim's default link
 * (`l`, or the simulator's default when NULL). */
struct pair {
	struct sim *s;
	struct sim_host *srv, *cli;
	int lfd, cfd, afd;
};

static void pair_init(struct pair *p, uint64_t seed, const struct sim_link *l)
{
	memset(p, 0, sizeof(*p));
	p->s = sim_create(seed, NULL);
	ASSERT(p->s);
	if (l)
		sim_set_default_link(p->s, l);
	p->srv = sim_add_host(p->s, "server", SERVER_IP, NULL);
	p->cli = sim_add_host(p->s, "client", CLIENT_IP, NULL);
	ASSERT(p->srv && p->cli);
	p->lfd = listen_on(sim_stack(p->srv), 80);
	p->cfd = -1;
	p->afd = -1;
}

static void pair_connect(struct pair *p)
{
	p->cfd = connect_to(sim_stack(p->cli), SERVER_IP, 80);
}

static bool client_established(void *ctx)
{
	struct pair *p = ctx;

	return synfin_state(sim_stack(p->cli), p->cfd) == TCPS_ESTABLISHED;
}

static bool client_not_established(void *ctx)
{
	return !client_established(ctx);
}

/* Connect and accept over a clean link; fails the test if that takes more
 * than a second. */
static void pair_establish(struct pair *p)
{
	pair_connect(p);
	ASSERT(sim_run_until_cond(p->s, client_established, p, sim_now(p->s) + SYNFIN_SEC(1)));
	sim_run_for(p->s, SYNFIN_MS(100));
	p->afd = synfin_accept(sim_stack(p->srv), p->lfd, NULL);
	ASSERT_MSG(p->afd >= 0, "accept: %d", p->afd);
}

/* The virtual time a host first entered a state, from the state hook. */
struct watch {
	struct sim *s;
	const struct sim_host *host[2];
	int state[2];
	synfin_time_t when[2];     /* the sim's clock */
	synfin_time_t ev_when[2];  /* the event's own stamp */
};

static void watch_hook(void *ctx, struct sim_host *h, const struct synfin_state_event *ev)
{
	struct watch *w = ctx;

	for (int i = 0; i < 2; i++) {
		if (h == w->host[i] && ev->new_state == w->state[i] && w->when[i] == SYNFIN_TIME_NEVER) {
			w->when[i] = sim_now(w->s);
			w->ev_when[i] = ev->now;
		}
	}
}

static void watch_init(struct watch *w, struct pair *p, int state)
{
	*w = (struct watch){ .s = p->s, .host = { p->cli, p->srv }, .state = { state, state },
			     .when = { SYNFIN_TIME_NEVER, SYNFIN_TIME_NEVER },
			     .ev_when = { SYNFIN_TIME_NEVER, SYNFIN_TIME_NEVER } };
	sim_set_state_hook(p->s, watch_hook, w);
}

static struct sim_link link_with_delay(synfin_time_t delay)
{
	struct sim_link l;

	sim_link_default(&l);
	l.delay = delay;
	return l;
}

/* A trace captured in memory. */
struct capture {
	char *buf;
	size_t len;
	FILE *f;
};

static void capture_start(struct capture *c, struct sim *s, unsigned flags)
{
	memset(c, 0, sizeof(*c));
	c->f = open_memstream(&c->buf, &c->len);
	ASSERT(c->f);
	sim_set_trace(s, c->f, flags);
}

/* Stops tracing and returns the text (freed by capture_free). */
static const char *capture_end(struct capture *c, struct sim *s)
{
	sim_set_trace(s, NULL, 0);
	fclose(c->f);
	c->f = NULL;
	return c->buf;
}

static void capture_free(struct capture *c)
{
	free(c->buf);
	c->buf = NULL;
}

/* Every non-empty line of `text` ends with `suffix`; returns how many. */
static int lines_ending_with(const char *text, const char *suffix, int *total)
{
	size_t sl = strlen(suffix);
	int n = 0;

	*total = 0;
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t ll = nl ? (size_t)(nl - text) : strlen(text);

		if (ll) {
			(*total)++;
			if (ll >= sl && memcmp(text + ll - sl, suffix, sl) == 0)
				n++;
		}
		text += ll + (nl ? 1 : 0);
	}
	return n;
}

/* ---- virtual time ---- */

TEST(sim_idle_run_jumps_straight_to_the_target)
{
	struct sim *s = sim_create(1, NULL);

	ASSERT(s);
	ASSERT_EQ(sim_now(s), 0);
	sim_run_until(s, SYNFIN_SEC(5));
	ASSERT_EQ(sim_now(s), SYNFIN_SEC(5));
	sim_run_for(s, SYNFIN_MS(250));
	ASSERT_EQ(sim_now(s), SYNFIN_SEC(5) + SYNFIN_MS(250));
	/* the clock never goes back */
	sim_run_until(s, SYNFIN_SEC(1));
	ASSERT_EQ(sim_now(s), SYNFIN_SEC(5) + SYNFIN_MS(250));

	/* a listener alone has nothing to do either */
	struct sim_host *h = sim_add_host(s, "server", SERVER_IP, NULL);
	ASSERT(h);
	listen_on(sim_stack(h), 80);
	sim_run_until(s, SYNFIN_SEC(3600));
	ASSERT_EQ(sim_now(s), SYNFIN_SEC(3600));
	ASSERT_EQ(sim_get_counts(s)->sent, 0);
	ASSERT_EQ(synfin_now(sim_stack(h)), SYNFIN_SEC(3600));
	sim_destroy(s);
}

static bool never(void *ctx)
{
	(void)ctx;
	return false;
}

static bool always(void *ctx)
{
	(void)ctx;
	return true;
}

TEST(sim_run_until_cond_stops_at_the_limit_or_at_once)
{
	struct sim *s = sim_create(1, NULL);

	ASSERT(s);
	ASSERT(!sim_run_until_cond(s, never, NULL, SYNFIN_SEC(2)));
	ASSERT_EQ(sim_now(s), SYNFIN_SEC(2));
	ASSERT(sim_run_until_cond(s, always, NULL, SYNFIN_SEC(10)));
	ASSERT_EQ(sim_now(s), SYNFIN_SEC(2));
	sim_destroy(s);
}

TEST(sim_handshake_takes_two_one_way_delays)
{
	struct sim_link l = link_with_delay(SYNFIN_MS(10));
	struct pair p;
	struct watch w;

	pair_init(&p, 42, &l);
	watch_init(&w, &p, TCPS_ESTABLISHED);
	pair_connect(&p);
	sim_run_until(p.s, SYNFIN_SEC(1));
	ASSERT_EQ(sim_now(p.s), SYNFIN_SEC(1));

	/* SYN at 0 arrives at 10 ms; SYN,ACK arrives back at 20 ms; the ACK
	 * reaches the server at 30 ms. Nothing else takes any time. */
	ASSERT_EQ(synfin_state(sim_stack(p.cli), p.cfd), TCPS_ESTABLISHED);
	ASSERT_EQ(w.when[0], SYNFIN_MS(20));
	ASSERT_EQ(w.ev_when[0], SYNFIN_MS(20));
	ASSERT_EQ(w.when[1], SYNFIN_MS(30));
	p.afd = synfin_accept(sim_stack(p.srv), p.lfd, NULL);
	ASSERT_MSG(p.afd >= 0, "accept: %d", p.afd);
	ASSERT_EQ(synfin_state(sim_stack(p.srv), p.afd), TCPS_ESTABLISHED);

	const struct sim_counts *c = sim_get_counts(p.s);
	ASSERT(c->sent >= 3);
	ASSERT_EQ(c->delivered, c->sent);
	ASSERT_EQ(c->lost + c->filtered + c->unplugged + c->too_big + c->no_host + c->host_down, 0);
	sim_destroy(p.s);
}

/* An arrival and a timer due at the same microsecond: the arrival goes
 * first. The SYN,ACK lands exactly when the SYN's retransmission timer
 * fires, so the client is established without retransmitting. */
struct count_from {
	const struct sim_host *from;
	unsigned n;
};

static bool count_from_filter(void *ctx, const struct sim_host *from, const uint8_t *pkt, size_t len)
{
	struct count_from *cf = ctx;

	(void)pkt;
	(void)len;
	if (from == cf->from)
		cf->n++;
	return false;
}

TEST(sim_arrival_goes_before_a_timer_due_at_the_same_time)
{
	struct synfin_config cfg;
	struct sim_link l;
	struct count_from cf;
	struct pair p;
	struct watch w;

	synfin_config_default(&cfg);
	cfg.rto_initial = SYNFIN_SEC(1);
	memset(&p, 0, sizeof(p));
	p.s = sim_create(47, &cfg);
	ASSERT(p.s);
	l = link_with_delay(cfg.rto_initial / 2);
	sim_set_default_link(p.s, &l);
	p.srv = sim_add_host(p.s, "server", SERVER_IP, NULL);
	p.cli = sim_add_host(p.s, "client", CLIENT_IP, NULL);
	ASSERT(p.srv && p.cli);
	p.lfd = listen_on(sim_stack(p.srv), 80);
	cf = (struct count_from){ .from = p.cli };
	sim_set_filter(p.s, count_from_filter, &cf);
	watch_init(&w, &p, TCPS_ESTABLISHED);
	pair_connect(&p);
	sim_run_until(p.s, cfg.rto_initial);
	ASSERT_EQ(w.when[0], cfg.rto_initial);
	ASSERT_EQ(cf.n, 2); /* the SYN and the ACK, no retransmission */
	sim_destroy(p.s);
}

/* Datagrams sent at the same instant over the same link arrive at the same
 * instant, and in the order they were sent. */
TEST(sim_simultaneous_arrivals_keep_their_order)
{
	struct pair p;
	char out[4380], in[4380];
	long n, got = 0;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + i / 251);
	pair_init(&p, 53, NULL);
	pair_establish(&p);
	ASSERT_EQ(synfin_send(sim_stack(p.cli), p.cfd, out, sizeof(out)), (long)sizeof(out));
	sim_run_for(p.s, SYNFIN_MS(200));
	while (got < (long)sizeof(in) &&
	       (n = synfin_recv(sim_stack(p.srv), p.afd, in + got, sizeof(in) - (size_t)got)) > 0)
		got += n;
	ASSERT_EQ(got, (long)sizeof(in));
	ASSERT(memcmp(in, out, sizeof(in)) == 0);
	ASSERT_EQ(synfin_get_stats(sim_stack(p.srv))->ooo_segs, 0);
	sim_destroy(p.s);
}

TEST(sim_links_are_per_pair_and_both_ways)
{
	struct sim_link slow = link_with_delay(SYNFIN_MS(50));
	struct sim *s = sim_create(7, NULL);
	struct sim_host *a, *b, *c;
	int fb, fc;

	ASSERT(s);
	a = sim_add_host(s, "a", CLIENT_IP, NULL);
	b = sim_add_host(s, "b", SERVER_IP, NULL);
	c = sim_add_host(s, "c", OTHER_IP, NULL);
	ASSERT(a && b && c);
	ASSERT(!sim_add_host(s, "again", OTHER_IP, NULL)); /* one host per address */
	sim_set_link(s, b, a, &slow); /* given as (b, a), used for a -> b too */
	listen_on(sim_stack(b), 80);
	listen_on(sim_stack(c), 80);
	fb = connect_to(sim_stack(a), SERVER_IP, 80);
	fc = connect_to(sim_stack(a), OTHER_IP, 80);

	sim_run_until(s, SYNFIN_MS(2));
	ASSERT_EQ(synfin_state(sim_stack(a), fc), TCPS_ESTABLISHED); /* default link: 1 ms each way */
	ASSERT_EQ(synfin_state(sim_stack(a), fb), TCPS_SYN_SENT);
	sim_run_until(s, SYNFIN_MS(100) - 1);
	ASSERT_EQ(synfin_state(sim_stack(a), fb), TCPS_SYN_SENT);
	sim_run_until(s, SYNFIN_MS(100));
	ASSERT_EQ(synfin_state(sim_stack(a), fb), TCPS_ESTABLISHED);
	sim_destroy(s);
}

/* ---- faults ---- */

TEST(sim_loss_one_delivers_nothing)
{
	struct sim_link l = link_with_delay(SYNFIN_MS(10));
	struct capture cap;
	struct pair p;
	int total;

	l.loss = 1.0;
	pair_init(&p, 3, &l);
	capture_start(&cap, p.s, SIM_TRACE_SEGMENTS);
	pair_connect(&p);
	sim_run_until(p.s, SYNFIN_SEC(10));

	const struct sim_counts *c = sim_get_counts(p.s);
	ASSERT(c->sent >= 3); /* the SYN and its retransmissions */
	ASSERT_EQ(c->lost, c->sent);
	ASSERT_EQ(c->delivered, 0);
	ASSERT_EQ(synfin_state(sim_stack(p.cli), p.cfd), TCPS_SYN_SENT);
	ASSERT(synfin_accept(sim_stack(p.srv), p.lfd, NULL) < 0);

	const char *text = capture_end(&cap, p.s);
	ASSERT_EQ(lines_ending_with(text, "  [lost]", &total), (long long)c->sent);
	ASSERT_EQ(total, (long long)c->sent);
	capture_free(&cap);
	sim_destroy(p.s);
}

TEST(sim_unplugged_host_loses_its_syns_until_plugged)
{
	struct pair p;

	pair_init(&p, 5, NULL);
	sim_unplug(p.cli);
	pair_connect(&p);
	sim_run_until(p.s, SYNFIN_SEC(10));

	const struct sim_counts *c = sim_get_counts(p.s);
	ASSERT(c->sent >= 3);
	ASSERT_EQ(c->unplugged, c->sent);
	ASSERT_EQ(c->delivered, 0);
	ASSERT_EQ(synfin_state(sim_stack(p.cli), p.cfd), TCPS_SYN_SENT);

	/* the next retransmission goes through */
	sim_plug(p.cli);
	ASSERT(sim_run_until_cond(p.s, client_established, &p, SYNFIN_SEC(70)));
	ASSERT(sim_now(p.s) > SYNFIN_SEC(10));

	/* the far end's cable counts too */
	sim_run_for(p.s, SYNFIN_MS(100));
	uint64_t unplugged = c->unplugged, delivered = c->delivered;
	sim_unplug(p.srv);
	ASSERT(synfin_send(sim_stack(p.cli), p.cfd, "x", 1) == 1);
	sim_run_for(p.s, SYNFIN_MS(500));
	ASSERT(c->unplugged > unplugged);
	ASSERT_EQ(c->delivered, delivered);
	sim_destroy(p.s);
}

TEST(sim_link_down_loses_everything)
{
	struct sim_link l;
	struct pair p;

	sim_link_default(&l);
	l.up = false;
	pair_init(&p, 5, &l);
	pair_connect(&p);
	sim_run_until(p.s, SYNFIN_SEC(2));
	ASSERT(sim_get_counts(p.s)->sent >= 1);
	ASSERT_EQ(sim_get_counts(p.s)->unplugged, sim_get_counts(p.s)->sent);
	sim_destroy(p.s);
}

TEST(sim_mtu_drops_big_datagrams)
{
	struct sim_link l;
	struct pair p;
	char buf[1000] = { 0 };

	sim_link_default(&l);
	l.mtu = 200; /* the handshake fits, a full data segment does not */
	pair_init(&p, 9, &l);
	pair_establish(&p);
	ASSERT_EQ(sim_get_counts(p.s)->too_big, 0);

	ASSERT_EQ(synfin_send(sim_stack(p.cli), p.cfd, buf, sizeof(buf)), (long)sizeof(buf));
	sim_run_for(p.s, SYNFIN_MS(500));
	ASSERT(sim_get_counts(p.s)->too_big >= 1);
	ASSERT(synfin_recv(sim_stack(p.srv), p.afd, buf, sizeof(buf)) < 0);
	sim_destroy(p.s);
}

TEST(sim_no_such_host)
{
	struct capture cap;
	struct pair p;
	int total;

	pair_init(&p, 11, NULL);
	capture_start(&cap, p.s, SIM_TRACE_DROPS);
	p.cfd = connect_to(sim_stack(p.cli), NOBODY_IP, 80);
	sim_run_until(p.s, SYNFIN_SEC(2));

	const struct sim_counts *c = sim_get_counts(p.s);
	ASSERT(c->sent >= 1);
	ASSERT_EQ(c->no_host, c->sent);
	const char *text = capture_end(&cap, p.s);
	ASSERT_EQ(lines_ending_with(text, "  [no such host]", &total), (long long)c->sent);
	ASSERT_EQ(total, (long long)c->sent);
	capture_free(&cap);
	sim_destroy(p.s);
}

TEST(sim_crashed_host_drops_arrivals)
{
	struct pair p;

	pair_init(&p, 13, NULL);
	pair_establish(&p);

	const struct sim_counts *c = sim_get_counts(p.s);
	uint64_t sent = c->sent, delivered = c->delivered;
	sim_crash(p.srv);
	ASSERT(!sim_host_up(p.srv));
	ASSERT(sim_stack(p.srv) == NULL);
	ASSERT_EQ(c->sent, sent); /* a crash sends nothing */
	sim_crash(p.srv);         /* crashing a dead host is harmless */

	ASSERT_EQ(synfin_send(sim_stack(p.cli), p.cfd, "hello", 5), 5);
	sim_run_for(p.s, SYNFIN_MS(500));
	ASSERT(c->host_down >= 1);
	ASSERT_EQ(c->delivered, delivered);
	ASSERT_EQ(synfin_state(sim_stack(p.cli), p.cfd), TCPS_ESTABLISHED);

	/* the rebooted host has no memory of the connection and resets it
	 * when the retransmission arrives */
	sim_reboot(p.srv);
	ASSERT(sim_host_up(p.srv));
	ASSERT(sim_stack(p.srv) != NULL);
	ASSERT_EQ(synfin_now(sim_stack(p.srv)), sim_now(p.s));
	ASSERT(sim_run_until_cond(p.s, client_not_established, &p, sim_now(p.s) + SYNFIN_SEC(60)));
	ASSERT(c->delivered > delivered);
	sim_destroy(p.s);
}

TEST(sim_crash_with_datagrams_in_flight_and_teardown)
{
	struct sim_link l = link_with_delay(SYNFIN_MS(10));
	struct pair p;

	pair_init(&p, 17, &l);
	pair_connect(&p);
	sim_run_until(p.s, SYNFIN_MS(5)); /* the SYN is on the wire */
	sim_crash(p.srv);
	sim_run_until(p.s, SYNFIN_MS(15));
	ASSERT_EQ(sim_get_counts(p.s)->host_down, 1);
	/* destroyed with a host down and the client's retransmission timer
	 * pending: everything is freed (ASan/valgrind check that) */
	sim_destroy(p.s);
}

TEST(sim_dup_one_delivers_everything_twice)
{
	struct sim_link l;
	struct pair p;

	sim_link_default(&l);
	l.dup = 1.0;
	pair_init(&p, 19, &l);
	pair_connect(&p);
	sim_run_until(p.s, SYNFIN_SEC(2));

	const struct sim_counts *c = sim_get_counts(p.s);
	ASSERT_EQ(synfin_state(sim_stack(p.cli), p.cfd), TCPS_ESTABLISHED);
	ASSERT(c->sent >= 3);
	ASSERT_EQ(c->duplicated, c->sent);
	ASSERT_EQ(c->delivered, 2 * c->sent);
	sim_destroy(p.s);
}

TEST(sim_reorder_holds_back_by_two_delays_and_a_millisecond)
{
	struct sim_link l = link_with_delay(SYNFIN_MS(10));
	struct pair p;
	struct watch w;

	l.reorder = 1.0;
	pair_init(&p, 23, &l);
	watch_init(&w, &p, TCPS_ESTABLISHED);
	pair_connect(&p);
	sim_run_until(p.s, SYNFIN_SEC(1));
	/* each way: 10 ms + (2 * 10 + 1) ms */
	ASSERT_EQ(w.when[0], 2 * SYNFIN_MS(31));
	ASSERT_EQ(sim_get_counts(p.s)->reordered, sim_get_counts(p.s)->sent);
	sim_destroy(p.s);
}

TEST(sim_jitter_stays_in_bounds)
{
	struct sim_link l = link_with_delay(SYNFIN_MS(10));
	struct pair p;
	struct watch w;

	l.jitter = SYNFIN_MS(5);
	pair_init(&p, 29, &l);
	watch_init(&w, &p, TCPS_ESTABLISHED);
	pair_connect(&p);
	sim_run_until(p.s, SYNFIN_SEC(1));
	ASSERT(w.when[0] >= SYNFIN_MS(20));
	ASSERT(w.when[0] <= SYNFIN_MS(30));
	sim_destroy(p.s);
}

TEST(sim_corrupt_one_never_arrives_intact)
{
	struct sim_link l;
	struct pair p;

	sim_link_default(&l);
	l.corrupt = 1.0;
	pair_init(&p, 31, &l);
	pair_connect(&p);
	sim_run_until(p.s, SYNFIN_SEC(5));

	const struct sim_counts *c = sim_get_counts(p.s);
	ASSERT(c->sent >= 2);
	ASSERT_EQ(c->corrupted, c->sent);
	ASSERT_EQ(c->delivered, c->sent);
	ASSERT(synfin_state(sim_stack(p.cli), p.cfd) != TCPS_ESTABLISHED);
	ASSERT(synfin_accept(sim_stack(p.srv), p.lfd, NULL) < 0);
	sim_destroy(p.s);
}

/* Drops the first datagram the client sends: its first SYN. */
struct drop_first {
	const struct sim_host *from;
	unsigned seen;
};

static bool drop_first_filter(void *ctx, const struct sim_host *from, const uint8_t *pkt, size_t len)
{
	struct drop_first *d = ctx;

	(void)pkt;
	(void)len;
	return from == d->from && d->seen++ == 0;
}

TEST(sim_filter_drops_what_the_scenario_says)
{
	struct capture cap;
	struct drop_first d;
	struct pair p;

	pair_init(&p, 37, NULL);
	d = (struct drop_first){ .from = p.cli };
	sim_set_filter(p.s, drop_first_filter, &d);
	capture_start(&cap, p.s, SIM_TRACE_SEGMENTS);
	pair_connect(&p);
	ASSERT(sim_run_until_cond(p.s, client_established, &p, SYNFIN_SEC(10)));
	ASSERT(sim_now(p.s) >= SYNFIN_SEC(1)); /* it took a retransmission */
	ASSERT_EQ(sim_get_counts(p.s)->filtered, 1);

	const char *text = capture_end(&cap, p.s);
	const char *first = strstr(text, "\n");
	ASSERT(first);
	ASSERT(first - text > 23);
	ASSERT(memcmp(first - 23, "  [dropped by scenario]", 23) == 0);
	capture_free(&cap);
	sim_destroy(p.s);
}

/* ---- trace format and pcap ---- */

TEST(sim_trace_lines)
{
	struct sim_link l = link_with_delay(SYNFIN_MS(10));
	struct synfin_addr me;
	struct capture cap;
	struct pair p;
	char want[128];

	/* built by hand, tracing from the start so the listen shows too */
	memset(&p, 0, sizeof(p));
	p.s = sim_create(41, NULL);
	ASSERT(p.s);
	sim_set_default_link(p.s, &l);
	capture_start(&cap, p.s, SIM_TRACE_SEGMENTS | SIM_TRACE_STATES);
	p.srv = sim_add_host(p.s, "server", SERVER_IP, NULL);
	p.cli = sim_add_host(p.s, "client", CLIENT_IP, NULL);
	ASSERT(p.srv && p.cli);
	p.lfd = listen_on(sim_stack(p.srv), 80);
	pair_connect(&p);
	ASSERT_EQ(synfin_getsockname(sim_stack(p.cli), p.cfd, &me), 0);
	sim_run_until(p.s, SYNFIN_SEC(1));
	sim_crash(p.srv);
	sim_reboot(p.srv);
	const char *text = capture_end(&cap, p.s);

	ASSERT_MSG(strstr(text, "0.000000 server   198.18.0.1.80 > *.* CLOSED -> LISTEN ("),
		   "no listen line in:\n%s", text);
	snprintf(want, sizeof(want), "0.000000 IP 198.18.0.2.%u > 198.18.0.1.80: S ", me.port);
	ASSERT_MSG(strstr(text, want), "no \"%s\" in:\n%s", want, text);
	snprintf(want, sizeof(want),
		 "0.020000 client   198.18.0.2.%u > 198.18.0.1.80 SYN_SENT -> ESTABLISHED (", me.port);
	ASSERT_MSG(strstr(text, want), "no \"%s\" in:\n%s", want, text);
	ASSERT(strstr(text, "1.000000 server   crashed\n"));
	ASSERT(strstr(text, "1.000000 server   rebooted\n"));
	capture_free(&cap);
	sim_destroy(p.s);
}

TEST(sim_pcap_has_every_datagram_sent)
{
	char path[] = "/tmp/synfin-test-sim-XXXXXX";
	struct sim_link l;
	struct pair p;
	int fd = mkstemp(path);
	FILE *f;
	long size;

	ASSERT(fd >= 0);
	close(fd);
	sim_link_default(&l);
	l.loss = 1.0; /* the capture is taken before the faults */
	pair_init(&p, 43, &l);
	ASSERT_EQ(sim_set_pcap(p.s, path), 0);
	pair_connect(&p);
	sim_run_until(p.s, SYNFIN_SEC(4));
	uint64_t sent = sim_get_counts(p.s)->sent;
	ASSERT(sent >= 2);
	sim_destroy(p.s); /* closes the file */

	f = fopen(path, "rb");
	ASSERT(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	unlink(path);
	/* a 24-byte file header, then a 16-byte header per record and the
	 * datagram: each SYN is at least 40 bytes */
	ASSERT((uint64_t)size >= 24 + sent * (16 + 40));
}

/* ---- replay ---- */

/* Every datagram sent, as the filter sees it (the filter never drops). */
#define REC_MAX 4096
struct record {
	struct sim *s;
	size_t n;
	struct {
		synfin_time_t t;
		size_t len;
		uint32_t hash;
		uint32_t from;
	} d[REC_MAX];
	struct sim_counts counts;
	char *trace;
};

static uint32_t fnv1a(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static bool record_filter(void *ctx, const struct sim_host *from, const uint8_t *pkt, size_t len)
{
	struct record *r = ctx;

	if (r->n < REC_MAX) {
		r->d[r->n].t = sim_now(r->s);
		r->d[r->n].len = len;
		r->d[r->n].hash = fnv1a(pkt, len);
		r->d[r->n].from = sim_host_ip(from);
	}
	r->n++;
	return false;
}

/* A lossy connection that moves 8 KB. */
static void lossy_run(uint64_t seed, struct record *r)
{
	struct sim_link l = link_with_delay(SYNFIN_MS(10));
	struct capture cap;
	struct pair p;
	char buf[8192];

	l.loss = 0.3;
	l.jitter = SYNFIN_MS(3);
	l.dup = 0.05;
	l.reorder = 0.05;
	memset(r, 0, sizeof(*r));
	memset(buf, 'x', sizeof(buf));
	pair_init(&p, seed, &l);
	r->s = p.s;
	sim_set_filter(p.s, record_filter, r);
	capture_start(&cap, p.s, SIM_TRACE_SEGMENTS | SIM_TRACE_STATES);
	pair_connect(&p);
	if (sim_run_until_cond(p.s, client_established, &p, SYNFIN_SEC(60)))
		synfin_send(sim_stack(p.cli), p.cfd, buf, sizeof(buf));
	for (int i = 0; i < 300; i++) {
		sim_run_for(p.s, SYNFIN_MS(100));
		if (p.afd < 0)
			p.afd = synfin_accept(sim_stack(p.srv), p.lfd, NULL);
		if (p.afd >= 0)
			while (synfin_recv(sim_stack(p.srv), p.afd, buf, sizeof(buf)) > 0)
				;
	}
	r->counts = *sim_get_counts(p.s);
	capture_end(&cap, p.s);
	r->trace = cap.buf;
	sim_destroy(p.s);
	r->s = NULL;
}

static bool records_equal(const struct record *a, const struct record *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n && i < REC_MAX; i++)
		if (a->d[i].t != b->d[i].t || a->d[i].len != b->d[i].len ||
		    a->d[i].hash != b->d[i].hash || a->d[i].from != b->d[i].from)
			return false;
	return memcmp(&a->counts, &b->counts, sizeof(a->counts)) == 0;
}

TEST(sim_same_seed_same_run)
{
	struct record *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct record *c = calloc(1, sizeof(*c));

	ASSERT(a && b && c);
	lossy_run(1234, a);
	lossy_run(1234, b);
	lossy_run(4321, c);

	ASSERT(a->n >= 5);
	ASSERT(a->counts.lost > 0);
	ASSERT_EQ(a->counts.sent, a->n);
	ASSERT(records_equal(a, b));
	ASSERT_STR(a->trace, b->trace);
	ASSERT(!records_equal(a, c));
	ASSERT(strcmp(a->trace, c->trace) != 0);
	free(a->trace);
	free(b->trace);
	free(c->trace);
	free(a);
	free(b);
	free(c);
}

TEST(sim_rand_follows_the_seed)
{
	struct sim *a = sim_create(99, NULL), *b = sim_create(99, NULL), *c = sim_create(100, NULL);
	bool differ = false;

	ASSERT(a && b && c);
	for (int i = 0; i < 100; i++) {
		uint64_t x = sim_rand(a);

		ASSERT_EQ(x, sim_rand(b));
		if (x != sim_rand(c))
			differ = true;
	}
	ASSERT(differ);
	sim_destroy(a);
	sim_destroy(b);
	sim_destroy(c);
}

/* A stack configured for a small MTU (down to IPv4's 68) sends segments
 * that fit it, also with timestamps and with SACK blocks after losses:
 * every byte arrives, in order, and no datagram is too big for the link. */
TEST(sim_small_mtu_transfers)
{
	static const uint32_t mtus[] = {68, 76, 92, 100, 128};
	for (size_t m = 0; m < sizeof mtus / sizeof mtus[0]; m++) {
		for (int lossy = 0; lossy <= 1; lossy++) {
			struct synfin_config cfg;
			struct sim_link l;
			synfin_config_default(&cfg);
			cfg.mtu = mtus[m];
			sim_link_default(&l);
			l.mtu = mtus[m];
			l.loss = lossy ? 0.05 : 0;
			struct sim *s = sim_create(100 + m * 2 + (uint64_t)lossy, NULL);
			ASSERT(s);
			sim_set_default_link(s, &l);
			struct sim_host *srv = sim_add_host(s, "server", SERVER_IP, &cfg);
			struct sim_host *cli = sim_add_host(s, "client", CLIENT_IP, &cfg);
			ASSERT(srv && cli);
			int lfd = listen_on(sim_stack(srv), 80);
			int cfd = connect_to(sim_stack(cli), SERVER_IP, 80);
			static uint8_t out[6000], in[6000];
			for (size_t i = 0; i < sizeof out; i++)
				out[i] = (uint8_t)(i * 7 + 3);
			size_t sent = 0, got = 0;
			int afd = -1;
			for (int step = 0; step < 6000 && got < sizeof in; step++) {
				if (afd < 0)
					afd = synfin_accept(sim_stack(srv), lfd, NULL);
				if (sent < sizeof out) {
					long n = synfin_send(sim_stack(cli), cfd, out + sent, sizeof out - sent);
					if (n > 0)
						sent += (size_t)n;
				}
				if (afd >= 0) {
					long n = synfin_recv(sim_stack(srv), afd, in + got, sizeof in - got);
					if (n > 0)
						got += (size_t)n;
				}
				sim_run_for(s, SYNFIN_MS(10));
			}
			ASSERT_MSG(got == sizeof in, "mtu %u loss %d: %zu of %zu bytes", mtus[m], lossy, got, sizeof in);
			ASSERT(memcmp(in, out, sizeof in) == 0);
			ASSERT_EQ(sim_get_counts(s)->too_big, 0);
			sim_destroy(s);
		}
	}
}
