/*
 * An Ethernet interface around one stack: frames in, Ethernet demux to ARP
 * or IPv4; datagrams out, routed to a next hop (the destination on our
 * prefix, else the gateway), resolved by ARP, framed and handed to the
 * driver. Sans-IO like the stack; the only allocations are at creation.
 */
#include <stdlib.h>
#include <string.h>

#include "arp/arp.h"
#include "eth/eth.h"
#include "synfin/netif.h"
#include "wire/icmp.h"
#include "wire/bytes.h"

struct synfin_netif {
	struct synfin_netif_config cfg;
	struct synfin_netif_ops ops;
	struct synfin_stack *st;
	uint8_t mac[ETH_ALEN];
	uint32_t mask;             /* of our prefix */
	synfin_time_t now;         /* the latest time we were given */
	struct synfin_netif_stats stats;
	struct arp_cache arp;
	size_t mtu;                /* the stack's: the largest datagram */
	uint8_t *frame;            /* ETH_HDR_LEN + mtu: the frame being sent */
};

void synfin_netif_config_default(struct synfin_netif_config *c)
{
	memset(c, 0, sizeof *c);
	c->prefix_len = 24;
	c->arp_ttl = SYNFIN_SEC(60);
	c->arp_retry = SYNFIN_SEC(1);
	c->arp_retries = 3;
	c->gratuitous_arp = true;
}

void synfin_mac_from_ip(uint32_t ip, uint8_t mac[6])
{
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x53; /* 'S' */
	mac[2] = 0x46; /* 'F' */
	mac[3] = (uint8_t)(ip >> 16);
	mac[4] = (uint8_t)(ip >> 8);
	mac[5] = (uint8_t)ip;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

bool synfin_mac_parse(const char *s, uint8_t mac[6])
{
	uint8_t m[ETH_ALEN];

	for (int i = 0; i < ETH_ALEN; i++) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

		if (lo < 0)
			return false;
		m[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (*s != (i < ETH_ALEN - 1 ? ':' : '\0'))
			return false;
		if (i < ETH_ALEN - 1)
			s++;
	}
	memcpy(mac, m, ETH_ALEN);
	return true;
}

static synfin_time_t tmax(synfin_time_t a, synfin_time_t b)
{
	return a > b ? a : b;
}

static void advance(struct synfin_netif *nif, synfin_time_t now)
{
	/* as the stack does: a clock that steps back is held still */
	nif->now = tmax(nif->now, now);
}

/* ARP's send hook: frame one payload and hand it to the driver. */
static void eth_send(void *ctx, const uint8_t dst[ETH_ALEN], uint16_t type, const uint8_t *payload,
		     size_t len)
{
	struct synfin_netif *nif = ctx;

	if (len > nif->mtu)
		return;
	eth_emit_header(nif->frame, dst, nif->mac, type);
	/* a datagram the stack built in place (tx_buf) is already there */
	if (payload != nif->frame + ETH_HDR_LEN)
		memcpy(nif->frame + ETH_HDR_LEN, payload, len);
	nif->stats.eth_out++;
	nif->ops.output(nif->ops.ctx, nif->frame, ETH_HDR_LEN + len);
}

/* The stack's tx_buf: it builds its datagram right behind the room for the
 * Ethernet header, so that a resolved destination costs no copy. */
static uint8_t *ip_tx_buf(void *ctx, size_t size)
{
	struct synfin_netif *nif = ctx;
	return nif->frame && size <= nif->mtu ? nif->frame + ETH_HDR_LEN : NULL;
}

/* The stack's output: one IPv4 datagram, routed by destination. */
static void ip_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct synfin_netif *nif = ctx;
	uint32_t ip = nif->cfg.ip, dst, nexthop;
	/* Socket calls run at the stack's latest time, which may be later
	 * than anything the interface was given. */
	synfin_time_t now = tmax(nif->now, synfin_now(nif->st));

	if (len < 20)
		return;
	dst = get32(pkt + 16);
	/* Broadcast and multicast are dropped: TCP never sends there (RFC
	 * 1122 4.2.3.10) and nothing here maps a group to a MAC. A datagram
	 * to ourselves would need a loopback we do not have. */
	if (dst == 0 || (dst >> 28) >= 0xe || dst == ip ||
	    (nif->cfg.prefix_len <= 30 && (dst & ~nif->mask) == ~nif->mask)) {
		nif->stats.no_route++;
		return;
	}
	if (((dst ^ ip) & nif->mask) == 0) {
		nexthop = dst;
	} else if (nif->cfg.gateway) {
		nexthop = nif->cfg.gateway;
	} else {
		nif->stats.no_route++;
		return;
	}
	arp_output(&nif->arp, nexthop, pkt, len, now);
}

/*
 * A TCP segment was dropped because its next hop never answered ARP. Tell
 * the stack the way Linux's arp_error_report() does: a host unreachable
 * from ourselves quoting it, which becomes the connection's soft error, so
 * that its eventual timeout reports EHOSTUNREACH ("No route to host")
 * rather than ETIMEDOUT.
 */
static void link_failure(void *ctx, const uint8_t *dgram, size_t len)
{
	struct synfin_netif *nif = ctx;
	uint8_t buf[IP4_HDR_MIN + ICMP_HDR_LEN + 60 + ICMP_QUOTE_MIN_DATA];
	size_t hlen, quote, n;

	if (len < IP4_HDR_MIN || dgram[9] != IPPROTO_TCP_)
		return;
	hlen = (size_t)(dgram[0] & 0x0f) * 4;
	quote = hlen + ICMP_QUOTE_MIN_DATA < len ? hlen + ICMP_QUOTE_MIN_DATA : len;
	n = icmp_emit(buf, sizeof buf, nif->cfg.ip, nif->cfg.ip, 0, ICMP_DEST_UNREACH,
		      ICMP_HOST_UNREACH, 0, dgram, quote);
	if (n)
		synfin_input(nif->st, buf, n, nif->now);
}

static void state_change(void *ctx, const struct synfin_state_event *ev)
{
	struct synfin_netif *nif = ctx;

	nif->ops.state_change(nif->ops.ctx, ev);
}

static bool config_ok(const struct synfin_netif_config *c, uint32_t mask)
{
	if (c->ip == 0 || (c->ip >> 28) >= 0xe || c->prefix_len > 32)
		return false;
	if (c->gateway && (((c->gateway ^ c->ip) & mask) != 0 || c->gateway == c->ip))
		return false;
	if (eth_is_group(c->mac))
		return false;
	/* zero would make the ARP timers fire forever, or never cache */
	return c->arp_ttl > 0 && c->arp_retry > 0 && c->arp_retries > 0;
}

struct synfin_netif *synfin_netif_create(const struct synfin_netif_config *cfg,
					 const struct synfin_config *tcp_cfg,
					 const struct synfin_netif_ops *ops, uint64_t seed,
					 synfin_time_t now)
{
	struct synfin_netif *nif;
	struct synfin_config tc;
	struct synfin_ops inner;
	struct arp_params ap;
	struct arp_send as;
	uint32_t mask;

	if (!cfg || !ops || !ops->output)
		return NULL;
	mask = cfg->prefix_len == 0 ? 0 : cfg->prefix_len >= 32 ? 0xffffffffu
							       : ~(0xffffffffu >> cfg->prefix_len);
	if (!config_ok(cfg, mask))
		return NULL;
	nif = calloc(1, sizeof *nif);
	if (!nif)
		return NULL;
	nif->cfg = *cfg;
	nif->ops = *ops;
	nif->mask = mask;
	nif->now = now;
	if (eth_is_zero(cfg->mac))
		synfin_mac_from_ip(cfg->ip, nif->mac);
	else
		memcpy(nif->mac, cfg->mac, ETH_ALEN);
	memcpy(nif->cfg.mac, nif->mac, ETH_ALEN);

	if (tcp_cfg)
		tc = *tcp_cfg;
	else
		synfin_config_default(&tc);
	/* an IPv4 datagram must fit in one untagged Ethernet frame */
	if (tc.mtu == 0 || tc.mtu > ETH_MTU)
		tc.mtu = ETH_MTU;
	memset(&inner, 0, sizeof inner);
	inner.ctx = nif;
	inner.output = ip_output;
	inner.tx_buf = ip_tx_buf;
	if (ops->state_change)
		inner.state_change = state_change;
	nif->st = synfin_stack_create(&tc, &inner, cfg->ip, seed, now);
	if (!nif->st)
		goto fail;
	/* the stack may have raised a tiny MTU to its minimum */
	nif->mtu = synfin_stack_config(nif->st)->mtu;
	nif->frame = malloc(ETH_HDR_LEN + nif->mtu);
	if (!nif->frame)
		goto fail;

	memset(&ap, 0, sizeof ap);
	ap.ip = cfg->ip;
	memcpy(ap.mac, nif->mac, ETH_ALEN);
	ap.ttl = cfg->arp_ttl;
	ap.retry = cfg->arp_retry;
	ap.retries = cfg->arp_retries;
	ap.max_datagram = nif->mtu;
	as.ctx = nif;
	as.send = eth_send;
	as.unreachable = link_failure;
	if (!arp_init(&nif->arp, &ap, &nif->stats, &as))
		goto fail;
	/* RFC 5227 3: tell the link who has this address now, which also
	 * refreshes any stale entry a previous owner left in caches. */
	if (cfg->gratuitous_arp)
		arp_announce(&nif->arp);
	return nif;
fail:
	synfin_netif_destroy(nif);
	return NULL;
}

void synfin_netif_destroy(struct synfin_netif *nif)
{
	if (!nif)
		return;
	synfin_stack_destroy(nif->st);
	arp_fini(&nif->arp);
	free(nif->frame);
	free(nif);
}

struct synfin_stack *synfin_netif_stack(struct synfin_netif *nif)
{
	return nif->st;
}

const struct synfin_netif_stats *synfin_netif_get_stats(const struct synfin_netif *nif)
{
	return &nif->stats;
}

void synfin_netif_mac(const struct synfin_netif *nif, uint8_t mac[6])
{
	memcpy(mac, nif->mac, ETH_ALEN);
}

bool synfin_netif_arp_lookup(const struct synfin_netif *nif, uint32_t ip, uint8_t mac[6])
{
	return arp_lookup(&nif->arp, ip, nif->now, mac);
}

void synfin_netif_input(struct synfin_netif *nif, const uint8_t *frame, size_t len,
			synfin_time_t now)
{
	struct eth_view eh;
	bool bcast;

	advance(nif, now);
	nif->stats.eth_in++;
	if (eth_parse(frame, len, &eh) != ETH_OK) {
		nif->stats.eth_bad++;
		return;
	}
	bcast = memcmp(eh.dst, eth_broadcast, ETH_ALEN) == 0;
	/* We join no multicast group, and are not promiscuous. */
	if (!bcast && memcmp(eh.dst, nif->mac, ETH_ALEN) != 0) {
		nif->stats.eth_not_ours++;
		return;
	}
	switch (eh.type) {
	case ETHERTYPE_ARP:
		arp_input(&nif->arp, eh.payload, eh.payload_len, nif->now);
		break;
	case ETHERTYPE_IPV4:
		/* RFC 1122 3.3.6: a link-layer broadcast must carry an IP
		 * broadcast or multicast, none of which is for us. */
		if (bcast) {
			nif->stats.eth_not_ours++;
			break;
		}
		synfin_input(nif->st, eh.payload, eh.payload_len, nif->now);
		break;
	default:
		/* 802.1Q tags included: this interface is not a trunk port */
		nif->stats.eth_other_type++;
		break;
	}
}

void synfin_netif_poll(struct synfin_netif *nif, synfin_time_t now)
{
	advance(nif, now);
	synfin_poll(nif->st, nif->now);
	arp_poll(&nif->arp, nif->now);
}

synfin_time_t synfin_netif_next_deadline(const struct synfin_netif *nif)
{
	synfin_time_t a = synfin_next_deadline(nif->st), b = arp_next_deadline(&nif->arp);

	return a < b ? a : b;
}
