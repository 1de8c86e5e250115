/*
 * The TCP emitter's body (options of RFC 9293 3.2, RFC 7323, RFC 2018),
 * inline: the stack's output path builds every segment with it, and a call
 * would save and restore registers for each one. wire/tcp.c wraps it for
 * everyone else (tcp_emit, tcp_emit_ex, tcp_emit_headers).
 */
#ifndef SYNFIN_TCP_EMIT_H
#define SYNFIN_TCP_EMIT_H

#include <stddef.h>
#include <string.h>

#include "wire/wire.h"
#include "wire/bytes.h"
#include "wire/ip4_hdr.h"

#define TCPOLEN_MSS 4
#define TCPOLEN_WSCALE 3
#define TCPOLEN_SACK_PERM 2
#define TCPOLEN_TIMESTAMP 10
#define TCPOLEN_SACK_BLOCK 8

/*
 * The layouts are Linux's, so that traces look familiar and every option is
 * aligned: TS on a 4-byte boundary, SACK blocks too. Each piece is a
 * multiple of 4 bytes, so no trailing padding is ever needed.
 */
static inline size_t tcp_opts_len_inline(const struct tcp_opts *o)
{
	size_t n = 0;

	if (o->has == TOF_TS) /* every segment of a connection with timestamps */
		return 2 + TCPOLEN_TIMESTAMP;

	if (o->has & TOF_MSS)
		n += TCPOLEN_MSS;
	if ((o->has & TOF_SACKPERM) && (o->has & TOF_TS))
		n += TCPOLEN_SACK_PERM + TCPOLEN_TIMESTAMP;
	else if (o->has & TOF_TS)
		n += 2 + TCPOLEN_TIMESTAMP;
	else if (o->has & TOF_SACKPERM)
		n += 2 + TCPOLEN_SACK_PERM;
	if (o->has & TOF_WSCALE)
		n += 1 + TCPOLEN_WSCALE;
	if ((o->has & TOF_SACK) && o->nsack > 0)
		n += 2 + 2 + (size_t)o->nsack * TCPOLEN_SACK_BLOCK;
	return (n + 3) & ~(size_t)3;
}

/* Four option bytes as one big-endian word. */
#define TCPOPT_WORD(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* The pieces of an options block, each a multiple of 4 bytes; each returns
 * where the next goes. */
static inline uint8_t *tcp_put_opt_mss(uint8_t *p, uint16_t mss)
{
	put32(p, TCPOPT_WORD(TCPOPT_MSS, TCPOLEN_MSS, 0, 0) | mss);
	return p + 4;
}

/* the timestamps behind NOP, NOP, or behind SACK permitted, which then
 * takes no room of its own (a SYN's) */
static inline uint8_t *tcp_put_opt_ts(uint8_t *p, bool sack_perm, uint32_t tsval, uint32_t tsecr)
{
	put32(p, sack_perm ? TCPOPT_WORD(TCPOPT_SACK_PERM, TCPOLEN_SACK_PERM, TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP)
			   : TCPOPT_WORD(TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TIMESTAMP, TCPOLEN_TIMESTAMP));
	put32(p + 4, tsval);
	put32(p + 8, tsecr);
	return p + 12;
}

static inline uint8_t *tcp_put_opt_sack_perm(uint8_t *p)
{
	put32(p, TCPOPT_WORD(TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK_PERM, TCPOLEN_SACK_PERM));
	return p + 4;
}

static inline uint8_t *tcp_put_opt_wscale(uint8_t *p, uint8_t shift)
{
	put32(p, TCPOPT_WORD(TCPOPT_NOP, TCPOPT_WSCALE, TCPOLEN_WSCALE, shift));
	return p + 4;
}

static inline uint8_t *tcp_put_opt_sack(uint8_t *p, const struct tcp_sack_block *b, unsigned n)
{
	put32(p, TCPOPT_WORD(TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK, 2 + n * TCPOLEN_SACK_BLOCK));
	p += 4;
	for (unsigned i = 0; i < n; i++, p += 8) {
		put32(p, b[i].left);
		put32(p + 4, b[i].right);
	}
	return p;
}

/* The timestamp option as RFC 7323 appendix A lays it out: NOP, NOP,
 * TS (12 bytes, aligned). */
static inline void tcp_put_ts(uint8_t *p, uint32_t tsval, uint32_t tsecr)
{
	tcp_put_opt_ts(p, false, tsval, tsecr);
}

/* The options of a SYN in the order of tcp_emit_opts: MSS, SACK permitted
 * and timestamps, window scale (at most 20 bytes); `wscale` < 0 for none,
 * tsval and tsecr read only when `ts`. Returns the length. */
static inline size_t tcp_put_syn_opts(uint8_t *p, uint16_t mss, bool sack_perm, bool ts, uint32_t tsval,
				      uint32_t tsecr, int wscale)
{
	uint8_t *q = tcp_put_opt_mss(p, mss);
	if (ts)
		q = tcp_put_opt_ts(q, sack_perm, tsval, tsecr);
	else if (sack_perm)
		q = tcp_put_opt_sack_perm(q);
	if (wscale >= 0)
		q = tcp_put_opt_wscale(q, (uint8_t)wscale);
	return (size_t)(q - p);
}

/* Writes exactly n = tcp_opts_len(o) bytes; the caller checked it fits in 40,
 * which also bounds nsack by TCP_MAX_SACK. */
static inline void tcp_emit_opts(uint8_t *p, const struct tcp_opts *o, size_t n)
{
	uint8_t *start = p;

	if (o->has == TOF_TS) { /* the common case */
		tcp_put_ts(p, o->tsval, o->tsecr);
		return;
	}
	if (o->has & TOF_MSS)
		p = tcp_put_opt_mss(p, o->mss);
	if (o->has & TOF_TS)
		p = tcp_put_opt_ts(p, (o->has & TOF_SACKPERM) != 0, o->tsval, o->tsecr);
	else if (o->has & TOF_SACKPERM)
		p = tcp_put_opt_sack_perm(p);
	if (o->has & TOF_WSCALE)
		p = tcp_put_opt_wscale(p, o->wscale);
	if ((o->has & TOF_SACK) && o->nsack > 0)
		p = tcp_put_opt_sack(p, o->sack, o->nsack);
	while ((size_t)(p - start) < n)
		*p++ = TCPOPT_EOL;
}

/* The IPv4 header and the fixed 20 bytes of the TCP header (checksum 0)
 * of a datagram of `total` bytes whose TCP header is `thlen` long. */
static inline void tcp_put_fixed(uint8_t *buf, uint16_t total, uint16_t ip_id, uint32_t saddr, uint32_t daddr,
				 uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, size_t thlen,
				 uint8_t flags, uint16_t wnd, uint16_t urp)
{
	uint8_t *th = buf + IP4_HDR_MIN;
	/* DF: the stack does its own MSS/PMTU sizing */
	ip4_write_header(buf, total, ip_id, true, IP4_TTL, IPPROTO_TCP_, saddr, daddr);
	put16(th, sport);
	put16(th + 2, dport);
	put32(th + 4, seq);
	put32(th + 8, ack);
	th[12] = (uint8_t)((thlen / 4) << 4);
	th[13] = flags;
	put16(th + 14, wnd);
	put16(th + 16, 0);
	put16(th + 18, urp);
}

/* The TCP checksum of a segment whose header (a multiple of 4 bytes, so
 * the payload's sum joins it wherever the payload is) is written. */
static inline void tcp_put_csum(uint8_t *th, size_t thlen, const uint8_t *payload, uint32_t len,
				uint32_t saddr, uint32_t daddr)
{
	uint32_t sum = inet_pseudo_sum(saddr, daddr, IPPROTO_TCP_, (uint16_t)(thlen + len));
	sum = inet_sum(th, thlen, sum);
	if (len)
		sum = inet_sum(payload, len, sum);
	put16(th + 16, inet_fold(sum));
}

/* The headers of a checked segment whose `optlen` bytes of options fit
 * and whose payload is at `payload`; returns their length. */
static inline size_t tcp_write_headers(uint8_t *buf, const struct tcp_seg *seg, size_t optlen,
				   const uint8_t *payload, uint16_t ip_id, bool tcp_csum)
{
	size_t thlen = TCP_HDR_MIN + optlen;
	uint8_t *th = buf + IP4_HDR_MIN;
	tcp_put_fixed(buf, (uint16_t)(IP4_HDR_MIN + thlen + seg->len), ip_id, seg->saddr, seg->daddr, seg->sport,
		      seg->dport, seg->seq, seg->ack, thlen, seg->flags, seg->wnd, seg->urp);
	tcp_emit_opts(th + TCP_HDR_MIN, &seg->opt, optlen);
	if (tcp_csum)
		tcp_put_csum(th, thlen, payload, seg->len, seg->saddr, seg->daddr);
	return IP4_HDR_MIN + thlen;
}

/* The options' length if the segment can be emitted at all: options fit in
 * 40 bytes, the datagram in 65535, the payload is there; else -1. Checked
 * before any addition, so that it cannot wrap with a 32-bit size_t. */
static inline long tcp_emit_check(const struct tcp_seg *seg)
{
	size_t optlen = tcp_opts_len_inline(&seg->opt);
	if (optlen > TCP_OPT_MAX || seg->len > 0xffff ||
	    IP4_HDR_MIN + TCP_HDR_MIN + optlen + seg->len > 0xffff || (seg->len > 0 && !seg->data))
		return -1;
	return (long)optlen;
}

/* tcp_emit_headers() and tcp_emit_ex() of wire.h */
static inline size_t tcp_emit_headers_inline(uint8_t *buf, size_t cap, const struct tcp_seg *seg,
					      uint16_t ip_id, bool tcp_csum)
{
	long optlen = tcp_emit_check(seg);
	if (optlen < 0 || IP4_HDR_MIN + TCP_HDR_MIN + (size_t)optlen > cap)
		return 0;
	return tcp_write_headers(buf, seg, (size_t)optlen, seg->data, ip_id, tcp_csum);
}

static inline size_t tcp_emit_inline(uint8_t *buf, size_t cap, const struct tcp_seg *seg, uint16_t ip_id,
				      bool tcp_csum)
{
	long optlen = tcp_emit_check(seg);
	size_t hlen = IP4_HDR_MIN + TCP_HDR_MIN + (size_t)optlen;
	if (optlen < 0 || hlen + seg->len > cap)
		return 0;
	/* the caller may have placed the payload already (no second copy) */
	if (seg->len > 0 && seg->data != buf + hlen)
		memmove(buf + hlen, seg->data, seg->len);
	return tcp_write_headers(buf, seg, (size_t)optlen, buf + hlen, ip_id, tcp_csum) + seg->len;
}

#endif
