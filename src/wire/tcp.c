/*
 * TCP header parse and emit (RFC 9293 3.1, options of RFC 9293 3.2,
 * RFC 7323 and RFC 2018).
 */
#include <stddef.h>
#include <string.h>

#include "wire/wire.h"
#include "wire/bytes.h"
#include "wire/tcp_emit.h"

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
	if (SF_LIKELY(n == 12 && get32(o) == ((uint32_t)TCPOPT_NOP << 24 | (uint32_t)TCPOPT_NOP << 16 |
					      (uint32_t)TCPOPT_TIMESTAMP << 8 | TCPOLEN_TIMESTAMP))) {
		opt->has = TOF_TS;
		opt->tsval = get32(o + 4);
		opt->tsecr = get32(o + 8);
		return WIRE_OK;
	}
	/* The SYN layout of Linux and of synfin itself: MSS, SACK permitted,
	 * timestamps, NOP, window scale. */
	if (n == 20 && o[0] == TCPOPT_MSS && o[1] == TCPOLEN_MSS &&
	    get32(o + 4) == ((uint32_t)TCPOPT_SACK_PERM << 24 | (uint32_t)TCPOLEN_SACK_PERM << 16 |
			     (uint32_t)TCPOPT_TIMESTAMP << 8 | TCPOLEN_TIMESTAMP) &&
	    get32(o + 16) >> 8 == ((uint32_t)TCPOPT_NOP << 16 | (uint32_t)TCPOPT_WSCALE << 8 | TCPOLEN_WSCALE)) {
		opt->has = TOF_MSS | TOF_SACKPERM | TOF_TS | TOF_WSCALE;
		opt->mss = get16(o + 2);
		opt->tsval = get32(o + 8);
		opt->tsecr = get32(o + 12);
		opt->wscale = o[19];
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
		if (SF_UNLIKELY(i + 1 >= n))
			return WIRE_BAD_OPT;
		olen = o[i + 1];
		if (SF_UNLIKELY(olen < 2 || olen > n - i))
			return WIRE_BAD_OPT;
		switch (kind) {
		case TCPOPT_MSS:
			if (SF_UNLIKELY(olen != TCPOLEN_MSS))
				return WIRE_BAD_OPT;
			opt->has |= TOF_MSS;
			opt->mss = get16(o + i + 2);
			break;
		case TCPOPT_WSCALE:
			if (SF_UNLIKELY(olen != TCPOLEN_WSCALE))
				return WIRE_BAD_OPT;
			opt->has |= TOF_WSCALE;
			opt->wscale = o[i + 2];
			break;
		case TCPOPT_SACK_PERM:
			if (SF_UNLIKELY(olen != TCPOLEN_SACK_PERM))
				return WIRE_BAD_OPT;
			opt->has |= TOF_SACKPERM;
			break;
		case TCPOPT_TIMESTAMP:
			if (SF_UNLIKELY(olen != TCPOLEN_TIMESTAMP))
				return WIRE_BAD_OPT;
			opt->has |= TOF_TS;
			opt->tsval = get32(o + i + 2);
			opt->tsecr = get32(o + i + 6);
			break;
		case TCPOPT_SACK: {
			size_t nb = (olen - 2) / TCPOLEN_SACK_BLOCK;

			if (SF_UNLIKELY((olen - 2) % TCPOLEN_SACK_BLOCK || nb < 1 || nb > TCP_MAX_SACK))
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

	if (SF_UNLIKELY(first < TCP_HDR_MIN))
		return WIRE_TRUNCATED;
	/* The pseudo header has a 16-bit length; only a hand-made view can
	 * exceed it. */
	if (SF_UNLIKELY(len > 0xffff))
		return WIRE_BAD_TOTLEN;
	off = (size_t)(th[12] >> 4) * 4;
	/* in two pieces (ip4_parse_split), the first holds the whole header
	 * and the second the whole payload */
	if (SF_UNLIKELY(off < TCP_HDR_MIN || off > first || (tail && off != first)))
		return WIRE_BAD_OFF;
	if (verify_csum) {
		sum = inet_pseudo_sum(ip->src, ip->dst, IPPROTO_TCP_, (uint16_t)len);
		sum = inet_sum(th, first, sum);
		if (tail)
			sum = inet_sum(ip->tail, tail, sum);
		if (SF_UNLIKELY(inet_fold(sum) != 0))
			return WIRE_BAD_CSUM;
	}

	seg->saddr = ip->src;
	seg->daddr = ip->dst;
	seg->sport = get16(th);
	seg->dport = get16(th + 2);
	if (SF_UNLIKELY(seg->sport == 0 || seg->dport == 0))
		return WIRE_BAD_ADDR;
	seg->seq = get32(th + 4);
	seg->ack = get32(th + 8);
	seg->flags = th[13];
	seg->wnd = get16(th + 14);
	seg->urp = get16(th + 18);
	err = parse_opts(th + TCP_HDR_MIN, off - TCP_HDR_MIN, &seg->opt);
	if (SF_UNLIKELY(err != WIRE_OK))
		return err;
	seg->data = tail ? ip->tail : th + off;
	seg->len = (uint32_t)(len - off);
	return WIRE_OK;
}

size_t tcp_opts_len(const struct tcp_opts *o)
{
	return tcp_opts_len_inline(o);
}

size_t tcp_emit(uint8_t *buf, size_t cap, const struct tcp_seg *seg, uint16_t ip_id)
{
	return tcp_emit_ex(buf, cap, seg, ip_id, true);
}

size_t tcp_emit_headers(uint8_t *buf, size_t cap, const struct tcp_seg *seg, uint16_t ip_id, bool tcp_csum)
{
	return tcp_emit_headers_inline(buf, cap, seg, ip_id, tcp_csum);
}

size_t tcp_emit_ex(uint8_t *buf, size_t cap, const struct tcp_seg *seg, uint16_t ip_id, bool tcp_csum)
{
	return tcp_emit_inline(buf, cap, seg, ip_id, tcp_csum);
}
