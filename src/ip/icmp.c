/*
 * ICMP input (RFC 792, RFC 1122 3.2.2): echo requests are answered; the
 * errors that quote one of our TCP segments become the connection's soft
 * error (RFC 1122 4.2.3.9) once they pass the checks of RFC 5927. Nothing
 * else is acted on: redirects are for routers' hosts with a route table,
 * source quench is deprecated (RFC 6633), and "fragmentation needed" waits
 * for PMTU discovery.
 */
#include <errno.h>

#include "ip/ip.h"
#include "wire/icmp.h"

/* RFC 1122 3.2.2.6: the reply carries the request's identifier, sequence
 * number and data, from the address the request was sent to. */
static void icmp_echo(struct synfin_stack *st, const struct ip4_view *ip,
		      const struct icmp_view *ic)
{
	size_t n;

	/* answering a broadcast or multicast source would send to many */
	if (ip_bad_source(ip->src)) {
		st->stats.icmp_bad++;
		return;
	}
	/* Larger than the MTU would need fragmentation, which the stack does
	 * not do; Linux would answer in fragments, we stay silent. */
	uint8_t *buf = st_txbuf(st);
	n = icmp_emit(buf, st->cfg.mtu, st->ip, ip->src, st->ip_id++, ICMP_ECHOREPLY, 0,
		      ic->rest, ic->body, ic->body_len);
	if (n == 0)
		return;
	st->stats.ip_out++;
	st->stats.icmp_echo_replies++;
	st->ops.output(st->ops.ctx, buf, n);
}

/*
 * The errno an error message maps to, as Linux's icmp_err_convert[] mostly
 * has it (0: not an error to record). "Fragmentation needed" is PMTU
 * discovery's business, not a failure of the path.
 */
static int icmp_errno(uint8_t type, uint8_t code)
{
	if (type == ICMP_TIME_EXCEEDED)
		return EHOSTUNREACH; /* a routing loop, or TTL too small */
	switch (code) {
	case ICMP_NET_UNREACH:
	case ICMP_NET_UNKNOWN:
	case ICMP_NET_ANO:
	case ICMP_NET_UNR_TOS:
		return ENETUNREACH;
	case ICMP_HOST_UNREACH:
	case ICMP_SR_FAILED:
	case ICMP_HOST_UNKNOWN:
	case ICMP_HOST_ISOLATED:
	case ICMP_HOST_ANO:
	case ICMP_HOST_UNR_TOS:
	case ICMP_PKT_FILTERED:
	case ICMP_PREC_VIOLATION:
	case ICMP_PREC_CUTOFF:
		return EHOSTUNREACH;
	case ICMP_PROT_UNREACH:
	case ICMP_PORT_UNREACH:
		return ECONNREFUSED;
	case ICMP_FRAG_NEEDED:
	default:
		return 0;
	}
}

/*
 * Destination Unreachable and Time Exceeded about a segment we sent.
 *
 * All of them are soft errors here, in every state, SYN_SENT included:
 * the connection carries on and only a later timeout reports the error
 * instead of ETIMEDOUT. RFC 1122 4.2.3.9 makes codes 0, 1, 5 soft and
 * says codes 2-4 SHOULD abort; RFC 5461 argues that aborting on any ICMP
 * in a synchronized state hands an attacker an easy reset, which is why
 * Linux treats them as soft once established. Linux does abort a
 * connection in SYN_SENT on them (tcp_v4_err), which makes connect() fail
 * at once on a port unreachable; we choose the uniform soft rule, so a
 * forged ICMP can never end a connection, at the price of a slower
 * failure of connect().
 */
static void icmp_error(struct synfin_stack *st, const struct icmp_view *ic)
{
	struct icmp_quote q;
	struct tcb *tp;
	int err;

	if (icmp_quote_parse(ic->body, ic->body_len, &q) != WIRE_OK) {
		st->stats.icmp_bad++;
		return;
	}
	err = icmp_errno(ic->type, ic->code);
	if (q.proto != IPPROTO_TCP_ || err == 0) {
		st->stats.icmp_unreach_ignored++;
		return;
	}
	/* The quoted datagram is one we sent: our address is its source. */
	tp = tcp_lookup(st, q.src, q.sport, q.dst, q.dport);
	/* RFC 5927 4.1 (and RFC 5961's spirit): the quoted sequence number
	 * must be one we sent and that is not yet acknowledged, else anyone
	 * able to guess a 4-tuple could inject errors. */
	if (!tp || q.src != st->ip || !seq_in(q.seq, tp->snd_una, tp->snd_max)) {
		st->stats.icmp_unreach_ignored++;
		return;
	}
	tp->t_softerror = (uint8_t)err;
	st->stats.icmp_unreach++;
}

void icmp_input(struct synfin_stack *st, const struct ip4_view *ip)
{
	struct icmp_view ic;

	st->stats.icmp_in++;
	if (icmp_parse(ip, &ic) != WIRE_OK) {
		st->stats.icmp_bad++;
		return;
	}
	switch (ic.type) {
	case ICMP_ECHO:
		icmp_echo(st, ip, &ic);
		break;
	case ICMP_DEST_UNREACH:
	case ICMP_TIME_EXCEEDED:
		icmp_error(st, &ic);
		break;
	default:
		break;
	}
}
