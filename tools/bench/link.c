/*
 * The benchmark's harness: a size-class pool behind ops.alloc/free that
 * also counts what each stack holds, and an in-process zero-delay link
 * between stacks. Nothing here is timed on its own; its cost is part of
 * every synfin figure. Stacks build their datagrams straight in the link
 * queue (ops.tx_buf), so the link copies nothing.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

/* ---- pool ---- */
#define POOL_CLASSES (MEM_SMALL_MAX / 8 + 1)
#define POOL_CHUNK ((size_t)4 << 20)
#define POOL_HUGE ((size_t)1 << 20)
#define POOL_MID_SIZES 64

struct pool_chunk {
	struct pool_chunk *next;
	size_t size;
};

/* Blocks above 4 KiB carry a header: every block is on `all` so that the
 * pool can be dropped at once; mid-size ones are cached by exact size
 * (buffer rings come and go with every connection), huge ones (tables)
 * go back to the system when freed. */
struct pool_big {
	struct pool_big *next, *prev; /* all blocks of their kind */
	struct pool_big *free_next;   /* mid-size: the free list of its size */
	size_t size;
};
#define BIG_HDR ((sizeof(struct pool_big) + 63) & ~(size_t)63)

struct pool {
	void *free[POOL_CLASSES];
	uint8_t *cur;
	size_t left;
	struct pool_chunk *chunks;
	struct pool_big *mid_all, *huge_all;
	size_t mid_size[POOL_MID_SIZES];
	struct pool_big *mid_free[POOL_MID_SIZES];
	int nmid;
};

struct pool *pool_create(void)
{
	return calloc(1, sizeof(struct pool));
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return (n + pg - 1) / pg * pg;
}

void pool_destroy(struct pool *p)
{
	if (!p)
		return;
	while (p->chunks) {
		struct pool_chunk *c = p->chunks;
		p->chunks = c->next;
		munmap(c, c->size);
	}
	while (p->mid_all) {
		struct pool_big *b = p->mid_all;
		p->mid_all = b->next;
		free(b);
	}
	while (p->huge_all) {
		struct pool_big *b = p->huge_all;
		p->huge_all = b->next;
		munmap(b, page_round(BIG_HDR + b->size));
	}
	free(p);
}

static void big_link(struct pool_big **head, struct pool_big *b)
{
	b->prev = NULL;
	b->next = *head;
	if (*head)
		(*head)->prev = b;
	*head = b;
}

static void *pool_alloc(struct pool *p, size_t size)
{
	if (size == 0)
		size = 8;
	if (size <= MEM_SMALL_MAX) {
		size_t c = (size + 7) / 8;
		void *o = p->free[c];
		if (o) {
			memcpy(&p->free[c], o, sizeof(void *));
			return o;
		}
		size_t need = c * 8;
		if (p->left < need) {
			struct pool_chunk *ch = mmap(NULL, POOL_CHUNK, PROT_READ | PROT_WRITE,
						     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (ch == MAP_FAILED)
				return NULL;
			ch->size = POOL_CHUNK;
			ch->next = p->chunks;
			p->chunks = ch;
			p->cur = (uint8_t *)ch + 64;
			p->left = POOL_CHUNK - 64;
		}
		o = p->cur;
		p->cur += need;
		p->left -= need;
		return o;
	}
	struct pool_big *b;
	if (size < POOL_HUGE) {
		int k = 0;
		while (k < p->nmid && p->mid_size[k] != size)
			k++;
		if (k < p->nmid && p->mid_free[k]) {
			b = p->mid_free[k];
			p->mid_free[k] = b->free_next;
			return (uint8_t *)b + BIG_HDR;
		}
		if (k == p->nmid && p->nmid < POOL_MID_SIZES)
			p->mid_size[p->nmid++] = size;
		if (!(b = malloc(BIG_HDR + size)))
			return NULL;
		b->size = size;
		big_link(&p->mid_all, b);
		return (uint8_t *)b + BIG_HDR;
	}
	b = mmap(NULL, page_round(BIG_HDR + size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return NULL;
	b->size = size;
	big_link(&p->huge_all, b);
	return (uint8_t *)b + BIG_HDR;
}

static void pool_free(struct pool *p, void *o, size_t size)
{
	if (size == 0)
		size = 8;
	if (size <= MEM_SMALL_MAX) {
		size_t c = (size + 7) / 8;
		memcpy(o, &p->free[c], sizeof(void *));
		p->free[c] = o;
		return;
	}
	struct pool_big *b = (struct pool_big *)((uint8_t *)o - BIG_HDR);
	if (size < POOL_HUGE) {
		int k = 0;
		while (k < p->nmid && p->mid_size[k] != size)
			k++;
		if (k < p->nmid) {
			b->free_next = p->mid_free[k];
			p->mid_free[k] = b;
			return;
		}
		/* a size past the cache's table: back to malloc */
		if (b->prev)
			b->prev->next = b->next;
		else
			p->mid_all = b->next;
		if (b->next)
			b->next->prev = b->prev;
		free(b);
		return;
	}
	if (b->prev)
		b->prev->next = b->next;
	else
		p->huge_all = b->next;
	if (b->next)
		b->next->prev = b->prev;
	munmap(b, page_round(BIG_HDR + size));
}

static void mem_note(struct memacct *m, size_t size, int sign)
{
	m->live_bytes += sign * (int64_t)size;
	m->live_objs += sign;
	if (size > MEM_SMALL_MAX) {
		m->large_bytes += sign * (int64_t)size;
		m->large_objs += sign;
	} else {
		m->by_size[(size + 7) / 8] += sign;
	}
	if (sign > 0)
		m->allocs++;
	else
		m->frees++;
}

static void *hook_alloc(void *ctx, size_t size)
{
	struct net_node *nd = ctx;
	void *p = pool_alloc(nd->net->pool, size);
	if (p)
		mem_note(&nd->mem, size, 1);
	return p;
}

static void hook_free(void *ctx, void *ptr, size_t size)
{
	struct net_node *nd = ctx;
	mem_note(&nd->mem, size, -1);
	pool_free(nd->net->pool, ptr, size);
}

/* ---- the link ---- */
#define PKT_HDR 8u
#define QUEUE_MAX ((size_t)1 << 30)

/* queue_room() once the queue has grown to hold `need` more bytes (rare:
 * out of line and reached by a tail call, so that the hooks that call
 * queue_room save no registers). */
static __attribute__((noinline, cold)) uint8_t *queue_grow(struct pktq *q, size_t need)
{
	size_t ncap = q->cap ? q->cap : (size_t)1 << 20;
	while (ncap < q->len + need && ncap < QUEUE_MAX)
		ncap *= 2;
	if (ncap < q->len + need)
		bench_fail("link queue above %zu bytes: a stack keeps sending", QUEUE_MAX);
	uint8_t *nb = realloc(q->buf, ncap);
	if (!nb)
		bench_fail("out of memory for the link queue");
	q->buf = nb;
	q->cap = ncap;
	return q->buf + q->len + PKT_HDR;
}

/* Room for a datagram of up to `len` bytes at the queue's tail: where it
 * will go, header excluded. Nothing is committed until queue_commit. */
static uint8_t *queue_room(struct net *net, size_t len)
{
	struct pktq *q = &net->q[net->out];
	size_t need = PKT_HDR + ((len + 7) & ~(size_t)7);
	if (q->len + need > q->cap)
		return queue_grow(q, need);
	return q->buf + q->len + PKT_HDR;
}

/* The datagram at queue_room() is `len` bytes long and goes to stack dst. */
static void queue_commit(struct net *net, uint32_t dst, size_t len)
{
	struct pktq *q = &net->q[net->out];
	uint32_t h[2] = {(uint32_t)len, dst};
	memcpy(q->buf + q->len, h, sizeof h);
	q->len += PKT_HDR + ((len + 7) & ~(size_t)7);
}

/* The stack this datagram goes to, or -1 (counted as dropped). */
static int route(struct net *net, const uint8_t *pkt, size_t len)
{
	if (len < 20) {
		net->dropped++;
		return -1;
	}
	uint32_t dst = (uint32_t)pkt[16] << 24 | (uint32_t)pkt[17] << 16 | (uint32_t)pkt[18] << 8 | pkt[19];
	uint32_t i = dst - net->base_ip;
	if (i >= (uint32_t)net->n || !net->deliver[i]) {
		net->dropped++;
		return -1;
	}
	return (int)i;
}

/* ops.tx_buf: the stack builds its datagram straight in the queue, so the
 * link makes no copy (a driver with a transmit ring would lend a slot). */
static uint8_t *hook_tx_buf(void *ctx, size_t size)
{
	struct net_node *nd = ctx;
	return queue_room(nd->net, size);
}

/* ops.output: never re-enters a stack, only queues. */
static void hook_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct net_node *nd = ctx;
	net_inject(nd->net, pkt, len);
}

/* ops.output_ref: a TCP segment by reference. The queue keeps its headers
 * and where its payload is, in the sender's send ring; the receiver reads
 * it from there (synfin_input_split). Once the queues are empty no
 * reference is left, and net_drain releases every stack's. */
#define REF_BIT 0x80000000u
struct ref_hdr {
	const uint8_t *payload;
	uint64_t len;
};

static void hook_output_ref(void *ctx, const uint8_t *hdr, size_t hdr_len, const uint8_t *payload,
			    size_t len)
{
	struct net_node *nd = ctx;
	nd->net->refs = true; /* the sender's ring is pinned, even if this is dropped */
	int dst = route(nd->net, hdr, hdr_len);
	if (dst < 0)
		return;
	uint8_t *room = queue_room(nd->net, sizeof(struct ref_hdr) + hdr_len);
	struct ref_hdr r = {payload, len};
	memcpy(room, &r, sizeof r);
	memcpy(room + sizeof r, hdr, hdr_len);
	queue_commit(nd->net, (uint32_t)dst | REF_BIT, sizeof r + hdr_len);
}

/* A datagram built outside the queue is copied in (out of line: the stacks
 * build theirs in place, and the hook then saves no registers). */
static __attribute__((noinline)) void copy_in(struct net *net, const uint8_t *pkt, size_t len, int dst)
{
	memcpy(queue_room(net, len), pkt, len);
	queue_commit(net, (uint32_t)dst, len);
}

void net_inject(struct net *net, const uint8_t *pkt, size_t len)
{
	int dst = route(net, pkt, len);
	if (dst < 0)
		return;
	const struct pktq *q = &net->q[net->out];
	if (!q->buf || pkt != q->buf + q->len + PKT_HDR) /* built elsewhere */
		copy_in(net, pkt, len, dst);
	else
		queue_commit(net, (uint32_t)dst, len);
}

struct net *net_create(int n, const struct synfin_config *const *cfg, uint64_t seed)
{
	if (n < 1 || n > NET_MAX_STACKS)
		return NULL;
	struct net *net = calloc(1, sizeof *net);
	if (!net)
		return NULL;
	net->pool = pool_create();
	net->n = n;
	net->base_ip = NET_BASE_IP;
	net->now = NET_T0;
	if (!net->pool) {
		free(net);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		struct net_node *nd = &net->node[i];
		nd->net = net;
		nd->idx = i;
		struct synfin_ops ops = {
			.ctx = nd,
			.output = hook_output,
			.tx_buf = hook_tx_buf,
			.output_ref = hook_output_ref,
			.alloc = hook_alloc,
			.free = hook_free,
		};
		/* the in-process link cannot corrupt a datagram, so, as a
		 * kernel does on loopback, no TCP checksum is computed or
		 * verified on it */
		struct synfin_config c;
		if (cfg && cfg[i])
			c = *cfg[i];
		else
			synfin_config_default(&c);
		c.checksum_offload = true;
		net->st[i] = synfin_stack_create(&c, &ops, net_ip(net, i),
						 seed * 1000003u + (uint64_t)i + 1, net->now);
		net->deliver[i] = true;
		if (!net->st[i]) {
			net_destroy(net, false);
			return NULL;
		}
	}
	return net;
}

void net_destroy(struct net *net, bool drop)
{
	if (!net)
		return;
	/* Dropping the pool frees every block of the stacks at once: a stack
	 * with a million connections on one port would otherwise spend minutes
	 * unlinking them one by one from that port's list. */
	for (int i = 0; i < net->n && !drop; i++)
		synfin_stack_destroy(net->st[i]);
	free(net->q[0].buf);
	free(net->q[1].buf);
	pool_destroy(net->pool);
	free(net);
}

bool net_drain(struct net *net)
{
	/* Each round delivers one generation; a zero-delay exchange needs a
	 * handful, a bulk window a few per segment. The bound turns a
	 * livelock into an error. */
	for (uint32_t round = 0; round < 10000000u; round++) {
		struct pktq *in = &net->q[net->out];
		if (in->len == 0) {
			/* nothing queued: no payload reference is left (a link
			 * that took none has nothing to give back) */
			if (net->refs) {
				net->refs = false;
				for (int i = 0; i < net->n; i++)
					synfin_tx_release(net->st[i]);
			}
			return true;
		}
		net->out ^= 1;
		for (size_t off = 0; off < in->len;) {
			uint32_t h[2];
			memcpy(h, in->buf + off, sizeof h);
			const uint8_t *d = in->buf + off + PKT_HDR;
			if (h[1] & REF_BIT) {
				struct ref_hdr r;
				memcpy(&r, d, sizeof r);
				size_t hl = h[0] - sizeof r;
				synfin_input_split(net->st[h[1] & ~REF_BIT], d + sizeof r, hl, r.payload,
						   (size_t)r.len, net->now);
				net->bytes += hl + r.len;
			} else {
				synfin_input(net->st[h[1]], d, h[0], net->now);
				net->bytes += h[0];
			}
			net->pkts++;
			off += PKT_HDR + ((h[0] + 7u) & ~7u);
		}
		in->len = 0;
	}
	return false;
}

bool net_advance(struct net *net, synfin_time_t t)
{
	if (t > net->now)
		net->now = t;
	for (int round = 0; round < 1000; round++) {
		bool any = false;
		for (int i = 0; i < net->n; i++) {
			if (synfin_next_deadline(net->st[i]) <= net->now) {
				synfin_poll(net->st[i], net->now);
				any = true;
			}
		}
		if (!net_drain(net))
			return false;
		if (!any)
			return true;
	}
	return false;
}
