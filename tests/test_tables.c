/*
 * The 4-tuple table and its hash tag words: with 3000 blocks, grown from
 * the smallest table (chains of one to several), every inserted 4-tuple
 * is found, every removed one is not, in any order of removal, and
 * synfin_check() finds every tag word describing its block.
 */
#include <stdlib.h>

#include "tcp/tcp_priv.h"
#include "test.h"

static void noop_output(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)ctx, (void)pkt, (void)len;
}

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
	struct synfin_ops ops = {.output = noop_output};
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
	struct synfin_ops ops = {.output = noop_output};
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
