/*
 * The 4-tuple table and its hash tag words: with 3000 blocks, grown from
 * the smallest table (chains of one to several), every inserted 4-tuple
 * is found, every removed one is not, in any order of removal, and
 * synfin_check() finds every tag word describing its block.
 */
#include <errno.h>
#include <stdlib.h>

#include "tcp/tcp_priv.h"
#include "test.h"

#define NT 3000

static void check_all(struct synfin_stack *st, struct tcb **tp, const bool *in)
{
	char why[160];
	ASSERT_MSG(synfin_check(st, why, sizeof why) == 0, "%s", why);
	for (int i = 0; i < NT; i++) {
		struct tcb *f = tcp_lookup(st, tp[i]->laddr, tp[i]->lport, tp[i]->faddr, tp[i]->fport);
		ASSERT_MSG(f == (in[i] ? tp[i] : NULL), "4-tuple %d: found %p, in table %d", i, (void *)f, in[i]);
	}
}

TEST(tuple_table_finds_exactly_what_it_holds)
{
	struct synfin_ops ops = {.output = test_noop_output};
	struct synfin_stack *st = synfin_stack_create(NULL, &ops, 0xc6120001u, 7, SYNFIN_SEC(1));
	ASSERT(st);
	static struct tcb *tp[NT];
	static bool in[NT];
	uint64_t x = 12345;
	for (int i = 0; i < NT; i++) {
		tp[i] = tcp_newtcb(st);
		ASSERT(tp[i]);
		tp[i]->faddr = 0xc6120002u + (uint32_t)(i % 7);
		tp[i]->lport = (uint16_t)(1000 + i / 7);
		tp[i]->fport = (uint16_t)(40000 + i % 13);
	}
	/* insert while the table is small: it grows with chains of several */
	for (int i = 0; i < NT; i++) {
		tcp_hash_insert(st, tp[i]);
		in[i] = true;
		if (i % 500 == 0)
			check_all(st, tp, in);
	}
	check_all(st, tp, in);
	/* remove in a scrambled order: heads, middles and tails of chains */
	for (int round = 0; round < NT; round++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int i = (int)(x % NT);
		if (in[i]) {
			tcp_hash_remove(st, tp[i]);
			in[i] = false;
		} else {
			tcp_hash_insert(st, tp[i]);
			in[i] = true;
		}
		if (round % 300 == 0)
			check_all(st, tp, in);
	}
	check_all(st, tp, in);
	for (int i = 0; i < NT; i++) {
		if (in[i])
			tcp_hash_remove(st, tp[i]);
		st_obj_put(st, tp[i], sizeof *tp[i]);
	}
	synfin_stack_destroy(st);
}

/* The TIME_WAIT table: records from blocks put in TIME_WAIT, the table
 * grown from its smallest, records removed out of order (as an RST or a
 * reopen does), then the rest expiring in order at 2MSL: every lookup
 * answers exactly, and synfin_check() finds the chains whole. */
#define NW 3000
TEST(time_wait_table_finds_exactly_what_it_holds)
{
	struct synfin_ops ops = {.output = test_noop_output};
	struct synfin_stack *st = synfin_stack_create(NULL, &ops, 0xc6120001u, 7, SYNFIN_SEC(1));
	ASSERT(st);
	static uint16_t lport[NW], fport[NW];
	static bool in[NW];
	char why[160];
	for (int i = 0; i < NW; i++) {
		struct tcb *tp = tcp_newtcb(st);
		ASSERT(tp);
		tp->faddr = 0xc6120002u;
		lport[i] = (uint16_t)(1000 + i / 5);
		fport[i] = (uint16_t)(40000 + i % 5);
		tp->lport = lport[i];
		tp->fport = fport[i];
		tp->state = TCPS_FIN_WAIT_2;
		tcp_hash_insert(st, tp);
		tw_enter(st, tp, "test");
		in[i] = true;
	}
	ASSERT_EQ(st->ntw, NW);
	ASSERT(st->tw_mask > 255); /* it grew */
	ASSERT_MSG(synfin_check(st, why, sizeof why) == 0, "%s", why);
	uint64_t x = 99;
	for (int round = 0; round < NW / 2; round++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int i = (int)(x % NW);
		struct tw *tw = tw_lookup(st, st->ip, lport[i], 0xc6120002u, fport[i]);
		ASSERT_MSG((tw != NULL) == in[i], "record %d: found %d, held %d", i, tw != NULL, in[i]);
		if (tw) {
			tw_remove(st, tw, "test");
			in[i] = false;
		}
	}
	ASSERT_MSG(synfin_check(st, why, sizeof why) == 0, "%s", why);
	for (int i = 0; i < NW; i++)
		ASSERT((tw_lookup(st, st->ip, lport[i], 0xc6120002u, fport[i]) != NULL) == in[i]);
	/* the rest expire in order */
	synfin_poll(st, st->now + 2 * st->cfg.msl);
	ASSERT_EQ(st->ntw, 0);
	for (int i = 0; i < NW; i++)
		ASSERT(tw_lookup(st, st->ip, lport[i], 0xc6120002u, fport[i]) == NULL);
	ASSERT_MSG(synfin_check(st, why, sizeof why) == 0, "%s", why);
	synfin_stack_destroy(st);
}

/* ---- connect()'s ephemeral port: the port record decides what is free ---- */

/* Two stacks joined by a queue: what one sends, pump() hands to the other. */
#define PAIR_Q 64
struct pair {
	struct synfin_stack *st[2]; /* [0] client 198.18.0.1, [1] server 198.18.0.2 */
	uint8_t q[PAIR_Q][1600];
	size_t qlen[PAIR_Q];
	int n;
	synfin_time_t now;
};

static void pair_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct pair *p = ctx;
	if (p->n < PAIR_Q && len <= sizeof p->q[0]) {
		memcpy(p->q[p->n], pkt, len);
		p->qlen[p->n++] = len;
	}
}

static void pump(struct pair *p)
{
	for (int round = 0; round < 100 && p->n > 0; round++) {
		static uint8_t b[PAIR_Q][1600];
		static size_t bl[PAIR_Q];
		int n = p->n;
		memcpy(b, p->q, sizeof b);
		memcpy(bl, p->qlen, sizeof bl);
		p->n = 0;
		for (int i = 0; i < n; i++) {
			uint32_t dst = (uint32_t)b[i][16] << 24 | (uint32_t)b[i][17] << 16 | (uint32_t)b[i][18] << 8 | b[i][19];
			synfin_input(p->st[dst == 0xc6120001u ? 0 : 1], b[i], bl[i], p->now);
		}
	}
}

static int listener(struct synfin_stack *st, uint16_t port)
{
	int fd = synfin_socket(st);
	if (fd < 0 || synfin_bind(st, fd, &(struct synfin_addr){0, port}) != 0 || synfin_listen(st, fd, 8) != 0)
		return -1;
	return fd;
}

/* connect() to the server's port; returns the local port, or the error. */
static int open_to(struct pair *p, uint16_t port, int *cfd, int *sfd, int lfd)
{
	*cfd = synfin_socket(p->st[0]);
	int r = synfin_connect(p->st[0], *cfd, &(struct synfin_addr){0xc6120002u, port});
	if (r != -EINPROGRESS) {
		synfin_close(p->st[0], *cfd);
		return r;
	}
	pump(p);
	*sfd = synfin_accept(p->st[1], lfd, NULL);
	struct synfin_addr a;
	if (*sfd < 0 || synfin_getsockname(p->st[0], *cfd, &a) != 0)
		return -1000;
	return a.port;
}

TEST(ephemeral_port_skips_tuples_in_use_and_in_time_wait)
{
	static struct pair p;
	memset(&p, 0, sizeof p);
	struct synfin_ops ops = {.output = pair_output, .ctx = &p};
	struct synfin_config cc;
	synfin_config_default(&cc);
	cc.ephemeral_lo = 50000;
	cc.ephemeral_hi = 50002; /* three ports */
	p.now = SYNFIN_SEC(1);
	p.st[0] = synfin_stack_create(&cc, &ops, 0xc6120001u, 1, p.now);
	p.st[1] = synfin_stack_create(NULL, &ops, 0xc6120002u, 2, p.now);
	ASSERT(p.st[0] && p.st[1]);
	int l80 = listener(p.st[1], 80), l81 = listener(p.st[1], 81);
	ASSERT(l80 >= 0 && l81 >= 0);

	int cfd[3], sfd[3], x, y;
	bool used[3] = {false, false, false};
	for (int i = 0; i < 3; i++) {
		int port = open_to(&p, 80, &cfd[i], &sfd[i], l80);
		ASSERT_MSG(port >= 50000 && port <= 50002 && !used[port - 50000], "connection %d got port %d", i, port);
		used[port - 50000] = true;
	}
	/* every port carries a live connection to 198.18.0.2:80 */
	ASSERT_EQ(open_to(&p, 80, &x, &y, l80), -EADDRNOTAVAIL);
	/* the client closes first: three TIME_WAIT records, no block left */
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(synfin_close(p.st[0], cfd[i]), 0);
		pump(&p);
		ASSERT_EQ(synfin_close(p.st[1], sfd[i]), 0);
		pump(&p);
	}
	ASSERT_EQ(synfin_get_stats(p.st[0])->tw_created, 3u);
	/* each port's 4-tuple to :80 waits out 2MSL ... */
	ASSERT_EQ(open_to(&p, 80, &x, &y, l80), -EADDRNOTAVAIL);
	/* ... while another peer port may use the same local port at once */
	int port = open_to(&p, 81, &x, &y, l81);
	ASSERT_MSG(port >= 50000 && port <= 50002, "port %d", port);
	/* after 2MSL the records are gone and :80 can be reached again */
	p.now += 2 * synfin_stack_config(p.st[0])->msl + SYNFIN_SEC(1);
	synfin_poll(p.st[0], p.now);
	synfin_poll(p.st[1], p.now);
	pump(&p);
	int cfd2, sfd2;
	port = open_to(&p, 80, &cfd2, &sfd2, l80);
	ASSERT_MSG(port >= 50000 && port <= 50002, "port %d", port);
	char why[160];
	ASSERT_MSG(synfin_check(p.st[0], why, sizeof why) == 0, "%s", why);
	synfin_stack_destroy(p.st[0]);
	synfin_stack_destroy(p.st[1]);
}
