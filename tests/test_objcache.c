/*
 * The object cache (cfg.obj_cache): freed connection blocks go on a free
 * list and serve the next connection without a call to ops.alloc; the list
 * is bounded (cfg.obj_cache blocks of each small kind, 2 of each buffer
 * size), 0 turns it off, and destroying the stack returns everything.
 */
#include <errno.h>
#include <stdlib.h>

#include "tcp/tcp_priv.h"
#include "test.h"

struct counting {
	long allocs, frees;
	long long live_bytes;
};

static void *count_alloc(void *ctx, size_t size)
{
	struct counting *c = ctx;
	c->allocs++;
	c->live_bytes += (long long)size;
	return malloc(size);
}

static void count_free(void *ctx, void *p, size_t size)
{
	struct counting *c = ctx;
	c->frees++;
	c->live_bytes -= (long long)size;
	free(p);
}

static struct synfin_stack *counted_stack(struct counting *c, int obj_cache)
{
	struct synfin_config cfg;
	synfin_config_default(&cfg);
	if (obj_cache >= 0)
		cfg.obj_cache = (uint16_t)obj_cache;
	struct synfin_ops ops = {.ctx = c, .output = test_noop_output, .alloc = count_alloc, .free = count_free};
	struct synfin_stack *st = synfin_stack_create(&cfg, &ops, 0xc6120001u, 7, SYNFIN_SEC(1));
	ASSERT(st);
	return st;
}

/* destroying the stack gives back every byte, cached blocks included */
static void destroy_balanced(struct synfin_stack *st, const struct counting *c)
{
	synfin_stack_destroy(st);
	ASSERT_EQ(c->live_bytes, 0);
	ASSERT_EQ(c->allocs, c->frees);
}

/* n sockets opened, then all closed (never connected: each block goes at
 * once) */
static void open_close(struct synfin_stack *st, int n)
{
	int fds[200];
	ASSERT(n <= 200);
	for (int i = 0; i < n; i++) {
		fds[i] = synfin_socket(st);
		ASSERT(fds[i] >= 0);
	}
	for (int i = 0; i < n; i++)
		ASSERT_EQ(synfin_close(st, fds[i]), 0);
}

TEST(objcache_is_on_by_default_with_32)
{
	struct synfin_config cfg;
	synfin_config_default(&cfg);
	ASSERT_EQ(cfg.obj_cache, 32);
}

TEST(objcache_reuses_a_freed_block_without_ops_alloc)
{
	struct counting c = {0};
	struct synfin_stack *st = counted_stack(&c, -1);
	int fd = synfin_socket(st);
	ASSERT(fd >= 0);
	struct tcb *first = st->fds[fd];
	first->snd_una = 12345; /* dirt that the reuse must clear */
	ASSERT_EQ(synfin_close(st, fd), 0);
	long allocs = c.allocs;
	fd = synfin_socket(st);
	ASSERT(fd >= 0);
	ASSERT(st->fds[fd] == first);
	ASSERT_EQ(c.allocs, allocs);
	ASSERT_EQ(st->fds[fd]->snd_una, 0); /* handed out zeroed, as st_alloc does */
	ASSERT_EQ(st->fds[fd]->fd, fd);
	destroy_balanced(st, &c);
}

TEST(objcache_keeps_at_most_obj_cache_blocks_and_frees_all_on_destroy)
{
	struct counting c = {0};
	struct synfin_stack *st = counted_stack(&c, 5);
	/* the descriptor table grows on the first sockets: measure after */
	open_close(st, 100);
	long long base = c.live_bytes;
	open_close(st, 100);
	ASSERT_EQ(c.live_bytes, base); /* the same 5 kept, the rest freed */
	ASSERT_EQ(st->oc[0].n, 5);
	destroy_balanced(st, &c);
}

TEST(objcache_zero_gives_every_block_back_at_once)
{
	struct counting c = {0};
	struct synfin_stack *st = counted_stack(&c, 0);
	open_close(st, 100); /* grows the descriptor table */
	long long base = c.live_bytes;
	long frees = c.frees;
	int fd = synfin_socket(st);
	ASSERT(fd >= 0);
	ASSERT_EQ(c.live_bytes, base + (long long)sizeof(struct tcb));
	ASSERT_EQ(synfin_close(st, fd), 0);
	ASSERT_EQ(c.live_bytes, base);
	ASSERT_EQ(c.frees, frees + 1);
	ASSERT_EQ(st->oc[0].n, 0);
	destroy_balanced(st, &c);
}

/* Buffers are large: at most 2 of a size are kept whatever obj_cache says,
 * and blocks of a size no slot has room for go straight back. */
TEST(objcache_keeps_two_buffers_per_size)
{
	struct counting c = {0};
	struct synfin_stack *st = counted_stack(&c, 32);
	long long base = c.live_bytes;
	void *b[5];
	for (int i = 0; i < 5; i++)
		ASSERT((b[i] = st_obj_get(st, 70000, false)) != NULL);
	ASSERT_EQ(c.live_bytes, base + 5 * 70000);
	for (int i = 0; i < 5; i++)
		st_obj_put(st, b[i], 70000);
	ASSERT_EQ(c.live_bytes, base + 2 * 70000);
	/* the two kept come back first (last in, first out), then the allocator */
	long allocs = c.allocs;
	void *x = st_obj_get(st, 70000, false), *y = st_obj_get(st, 70000, false);
	ASSERT(x == b[1] && y == b[0]);
	ASSERT_EQ(c.allocs, allocs);
	void *z = st_obj_get(st, 70000, false);
	ASSERT_EQ(c.allocs, allocs + 1);
	st_obj_put(st, x, 70000);
	st_obj_put(st, y, 70000);
	st_obj_put(st, z, 70000);
	/* three more sizes fill the ring slots; a fifth size is not kept */
	size_t sizes[4] = {5000, 6000, 7000, 8000};
	for (int i = 0; i < 4; i++) {
		long long before = c.live_bytes;
		void *p = st_obj_get(st, sizes[i], false);
		ASSERT(p);
		st_obj_put(st, p, sizes[i]);
		ASSERT_EQ(c.live_bytes, before + (i < 2 ? (long long)sizes[i] : 0));
	}
	destroy_balanced(st, &c);
}
