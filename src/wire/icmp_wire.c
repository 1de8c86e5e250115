/*
 * ICMP message parse and emit (RFC 792, RFC 1122 3.2.2).
 */
#include <string.h>

#include "wire/icmp.h"
#include "wire/bytes.h"
#include "wire/ip4_hdr.h"


enum wire_err icmp_parse(const struct ip4_view *ip, struct icmp_view *ic)
{
	const uint8_t *p = ip->payload;
	size_t len = ip->payload_len;

	if (len < ICMP_HDR_LEN)
		return WIRE_TRUNCATED;
	/* the checksum covers the whole message, no pseudo header */
	if (inet_fold(inet_sum(p, len, 0)) != 0)
		return WIRE_BAD_CSUM;
	ic->type = p[0];
	ic->code = p[1];
	ic->rest = get32(p + 4);
	ic->body = p + ICMP_HDR_LEN;
	ic->body_len = len - ICMP_HDR_LEN;
	return WIRE_OK;
}

enum wire_err icmp_quote_parse(const uint8_t *q, size_t len, struct icmp_quote *out)
{
	size_t hlen;

	if (len < IP4_HDR_MIN + ICMP_QUOTE_MIN_DATA)
		return WIRE_TRUNCATED;
	if (q[0] >> 4 != 4)
		return WIRE_BAD_VERSION;
	hlen = (size_t)(q[0] & 0x0f) * 4;
	if (hlen < IP4_HDR_MIN)
		return WIRE_BAD_HLEN;
	if (hlen + ICMP_QUOTE_MIN_DATA > len)
		return WIRE_TRUNCATED;
	if (get16(q + 6) & 0x1fff)
		return WIRE_FRAGMENT;
	out->proto = q[9];
	out->src = get32(q + 12);
	out->dst = get32(q + 16);
	out->sport = get16(q + hlen);
	out->dport = get16(q + hlen + 2);
	out->seq = get32(q + hlen + 4);
	return WIRE_OK;
}

size_t ip4_emit_header(uint8_t *buf, size_t cap, uint32_t src, uint32_t dst, uint8_t proto,
		       uint8_t ttl, uint16_t id, size_t payload_len)
{
	/* compared before adding so that it cannot wrap */
	if (payload_len > 0xffff - IP4_HDR_MIN || IP4_HDR_MIN + payload_len > cap)
		return 0;
	/* No DF: an ICMP message has no PMTU logic behind it to react to a
	 * "fragmentation needed" (Linux's ICMP socket does the same). */
	ip4_write_header(buf, (uint16_t)(IP4_HDR_MIN + payload_len), id, false, ttl, proto, src, dst);
	return IP4_HDR_MIN;
}

size_t icmp_emit(uint8_t *buf, size_t cap, uint32_t src, uint32_t dst, uint16_t ip_id,
		 uint8_t type, uint8_t code, uint32_t rest, const uint8_t *data, size_t len)
{
	uint8_t *ic = buf + IP4_HDR_MIN;

	if (len > 0 && !data)
		return 0;
	if (len > 0xffff - IP4_HDR_MIN - ICMP_HDR_LEN)
		return 0;
	if (!ip4_emit_header(buf, cap, src, dst, IPPROTO_ICMP_, IP4_TTL, ip_id,
			     ICMP_HDR_LEN + len))
		return 0;
	ic[0] = type;
	ic[1] = code;
	put16(ic + 2, 0);
	put32(ic + 4, rest);
	/* the data may come from the buffer being written (an echo answered
	 * in place) */
	if (len > 0)
		memmove(ic + ICMP_HDR_LEN, data, len);
	put16(ic + 2, inet_fold(inet_sum(ic, ICMP_HDR_LEN + len, 0)));
	return IP4_HDR_MIN + ICMP_HDR_LEN + len;
}
