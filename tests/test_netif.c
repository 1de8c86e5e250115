/*
 * The link layers: Ethernet framing, ARP (answering, learning by RFC 826's
 * merge rule, resolving with retries, expiry, LRU replacement, gratuitous
 * ARP), routing to a gateway, and ICMP (echo, soft errors with RFC 5927's
 * checks). Two interfaces are wired back to back through frame queues in
 * this file, or one interface faces a host the test plays by hand.
 *
 * The LAN is 10.0.0.0/24: A is .1, B is .2, X (played by the test) is .99.
 */
#include <errno.h>
#include <stdlib.h>

#include "arp/arp.h"
#include "eth/eth.h"
#include "synfin/netif.h"
#include "test.h"
#include "wire/icmp.h"
#include "wire/wire.h"

#define A_IP 0x0a000001u   /* 10.0.0.1 */
#define B_IP 0x0a000002u   /* 10.0.0.2 */
#define X_IP 0x0a000063u   /* 10.0.0.99: a host the test plays */
#define Y_IP 0x0a000062u   /* 10.0.0.98: another one */
#define GW_IP 0x0a0000feu  /* 10.0.0.254 */
#define NOBODY_IP 0x0a000032u /* 10.0.0.50: never answers */
#define FAR_IP 0xc0000201u /* 192.0.2.1: off-link */

static const uint8_t X_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };
static const uint8_t Y_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x98 };
static const uint8_t ZERO_MAC[6];

/* ---- the wire ---- */

#define NQ 64
#define FMAX 1600
struct frame {
	uint8_t buf[FMAX];
	size_t len;
};

/* what one interface sent, oldest first; the oldest is dropped when full */
struct outq {
	struct frame f[NQ];
	unsigned head, n, overflow;
};

struct lan {
	struct synfin_netif *nif[2]; /* A, and B or NULL */
	struct outq out[2];
	bool cut[2];                 /* frames sent by this side are lost */
	unsigned lost[2];
	synfin_time_t now;
};

static void out_push(void *ctx, const uint8_t *p, size_t len)
{
	struct outq *q = ctx;
	struct frame *f;

	if (q->n == NQ) {
		q->head = (q->head + 1) % NQ;
		q->n--;
		q->overflow++;
	}
	f = &q->f[(q->head + q->n) % NQ];
	/* anything longer would be a bug the fuzz test wants to see */
	f->len = len;
	memcpy(f->buf, p, len < FMAX ? len : FMAX);
	q->n++;
}

/* the next frame interface i sent, or NULL */
static const struct frame *out_pop(struct lan *l, int i)
{
	struct outq *q = &l->out[i];
	const struct frame *f;

	if (q->n == 0)
		return NULL;
	f = &q->f[q->head];
	q->head = (q->head + 1) % NQ;
	q->n--;
	return f;
}

/* Put back the frame out_pop() returned last, for the LAN to deliver. */
static void out_unpop(struct lan *l, int i)
{
	struct outq *q = &l->out[i];

	q->head = (q->head + NQ - 1) % NQ;
	q->n++;
}

/* the frame out_pop() returned last (it stays valid until more is sent) */
static const struct frame *out_last(struct lan *l, int i)
{
	return &l->out[i].f[(l->out[i].head + NQ - 1) % NQ];
}

/* A failed test leaves its LAN here; the next lan_new() frees it, so the
 * leak checker only ever reports real leaks. */
static struct lan *leftover;

static void lan_free(struct lan *l)
{
	if (!l)
		return;
	for (int i = 0; i < 2; i++)
		synfin_netif_destroy(l->nif[i]);
	free(l);
	if (l == leftover)
		leftover = NULL;
}

static void net_config(struct synfin_netif_config *c, uint32_t ip, bool garp)
{
	synfin_netif_config_default(c);
	c->ip = ip;
	c->gratuitous_arp = garp;
}

/* A alone (two = false) or A and B back to back, created at time 0. */
static struct lan *lan_new(bool two, const struct synfin_netif_config *acfg,
			   const struct synfin_config *tcfg)
{
	struct synfin_netif_config c;
	struct lan *l;

	lan_free(leftover);
	l = calloc(1, sizeof *l);
	ASSERT(l);
	leftover = l;
	for (int i = 0; i < (two ? 2 : 1); i++) {
		struct synfin_netif_ops ops = { .ctx = &l->out[i], .output = out_push };

		if (i == 0 && acfg)
			c = *acfg;
		else
			net_config(&c, i == 0 ? A_IP : B_IP, false);
		l->nif[i] = synfin_netif_create(&c, tcfg, &ops, 42 + (uint64_t)i, 0);
		ASSERT(l->nif[i]);
	}
	return l;
}

static struct synfin_stack *stk(struct lan *l, int i)
{
	return synfin_netif_stack(l->nif[i]);
}

static const struct synfin_netif_stats *nst(struct lan *l, int i)
{
	return synfin_netif_get_stats(l->nif[i]);
}

static const struct synfin_stats *sst(struct lan *l, int i)
{
	return synfin_get_stats(stk(l, i));
}

static void mac_of(struct lan *l, int i, uint8_t mac[6])
{
	synfin_netif_mac(l->nif[i], mac);
}

/* Hand every queued frame to the other side until nothing moves. Without
 * a B, A's frames stay queued for the test to read. */
static void lan_pump(struct lan *l)
{
	if (!l->nif[1])
		return;
	for (int guard = 0; guard < 100000; guard++) {
		bool moved = false;

		for (int i = 0; i < 2; i++) {
			const struct frame *f = out_pop(l, i);

			if (!f)
				continue;
			moved = true;
			if (l->cut[i])
				l->lost[i]++;
			else
				synfin_netif_input(l->nif[1 - i], f->buf, f->len, l->now);
		}
		if (!moved)
			return;
	}
	ASSERT_MSG(0, "the LAN never went quiet");
}

/* Deliver and run timers up to `until`, jumping from deadline to deadline. */
static void lan_run(struct lan *l, synfin_time_t until)
{
	for (int guard = 0; guard < 100000; guard++) {
		synfin_time_t next = SYNFIN_TIME_NEVER;

		lan_pump(l);
		for (int i = 0; i < 2; i++) {
			if (l->nif[i]) {
				synfin_time_t d = synfin_netif_next_deadline(l->nif[i]);
				next = d < next ? d : next;
			}
		}
		if (next > until)
			break;
		if (next > l->now)
			l->now = next;
		for (int i = 0; i < 2; i++) {
			if (l->nif[i])
				synfin_netif_poll(l->nif[i], l->now);
		}
	}
	if (until > l->now)
		l->now = until;
}

/* ---- frames the test builds ---- */

static size_t mk_arp(uint8_t *f, const uint8_t *edst, const uint8_t *esrc, uint16_t op,
		     const uint8_t *sha, uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
	struct arp_pkt a;

	memset(&a, 0, sizeof a);
	a.op = op;
	memcpy(a.sha, sha, 6);
	a.spa = spa;
	memcpy(a.tha, tha ? tha : ZERO_MAC, 6);
	a.tpa = tpa;
	eth_emit_header(f, edst, esrc, ETHERTYPE_ARP);
	arp_emit(f + ETH_HDR_LEN, &a);
	return ETH_HDR_LEN + ARP_PKT_LEN;
}

/* X (or another host) asks who has `tpa`: X becomes known to A if tpa is A. */
static void arp_request_from(struct lan *l, const uint8_t *mac, uint32_t ip, uint32_t tpa)
{
	uint8_t f[64];
	size_t n = mk_arp(f, eth_broadcast, mac, ARP_OP_REQUEST, mac, ip, NULL, tpa);

	synfin_netif_input(l->nif[0], f, n, l->now);
}

/* an ICMP message from `src` (Ethernet source X_MAC) to A */
static size_t mk_icmp(struct lan *l, uint8_t *f, uint32_t src, uint8_t type, uint8_t code,
		      uint32_t rest, const uint8_t *data, size_t len)
{
	uint8_t amac[6];
	size_t n;

	mac_of(l, 0, amac);
	eth_emit_header(f, amac, X_MAC, ETHERTYPE_IPV4);
	n = icmp_emit(f + ETH_HDR_LEN, FMAX - ETH_HDR_LEN, src, A_IP, 7, type, code, rest, data,
		      len);
	ASSERT(n > 0);
	return ETH_HDR_LEN + n;
}

/* ---- checks on frames sent ---- */

static void expect_arp(struct lan *l, int i, uint16_t op, const uint8_t *edst, uint32_t tpa,
		       struct arp_pkt *out)
{
	const struct frame *f = out_pop(l, i);
	uint8_t mac[6];
	struct eth_view eh;
	struct arp_pkt a;

	ASSERT_MSG(f, "expected an ARP %s, nothing was sent", op == 1 ? "request" : "reply");
	mac_of(l, i, mac);
	ASSERT_EQ(eth_parse(f->buf, f->len, &eh), ETH_OK);
	ASSERT_EQ(f->len, ETH_HDR_LEN + ARP_PKT_LEN); /* no padding: the TAP pads */
	ASSERT_EQ(eh.type, ETHERTYPE_ARP);
	ASSERT(memcmp(eh.dst, edst, 6) == 0);
	ASSERT(memcmp(eh.src, mac, 6) == 0);
	ASSERT_EQ(arp_parse(eh.payload, eh.payload_len, &a), ARP_OK);
	ASSERT_EQ(a.op, op);
	ASSERT(memcmp(a.sha, mac, 6) == 0);
	ASSERT_U32(a.spa, synfin_stack_ip(stk(l, i)));
	ASSERT_U32(a.tpa, tpa);
	if (out)
		*out = a;
}

/* Pop an IPv4 frame sent by side i to `edst`; fills the views. */
static void expect_ip(struct lan *l, int i, const uint8_t *edst, struct ip4_view *ip,
		      const struct frame **fp)
{
	const struct frame *f = out_pop(l, i);
	struct eth_view eh;

	ASSERT_MSG(f, "expected an IPv4 frame, nothing was sent");
	ASSERT_EQ(eth_parse(f->buf, f->len, &eh), ETH_OK);
	ASSERT_EQ(eh.type, ETHERTYPE_IPV4);
	ASSERT(memcmp(eh.dst, edst, 6) == 0);
	ASSERT_EQ(ip4_parse(eh.payload, eh.payload_len, ip), WIRE_OK);
	if (fp)
		*fp = f;
}

static void expect_tcp(struct lan *l, int i, const uint8_t *edst, uint8_t flags,
		       struct tcp_seg *seg, const struct frame **fp)
{
	struct ip4_view ip;

	expect_ip(l, i, edst, &ip, fp);
	ASSERT_EQ(ip.proto, IPPROTO_TCP_);
	ASSERT_EQ(tcp_parse(&ip, seg), WIRE_OK);
	ASSERT_EQ(seg->flags & ~TH_PSH, flags);
}

static void expect_quiet(struct lan *l, int i)
{
	ASSERT_EQ(l->out[i].n, 0);
}

/* ---- sockets ---- */

static int listen_on(struct synfin_stack *st, uint16_t port)
{
	struct synfin_addr a = { .ip = synfin_stack_ip(st), .port = port };
	int fd = synfin_socket(st);

	ASSERT(fd >= 0);
	ASSERT_EQ(synfin_bind(st, fd, &a), 0);
	ASSERT_EQ(synfin_listen(st, fd, 16), 0);
	return fd;
}

static int connect_to(struct synfin_stack *st, uint32_t ip, uint16_t port)
{
	struct synfin_addr a = { .ip = ip, .port = port };
	int fd = synfin_socket(st);

	ASSERT(fd >= 0);
	ASSERT_EQ(synfin_connect(st, fd, &a), -EINPROGRESS);
	return fd;
}

static int so_error(struct synfin_stack *st, int fd)
{
	int v = -1;
	size_t len = sizeof v;

	ASSERT_EQ(synfin_getsockopt(st, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_ERROR, &v, &len), 0);
	return v;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* A connects to B:80 through ARP; returns the accepted socket in *afd. */
static int establish(struct lan *l, int *afd)
{
	int lfd = listen_on(stk(l, 1), 80);
	int cfd = connect_to(stk(l, 0), B_IP, 80);

	lan_run(l, l->now + SYNFIN_MS(100));
	ASSERT_EQ(synfin_state(stk(l, 0), cfd), TCPS_ESTABLISHED);
	*afd = synfin_accept(stk(l, 1), lfd, NULL);
	ASSERT(*afd >= 0);
	return cfd;
}

/* ---- configuration ---- */

TEST(netif_config_defaults_and_bad_configs)
{
	struct synfin_netif_config c;
	struct synfin_netif_ops ops = { .ctx = NULL, .output = out_push };

	synfin_netif_config_default(&c);
	ASSERT_EQ(c.prefix_len, 24);
	ASSERT_EQ(c.arp_ttl, SYNFIN_SEC(60));
	ASSERT_EQ(c.arp_retry, SYNFIN_SEC(1));
	ASSERT_EQ(c.arp_retries, 3);
	ASSERT(c.gratuitous_arp);
	ASSERT(eth_is_zero(c.mac));

	c.gratuitous_arp = false;
	ASSERT(synfin_netif_create(&c, NULL, &ops, 1, 0) == NULL); /* ip 0 */
	c.ip = A_IP;
	c.prefix_len = 33;
	ASSERT(synfin_netif_create(&c, NULL, &ops, 1, 0) == NULL);
	c.prefix_len = 24;
	c.gateway = 0x0a000101u; /* 10.0.1.1: outside 10.0.0.0/24 */
	ASSERT(synfin_netif_create(&c, NULL, &ops, 1, 0) == NULL);
	c.gateway = GW_IP;
	c.mac[0] = 0x01; /* a multicast address cannot be ours */
	ASSERT(synfin_netif_create(&c, NULL, &ops, 1, 0) == NULL);
	c.mac[0] = 0;
	c.arp_retry = 0;
	ASSERT(synfin_netif_create(&c, NULL, &ops, 1, 0) == NULL);
	c.arp_retry = SYNFIN_SEC(1);
	ASSERT(synfin_netif_create(&c, NULL, NULL, 1, 0) == NULL);

	/* a good one; the MTU is capped to what an Ethernet frame carries */
	struct synfin_config tc;
	synfin_config_default(&tc);
	tc.mtu = 9000;
	struct synfin_netif *nif = synfin_netif_create(&c, &tc, &ops, 1, 0);
	ASSERT(nif);
	ASSERT_EQ(synfin_stack_config(synfin_netif_stack(nif))->mtu, 1500);
	ASSERT_U32(synfin_stack_ip(synfin_netif_stack(nif)), A_IP);
	synfin_netif_destroy(nif);
	tc.mtu = 576; /* smaller is kept */
	nif = synfin_netif_create(&c, &tc, &ops, 1, 0);
	ASSERT(nif);
	ASSERT_EQ(synfin_stack_config(synfin_netif_stack(nif))->mtu, 576);
	synfin_netif_destroy(nif);
}

TEST(netif_mac_from_ip_and_parse)
{
	uint8_t m[6], want[6] = { 0x02, 0x53, 0x46, 0x12, 0x00, 0x07 };

	synfin_mac_from_ip(0xc6120007u, m); /* 198.18.0.7 */
	ASSERT(memcmp(m, want, 6) == 0);
	ASSERT(synfin_mac_parse("02:53:46:12:00:07", m));
	ASSERT(memcmp(m, want, 6) == 0);
	ASSERT(synfin_mac_parse("AA:bb:Cc:00:ff:10", m));
	ASSERT_EQ(m[0], 0xaa);
	ASSERT_EQ(m[4], 0xff);
	ASSERT(!synfin_mac_parse("02:53:46:12:00", m));
	ASSERT(!synfin_mac_parse("02:53:46:12:00:07:", m));
	ASSERT(!synfin_mac_parse("02:53:46:12:00:7", m));
	ASSERT(!synfin_mac_parse("02-53-46-12-00-07", m));
	ASSERT(!synfin_mac_parse("02:53:46:12:00:0g", m));
	ASSERT(!synfin_mac_parse("", m));

	/* the interface's address when none is configured */
	struct lan *l = lan_new(false, NULL, NULL);
	uint8_t amac[6], want_a[6] = { 0x02, 0x53, 0x46, 0x00, 0x00, 0x01 };
	mac_of(l, 0, amac);
	ASSERT(memcmp(amac, want_a, 6) == 0);
	lan_free(l);
}

/* ---- ARP ---- */

TEST(netif_gratuitous_arp_at_start)
{
	struct synfin_netif_config c;
	struct arp_pkt a;

	net_config(&c, A_IP, true);
	struct lan *l = lan_new(false, &c, NULL);
	/* RFC 5227 announcement: a broadcast request, sender = target = us */
	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, A_IP, &a);
	ASSERT(eth_is_zero(a.tha));
	expect_quiet(l, 0);
	ASSERT_EQ(nst(l, 0)->arp_gratuitous_out, 1);
	ASSERT_EQ(nst(l, 0)->arp_requests_out, 0);
	ASSERT_EQ(nst(l, 0)->eth_out, 1);
	/* and nothing to do afterwards: no timer for an idle interface */
	ASSERT_EQ(synfin_netif_next_deadline(l->nif[0]), SYNFIN_TIME_NEVER);
	lan_free(l);

	net_config(&c, A_IP, false);
	l = lan_new(false, &c, NULL);
	expect_quiet(l, 0);
	lan_free(l);
}

TEST(netif_arp_replies_for_us_and_stays_silent_for_others)
{
	struct lan *l = lan_new(false, NULL, NULL);
	uint8_t amac[6], m[6];
	struct arp_pkt a;
	struct tcp_seg seg;

	mac_of(l, 0, amac);
	/* a request for someone else: no answer, and X is not learned */
	arp_request_from(l, X_MAC, X_IP, 0x0a00004du);
	expect_quiet(l, 0);
	ASSERT(!synfin_netif_arp_lookup(l->nif[0], X_IP, m));

	/* a request for us: a unicast reply to the asker, who is learned */
	arp_request_from(l, X_MAC, X_IP, A_IP);
	expect_arp(l, 0, ARP_OP_REPLY, X_MAC, X_IP, &a);
	ASSERT(memcmp(a.tha, X_MAC, 6) == 0);
	expect_quiet(l, 0);
	ASSERT_EQ(nst(l, 0)->arp_in, 2);
	ASSERT_EQ(nst(l, 0)->arp_replies_out, 1);
	ASSERT_EQ(nst(l, 0)->arp_cache_adds, 1);
	ASSERT(synfin_netif_arp_lookup(l->nif[0], X_IP, m));
	ASSERT(memcmp(m, X_MAC, 6) == 0);

	/* X is known: a SYN to it goes out at once, to its address */
	connect_to(stk(l, 0), X_IP, 80);
	expect_tcp(l, 0, X_MAC, TH_SYN, &seg, NULL);
	expect_quiet(l, 0);
	/* Y is not: its SYN waits behind a request */
	connect_to(stk(l, 0), Y_IP, 80);
	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, Y_IP, NULL);
	expect_quiet(l, 0);
	ASSERT_EQ(nst(l, 0)->arp_requests_out, 1);

	/* an RFC 5227 probe for our address (sender 0) is answered, the
	 * unspecified sender not learned */
	uint8_t f[64];
	size_t n = mk_arp(f, eth_broadcast, Y_MAC, ARP_OP_REQUEST, Y_MAC, 0, NULL, A_IP);
	synfin_netif_input(l->nif[0], f, n, l->now);
	expect_arp(l, 0, ARP_OP_REPLY, Y_MAC, 0, NULL);
	ASSERT(!synfin_netif_arp_lookup(l->nif[0], 0, m));
	lan_free(l);
}

TEST(netif_arp_merge_rule_of_rfc826)
{
	struct lan *l = lan_new(false, NULL, NULL);
	uint8_t amac[6], m[6], f[64];
	const uint8_t X2_MAC[6] = { 0x02, 0, 0, 0, 0x01, 0x99 };
	size_t n;

	mac_of(l, 0, amac);
	arp_request_from(l, X_MAC, X_IP, A_IP);
	expect_arp(l, 0, ARP_OP_REPLY, X_MAC, X_IP, NULL);

	/* X moves to another card and announces it (gratuitous, not for us):
	 * the entry we have is updated, nothing is answered */
	n = mk_arp(f, eth_broadcast, X2_MAC, ARP_OP_REQUEST, X2_MAC, X_IP, NULL, X_IP);
	synfin_netif_input(l->nif[0], f, n, l->now);
	expect_quiet(l, 0);
	ASSERT(synfin_netif_arp_lookup(l->nif[0], X_IP, m));
	ASSERT(memcmp(m, X2_MAC, 6) == 0);

	/* an unknown host's announcement adds nothing */
	n = mk_arp(f, eth_broadcast, Y_MAC, ARP_OP_REQUEST, Y_MAC, Y_IP, NULL, Y_IP);
	synfin_netif_input(l->nif[0], f, n, l->now);
	ASSERT(!synfin_netif_arp_lookup(l->nif[0], Y_IP, m));
	/* nor does a reply to someone else */
	n = mk_arp(f, eth_broadcast, Y_MAC, ARP_OP_REPLY, Y_MAC, Y_IP, X_MAC, X_IP);
	synfin_netif_input(l->nif[0], f, n, l->now);
	ASSERT(!synfin_netif_arp_lookup(l->nif[0], Y_IP, m));
	/* a reply to us is learned, asked for or not (RFC 826) */
	n = mk_arp(f, amac, Y_MAC, ARP_OP_REPLY, Y_MAC, Y_IP, amac, A_IP);
	synfin_netif_input(l->nif[0], f, n, l->now);
	ASSERT(synfin_netif_arp_lookup(l->nif[0], Y_IP, m));
	ASSERT(memcmp(m, Y_MAC, 6) == 0);

	/* someone claiming our address is not believed */
	n = mk_arp(f, eth_broadcast, Y_MAC, ARP_OP_REQUEST, Y_MAC, A_IP, NULL, A_IP);
	synfin_netif_input(l->nif[0], f, n, l->now);
	expect_quiet(l, 0);
	ASSERT(!synfin_netif_arp_lookup(l->nif[0], A_IP, m));
	expect_quiet(l, 0);
	ASSERT_EQ(nst(l, 0)->arp_bad, 0);
	lan_free(l);
}

TEST(netif_handshake_and_data_through_arp)
{
	struct lan *l = lan_new(true, NULL, NULL);
	uint8_t amac[6], bmac[6], m[6];
	const struct frame *f;
	struct tcp_seg seg;
	struct arp_pkt a;

	mac_of(l, 0, amac);
	mac_of(l, 1, bmac);
	int lfd = listen_on(stk(l, 1), 80);
	int cfd = connect_to(stk(l, 0), B_IP, 80);

	/* the SYN waits: only a request goes out */
	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, B_IP, &a);
	ASSERT(eth_is_zero(a.tha));
	expect_quiet(l, 0);
	ASSERT_EQ(sst(l, 0)->tcp_out, 1); /* the stack did send it */
	ASSERT_EQ(synfin_netif_next_deadline(l->nif[0]), SYNFIN_SEC(1));

	/* B answers and, being the target, learns A on the way */
	f = out_last(l, 0);
	synfin_netif_input(l->nif[1], f->buf, f->len, l->now);
	ASSERT(synfin_netif_arp_lookup(l->nif[1], A_IP, m));
	ASSERT(memcmp(m, amac, 6) == 0);
	expect_arp(l, 1, ARP_OP_REPLY, amac, A_IP, &a);
	ASSERT(memcmp(a.tha, amac, 6) == 0);
	expect_quiet(l, 1);

	/* the reply releases the SYN, to B's address */
	f = out_last(l, 1);
	synfin_netif_input(l->nif[0], f->buf, f->len, l->now);
	expect_tcp(l, 0, bmac, TH_SYN, &seg, &f);
	ASSERT_EQ(seg.dport, 80);
	ASSERT_EQ(nst(l, 0)->arp_cache_adds, 1);

	/* B has A already: its SYN,ACK needs no request */
	synfin_netif_input(l->nif[1], f->buf, f->len, l->now);
	expect_tcp(l, 1, amac, TH_SYN | TH_ACK, &seg, NULL);
	ASSERT_EQ(nst(l, 1)->arp_requests_out, 0);
	out_unpop(l, 1);
	lan_run(l, SYNFIN_MS(10));
	ASSERT_EQ(synfin_state(stk(l, 0), cfd), TCPS_ESTABLISHED);
	int afd = synfin_accept(stk(l, 1), lfd, NULL);
	ASSERT(afd >= 0);
	ASSERT_EQ(synfin_state(stk(l, 1), afd), TCPS_ESTABLISHED);

	/* data both ways, several segments one way */
	uint8_t big[5000], got[6000];
	fill(big, sizeof big, 3);
	ASSERT_EQ(synfin_send(stk(l, 0), cfd, big, sizeof big), (long)sizeof big);
	ASSERT_EQ(synfin_send(stk(l, 1), afd, "pong", 4), 4);
	lan_run(l, l->now + SYNFIN_SEC(1));
	ASSERT_EQ(synfin_recv(stk(l, 1), afd, got, sizeof got), (long)sizeof big);
	ASSERT(memcmp(got, big, sizeof big) == 0);
	ASSERT_EQ(synfin_recv(stk(l, 0), cfd, got, sizeof got), 4);
	ASSERT(memcmp(got, "pong", 4) == 0);

	/* one request and one reply in all; every frame accounted for (the
	 * reads above opened windows: those updates are delivered too) */
	lan_pump(l);
	ASSERT_EQ(nst(l, 0)->arp_requests_out, 1);
	ASSERT_EQ(nst(l, 1)->arp_requests_out, 0);
	ASSERT_EQ(nst(l, 1)->arp_replies_out, 1);
	ASSERT_EQ(nst(l, 0)->eth_out, nst(l, 1)->eth_in);
	ASSERT_EQ(nst(l, 1)->eth_out, nst(l, 0)->eth_in);
	ASSERT_EQ(nst(l, 0)->eth_out, sst(l, 0)->ip_out + 1);
	ASSERT_EQ(nst(l, 0)->arp_queue_drops + nst(l, 0)->no_route, 0);
	lan_free(l);
}

TEST(netif_arp_entry_expires_and_is_resolved_again)
{
	struct lan *l = lan_new(true, NULL, NULL);
	uint8_t bmac[6], m[6], buf[100];
	struct ip4_view ip;
	int afd, cfd = establish(l, &afd);

	mac_of(l, 1, bmac);
	ASSERT_EQ(nst(l, 0)->arp_requests_out, 1);

	/* within the lifetime: straight out */
	lan_run(l, SYNFIN_SEC(30));
	ASSERT_EQ(synfin_send(stk(l, 0), cfd, "early", 5), 5);
	expect_ip(l, 0, bmac, &ip, NULL);
	out_unpop(l, 0);
	lan_run(l, SYNFIN_SEC(31));
	ASSERT_EQ(synfin_recv(stk(l, 1), afd, buf, sizeof buf), 5);

	/* 60 s after the reply the entry is stale: the next datagram waits
	 * behind a new request */
	lan_run(l, SYNFIN_SEC(61));
	synfin_netif_poll(l->nif[0], l->now);
	ASSERT(!synfin_netif_arp_lookup(l->nif[0], B_IP, m));
	ASSERT_EQ(synfin_send(stk(l, 0), cfd, "late", 4), 4);
	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, B_IP, NULL);
	expect_quiet(l, 0);
	ASSERT_EQ(nst(l, 0)->arp_expired, 1);
	ASSERT_EQ(nst(l, 0)->arp_requests_out, 2);
	out_unpop(l, 0);
	lan_run(l, SYNFIN_SEC(62));
	ASSERT_EQ(synfin_recv(stk(l, 1), afd, buf, sizeof buf), 4);
	ASSERT(memcmp(buf, "late", 4) == 0);
	ASSERT(synfin_netif_arp_lookup(l->nif[0], B_IP, m));
	/* B's entry for A had expired too, but A's request refreshed it
	 * (the merge rule), so B's ACK needed no request of its own */
	ASSERT_EQ(nst(l, 1)->arp_requests_out, 0);
	ASSERT_EQ(nst(l, 1)->arp_expired, 0);
	lan_free(l);
}

TEST(netif_arp_retries_then_gives_up)
{
	struct synfin_config tc;
	struct lan *l;
	const struct frame *f;

	synfin_config_default(&tc);
	/* TCP stays out of the way while ARP retries */
	tc.rto_initial = tc.rto_min = SYNFIN_SEC(10);
	l = lan_new(false, NULL, &tc);
	int fd = connect_to(stk(l, 0), NOBODY_IP, 80);

	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, NOBODY_IP, NULL);
	ASSERT_EQ(synfin_netif_next_deadline(l->nif[0]), SYNFIN_SEC(1));
	synfin_netif_poll(l->nif[0], SYNFIN_SEC(1));
	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, NOBODY_IP, NULL);
	expect_quiet(l, 0);
	ASSERT_EQ(synfin_netif_next_deadline(l->nif[0]), SYNFIN_SEC(2));
	/* a poll before the deadline does nothing */
	synfin_netif_poll(l->nif[0], SYNFIN_MS(1999));
	expect_quiet(l, 0);
	synfin_netif_poll(l->nif[0], SYNFIN_SEC(2));
	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, NOBODY_IP, NULL);
	ASSERT_EQ(synfin_netif_next_deadline(l->nif[0]), SYNFIN_SEC(3));
	ASSERT_EQ(nst(l, 0)->arp_failed, 0);

	/* three requests unanswered: the held SYN is dropped */
	synfin_netif_poll(l->nif[0], SYNFIN_SEC(3));
	expect_quiet(l, 0);
	ASSERT_EQ(nst(l, 0)->arp_failed, 1);
	ASSERT_EQ(nst(l, 0)->arp_requests_out, 3);
	ASSERT_EQ(nst(l, 0)->eth_out, 3);
	/* and the connection was told, as a soft error */
	ASSERT_EQ(sst(l, 0)->icmp_unreach, 1);
	/* only TCP's retransmission is left to wait for */
	ASSERT_EQ(synfin_netif_next_deadline(l->nif[0]), SYNFIN_SEC(10));

	/* which starts a new resolution */
	synfin_netif_poll(l->nif[0], SYNFIN_SEC(10));
	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, NOBODY_IP, NULL);
	expect_quiet(l, 0);
	ASSERT_EQ(synfin_netif_next_deadline(l->nif[0]), SYNFIN_SEC(11));
	/* and when an answer comes at last, the retransmitted SYN goes */
	{
		uint8_t amac[6], fr[64];
		size_t n;
		struct tcp_seg seg;
		const uint8_t N_MAC[6] = { 0x02, 0, 0, 0, 0, 0x32 };

		mac_of(l, 0, amac);
		n = mk_arp(fr, amac, N_MAC, ARP_OP_REPLY, N_MAC, NOBODY_IP, amac, A_IP);
		synfin_netif_input(l->nif[0], fr, n, SYNFIN_MS(10500));
		expect_tcp(l, 0, N_MAC, TH_SYN, &seg, &f);
		expect_quiet(l, 0);
	}
	ASSERT_EQ(synfin_state(stk(l, 0), fd), TCPS_SYN_SENT);
	lan_free(l);
}

/* Like Linux's "No route to host": a connection whose SYNs never got past
 * ARP reports EHOSTUNREACH rather than ETIMEDOUT when it gives up. */
TEST(netif_arp_failure_makes_connect_fail_with_ehostunreach)
{
	struct synfin_config tc;
	struct lan *l;

	synfin_config_default(&tc);
	tc.syn_retries = 2;
	l = lan_new(false, NULL, &tc);
	int fd = connect_to(stk(l, 0), NOBODY_IP, 80);

	lan_run(l, SYNFIN_SEC(5));
	ASSERT_EQ(nst(l, 0)->arp_failed, 1);
	ASSERT_EQ(synfin_state(stk(l, 0), fd), TCPS_SYN_SENT);
	lan_run(l, SYNFIN_SEC(20));
	ASSERT_EQ(synfin_state(stk(l, 0), fd), TCPS_CLOSED);
	ASSERT_EQ(so_error(stk(l, 0), fd), EHOSTUNREACH);
	/* nothing but ARP ever left: no datagram reached the wire */
	ASSERT_EQ(nst(l, 0)->eth_out, nst(l, 0)->arp_requests_out);
	lan_free(l);
}

TEST(netif_arp_queue_holds_the_latest_datagrams)
{
	struct synfin_config tc;
	struct lan *l;
	struct synfin_addr local[6];
	uint8_t amac[6], fr[64];
	struct tcp_seg seg;
	size_t n;

	synfin_config_default(&tc);
	tc.rto_initial = tc.rto_min = SYNFIN_SEC(10);
	l = lan_new(false, NULL, &tc);
	mac_of(l, 0, amac);
	for (int i = 0; i < 6; i++) {
		int fd = connect_to(stk(l, 0), X_IP, 80);
		ASSERT_EQ(synfin_getsockname(stk(l, 0), fd, &local[i]), 0);
	}
	/* one request for the six SYNs; room for ARP_QLEN of them */
	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, X_IP, NULL);
	expect_quiet(l, 0);
	ASSERT_EQ(nst(l, 0)->arp_queue_drops, 6 - ARP_QLEN);

	n = mk_arp(fr, amac, X_MAC, ARP_OP_REPLY, X_MAC, X_IP, amac, A_IP);
	synfin_netif_input(l->nif[0], fr, n, SYNFIN_MS(1));
	/* the latest ones, in order (RFC 1122 2.3.2.2: keep the latest) */
	for (int i = 6 - ARP_QLEN; i < 6; i++) {
		expect_tcp(l, 0, X_MAC, TH_SYN, &seg, NULL);
		ASSERT_EQ(seg.sport, local[i].port);
	}
	expect_quiet(l, 0);
	ASSERT_EQ(synfin_netif_next_deadline(l->nif[0]), SYNFIN_SEC(10));
	lan_free(l);
}

TEST(netif_arp_cache_replaces_the_least_recently_used)
{
	struct lan *l = lan_new(false, NULL, NULL);
	uint8_t m[6], mac[6] = { 0x02, 0, 0, 0, 0, 0 };
	struct tcp_seg seg;

	/* fill the cache: host i (10.0.1.i... on our /24: 10.0.0.100+i) */
	for (int i = 0; i < ARP_CACHE_SIZE; i++) {
		mac[5] = (uint8_t)(100 + i);
		l->now = SYNFIN_MS(i + 1);
		arp_request_from(l, mac, 0x0a000064u + (uint32_t)i, A_IP);
		ASSERT(out_pop(l, 0));
	}
	for (int i = 0; i < ARP_CACHE_SIZE; i++)
		ASSERT(synfin_netif_arp_lookup(l->nif[0], 0x0a000064u + (uint32_t)i, m));
	/* sending to host 0 makes host 1 the least recently used */
	l->now = SYNFIN_MS(100);
	synfin_netif_poll(l->nif[0], l->now);
	connect_to(stk(l, 0), 0x0a000064u, 80);
	mac[5] = 100;
	expect_tcp(l, 0, mac, TH_SYN, &seg, NULL);

	mac[5] = 1;
	arp_request_from(l, mac, 0x0a000001u + 1, A_IP); /* 10.0.0.2 */
	ASSERT(out_pop(l, 0));
	ASSERT(synfin_netif_arp_lookup(l->nif[0], 0x0a000002u, m));
	ASSERT(synfin_netif_arp_lookup(l->nif[0], 0x0a000064u, m));
	ASSERT(!synfin_netif_arp_lookup(l->nif[0], 0x0a000065u, m));
	ASSERT(synfin_netif_arp_lookup(l->nif[0], 0x0a000066u, m));
	lan_free(l);
}

/* ---- routing ---- */

TEST(netif_routes_off_link_through_the_gateway)
{
	struct synfin_netif_config c;
	struct lan *l;

	net_config(&c, A_IP, false);
	c.gateway = GW_IP;
	l = lan_new(false, &c, NULL);
	connect_to(stk(l, 0), FAR_IP, 80);
	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, GW_IP, NULL);
	/* on-link stays on-link */
	connect_to(stk(l, 0), X_IP, 80);
	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, X_IP, NULL);
	/* the subnet's broadcast address is no destination */
	connect_to(stk(l, 0), 0x0a0000ffu, 80);
	expect_quiet(l, 0);
	ASSERT_EQ(nst(l, 0)->no_route, 1);
	lan_free(l);

	/* without a gateway, off-link is unreachable */
	l = lan_new(false, NULL, NULL);
	connect_to(stk(l, 0), FAR_IP, 80);
	expect_quiet(l, 0);
	ASSERT_EQ(nst(l, 0)->no_route, 1);
	lan_free(l);
}

/* ---- ICMP ---- */

TEST(netif_ping_gets_an_echo_reply)
{
	struct lan *l = lan_new(false, NULL, NULL);
	uint8_t f[FMAX], data[56];
	struct ip4_view ip;
	struct icmp_view ic;
	size_t n;

	arp_request_from(l, X_MAC, X_IP, A_IP);
	ASSERT(out_pop(l, 0));

	fill(data, sizeof data, 9);
	n = mk_icmp(l, f, X_IP, ICMP_ECHO, 0, 0x4242u << 16 | 7, data, sizeof data);
	synfin_netif_input(l->nif[0], f, n, l->now);
	expect_ip(l, 0, X_MAC, &ip, NULL); /* header checksum verified */
	ASSERT_U32(ip.src, A_IP);
	ASSERT_U32(ip.dst, X_IP);
	ASSERT_EQ(ip.proto, IPPROTO_ICMP_);
	ASSERT_EQ(icmp_parse(&ip, &ic), WIRE_OK); /* ICMP checksum verified */
	ASSERT_EQ(ic.type, ICMP_ECHOREPLY);
	ASSERT_EQ(ic.code, 0);
	ASSERT_U32(ic.rest, 0x4242u << 16 | 7);
	ASSERT_EQ(ic.body_len, sizeof data);
	ASSERT(memcmp(ic.body, data, sizeof data) == 0);
	expect_quiet(l, 0);
	ASSERT_EQ(sst(l, 0)->icmp_in, 1);
	ASSERT_EQ(sst(l, 0)->icmp_echo_replies, 1);

	/* a corrupted checksum: counted, not answered */
	n = mk_icmp(l, f, X_IP, ICMP_ECHO, 0, 1, data, sizeof data);
	f[ETH_HDR_LEN + 20 + 8] ^= 0x40;
	synfin_netif_input(l->nif[0], f, n, l->now);
	expect_quiet(l, 0);
	ASSERT_EQ(sst(l, 0)->icmp_bad, 1);
	/* a broadcast source is never answered */
	n = mk_icmp(l, f, 0xffffffffu, ICMP_ECHO, 0, 1, data, sizeof data);
	synfin_netif_input(l->nif[0], f, n, l->now);
	expect_quiet(l, 0);
	ASSERT_EQ(sst(l, 0)->icmp_bad, 2);
	/* echo replies and unknown types are taken in silently */
	n = mk_icmp(l, f, X_IP, ICMP_ECHOREPLY, 0, 1, data, sizeof data);
	synfin_netif_input(l->nif[0], f, n, l->now);
	n = mk_icmp(l, f, X_IP, 42, 0, 1, NULL, 0);
	synfin_netif_input(l->nif[0], f, n, l->now);
	expect_quiet(l, 0);
	ASSERT_EQ(sst(l, 0)->icmp_in, 5);
	ASSERT_EQ(sst(l, 0)->icmp_bad, 2);

	/* from a host not yet resolved, the reply waits for ARP */
	n = mk_icmp(l, f, Y_IP, ICMP_ECHO, 0, 0x77, data, 8);
	synfin_netif_input(l->nif[0], f, n, l->now);
	expect_arp(l, 0, ARP_OP_REQUEST, eth_broadcast, Y_IP, NULL);
	expect_quiet(l, 0);
	arp_request_from(l, Y_MAC, Y_IP, A_IP); /* asking for us answers ours */
	expect_ip(l, 0, Y_MAC, &ip, NULL);
	ASSERT_EQ(icmp_parse(&ip, &ic), WIRE_OK);
	ASSERT_U32(ic.rest, 0x77);
	expect_arp(l, 0, ARP_OP_REPLY, Y_MAC, Y_IP, NULL);
	expect_quiet(l, 0);
	lan_free(l);
}

/* the first 28 bytes of the datagram in frame f: what a router quotes */
static void quote_of(const struct frame *f, uint8_t q[28])
{
	memcpy(q, f->buf + ETH_HDR_LEN, 28);
}

TEST(netif_icmp_port_unreachable_reported_when_the_syn_times_out)
{
	struct synfin_config tc;
	struct lan *l;
	const struct frame *f;
	struct tcp_seg seg;
	uint8_t q[28], fr[FMAX];
	size_t n;

	synfin_config_default(&tc);
	tc.syn_retries = 2;
	l = lan_new(false, NULL, &tc);
	arp_request_from(l, X_MAC, X_IP, A_IP);
	ASSERT(out_pop(l, 0));
	int fd = connect_to(stk(l, 0), X_IP, 80);
	expect_tcp(l, 0, X_MAC, TH_SYN, &seg, &f);
	quote_of(f, q);

	/* X has nothing on port 80 and says so */
	n = mk_icmp(l, fr, X_IP, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, q, sizeof q);
	synfin_netif_input(l->nif[0], fr, n, SYNFIN_MS(1));
	ASSERT_EQ(sst(l, 0)->icmp_unreach, 1);
	/* a soft error: the connection carries on */
	ASSERT_EQ(synfin_state(stk(l, 0), fd), TCPS_SYN_SENT);
	expect_quiet(l, 0);

	/* SYN retransmissions at 1 s and 3 s, then the limit at 7 s */
	lan_run(l, SYNFIN_SEC(6));
	expect_tcp(l, 0, X_MAC, TH_SYN, &seg, NULL);
	expect_tcp(l, 0, X_MAC, TH_SYN, &seg, NULL);
	ASSERT_EQ(synfin_state(stk(l, 0), fd), TCPS_SYN_SENT);
	lan_run(l, SYNFIN_SEC(8));
	ASSERT_EQ(synfin_state(stk(l, 0), fd), TCPS_CLOSED);
	/* and the error is the one ICMP told, not ETIMEDOUT */
	ASSERT_EQ(so_error(stk(l, 0), fd), ECONNREFUSED);
	lan_free(l);
}

TEST(netif_icmp_quoting_a_sequence_out_of_window_is_ignored)
{
	struct synfin_config tc;
	struct lan *l;
	const struct frame *f;
	struct tcp_seg seg;
	uint8_t q[28], fr[FMAX];
	size_t n;

	synfin_config_default(&tc);
	tc.syn_retries = 2;
	l = lan_new(false, NULL, &tc);
	arp_request_from(l, X_MAC, X_IP, A_IP);
	ASSERT(out_pop(l, 0));
	int fd = connect_to(stk(l, 0), X_IP, 80);
	expect_tcp(l, 0, X_MAC, TH_SYN, &seg, &f);

	/* RFC 5927 4.1: a sequence number we never sent (ISS + 1000) */
	quote_of(f, q);
	uint32_t bad = seg.seq + 1000;
	q[24] = (uint8_t)(bad >> 24);
	q[25] = (uint8_t)(bad >> 16);
	q[26] = (uint8_t)(bad >> 8);
	q[27] = (uint8_t)bad;
	n = mk_icmp(l, fr, X_IP, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, q, sizeof q);
	synfin_netif_input(l->nif[0], fr, n, SYNFIN_MS(1));
	/* another 4-tuple (wrong port) */
	quote_of(f, q);
	q[22] ^= 1;
	n = mk_icmp(l, fr, X_IP, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0, q, sizeof q);
	synfin_netif_input(l->nif[0], fr, n, SYNFIN_MS(1));
	/* "fragmentation needed" is for PMTU discovery, not an error */
	quote_of(f, q);
	n = mk_icmp(l, fr, X_IP, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400, q, sizeof q);
	synfin_netif_input(l->nif[0], fr, n, SYNFIN_MS(1));
	/* a quote too short to hold the ports and sequence number */
	n = mk_icmp(l, fr, X_IP, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, q, 24);
	synfin_netif_input(l->nif[0], fr, n, SYNFIN_MS(1));
	ASSERT_EQ(sst(l, 0)->icmp_unreach, 0);
	ASSERT_EQ(sst(l, 0)->icmp_unreach_ignored, 3);
	ASSERT_EQ(sst(l, 0)->icmp_bad, 1);

	lan_run(l, SYNFIN_SEC(8));
	ASSERT_EQ(synfin_state(stk(l, 0), fd), TCPS_CLOSED);
	ASSERT_EQ(so_error(stk(l, 0), fd), ETIMEDOUT);
	lan_free(l);
}

TEST(netif_icmp_host_unreachable_reported_when_data_times_out)
{
	struct synfin_config tc;
	struct lan *l;
	const struct frame *f;
	struct tcp_seg seg;
	uint8_t bmac[6], q[28], fr[FMAX];
	size_t n;

	synfin_config_default(&tc);
	tc.retries = 3;
	l = lan_new(true, NULL, &tc);
	mac_of(l, 1, bmac);
	int afd, cfd = establish(l, &afd);
	(void)afd;

	/* B's side of the wire goes dead; a router says B is unreachable */
	l->cut[0] = true;
	ASSERT_EQ(synfin_send(stk(l, 0), cfd, "hello", 5), 5);
	expect_tcp(l, 0, bmac, TH_ACK, &seg, &f);
	ASSERT_EQ(seg.len, 5);
	quote_of(f, q);
	n = mk_icmp(l, fr, GW_IP, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0, q, sizeof q);
	synfin_netif_input(l->nif[0], fr, n, l->now);
	ASSERT_EQ(sst(l, 0)->icmp_unreach, 1);
	ASSERT_EQ(synfin_state(stk(l, 0), cfd), TCPS_ESTABLISHED);

	lan_run(l, l->now + SYNFIN_SEC(60));
	ASSERT_EQ(synfin_state(stk(l, 0), cfd), TCPS_CLOSED);
	ASSERT_EQ(sst(l, 0)->timeouts, 1);
	ASSERT_EQ(synfin_recv(stk(l, 0), cfd, fr, sizeof fr), -EHOSTUNREACH);
	lan_free(l);
}

/* ---- malformed input ---- */

TEST(netif_malformed_frames_are_counted_and_dropped)
{
	struct lan *l = lan_new(false, NULL, NULL);
	uint8_t amac[6], f[FMAX];
	size_t n;

	mac_of(l, 0, amac);
	/* truncated Ethernet */
	n = mk_arp(f, amac, X_MAC, ARP_OP_REQUEST, X_MAC, X_IP, NULL, A_IP);
	synfin_netif_input(l->nif[0], f, 10, 0);
	synfin_netif_input(l->nif[0], f, 0, 0);
	ASSERT_EQ(nst(l, 0)->eth_bad, 2);
	/* a multicast source address */
	f[6] |= 1;
	synfin_netif_input(l->nif[0], f, n, 0);
	f[6] &= (uint8_t)~1;
	ASSERT_EQ(nst(l, 0)->eth_bad, 3);
	/* not for us: another station, a multicast group */
	f[5] ^= 1;
	synfin_netif_input(l->nif[0], f, n, 0);
	f[5] ^= 1;
	f[0] = 0x01;
	synfin_netif_input(l->nif[0], f, n, 0);
	memcpy(f, amac, 6);
	ASSERT_EQ(nst(l, 0)->eth_not_ours, 2);
	/* 802.1Q-tagged, IPv6, an 802.3 length field */
	f[12] = 0x81, f[13] = 0x00;
	synfin_netif_input(l->nif[0], f, n, 0);
	f[12] = 0x86, f[13] = 0xdd;
	synfin_netif_input(l->nif[0], f, n, 0);
	f[12] = 0x00, f[13] = 0x2e;
	synfin_netif_input(l->nif[0], f, n, 0);
	f[12] = 0x08, f[13] = 0x06;
	ASSERT_EQ(nst(l, 0)->eth_other_type, 3);
	/* truncated ARP, wrong hardware length, wrong protocol, bad op */
	synfin_netif_input(l->nif[0], f, n - 1, 0);
	f[ETH_HDR_LEN + 4] = 8;
	synfin_netif_input(l->nif[0], f, n, 0);
	f[ETH_HDR_LEN + 4] = 6;
	f[ETH_HDR_LEN + 2] = 0x86;
	synfin_netif_input(l->nif[0], f, n, 0);
	f[ETH_HDR_LEN + 2] = 0x08;
	f[ETH_HDR_LEN + 7] = 3;
	synfin_netif_input(l->nif[0], f, n, 0);
	f[ETH_HDR_LEN + 7] = 1;
	/* a multicast sender hardware address */
	f[ETH_HDR_LEN + 8] |= 1;
	synfin_netif_input(l->nif[0], f, n, 0);
	f[ETH_HDR_LEN + 8] &= (uint8_t)~1;
	ASSERT_EQ(nst(l, 0)->arp_bad, 5);
	ASSERT_EQ(nst(l, 0)->arp_in, 5);
	expect_quiet(l, 0);
	/* padding after a valid request is fine (a minimum-size frame) */
	memset(f + n, 0, 18);
	synfin_netif_input(l->nif[0], f, n + 18, 0);
	expect_arp(l, 0, ARP_OP_REPLY, X_MAC, X_IP, NULL);

	/* a runt IPv4 datagram, and one whose total length overruns */
	uint8_t data[8] = { 0 };
	n = mk_icmp(l, f, X_IP, ICMP_ECHO, 0, 1, data, sizeof data);
	synfin_netif_input(l->nif[0], f, ETH_HDR_LEN + 12, 0);
	synfin_netif_input(l->nif[0], f, n - 1, 0);
	ASSERT_EQ(sst(l, 0)->ip_bad, 2);
	/* an ICMP message shorter than its header (checksums fixed up) */
	n = mk_icmp(l, f, X_IP, ICMP_ECHO, 0, 1, NULL, 0);
	f[ETH_HDR_LEN + 3] = 24; /* total length 24: 4 bytes of ICMP */
	f[ETH_HDR_LEN + 10] = f[ETH_HDR_LEN + 11] = 0;
	{
		uint16_t c = inet_fold(inet_sum(f + ETH_HDR_LEN, 20, 0));
		f[ETH_HDR_LEN + 10] = (uint8_t)(c >> 8);
		f[ETH_HDR_LEN + 11] = (uint8_t)c;
	}
	synfin_netif_input(l->nif[0], f, n, 0);
	ASSERT_EQ(sst(l, 0)->icmp_bad, 1);
	/* an IPv4 unicast in a link-layer broadcast (RFC 1122 3.3.6) */
	n = mk_icmp(l, f, X_IP, ICMP_ECHO, 0, 1, data, sizeof data);
	memcpy(f, eth_broadcast, 6);
	synfin_netif_input(l->nif[0], f, n, 0);
	ASSERT_EQ(nst(l, 0)->eth_not_ours, 3);
	expect_quiet(l, 0);
	ASSERT_EQ(sst(l, 0)->icmp_echo_replies, 0);
	lan_free(l);
}

/* xorshift64*: the fuzz loop's own reproducible randomness */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Recompute the IPv4 header checksum and the ICMP or TCP checksum of an
 * IPv4 frame as far as its lengths allow, so that mutations reach past
 * the checksum tests. */
static void fixup(uint8_t *f, size_t len)
{
	uint8_t *ip = f + ETH_HDR_LEN;
	size_t hl, tot;

	if (len < ETH_HDR_LEN + 20 || f[12] != 0x08 || f[13] != 0x00)
		return;
	hl = (size_t)(ip[0] & 15) * 4;
	tot = (size_t)ip[2] << 8 | ip[3];
	if (hl < 20 || hl > tot || ETH_HDR_LEN + tot > len)
		return;
	ip[10] = ip[11] = 0;
	uint16_t c = inet_fold(inet_sum(ip, hl, 0));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	if (ip[9] == IPPROTO_ICMP_ && tot - hl >= 8) {
		ip[hl + 2] = ip[hl + 3] = 0;
		c = inet_fold(inet_sum(ip + hl, tot - hl, 0));
		ip[hl + 2] = (uint8_t)(c >> 8);
		ip[hl + 3] = (uint8_t)c;
	} else if (ip[9] == IPPROTO_TCP_ && tot - hl >= 20) {
		uint32_t ph = inet_pseudo_sum(be32(ip + 12), be32(ip + 16), IPPROTO_TCP_,
					      (uint16_t)(tot - hl));

		ip[hl + 16] = ip[hl + 17] = 0;
		c = inet_fold(inet_sum(ip + hl, tot - hl, ph));
		ip[hl + 16] = (uint8_t)(c >> 8);
		ip[hl + 17] = (uint8_t)c;
	}
}

/* Everything an interface sends is a well-formed frame. */
static void drain_checked(struct lan *l)
{
	const struct frame *f;

	while ((f = out_pop(l, 0)) != NULL) {
		struct eth_view eh;
		struct ip4_view ip;

		ASSERT(f->len >= ETH_HDR_LEN && f->len <= ETH_HDR_LEN + ETH_MTU);
		ASSERT_EQ(eth_parse(f->buf, f->len, &eh), ETH_OK);
		if (eh.type == ETHERTYPE_IPV4)
			ASSERT_EQ(ip4_parse(eh.payload, eh.payload_len, &ip), WIRE_OK);
		else
			ASSERT_EQ(eh.type, ETHERTYPE_ARP);
	}
}

TEST(netif_fuzz_mutated_frames_do_not_crash)
{
	struct synfin_config tc;
	struct lan *l;
	struct frame seeds[8];
	unsigned nseeds = 0;
	const struct frame *f;
	struct tcp_seg seg;
	uint8_t amac[6], bmac[6], q[28], data[40];
	uint64_t s = 0x5eedf00d;
	/* lengths, protocol numbers, IHL/version, sign boundaries */
	static const uint8_t interesting[] = { 0, 1, 4, 5, 6, 8, 0x45, 0x7f, 0x80, 0xff };

	synfin_config_default(&tc);
	tc.retries = 4;
	l = lan_new(true, NULL, &tc);
	mac_of(l, 0, amac);
	mac_of(l, 1, bmac);
	int afd, cfd = establish(l, &afd);
	listen_on(stk(l, 0), 80);

	/* seeds: ARP both ways, a ping, a data segment from B and A's data
	 * segment quoted in an ICMP error */
	ASSERT_EQ(synfin_send(stk(l, 1), afd, "from B", 6), 6);
	f = out_pop(l, 1);
	ASSERT(f);
	seeds[nseeds++] = *f;
	ASSERT_EQ(synfin_send(stk(l, 0), cfd, "from A", 6), 6);
	expect_tcp(l, 0, bmac, TH_ACK, &seg, &f);
	quote_of(f, q);
	seeds[nseeds].len = mk_icmp(l, seeds[nseeds].buf, GW_IP, ICMP_DEST_UNREACH,
				    ICMP_HOST_UNREACH, 0, q, sizeof q);
	nseeds++;
	fill(data, sizeof data, 1);
	seeds[nseeds].len = mk_icmp(l, seeds[nseeds].buf, X_IP, ICMP_ECHO, 0, 5, data, sizeof data);
	nseeds++;
	seeds[nseeds].len = mk_arp(seeds[nseeds].buf, eth_broadcast, X_MAC, ARP_OP_REQUEST, X_MAC,
				   X_IP, NULL, A_IP);
	nseeds++;
	seeds[nseeds].len = mk_arp(seeds[nseeds].buf, amac, Y_MAC, ARP_OP_REPLY, Y_MAC, Y_IP, amac,
				   A_IP);
	nseeds++;
	l->cut[0] = l->cut[1] = true;
	drain_checked(l);

	for (int iter = 0; iter < 4000; iter++) {
		struct frame m = seeds[rnd(&s) % nseeds];
		unsigned nmut = 1 + (unsigned)(rnd(&s) % 4);

		for (unsigned k = 0; k < nmut; k++) {
			size_t at = m.len ? (size_t)(rnd(&s) % m.len) : 0;

			switch (rnd(&s) % 6) {
			case 0: /* a random byte */
				if (m.len)
					m.buf[at] = (uint8_t)rnd(&s);
				break;
			case 1: /* a bit */
				if (m.len)
					m.buf[at] ^= (uint8_t)(1u << (rnd(&s) % 8));
				break;
			case 2: /* cut short */
				m.len = at;
				break;
			case 3: /* grow with junk */
				while (m.len < FMAX && rnd(&s) % 8)
					m.buf[m.len++] = (uint8_t)rnd(&s);
				break;
			case 4: /* an interesting value in a length, type or port */
				if (m.len)
					m.buf[at] = interesting[rnd(&s) % sizeof interesting];
				break;
			default: /* past the checksums */
				fixup(m.buf, m.len);
				break;
			}
		}
		if (rnd(&s) % 2)
			fixup(m.buf, m.len);
		synfin_netif_input(l->nif[0], m.buf, m.len, l->now);
		if (iter % 50 == 0) {
			l->now += SYNFIN_MS(rnd(&s) % 3000);
			synfin_netif_poll(l->nif[0], l->now);
			/* a poll leaves nothing due behind */
			ASSERT(synfin_netif_next_deadline(l->nif[0]) > l->now);
		}
		drain_checked(l);
	}
	ASSERT(nst(l, 0)->eth_in >= 4000);
	lan_free(l);
}
