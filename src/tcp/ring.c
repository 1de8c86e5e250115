/*
 * Byte rings for the send and receive buffers. The receive side also keeps
 * up to RB_MAX_HOLES out-of-order ranges, stored in place at their offset
 * from RCV.NXT, so reassembly needs no allocation per segment.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "tcp/tcp_priv.h"

/*
 * Every byte of a transfer passes through here, so the copy avoids a trap:
 * on some x86 CPUs (AMD Zen 3 here) the `rep movsb` that memcpy uses for
 * large blocks drops from ~40 GiB/s to ~2 GiB/s when the destination lies
 * 1 to 31 bytes past the source modulo 4 KiB (4K aliasing: each load seems
 * to depend on the store just before it). A ring's positions and a
 * segment's payload offset land there for a share of segments, which cost
 * about 9% of bulk throughput. In that window (taken as 64 bytes, for a
 * margin) the block goes in 64-byte pieces, which compilers turn into
 * plain vector moves; elsewhere memcpy is the fastest choice.
 */
#define ALIAS_WINDOW 64u
#define ALIAS_MIN_LEN 512u

static SF_NOINLINE void alias_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
	for (; n >= 64; n -= 64, dst += 64, src += 64)
		memcpy(dst, src, 64);
	memcpy(dst, src, n);
}

static inline void data_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
	uintptr_t gap = ((uintptr_t)dst - (uintptr_t)src) & 4095u;
	if (SF_LIKELY(n < ALIAS_MIN_LEN || gap == 0 || gap >= ALIAS_WINDOW))
		memcpy(dst, src, n);
	else
		alias_copy(dst, src, n);
}

/* A copy that crosses the ring's end, in two pieces (out of line: most
 * copies are one piece, and end in a tail call). */
static SF_NOINLINE void wrap_copy(uint8_t *d1, const uint8_t *s1, size_t first, uint8_t *d2, const uint8_t *s2,
			      size_t rest)
{
	data_copy(d1, s1, first);
	data_copy(d2, s2, rest);
}

/* (a field added to struct ring must be set in ring_new) */
_Static_assert(offsetof(struct ring, data) == (sizeof(void *) == 8 ? 40 : 32),
	       "struct ring changed: set the new fields in ring_new()");

struct ring *ring_new(struct synfin_stack *st, uint32_t cap)
{
	/* the data area is written before it is read: only the header is
	 * cleared (zeroing 64 KiB per buffer was most of a short connection's
	 * cost) */
	struct ring *r = st_obj_get(st, sizeof *r + cap, false);
	if (r) {
		/* field by field: a 40-byte memset becomes `rep stos` with some
		 * compilers, slow to start on some CPUs */
		r->cap = cap;
		r->head = r->len = 0;
		r->nooo = r->ooo_cap = 0;
		r->ooo = NULL;
		r->hold = r->hold_epoch = 0;
		r->znext = NULL;
	}
	return r;
}

static void ring_free_now(struct synfin_stack *st, struct ring *r)
{
	st_free(st, r->ooo, r->ooo_cap * sizeof *r->ooo);
	st_obj_put(st, r, sizeof *r + r->cap);
}

void ring_free(struct synfin_stack *st, struct ring *r)
{
	if (!r)
		return;
	if (st->tx_pinned) {
		/* the driver may still read payload from it */
		r->znext = st->zombies;
		st->zombies = r;
		return;
	}
	ring_free_now(st, r);
}

void synfin_tx_release(struct synfin_stack *st)
{
	/* nothing handed over since the last release: no hold, no zombie */
	if (!st->tx_pinned)
		return;
	/* a hold from an ended epoch is void: rings clear it when next used */
	st->tx_epoch++;
	st->tx_pinned = false;
	while (st->zombies) {
		struct ring *r = st->zombies;
		st->zombies = r->znext;
		ring_free_now(st, r);
	}
}

uint32_t tcp_snd_hold(const struct synfin_stack *st, const struct ring *r)
{
	return r->hold && r->hold_epoch == st->tx_epoch ? r->hold : 0;
}

void tcp_snd_drop(struct synfin_stack *st, struct ring *r, uint32_t n)
{
	if (n > r->len)
		n = r->len;
	if (st->tx_pinned) {
		r->hold = tcp_snd_hold(st, r) + n;
		r->hold_epoch = st->tx_epoch;
	}
	ring_drop(r, n);
}

/* Where logical offset off (from head) lies in the data area. Offsets stay
 * within one turn of the ring, so a subtraction does what a division would
 * (a division takes tens of cycles, and every ring operation needs one). */
static inline uint32_t ring_pos(const struct ring *r, uint32_t off)
{
	uint64_t i = (uint64_t)r->head + off;
	if (SF_LIKELY(i < r->cap))
		return (uint32_t)i;
	i -= r->cap;
	return i < r->cap ? (uint32_t)i : (uint32_t)(i % r->cap);
}

uint32_t ring_contig(const struct ring *r, uint32_t off)
{
	return r->cap - ring_pos(r, off);
}

const uint8_t *ring_at(const struct ring *r, uint32_t off)
{
	return r->data + ring_pos(r, off);
}

/* copy n bytes in at logical position pos (from head), wrapping */
static void put_at(struct ring *r, uint32_t pos, const uint8_t *p, uint32_t n)
{
	uint32_t i = ring_pos(r, pos);
	uint32_t first = r->cap - i < n ? r->cap - i : n;
	if (SF_UNLIKELY(n > first))
		wrap_copy(r->data + i, p, first, r->data, p + first, n - first);
	else
		data_copy(r->data + i, p, n);
}

void ring_peek(const struct ring *r, uint32_t off, uint8_t *p, uint32_t n)
{
	uint32_t i = ring_pos(r, off);
	uint32_t first = r->cap - i < n ? r->cap - i : n;
	if (SF_UNLIKELY(n > first))
		wrap_copy(p, r->data + i, first, p + first, r->data, n - first);
	else
		data_copy(p, r->data + i, n);
}

uint32_t ring_write(struct ring *r, const uint8_t *p, uint32_t n, uint32_t hold)
{
	uint32_t room = r->cap - r->len - hold;
	if (n > room)
		n = room;
	if (n) {
		put_at(r, r->len, p, n);
		r->len += n;
	}
	return n;
}

void ring_drop(struct ring *r, uint32_t n)
{
	if (n > r->len)
		n = r->len;
	r->head = ring_pos(r, n);
	r->len -= n;
}

uint32_t ring_read(struct ring *r, uint8_t *p, uint32_t n)
{
	if (n > r->len)
		n = r->len;
	if (n) {
		ring_peek(r, 0, p, n);
		ring_drop(r, n);
	}
	return n;
}

/* Merge [off, off+n) into the sorted, disjoint out-of-order list. */
static bool ooo_add(struct synfin_stack *st, struct ring *r, uint32_t off, uint32_t n)
{
	uint32_t lo = off, hi = off + n;
	uint16_t k = 0;
	/* ranges entirely before the new one stay; overlapping or touching ones merge */
	while (k < r->nooo && r->ooo[k].off + r->ooo[k].len < lo)
		k++;
	uint16_t j = k;
	while (j < r->nooo && r->ooo[j].off <= hi) {
		if (r->ooo[j].off < lo)
			lo = r->ooo[j].off;
		if (r->ooo[j].off + r->ooo[j].len > hi)
			hi = r->ooo[j].off + r->ooo[j].len;
		j++;
	}
	uint16_t merged = (uint16_t)(j - k);
	if (merged == 0) {
		if (r->nooo == r->ooo_cap) {
			if (r->ooo_cap >= RB_MAX_HOLES)
				return false; /* no room to remember it: drop, the peer resends */
			uint16_t ncap = r->ooo_cap ? (uint16_t)(r->ooo_cap * 2) : 8;
			struct ooo_range *na = st_regrow(st, r->ooo, r->ooo_cap * sizeof *na, r->nooo * sizeof *na,
							 ncap * sizeof *na);
			if (!na)
				return false;
			r->ooo = na;
			r->ooo_cap = ncap;
		}
		memmove(&r->ooo[k + 1], &r->ooo[k], (size_t)(r->nooo - k) * sizeof r->ooo[0]);
		r->nooo++;
	} else if (merged > 1) {
		memmove(&r->ooo[k + 1], &r->ooo[j], (size_t)(r->nooo - j) * sizeof r->ooo[0]);
		r->nooo = (uint16_t)(r->nooo - (merged - 1));
	}
	r->ooo[k].off = lo;
	r->ooo[k].len = hi - lo;
	return true;
}

uint32_t ring_reass(struct synfin_stack *st, struct ring *r, uint32_t off, const uint8_t *p, uint32_t n,
		    bool *stored)
{
	uint32_t room = r->cap - r->len;
	*stored = false;
	if (off >= room)
		return 0;
	if (n > room - off)
		n = room - off;
	if (n == 0)
		return 0;
	if (off > 0) {
		if (!ooo_add(st, r, off, n))
			return 0;
		put_at(r, r->len + off, p, n);
		*stored = true;
		return 0;
	}
	put_at(r, r->len, p, n);
	*stored = true;
	/* the new bytes may close holes; whatever range they reach joins them */
	uint32_t adv = n;
	while (r->nooo && r->ooo[0].off <= adv) {
		uint32_t end = r->ooo[0].off + r->ooo[0].len;
		if (end > adv)
			adv = end;
		memmove(&r->ooo[0], &r->ooo[1], (size_t)(r->nooo - 1) * sizeof r->ooo[0]);
		r->nooo--;
	}
	/* the rest are now relative to the new RCV.NXT */
	for (uint16_t i = 0; i < r->nooo; i++)
		r->ooo[i].off -= adv;
	r->len += adv;
	return adv;
}
