/*
 * The data path's buffers: the byte rings (every copy in and out, at every
 * placement against the 4 KiB aliasing window that ring.c steers around)
 * and datagrams built in a buffer the driver lends (ops.tx_buf).
 */
#include <errno.h>
#include <stdlib.h>

#include "tcp/tcp_priv.h"
#include "test.h"
#include "wire/wire.h"

static struct synfin_stack *bare_stack(const struct synfin_ops *ops)
{
	struct synfin_config c;
	synfin_config_default(&c);
	struct synfin_ops def = {.output = test_noop_output};
	struct synfin_stack *st = synfin_stack_create(&c, ops ? ops : &def, 0xc6120001u, 7, SYNFIN_SEC(1));
	ASSERT(st);
	return st;
}

static uint8_t pat(uint32_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

/* Bytes written at every position of the ring and read back at every
 * destination gap from 0 to 130 and some up to 4 KiB come out unchanged. */
TEST(ring_copies_exact_at_every_alias_gap)
{
	struct synfin_stack *st = bare_stack(NULL);
	const uint32_t cap = 16384;
	struct ring *r = ring_new(st, cap);
	ASSERT(r);
	uint8_t *src = aligned_alloc(4096, 3 * 4096 + 8192);
	uint8_t *dst = aligned_alloc(4096, 3 * 4096 + 8192);
	ASSERT(src && dst);
	uint32_t seqno = 0;
	int checked = 0;
	static const uint32_t far_gaps[] = {1000, 2048, 4000, 4032, 4064, 4080, 4095};
	const uint32_t ngaps = 131 + sizeof far_gaps / sizeof far_gaps[0];
	for (uint32_t g = 0; g < ngaps; g++) {
		uint32_t gap = g < 131 ? g : far_gaps[g - 131];
		for (uint32_t n = 1; n <= 5000; n = n * 3 + 7) {
			/* the source sits at the ring's write position minus
			 * `gap` modulo 4 KiB: that is the placement that matters */
			uintptr_t wpos = (uintptr_t)(r->data + (r->head + r->len) % cap);
			uint8_t *s = src + ((wpos - gap) & 4095u);
			for (uint32_t i = 0; i < n; i++)
				s[i] = pat(seqno + i);
			ASSERT(ring_write(r, s, n, 0) == n);
			uintptr_t rpos = (uintptr_t)(r->data + r->head);
			uint8_t *d = dst + ((rpos + gap) & 4095u);
			memset(d, 0xee, n + 1);
			ASSERT(ring_read(r, d, n) == n);
			for (uint32_t i = 0; i < n; i++)
				ASSERT_MSG(d[i] == pat(seqno + i), "gap %u len %u byte %u", gap, n, i);
			ASSERT(d[n] == 0xee); /* nothing written past the end */
			seqno += n;
			checked++;
		}
	}
	ASSERT(checked == 7 * (int)ngaps); /* sizes 1, 10, 37, 118, 361, 1090, 3277 */
	ASSERT(r->len == 0);
	free(src);
	free(dst);
	ring_free(st, r);
	synfin_stack_destroy(st);
}

struct lend {
	uint8_t buf[2][1600];
	int next, asked, outputs, lent_and_used, nulls;
	bool give_null;
	size_t size_asked;
	uint8_t last[1600];
	size_t last_len;
};

static uint8_t *lend_buf(void *ctx, size_t size)
{
	struct lend *l = ctx;
	l->asked++;
	l->size_asked = size;
	if (l->give_null) {
		l->nulls++;
		return NULL;
	}
	l->next ^= 1;
	return l->buf[l->next];
}

static void lend_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct lend *l = ctx;
	l->outputs++;
	if (!l->give_null && pkt == l->buf[l->next])
		l->lent_and_used++;
	ASSERT(len <= sizeof l->last);
	memcpy(l->last, pkt, len);
	l->last_len = len;
}

static void check_syn(const struct lend *l, uint16_t dport)
{
	struct ip4_view ip;
	struct tcp_seg seg;
	ASSERT(ip4_parse(l->last, l->last_len, &ip) == WIRE_OK);
	ASSERT(tcp_parse(&ip, &seg) == WIRE_OK); /* checksums verified */
	ASSERT(seg.flags == TH_SYN);
	ASSERT(seg.dport == dport);
	ASSERT(seg.daddr == 0xc6120002u);
}

/* With ops.tx_buf, each datagram is built in the lent buffer and output()
 * gets that very pointer; when tx_buf returns NULL the stack's own buffer
 * serves and the datagram is just as whole. */
TEST(tx_buf_datagram_built_in_driver_buffer)
{
	struct lend l;
	memset(&l, 0, sizeof l);
	struct synfin_ops ops = {.ctx = &l, .output = lend_output, .tx_buf = lend_buf};
	struct synfin_stack *st = bare_stack(&ops);
	int fd = synfin_socket(st);
	ASSERT(fd >= 0);
	struct synfin_addr a = {.ip = 0xc6120002u, .port = 80};
	ASSERT(synfin_connect(st, fd, &a) == -EINPROGRESS);
	ASSERT(l.outputs == 1);
	ASSERT(l.asked == 1);
	ASSERT(l.size_asked == 1500);
	ASSERT(l.lent_and_used == 1);
	check_syn(&l, 80);

	l.give_null = true;
	int fd2 = synfin_socket(st);
	struct synfin_addr b = {.ip = 0xc6120002u, .port = 81};
	ASSERT(synfin_connect(st, fd2, &b) == -EINPROGRESS);
	ASSERT(l.outputs == 2);
	ASSERT(l.nulls == 1);
	ASSERT(l.lent_and_used == 1);
	check_syn(&l, 81);
	synfin_stack_destroy(st);
}
