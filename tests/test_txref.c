/*
 * Transmit by reference (ops.output_ref, synfin_input_split,
 * synfin_tx_release): payload handed over in place stays valid and
 * unchanged until released, even when the data is acknowledged or the
 * connection is gone in between; the bytes it holds are not writable
 * until then; the two-piece datagram parses and checks like a whole one.
 */
#include <errno.h>
#include <stdlib.h>

#include "tcp/tcp_priv.h"
#include "test.h"
#include "wire/wire.h"

#define A_IP 0xc6120001u
#define B_IP 0xc6120002u
#define QMAX 4096

/* A link between two stacks that keeps references until told to deliver
 * and keeps their payload pinned until told to release. */
struct rlink {
	struct synfin_stack *st[2];
	struct ent {
		int dst;
		uint8_t hdr[128];
		size_t hlen;
		const uint8_t *payload; /* NULL: hdr holds a whole datagram */
		size_t len;
		uint8_t *copy;          /* whole datagrams longer than hdr */
	} q[QMAX];
	int n;
	long refs, whole;
	synfin_time_t now;
};

static struct ent *rl_slot(struct rlink *l, const uint8_t *ip)
{
	ASSERT(l->n < QMAX);
	struct ent *e = &l->q[l->n++];
	memset(e, 0, sizeof *e);
	uint32_t dst = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
	e->dst = dst == A_IP ? 0 : 1;
	return e;
}

static void rl_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct rlink *l = ctx;
	struct ent *e = rl_slot(l, pkt);
	e->copy = malloc(len);
	ASSERT(e->copy);
	memcpy(e->copy, pkt, len);
	e->len = len;
	l->whole++;
}

static void rl_output_ref(void *ctx, const uint8_t *hdr, size_t hdr_len, const uint8_t *payload, size_t len)
{
	struct rlink *l = ctx;
	ASSERT(hdr_len <= sizeof l->q[0].hdr && len > 0);
	struct ent *e = rl_slot(l, hdr);
	memcpy(e->hdr, hdr, hdr_len);
	e->hlen = hdr_len;
	e->payload = payload;
	e->len = len;
	l->refs++;
}

static void rl_deliver(struct rlink *l)
{
	for (int round = 0; round < 10000 && l->n > 0; round++) {
		static struct ent batch[QMAX];
		int n = l->n;
		memcpy(batch, l->q, (size_t)n * sizeof batch[0]);
		l->n = 0;
		for (int i = 0; i < n; i++) {
			struct ent *e = &batch[i];
			if (e->payload) {
				synfin_input_split(l->st[e->dst], e->hdr, e->hlen, e->payload, e->len, l->now);
			} else {
				synfin_input(l->st[e->dst], e->copy, e->len, l->now);
				free(e->copy);
			}
		}
	}
	ASSERT_EQ(l->n, 0);
}

static void rl_release(struct rlink *l)
{
	synfin_tx_release(l->st[0]);
	synfin_tx_release(l->st[1]);
}

static struct rlink *rl_new(bool csum_offload)
{
	struct rlink *l = calloc(1, sizeof *l);
	ASSERT(l);
	struct synfin_config c;
	synfin_config_default(&c);
	c.mtu = 9000;
	c.checksum_offload = csum_offload;
	c.sndbuf = c.rcvbuf = 32768;
	struct synfin_ops ops = {.ctx = l, .output = rl_output, .output_ref = rl_output_ref};
	l->now = SYNFIN_SEC(1);
	l->st[0] = synfin_stack_create(&c, &ops, A_IP, 1, l->now);
	l->st[1] = synfin_stack_create(&c, &ops, B_IP, 2, l->now);
	ASSERT(l->st[0] && l->st[1]);
	return l;
}

static void rl_free(struct rlink *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->q[i].copy);
	synfin_stack_destroy(l->st[0]);
	synfin_stack_destroy(l->st[1]);
	free(l);
}

/* a connection from A to B; *cfd on A, *sfd on B */
static void rl_connect(struct rlink *l, int *cfd, int *sfd)
{
	int lfd = synfin_socket(l->st[1]);
	ASSERT(lfd >= 0);
	ASSERT_EQ(synfin_bind(l->st[1], lfd, &(struct synfin_addr){0, 80}), 0);
	ASSERT_EQ(synfin_listen(l->st[1], lfd, 8), 0);
	*cfd = synfin_socket(l->st[0]);
	ASSERT(*cfd >= 0);
	ASSERT_EQ(synfin_connect(l->st[0], *cfd, &(struct synfin_addr){B_IP, 80}), -EINPROGRESS);
	rl_deliver(l);
	*sfd = synfin_accept(l->st[1], lfd, NULL);
	ASSERT(*sfd >= 0);
}

static uint8_t pat(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 11);
}

/* 1 MiB through a 32 KiB send buffer with releases only every few rounds:
 * byte-exact, most of it by reference, and while bytes are held the
 * application cannot write over them. */
static void transfer(bool csum_offload)
{
	struct rlink *l = rl_new(csum_offload);
	int cfd, sfd;
	rl_connect(l, &cfd, &sfd);
	const uint64_t total = 1 << 20;
	static uint8_t buf[20000];
	uint64_t sent = 0, got = 0;
	bool saw_hold = false;
	for (int round = 0; round < 100000 && got < total; round++) {
		for (uint32_t i = 0; i < sizeof buf; i++)
			buf[i] = pat(sent + i);
		size_t want = total - sent < sizeof buf ? (size_t)(total - sent) : sizeof buf;
		long k = want ? synfin_send(l->st[0], cfd, buf, want) : 0;
		ASSERT(k > 0 || k == -EAGAIN || want == 0);
		if (k > 0)
			sent += (uint64_t)k;
		rl_deliver(l);
		struct tcb *tp = l->st[0]->fds[cfd];
		uint32_t hold = tcp_snd_hold(l->st[0], tp->u.b.snd);
		if (hold) {
			saw_hold = true;
			/* the held bytes are not writable */
			ASSERT(tp->u.b.snd->len + hold <= tp->u.b.snd->cap);
			uint32_t room = tp->u.b.snd->cap - tp->u.b.snd->len - hold;
			for (uint32_t i = 0; i < sizeof buf; i++)
				buf[i] = pat(sent + i);
			want = total - sent < sizeof buf ? (size_t)(total - sent) : sizeof buf;
			long w = want ? synfin_send(l->st[0], cfd, buf, want) : 0;
			ASSERT_MSG(w == -EAGAIN || w == 0 || (w > 0 && (uint32_t)w <= room), "wrote %ld, room %u", w, room);
			if (w > 0)
				sent += (uint64_t)w;
		}
		char why[160];
		ASSERT_MSG(synfin_check(l->st[0], why, sizeof why) == 0, "%s", why);
		if (round % 3 == 2)
			rl_release(l);
		for (;;) {
			long r = synfin_recv(l->st[1], sfd, buf, sizeof buf);
			if (r == -EAGAIN)
				break;
			ASSERT(r > 0);
			for (long i = 0; i < r; i++)
				ASSERT_MSG(buf[i] == pat(got + (uint64_t)i), "byte %llu differs",
					   (unsigned long long)(got + (uint64_t)i));
			got += (uint64_t)r;
		}
	}
	ASSERT_EQ(got, total);
	ASSERT(saw_hold);
	ASSERT(l->refs > 0);
	ASSERT(l->st[1]->stats.tcp_bad_csum == 0 && l->st[1]->stats.tcp_bad == 0);
	rl_release(l);
	rl_free(l);
}

TEST(txref_transfer_byte_exact_with_late_releases)
{
	transfer(true);
}

TEST(txref_transfer_with_checksums_over_both_pieces)
{
	transfer(false);
}

/* The connection is aborted while the link still holds references into
 * its send ring: the ring outlives it until the release (under ASan a read
 * of freed memory would stop the test). */
TEST(txref_ring_outlives_an_abort_until_released)
{
	struct rlink *l = rl_new(true);
	int cfd, sfd;
	rl_connect(l, &cfd, &sfd);
	static uint8_t buf[16384];
	for (uint32_t i = 0; i < sizeof buf; i++)
		buf[i] = pat(i);
	ASSERT_EQ(synfin_send(l->st[0], cfd, buf, sizeof buf), (long)sizeof buf);
	ASSERT(l->n > 0 && l->refs > 0);
	struct synfin_linger lg = {1, 0};
	ASSERT_EQ(synfin_setsockopt(l->st[0], cfd, SYNFIN_SOL_SOCKET, SYNFIN_SO_LINGER, &lg, sizeof lg), 0);
	ASSERT_EQ(synfin_close(l->st[0], cfd), 0); /* an RST: the block and its rings go */
	ASSERT(l->st[0]->zombies != NULL);
	/* the queued segments still read their payload (the first one from
	 * the start of the ring, where the 16 KiB were written) */
	ASSERT(l->q[0].payload != NULL);
	for (int i = 0; i < l->n; i++)
		if (l->q[i].payload)
			for (size_t j = 0; j < l->q[i].len; j++)
				ASSERT(l->q[i].payload[j] == pat(j + (size_t)(l->q[i].payload - l->q[0].payload)));
	rl_deliver(l);
	rl_release(l);
	ASSERT(l->st[0]->zombies == NULL);
	rl_free(l);
}

/* The wire view of a datagram in two pieces. */
TEST(txref_split_datagram_parses_and_checks)
{
	static uint8_t payload[3000], hdr[128], whole[4000];
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = pat(i);
	struct tcp_seg s = {.saddr = A_IP, .daddr = B_IP, .sport = 1234, .dport = 80, .seq = 7, .ack = 9,
			    .flags = TH_ACK, .wnd = 100, .data = payload, .len = sizeof payload};
	s.opt.has = TOF_TS;
	s.opt.tsval = 5;
	size_t hl = tcp_emit_headers(hdr, sizeof hdr, &s, 1, true);
	ASSERT_EQ(hl, 20 + 20 + 12);
	/* the same bytes as the whole datagram */
	size_t n = tcp_emit(whole, sizeof whole, &s, 1);
	ASSERT_EQ(n, hl + sizeof payload);
	ASSERT(memcmp(whole, hdr, hl) == 0 && memcmp(whole + hl, payload, sizeof payload) == 0);
	struct ip4_view ip;
	struct tcp_seg out;
	ASSERT_EQ(ip4_parse_split(hdr, hl, payload, sizeof payload, &ip), WIRE_OK);
	ASSERT_EQ(tcp_parse(&ip, &out), WIRE_OK);
	ASSERT(out.data == payload && out.len == sizeof payload && out.seq == 7 && out.opt.tsval == 5);
	/* a corrupted payload byte fails the TCP checksum */
	payload[100] ^= 1;
	ASSERT_EQ(ip4_parse_split(hdr, hl, payload, sizeof payload, &ip), WIRE_OK);
	ASSERT_EQ(tcp_parse(&ip, &out), WIRE_BAD_CSUM);
	payload[100] ^= 1;
	/* the total length must be exactly both pieces */
	ASSERT_EQ(ip4_parse_split(hdr, hl, payload, sizeof payload - 1, &ip), WIRE_BAD_TOTLEN);
	ASSERT_EQ(ip4_parse_split(hdr, hl, NULL, sizeof payload, &ip), WIRE_TRUNCATED);
	/* the header must be whole in the first piece */
	ASSERT_EQ(ip4_parse_split(whole, hl - 4, whole + hl - 4, sizeof payload + 4, &ip), WIRE_OK);
	ASSERT_EQ(tcp_parse(&ip, &out), WIRE_BAD_OFF);
	/* headers that do not fit the buffer: nothing written */
	ASSERT_EQ(tcp_emit_headers(hdr, hl - 1, &s, 1, true), 0);
}

/* Payload smaller than TX_REF_MIN and segments without payload still go
 * through output(): nothing is pinned for them. */
TEST(txref_small_payload_is_copied)
{
	struct rlink *l = rl_new(true);
	int cfd, sfd;
	rl_connect(l, &cfd, &sfd);
	long refs = l->refs;
	ASSERT_EQ(synfin_send(l->st[0], cfd, "hello", 5), 5);
	ASSERT_EQ(l->refs, refs);
	ASSERT(!l->st[0]->tx_pinned);
	rl_deliver(l);
	char b[8];
	ASSERT_EQ(synfin_recv(l->st[1], sfd, b, sizeof b), 5);
	ASSERT(memcmp(b, "hello", 5) == 0);
	rl_free(l);
}
