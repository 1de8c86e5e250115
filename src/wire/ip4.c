/*
 * IPv4 header validation (RFC 791, RFC 1122 3.2.1). The stack does not
 * reassemble, so a fragment is reported rather than viewed.
 */
#include "wire/wire.h"
#include "wire/bytes.h"

const char *wire_err_str(enum wire_err e)
{
	switch (e) {
	case WIRE_OK:
		return "ok";
	case WIRE_TRUNCATED:
		return "truncated";
	case WIRE_BAD_VERSION:
		return "bad IP version";
	case WIRE_BAD_HLEN:
		return "bad IP header length";
	case WIRE_BAD_TOTLEN:
		return "bad IP total length";
	case WIRE_BAD_CSUM:
		return "bad checksum";
	case WIRE_FRAGMENT:
		return "fragment";
	case WIRE_BAD_OFF:
		return "bad TCP data offset";
	case WIRE_BAD_OPT:
		return "bad TCP option";
	case WIRE_BAD_ADDR:
		return "bad address";
	}
	return "unknown error";
}

enum wire_err ip4_parse(const uint8_t *pkt, size_t len, struct ip4_view *ip)
{
	return ip4_parse_split(pkt, len, NULL, 0, ip);
}

enum wire_err ip4_parse_split(const uint8_t *pkt, size_t len, const uint8_t *tail, size_t tail_len,
			      struct ip4_view *ip)
{
	size_t hlen, totlen;
	uint16_t frag;

	if (SF_UNLIKELY(len < IP4_HDR_MIN))
		return WIRE_TRUNCATED;
	if (SF_UNLIKELY(pkt[0] >> 4 != 4))
		return WIRE_BAD_VERSION;
	hlen = (size_t)(pkt[0] & 0x0f) * 4;
	if (SF_UNLIKELY(hlen < IP4_HDR_MIN || hlen > len))
		return WIRE_BAD_HLEN;
	totlen = get16(pkt + 2);
	/* Bytes past the total length are link-layer padding (a minimum-size
	 * Ethernet frame), not data. */
	/* (each test is cheap: computed together, one branch) */
	if (SF_UNLIKELY((totlen < hlen) | (totlen > len + tail_len) | ((tail_len != 0) & (totlen != len + tail_len))))
		return WIRE_BAD_TOTLEN;
	if (SF_UNLIKELY(tail_len && !tail))
		return WIRE_TRUNCATED;
	if (SF_UNLIKELY(ip4_hdr_csum(pkt, hlen) != 0))
		return WIRE_BAD_CSUM;
	frag = get16(pkt + 6);
	if (SF_UNLIKELY(frag & 0x3fff)) /* MF or a fragment offset */
		return WIRE_FRAGMENT;

	ip->tos = pkt[1];
	ip->id = get16(pkt + 4);
	ip->df = (frag & 0x4000) != 0;
	ip->ttl = pkt[8];
	ip->proto = pkt[9];
	ip->src = get32(pkt + 12);
	ip->dst = get32(pkt + 16);
	ip->hlen = (uint8_t)hlen;
	ip->payload = pkt + hlen;
	ip->payload_len = totlen - tail_len - hlen;
	ip->tail = tail; /* read only when tail_len is not 0 */
	ip->tail_len = tail_len;
	return WIRE_OK;
}
