/*
 * The IP layer's private calls, between IPv4 input and ICMP.
 */
#ifndef SYNFIN_IP_H
#define SYNFIN_IP_H

#include "tcp/tcp_priv.h"

/* One ICMP message addressed to us (the IPv4 header already validated):
 * echo requests are answered, errors about our TCP segments recorded. */
void icmp_input(struct synfin_stack *st, const struct ip4_view *ip);

/* A source we must never answer: unspecified, limited broadcast or
 * multicast (RFC 1122 3.2.1.3, 3.2.2, 4.2.3.10). */
static inline bool ip_bad_source(uint32_t src)
{
	return src == 0 || src == 0xffffffffu || (src >> 28) == 0xe;
}

#endif
