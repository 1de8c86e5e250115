/*
 * The stack object: configuration, memory, keyed hashing and randomness,
 * the poll/deadline interface, statistics and the netstat table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp_priv.h"

static const char *const state_names[TCPS_NSTATES] = {
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT",
	"FIN_WAIT_1", "CLOSING", "LAST_ACK", "FIN_WAIT_2", "TIME_WAIT",
};

const char *synfin_state_name(int state)
{
	if (state < 0 || state >= TCPS_NSTATES)
		return "?";
	return state_names[state];
}

void synfin_config_default(struct synfin_config *c)
{
	memset(c, 0, sizeof *c);
	c->mtu = 1500;
	c->msl = SYNFIN_SEC(30);
	c->rto_initial = SYNFIN_SEC(1);
	c->rto_min = SYNFIN_SEC(1);
	c->rto_max = SYNFIN_SEC(120);
	c->retries = 15;
	c->syn_retries = 6;
	c->synack_retries = 5;
	c->conn_timeout = SYNFIN_SEC(75);
	c->fin_wait_2_timeout = SYNFIN_SEC(60);
	c->keep_idle = SYNFIN_SEC(7200);
	c->keep_intvl = SYNFIN_SEC(75);
	c->keep_cnt = 9;
	c->delack = SYNFIN_MS(40);
	c->persist_min = SYNFIN_SEC(5);
	c->persist_max = SYNFIN_SEC(60);
	c->quiet_time = false;
	c->rfc1337 = false;
	c->syncookies = SYNFIN_SYNCOOKIES_ON_OVERFLOW;
	c->challenge_ack_limit = 1000;
	c->sndbuf = 65536;
	c->rcvbuf = 65535;
	c->max_syn_backlog = 128;
	c->ephemeral_lo = 32768;
	c->ephemeral_hi = 60999;
	c->sack = true;
	c->congestion = SYNFIN_CC_CUBIC;
	c->delack_max = SYNFIN_MS(500);
	c->obj_cache = 32;
}

/* ---- memory ---- */
void *st_alloc_raw(struct synfin_stack *st, size_t size)
{
	return st->ops.alloc ? st->ops.alloc(st->ops.ctx, size) : malloc(size);
}

void *st_alloc(struct synfin_stack *st, size_t size)
{
	void *p = st_alloc_raw(st, size);
	if (p)
		memset(p, 0, size);
	return p;
}

uint8_t *st_txbuf(struct synfin_stack *st)
{
	uint8_t *b = st->ops.tx_buf ? st->ops.tx_buf(st->ops.ctx, st->cfg.mtu) : NULL;
	return SF_LIKELY(b != NULL) ? b : st->outbuf;
}

void st_free(struct synfin_stack *st, void *p, size_t size)
{
	if (!p)
		return;
	if (st->ops.free)
		st->ops.free(st->ops.ctx, p, size);
	else
		free(p);
}

/* An array grown from old_bytes to new_bytes, its first used bytes kept;
 * NULL (the old one untouched) when memory is short. */
void *st_regrow(struct synfin_stack *st, void *old, size_t old_bytes, size_t used, size_t new_bytes)
{
	void *n = st_alloc_raw(st, new_bytes);
	if (!n)
		return NULL;
	if (used)
		memcpy(n, old, used);
	st_free(st, old, old_bytes);
	return n;
}

/* ---- the object cache: freed blocks of the sizes connections use,
 * kept on free lists for the next connection (as lwIP's pools and the
 * kernels' slab caches do); the next pointer lives in the block ---- */
#if defined(__SANITIZE_ADDRESS__)
#define SF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SF_ASAN 1
#endif
#endif
#ifdef SF_ASAN
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
#endif

#define OC_BIG 1024 /* blocks above this (buffers) are kept 2 per size */

/* The slot of a size: a fixed one per kind of small block, and for rings
 * (any other size) the ring slot that holds that size or a free one. */
static struct objcache *oc_slot(struct synfin_stack *st, size_t size)
{
	if (size == sizeof(struct tcb))
		return &st->oc[0];
	if (size == sizeof(struct tcb_ext))
		return &st->oc[1];
	if (size == sizeof(struct tw))
		return &st->oc[2];
	for (int i = 3; i < OC_SLOTS; i++)
		if (st->oc[i].size == size || st->oc[i].size == 0)
			return &st->oc[i];
	return NULL;
}

void *st_obj_get(struct synfin_stack *st, size_t size, bool zero)
{
	struct objcache *c = oc_slot(st, size);
	if (c && c->head) {
		void *p = c->head;
		/* (under AddressSanitizer a cached block stays poisoned, so a
		 * use after free is still caught) */
		ASAN_UNPOISON_MEMORY_REGION(p, size);
		memcpy(&c->head, p, sizeof c->head);
		c->n--;
		if (zero)
			memset(p, 0, size);
		return p;
	}
	return zero ? st_alloc(st, size) : st_alloc_raw(st, size);
}

inline void st_obj_put(struct synfin_stack *st, void *p, size_t size)
{
	if (!p)
		return;
	uint32_t limit = size > OC_BIG && st->cfg.obj_cache > 2 ? 2 : st->cfg.obj_cache;
	struct objcache *c = oc_slot(st, size);
	if (!c || c->n >= limit || size < sizeof(void *)) {
		st_free(st, p, size);
		return;
	}
	c->size = size;
	memcpy(p, &c->head, sizeof c->head);
	c->head = p;
	c->n++;
	ASAN_POISON_MEMORY_REGION(p, size);
}

static void obj_cache_drain(struct synfin_stack *st)
{
	for (int i = 0; i < OC_SLOTS; i++) {
		struct objcache *c = &st->oc[i];
		while (c->head) {
			void *p = c->head;
			ASAN_UNPOISON_MEMORY_REGION(p, c->size);
			memcpy(&c->head, p, sizeof c->head);
			st_free(st, p, c->size);
		}
		c->n = 0;
	}
}

/* ---- SipHash-2-4, the keyed hash behind ISNs (RFC 6528), ports
 * (RFC 6056), SYN cookies and timestamp offsets ---- */
static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);      \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                         \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                         \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);      \
	} while (0)

uint64_t st_siphash(const struct synfin_stack *st, const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = st->key[0], k1 = st->key[1];
	uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
	uint64_t b = (uint64_t)len << 56;
	size_t i, full = len - len % 8;

	for (i = 0; i < full; i += 8) {
		uint64_t m = 0;
		for (int j = 7; j >= 0; j--)
			m = (m << 8) | in[i + (size_t)j];
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < len % 8; j++)
		b |= (uint64_t)in[full + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* splitmix64: the stack's own random choices, reproducible from its seed */
static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t st_rand(struct synfin_stack *st)
{
	return splitmix(&st->rng_state);
}

/* ---- lifecycle ---- */
struct synfin_stack *synfin_stack_create(const struct synfin_config *cfg,
					 const struct synfin_ops *ops, uint32_t ip,
					 uint64_t seed, synfin_time_t now)
{
	struct synfin_stack *st;
	if (!ops || !ops->output || (!ops->alloc) != (!ops->free))
		return NULL;
	st = ops->alloc ? ops->alloc(ops->ctx, sizeof *st) : malloc(sizeof *st);
	if (!st)
		return NULL;
	memset(st, 0, sizeof *st);
	st->ops = *ops;
	if (cfg)
		st->cfg = *cfg;
	else
		synfin_config_default(&st->cfg);
	if (st->cfg.mtu < 68)
		st->cfg.mtu = 68;
	if (st->cfg.mtu > 65535)
		st->cfg.mtu = 65535;
	/* RFC 9293 3.8.6.3 / RFC 1122 4.2.3.2: an ACK is never delayed more
	 * than 0.5 s */
	if (st->cfg.delack_max == 0 || st->cfg.delack_max > SYNFIN_MS(500))
		st->cfg.delack_max = SYNFIN_MS(500);
	if (st->cfg.delack > st->cfg.delack_max)
		st->cfg.delack = st->cfg.delack_max;
	if (!cc_get(st->cfg.congestion))
		st->cfg.congestion = SYNFIN_CC_CUBIC;
	if (st->cfg.ephemeral_lo == 0 || st->cfg.ephemeral_hi < st->cfg.ephemeral_lo) {
		st->cfg.ephemeral_lo = 32768;
		st->cfg.ephemeral_hi = 60999;
	}
	st->ip = ip;
	st->now = st->start = now;
	st->rng_state = seed;
	st->key[0] = splitmix(&st->rng_state);
	st->key[1] = splitmix(&st->rng_state);
	st->hkey[0] = splitmix(&st->rng_state);
	st->hkey[1] = splitmix(&st->rng_state);
	st->ephemeral_next = (uint32_t)splitmix(&st->rng_state);
	st->ip_id = (uint16_t)splitmix(&st->rng_state);
	st->quiet_until = st->cfg.quiet_time ? now + st->cfg.msl : now;
	st->outcap = st->cfg.mtu;
	st->outbuf = st_alloc(st, st->outcap);
	st->conn_mask = 255;
	st->conn_hash = st_alloc(st, (st->conn_mask + 1) * sizeof *st->conn_hash);
	st->conn_tag = st_alloc(st, (st->conn_mask + 1) * sizeof *st->conn_tag);
	st->tw_mask = 255;
	st->tw_hash = st_alloc(st, (st->tw_mask + 1) * sizeof *st->tw_hash);
	if (!st->outbuf || !st->conn_hash || !st->conn_tag || !st->tw_hash) {
		synfin_stack_destroy(st);
		return NULL;
	}
	return st;
}

void synfin_stack_destroy(struct synfin_stack *st)
{
	if (!st)
		return;
	/* Free without a trace and without a segment: a crash, or the end of a
	 * simulation. Every block is reachable from one of these tables (and
	 * the rings a driver still held, which it cannot read any more). */
	st->tx_pinned = true; /* (so that the release below frees every zombie) */
	synfin_tx_release(st);
	for (uint32_t i = 0; st->conn_hash && i <= st->conn_mask; i++) {
		while (st->conn_hash[i]) {
			struct tcb *tp = st->conn_hash[i];
			st->conn_hash[i] = tp->hnext;
			tp->t_flags &= ~TF_IN_HASH;
			if (tp->fd >= 0 && (uint32_t)tp->fd < st->nfds)
				st->fds[tp->fd] = NULL;
			tp->parent = NULL;
			tcp_free(st, tp);
		}
	}
	while (st->listeners) {
		struct tcb *tp = st->listeners;
		st->listeners = tp->hnext;
		if (tp->fd >= 0 && (uint32_t)tp->fd < st->nfds)
			st->fds[tp->fd] = NULL;
		tp->t_flags &= ~TF_IN_HASH;
		tcp_free(st, tp);
	}
	for (uint32_t i = 0; i < st->nfds; i++) {
		if (st->fds[i]) {
			struct tcb *tp = st->fds[i];
			st->fds[i] = NULL;
			tp->parent = NULL;
			tcp_free(st, tp);
		}
	}
	tw_destroy_all(st);
	for (int c = 0; c < 65536 / PORT_CHUNK; c++) {
		if (!st->ports[c])
			continue;
		for (int i = 0; i < PORT_CHUNK; i++)
			st_free(st, st->ports[c][i], sizeof(struct bindb));
		st_free(st, st->ports[c], PORT_CHUNK * sizeof *st->ports[c]);
	}
	st_free(st, st->fds, st->nfds * sizeof *st->fds);
	st_free(st, st->heap, st->heap_cap * sizeof *st->heap);
	st_free(st, st->conn_hash, st->conn_hash ? (st->conn_mask + 1) * sizeof *st->conn_hash : 0);
	st_free(st, st->conn_tag, st->conn_tag ? (st->conn_mask + 1) * sizeof *st->conn_tag : 0);
	st_free(st, st->tw_hash, st->tw_hash ? (st->tw_mask + 1) * sizeof *st->tw_hash : 0);
	st_free(st, st->outbuf, st->outcap);
	obj_cache_drain(st);
	if (st->ops.free)
		st->ops.free(st->ops.ctx, st, sizeof *st);
	else
		free(st);
}

uint32_t synfin_stack_ip(const struct synfin_stack *st)
{
	return st->ip;
}

const struct synfin_config *synfin_stack_config(const struct synfin_stack *st)
{
	return &st->cfg;
}

const struct synfin_stats *synfin_get_stats(const struct synfin_stack *st)
{
	return &st->stats;
}

synfin_time_t synfin_now(const struct synfin_stack *st)
{
	return st->now;
}

void st_advance(struct synfin_stack *st, synfin_time_t now)
{
	/* A clock that steps back is held still rather than trusted. */
	if (now > st->now) {
		st->now = now;
		st->now_ms = (uint32_t)((now - st->start) / SYNFIN_US_PER_MS);
	}
}

void synfin_poll(struct synfin_stack *st, synfin_time_t now)
{
	st_advance(st, now);
	/* Each expiry either re-arms later or removes its timer, so the number
	 * of rounds is bounded by the number of timers due now; the cap is a
	 * guard against a bug turning into a hang. */
	tw_run(st);
	for (uint32_t guard = 0; guard < 1000000; guard++) {
		synfin_time_t when;
		struct tcb *tp = tcp_timer_settle(st, &when);
		if (!tp || when > st->now)
			return;
		tcp_timer_fire(st, tp);
	}
}

synfin_time_t synfin_next_deadline(const struct synfin_stack *st)
{
	/* Settling the heap's lazy entries (tcp_timer_update) changes where
	 * they sit, not what the stack will do: the stack is not const
	 * underneath, only to the caller. */
	synfin_time_t when;
	tcp_timer_settle((struct synfin_stack *)st, &when);
	synfin_time_t tw = tw_next_deadline(st);
	return when < tw ? when : tw;
}

/* ---- addresses ---- */
const char *synfin_ip_str(uint32_t ip, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(ip >> 24), (unsigned)(ip >> 16) & 255,
		 (unsigned)(ip >> 8) & 255, (unsigned)ip & 255);
	return buf;
}

bool synfin_ip_parse(const char *s, uint32_t *ip)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned n = 0, digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			n = n * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || n > 255)
			return false;
		v = (v << 8) | n;
		if (i < 3 && *s++ != '.')
			return false;
	}
	if (*s)
		return false;
	*ip = v;
	return true;
}
