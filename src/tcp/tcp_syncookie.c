/*
 * SYN cookies: when a listener's SYN queue is full, the SYN,ACK's ISN
 * carries everything needed to build the connection when the ACK comes
 * back, and nothing is kept meanwhile. Layout of the 32-bit cookie:
 * 5 bits of a 64-second counter, 3 bits of MSS index, 24 bits of a keyed
 * hash over the 4-tuple, the peer's ISN and the counter. Window scaling and
 * timestamps are not offered on a cookie's SYN,ACK, so nothing else needs
 * to be remembered.
 */
#include "tcp/tcp_priv.h"

static const uint16_t cookie_mss[8] = {216, 536, 1024, 1220, 1380, 1440, 1452, 1460};
#define COOKIE_PERIOD SYNFIN_SEC(64)

static uint32_t cookie_hash(const struct synfin_stack *st, const struct tcp_seg *s, uint32_t irs,
			    uint32_t t, uint32_t mssidx)
{
	uint32_t w[6] = {s->daddr, s->saddr, ((uint32_t)s->dport << 16) | s->sport, irs, t, mssidx};
	return (uint32_t)st_siphash(st, w, sizeof w) & 0xffffffu;
}

SF_NOINLINE uint32_t syncookie_make(const struct synfin_stack *st, const struct tcp_seg *syn, uint16_t mss)
{
	uint32_t idx = 0;
	for (uint32_t i = 0; i < 8; i++)
		if (cookie_mss[i] <= mss)
			idx = i;
	uint32_t t = (uint32_t)(st->now / COOKIE_PERIOD);
	return ((t & 0x1fu) << 27) | (idx << 24) | cookie_hash(st, syn, syn->seq, t, idx);
}

SF_NOINLINE uint16_t syncookie_check(const struct synfin_stack *st, const struct tcp_seg *ack)
{
	uint32_t cookie = ack->ack - 1, irs = ack->seq - 1;
	uint32_t now_t = (uint32_t)(st->now / COOKIE_PERIOD);
	uint32_t age = (now_t - (cookie >> 27)) & 0x1fu;
	if (age > 1)
		return 0; /* older than two periods: 64 to 128 seconds */
	uint32_t t = now_t - age;
	uint32_t idx = (cookie >> 24) & 7u;
	if (cookie_hash(st, ack, irs, t, idx) != (cookie & 0xffffffu))
		return 0;
	return cookie_mss[idx];
}
