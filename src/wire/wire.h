/*
 * Wire format: IPv4 and TCP parse and emit, checksums, and the tcpdump-style
 * pretty printer. Nothing here knows about connections. Parsing validates
 * every length and field once; the views it fills are then trusted.
 */
#ifndef SYNFIN_WIRE_H
#define SYNFIN_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synfin/synfin.h"
#include "base/compiler.h"

/* ---- checksums ---- */
/* Ones' complement sum of `len` bytes added to `sum` (not folded). */
uint32_t inet_sum(const void *data, size_t len, uint32_t sum);
/* Fold and complement a sum into the 16-bit Internet checksum. */
uint16_t inet_fold(uint32_t sum);
/* The folded checksum of an IPv4 header of hlen bytes (0 over a header
 * whose checksum field is right); 20 bytes, the usual size, take five
 * loads instead of the general loop. */
uint16_t ip4_hdr_csum(const uint8_t *h, size_t hlen);
/* TCP/UDP pseudo-header sum (addresses host order). */
uint32_t inet_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* ---- IPv4 ---- */
#define IP4_HDR_MIN 20
#define IP4_TTL 64 /* what we send with, as Linux does by default */
#define IPPROTO_TCP_ 6
#define IPPROTO_ICMP_ 1

enum wire_err {
	WIRE_OK = 0,
	WIRE_TRUNCATED,   /* shorter than a header says */
	WIRE_BAD_VERSION, /* IPv4 version is not 4 */
	WIRE_BAD_HLEN,    /* IHL < 5 or past the datagram */
	WIRE_BAD_TOTLEN,  /* total length < IHL*4 or > bytes received */
	WIRE_BAD_CSUM,    /* IPv4 header or TCP checksum wrong */
	WIRE_FRAGMENT,    /* MF set or fragment offset non-zero */
	WIRE_BAD_OFF,     /* TCP data offset < 5 or past the segment */
	WIRE_BAD_OPT,     /* TCP option length 0/1 or past the header, or a wrong length for a known kind */
	WIRE_BAD_ADDR,    /* source address broadcast/multicast/zero, ports 0 */
};
const char *wire_err_str(enum wire_err e);

struct ip4_view {
	uint32_t src, dst;      /* host order */
	uint8_t proto, ttl, tos;
	uint16_t id;
	uint8_t hlen;           /* bytes */
	bool df;
	const uint8_t *payload; /* after the IPv4 header */
	size_t payload_len;     /* bytes there: total length - hlen - tail_len (link padding removed) */
	const uint8_t *tail;    /* the rest of the datagram, held elsewhere (ip4_parse_split; valid when tail_len) */
	size_t tail_len;
};
/* Validate and view one IPv4 datagram (version, IHL, total length, header
 * checksum, no fragments). */
enum wire_err ip4_parse(const uint8_t *pkt, size_t len, struct ip4_view *ip);
/* The same for a datagram in two pieces: pkt holds the IPv4 header and
 * what follows it up to tail, which holds the last tail_len bytes; the
 * total length must be exactly len + tail_len. */
enum wire_err ip4_parse_split(const uint8_t *pkt, size_t len, const uint8_t *tail, size_t tail_len,
			      struct ip4_view *ip);

/* ---- TCP ---- */
#define TCP_HDR_MIN 20
#define TCP_OPT_MAX 40

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WSCALE 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK 5
#define TCPOPT_TIMESTAMP 8

/* which options are present: bits of tcp_opts.has */
#define TOF_MSS 0x01
#define TOF_WSCALE 0x02
#define TOF_SACKPERM 0x04
#define TOF_TS 0x08
#define TOF_SACK 0x10

#define TCP_MAX_SACK 4
struct tcp_sack_block {
	uint32_t left, right;
};

struct tcp_opts {
	uint8_t has;       /* TOF_* */
	uint8_t wscale;    /* shift as received; the caller clamps to 14 */
	uint16_t mss;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	struct tcp_sack_block sack[TCP_MAX_SACK];
};

/* One TCP segment, parsed or to be emitted. Addresses and ports host order. */
struct tcp_seg {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;         /* TH_* */
	uint16_t wnd;          /* as on the wire, unscaled */
	uint16_t urp;
	struct tcp_opts opt;
	const uint8_t *data;   /* payload */
	uint32_t len;          /* payload bytes (not counting SYN/FIN) */
};

/* SEG.LEN of RFC 9293: payload plus one for each of SYN and FIN. */
static inline uint32_t tcp_seg_len(const struct tcp_seg *s)
{
	return s->len + ((s->flags & TH_SYN) ? 1u : 0u) + ((s->flags & TH_FIN) ? 1u : 0u);
}

/* Validate and view the TCP segment in an IPv4 datagram: checksum with the
 * pseudo header, data offset, every option's length. Unknown options are
 * skipped by their length. */
enum wire_err tcp_parse(const struct ip4_view *ip, struct tcp_seg *seg);
/* The same, trusting the checksum when the link has verified it (offload) */
enum wire_err tcp_parse_ex(const struct ip4_view *ip, struct tcp_seg *seg, bool verify_csum);

/* Bytes the options of `o` take on the wire (padded to 4). */
size_t tcp_opts_len(const struct tcp_opts *o);

/* Write a complete IPv4 datagram (20-byte header, DF set, TTL 64, the given
 * IP id) carrying `seg` (options and payload) into buf; checksums filled.
 * Returns the datagram length, or 0 if it does not fit in `cap`. */
size_t tcp_emit(uint8_t *buf, size_t cap, const struct tcp_seg *seg, uint16_t ip_id);
/* The same, leaving the TCP checksum 0 when tcp_csum is false (a link that
 * offloads it). A payload already at its place in buf is not copied. */
size_t tcp_emit_ex(uint8_t *buf, size_t cap, const struct tcp_seg *seg, uint16_t ip_id, bool tcp_csum);
/* Only the IPv4 and TCP headers of the datagram carrying `seg`, for a
 * payload the caller hands over separately (seg->data, seg->len; summed
 * into the TCP checksum when tcp_csum). Returns the headers' length, or 0
 * if they do not fit in `cap` or the datagram would pass 65535 bytes. */
size_t tcp_emit_headers(uint8_t *buf, size_t cap, const struct tcp_seg *seg, uint16_t ip_id, bool tcp_csum);

/* ---- the tcpdump-style printer ---- */
/* tcpdump prints sequence numbers relative to the ISN of each direction once
 * it has seen that direction's SYN; the printer remembers them. */
#define WIRE_PRINTER_FLOWS 64
struct wire_flow {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint32_t isn;
	bool used;
};
struct wire_printer {
	struct wire_flow flows[WIRE_PRINTER_FLOWS];
	unsigned next; /* round-robin slot to reuse when full */
};
void wire_printer_init(struct wire_printer *p);

/* Format one IPv4 datagram as a tcpdump line without a newline, e.g.
 *  "12.000120 IP 198.18.0.2.1748 > 198.18.0.1.80: F 1:1(0) ack 1 win 65535"
 * time printed as virtual seconds with 6 decimals. Flags S F R P in that
 * order, '.' if none of them; "seq:seq+len(len)" shown when the segment has
 * a payload or SYN/FIN/RST, absolute until that direction's SYN was seen,
 * relative after; "ack N" when ACK is set (relative to the other direction's
 * ISN when both are known); "win N"; options as <mss 1460,nop,wscale 7,
 * sackOK,timestamp 1 0,sack 1 {a:b}>. A datagram that does not parse prints
 * as "IP a > b: [malformed: reason]" or "IP proto N len L". Returns the
 * length like snprintf. */
size_t wire_print(char *buf, size_t cap, struct wire_printer *p, const uint8_t *pkt,
		  size_t len, synfin_time_t t);

#endif
