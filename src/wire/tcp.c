/*
 * TCP header parse and emit (RFC 9293 3.1, options of RFC 9293 3.2,
 * RFC 7323 and RFC 2018).
 */
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
 * Every option but EOL and NOP carries a length that covers kind and length
 * bytes; a length that cannot be right means the header cannot be trusted
 * (RFC 9293 3.1: "must be prepared to handle an illegal option length").
 */
static enum wire_err parse_opts(const uint8_t *o, size_t n, struct tcp_opts *opt)
{
	size_t i = 0;

	/* the SACK blocks are only read up to nsack: not cleared */
	memset(opt, 0, offsetof(struct tcp_opts, sack));
	/* The layout of nearly every segment once timestamps are on (RFC 7323
	 * appendix A's NOP, NOP, TS) is read at once. */
	if (n == 12 && o[0] == TCPOPT_NOP && o[1] == TCPOPT_NOP && o[2] == TCPOPT_TIMESTAMP &&
	    o[3] == TCPOLEN_TIMESTAMP) {
		opt->has = TOF_TS;
		opt->tsval = get32(o + 4);
		opt->tsecr = get32(o + 8);
		return WIRE_OK;
	}
	while (i < n) {
		uint8_t kind = o[i];
		size_t olen;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= n)
			return WIRE_BAD_OPT;
		olen = o[i + 1];
		if (olen < 2 || olen > n - i)
			return WIRE_BAD_OPT;
		switch (kind) {
		case TCPOPT_MSS:
			if (olen != TCPOLEN_MSS)
				return WIRE_BAD_OPT;
			opt->has |= TOF_MSS;
			opt->mss = get16(o + i + 2);
			break;
		case TCPOPT_WSCALE:
			if (olen != TCPOLEN_WSCALE)
				return WIRE_BAD_OPT;
			opt->has |= TOF_WSCALE;
			opt->wscale = o[i + 2];
			break;
		case TCPOPT_SACK_PERM:
			if (olen != TCPOLEN_SACK_PERM)
				return WIRE_BAD_OPT;
			opt->has |= TOF_SACKPERM;
			break;
		case TCPOPT_TIMESTAMP:
			if (olen != TCPOLEN_TIMESTAMP)
				return WIRE_BAD_OPT;
			opt->has |= TOF_TS;
			opt->tsval = get32(o + i + 2);
			opt->tsecr = get32(o + i + 6);
			break;
		case TCPOPT_SACK: {
			size_t nb = (olen - 2) / TCPOLEN_SACK_BLOCK;

			if ((olen - 2) % TCPOLEN_SACK_BLOCK || nb < 1 || nb > TCP_MAX_SACK)
				return WIRE_BAD_OPT;
			opt->has |= TOF_SACK;
			opt->nsack = (uint8_t)nb;
			for (size_t b = 0; b < nb; b++) {
				const uint8_t *q = o + i + 2 + b * TCPOLEN_SACK_BLOCK;

				opt->sack[b].left = get32(q);
				opt->sack[b].right = get32(q + 4);
			}
			break;
		}
		default:
			break;
		}
		i += olen;
	}
	return WIRE_OK;
}

enum wire_err tcp_parse(const struct ip4_view *ip, struct tcp_seg *seg)
{
	return tcp_parse_ex(ip, seg, true);
}

enum wire_err tcp_parse_ex(const struct ip4_view *ip, struct tcp_seg *seg, bool verify_csum)
{
	const uint8_t *th = ip->payload;
	size_t first = ip->payload_len, tail = ip->tail_len, len = first + tail;
	size_t off;
	uint32_t sum;
	enum wire_err err;

	if (first < TCP_HDR_MIN)
		return WIRE_TRUNCATED;
	/* The pseudo header has a 16-bit length; only a hand-made view can
	 * exceed it. */
	if (len > 0xffff)
		return WIRE_BAD_TOTLEN;
	off = (size_t)(th[12] >> 4) * 4;
	/* in two pieces (ip4_parse_split), the first holds the whole header
	 * and the second the whole payload */
	if (off < TCP_HDR_MIN || off > first || (tail && off != first))
		return WIRE_BAD_OFF;
	if (verify_csum) {
		sum = inet_pseudo_sum(ip->src, ip->dst, IPPROTO_TCP_, (uint16_t)len);
		sum = inet_sum(th, first, sum);
		if (tail)
			sum = inet_sum(ip->tail, tail, sum);
		if (inet_fold(sum) != 0)
			return WIRE_BAD_CSUM;
	}

	seg->saddr = ip->src;
	seg->daddr = ip->dst;
	seg->sport = get16(th);
	seg->dport = get16(th + 2);
	if (seg->sport == 0 || seg->dport == 0)
		return WIRE_BAD_ADDR;
	seg->seq = get32(th + 4);
	seg->ack = get32(th + 8);
	seg->flags = th[13];
	seg->wnd = get16(th + 14);
	seg->urp = get16(th + 18);
	err = parse_opts(th + TCP_HDR_MIN, off - TCP_HDR_MIN, &seg->opt);
	if (err != WIRE_OK)
		return err;
	seg->data = tail ? ip->tail : th + off;
	seg->len = (uint32_t)(len - off);
	return WIRE_OK;
}

/*
 * The layouts are Linux's, so that traces look familiar and every option is
 * aligned: TS on a 4-byte boundary, SACK blocks too. Each piece is a
 * multiple of 4 bytes, so no trailing padding is ever needed.
 */
size_t tcp_opts_len(const struct tcp_opts *o)
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

/* Writes exactly n = tcp_opts_len(o) bytes; the caller checked it fits in 40,
 * which also bounds nsack by TCP_MAX_SACK. */
static void emit_opts(uint8_t *p, const struct tcp_opts *o, size_t n)
{
	uint8_t *start = p;

	if (o->has == TOF_TS) { /* the common case, as RFC 7323 appendix A lays it out */
		put32(p, (uint32_t)TCPOPT_NOP << 24 | (uint32_t)TCPOPT_NOP << 16 |
				 (uint32_t)TCPOPT_TIMESTAMP << 8 | TCPOLEN_TIMESTAMP);
		put32(p + 4, o->tsval);
		put32(p + 8, o->tsecr);
		return;
	}
	if (o->has & TOF_MSS) {
		*p++ = TCPOPT_MSS;
		*p++ = TCPOLEN_MSS;
		put16(p, o->mss);
		p += 2;
	}
	if ((o->has & TOF_SACKPERM) && (o->has & TOF_TS)) {
		*p++ = TCPOPT_SACK_PERM;
		*p++ = TCPOLEN_SACK_PERM;
	} else if (o->has & TOF_TS) {
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_NOP;
	} else if (o->has & TOF_SACKPERM) {
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_SACK_PERM;
		*p++ = TCPOLEN_SACK_PERM;
	}
	if (o->has & TOF_TS) {
		*p++ = TCPOPT_TIMESTAMP;
		*p++ = TCPOLEN_TIMESTAMP;
		put32(p, o->tsval);
		put32(p + 4, o->tsecr);
		p += 8;
	}
	if (o->has & TOF_WSCALE) {
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_WSCALE;
		*p++ = TCPOLEN_WSCALE;
		*p++ = o->wscale;
	}
	if ((o->has & TOF_SACK) && o->nsack > 0) {
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_SACK;
		*p++ = (uint8_t)(2 + o->nsack * TCPOLEN_SACK_BLOCK);
		for (unsigned b = 0; b < o->nsack; b++) {
			put32(p, o->sack[b].left);
			put32(p + 4, o->sack[b].right);
			p += 8;
		}
	}
	while ((size_t)(p - start) < n)
		*p++ = TCPOPT_EOL;
}

size_t tcp_emit(uint8_t *buf, size_t cap, const struct tcp_seg *seg, uint16_t ip_id)
{
	return tcp_emit_ex(buf, cap, seg, ip_id, true);
}

/* The headers of a checked segment whose `optlen` bytes of options fit
 * and whose payload is at `payload`; returns their length. */
static inline size_t write_headers(uint8_t *buf, const struct tcp_seg *seg, size_t optlen,
				   const uint8_t *payload, uint16_t ip_id, bool tcp_csum)
{
	size_t thlen = TCP_HDR_MIN + optlen;
	uint8_t *th = buf + IP4_HDR_MIN;
	/* DF: the stack does its own MSS/PMTU sizing */
	ip4_write_header(buf, (uint16_t)(IP4_HDR_MIN + thlen + seg->len), ip_id, true, IP4_TTL, IPPROTO_TCP_,
			 seg->saddr, seg->daddr);
	put16(th, seg->sport);
	put16(th + 2, seg->dport);
	put32(th + 4, seg->seq);
	put32(th + 8, seg->ack);
	th[12] = (uint8_t)((thlen / 4) << 4);
	th[13] = seg->flags;
	put16(th + 14, seg->wnd);
	put16(th + 16, 0);
	put16(th + 18, seg->urp);
	emit_opts(th + TCP_HDR_MIN, &seg->opt, optlen);
	if (tcp_csum) {
		/* the header's length is a multiple of 4: the payload's sum
		 * joins it wherever the payload is */
		uint32_t sum = inet_pseudo_sum(seg->saddr, seg->daddr, IPPROTO_TCP_, (uint16_t)(thlen + seg->len));
		sum = inet_sum(th, thlen, sum);
		if (seg->len)
			sum = inet_sum(payload, seg->len, sum);
		put16(th + 16, inet_fold(sum));
	}
	return IP4_HDR_MIN + thlen;
}

/* The options' length if the segment can be emitted at all: options fit in
 * 40 bytes, the datagram in 65535, the payload is there; else -1. Checked
 * before any addition, so that it cannot wrap with a 32-bit size_t. */
static long emit_check(const struct tcp_seg *seg)
{
	size_t optlen = tcp_opts_len(&seg->opt);
	if (optlen > TCP_OPT_MAX || seg->len > 0xffff ||
	    IP4_HDR_MIN + TCP_HDR_MIN + optlen + seg->len > 0xffff || (seg->len > 0 && !seg->data))
		return -1;
	return (long)optlen;
}

size_t tcp_emit_headers(uint8_t *buf, size_t cap, const struct tcp_seg *seg, uint16_t ip_id, bool tcp_csum)
{
	long optlen = emit_check(seg);
	if (optlen < 0 || IP4_HDR_MIN + TCP_HDR_MIN + (size_t)optlen > cap)
		return 0;
	return write_headers(buf, seg, (size_t)optlen, seg->data, ip_id, tcp_csum);
}

size_t tcp_emit_ex(uint8_t *buf, size_t cap, const struct tcp_seg *seg, uint16_t ip_id, bool tcp_csum)
{
	long optlen = emit_check(seg);
	size_t hlen = IP4_HDR_MIN + TCP_HDR_MIN + (size_t)optlen;
	if (optlen < 0 || hlen + seg->len > cap)
		return 0;
	/* the caller may have placed the payload already (no second copy) */
	if (seg->len > 0 && seg->data != buf + hlen)
		memmove(buf + hlen, seg->data, seg->len);
	return write_headers(buf, seg, (size_t)optlen, buf + hlen, ip_id, tcp_csum) + seg->len;
}
