/*
 * IPv4 input: validate the datagram once, keep what is ours, hand TCP
 * segments to tcp_input() and ICMP messages to icmp_input(). Everything
 * malformed is counted and dropped.
 */
#include "ip/ip.h"

static void input(struct synfin_stack *st, const uint8_t *pkt, size_t len, const uint8_t *tail,
		  size_t tail_len, synfin_time_t now)
{
	struct ip4_view ip;
	struct tcp_seg seg;
	enum wire_err e;

	st_advance(st, now);
	st->stats.ip_in++;
	e = ip4_parse_split(pkt, len, tail, tail_len, &ip);
	if (SF_UNLIKELY(e != WIRE_OK)) {
		if (e == WIRE_FRAGMENT)
			st->stats.ip_frag_dropped++;
		else
			st->stats.ip_bad++;
		return;
	}
	if (SF_UNLIKELY(ip.dst != st->ip)) {
		st->stats.ip_not_ours++;
		return;
	}
	if (SF_UNLIKELY(ip.proto == IPPROTO_ICMP_ && !tail_len)) {
		icmp_input(st, &ip);
		return;
	}
	if (SF_UNLIKELY(ip.proto != IPPROTO_TCP_)) {
		st->stats.ip_other_proto++;
		return;
	}
	st->stats.tcp_in++;
	e = tcp_parse_ex(&ip, &seg, !st->cfg.checksum_offload);
	if (SF_UNLIKELY(e != WIRE_OK)) {
		if (e == WIRE_BAD_CSUM)
			st->stats.tcp_bad_csum++;
		else
			st->stats.tcp_bad++;
		return;
	}
	/* RFC 9293 3.10.7.2 / RFC 1122 4.2.3.10: nothing from a broadcast,
	 * multicast or unspecified source is answered. */
	if (SF_UNLIKELY(ip_bad_source(ip.src))) {
		st->stats.tcp_bad++;
		return;
	}
	tcp_input(st, &seg);
}

void synfin_input(struct synfin_stack *st, const uint8_t *pkt, size_t len, synfin_time_t now)
{
	input(st, pkt, len, NULL, 0, now);
}

void synfin_input_split(struct synfin_stack *st, const uint8_t *hdr, size_t hdr_len,
			const uint8_t *payload, size_t len, synfin_time_t now)
{
	input(st, hdr, hdr_len, payload, len, now);
}
