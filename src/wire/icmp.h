/*
 * ICMP for IPv4 (RFC 792) on the wire: the message header, the datagram
 * an error message quotes, and emitting a message with its own IPv4
 * header. Like wire.h, nothing here knows about connections.
 */
#ifndef SYNFIN_WIRE_ICMP_H
#define SYNFIN_WIRE_ICMP_H

#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

#define ICMP_HDR_LEN 8
/* RFC 792: an error quotes the IPv4 header and at least 64 bits of data */
#define ICMP_QUOTE_MIN_DATA 8

#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11

/* Destination Unreachable codes (RFC 792, RFC 1122 3.2.2.1, RFC 1812 5.2.7.1) */
#define ICMP_NET_UNREACH 0
#define ICMP_HOST_UNREACH 1
#define ICMP_PROT_UNREACH 2
#define ICMP_PORT_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMP_SR_FAILED 5
#define ICMP_NET_UNKNOWN 6
#define ICMP_HOST_UNKNOWN 7
#define ICMP_HOST_ISOLATED 8
#define ICMP_NET_ANO 9
#define ICMP_HOST_ANO 10
#define ICMP_NET_UNR_TOS 11
#define ICMP_HOST_UNR_TOS 12
#define ICMP_PKT_FILTERED 13
#define ICMP_PREC_VIOLATION 14
#define ICMP_PREC_CUTOFF 15

struct icmp_view {
	uint8_t type, code;
	uint32_t rest;          /* bytes 4..7: id and sequence of an echo */
	const uint8_t *body;    /* after the 8-byte header */
	size_t body_len;
};
/* Validate the ICMP message an IPv4 view carries: length and checksum. */
enum wire_err icmp_parse(const struct ip4_view *ip, struct icmp_view *ic);

/* What an error message says about the datagram it quotes. */
struct icmp_quote {
	uint32_t src, dst;      /* host order */
	uint8_t proto;
	uint16_t sport, dport;  /* the first 4 bytes of the transport header */
	uint32_t seq;           /* bytes 4..7: TCP's sequence number */
};
/* Parse the quoted IPv4 header and the first 8 bytes after it. The quote
 * is usually truncated, so its total length and checksum are not checked;
 * a quoted fragment other than the first carries no transport header. */
enum wire_err icmp_quote_parse(const uint8_t *q, size_t len, struct icmp_quote *out);

/* Write a 20-byte IPv4 header (no DF, the given TTL) for `payload_len`
 * bytes that follow; checksum filled. Returns 20, or 0 if the datagram
 * would not fit in `cap` or in 65535 bytes. */
size_t ip4_emit_header(uint8_t *buf, size_t cap, uint32_t src, uint32_t dst, uint8_t proto,
		       uint8_t ttl, uint16_t id, size_t payload_len);

/* Write a complete IPv4 datagram carrying one ICMP message (type, code,
 * the 4 `rest` bytes, then `len` bytes of data), checksums filled. Returns
 * its length, or 0 if it does not fit in `cap`. */
size_t icmp_emit(uint8_t *buf, size_t cap, uint32_t src, uint32_t dst, uint16_t ip_id,
		 uint8_t type, uint8_t code, uint32_t rest, const uint8_t *data, size_t len);

#endif
