/*
 * synfin on an Ethernet link: Ethernet II framing, ARP (requests, replies,
 * a cache with expiry, answering for our address, a gratuitous ARP at
 * start) and routing to a gateway, around one synfin stack. Sans-IO like
 * the stack: frames in through synfin_netif_input(), out through
 * ops->output(); time passed in; synfin_netif_next_deadline() says when to
 * call synfin_netif_poll(). A driver (TAP, or a test) moves the frames.
 */
#ifndef SYNFIN_NETIF_H
#define SYNFIN_NETIF_H

#include "synfin/synfin.h"

#ifdef __cplusplus
extern "C" {
#endif

struct synfin_netif;

struct synfin_netif_config {
	uint8_t mac[6];              /* all zero: derived from the address */
	uint32_t ip;                 /* host order */
	uint8_t prefix_len;          /* e.g. 24 */
	uint32_t gateway;            /* 0: none (off-link destinations are dropped) */
	synfin_time_t arp_ttl;       /* cache entry lifetime: 60 s */
	synfin_time_t arp_retry;     /* request retransmission: 1 s */
	uint32_t arp_retries;        /* requests before giving up: 3 */
	bool gratuitous_arp;         /* announce the address at start: true */
};
void synfin_netif_config_default(struct synfin_netif_config *c);

struct synfin_netif_ops {
	void *ctx;
	/* One Ethernet frame to send (no FCS, no padding to 60 bytes: the
	 * device pads). Valid only during the call, which must not feed
	 * frames back into this interface: queue them instead. */
	void (*output)(void *ctx, const uint8_t *frame, size_t len);
	/* Optional: every TCP state transition (see synfin_ops). */
	void (*state_change)(void *ctx, const struct synfin_state_event *ev);
};

struct synfin_netif_stats {
	uint64_t eth_in, eth_out, eth_bad, eth_not_ours, eth_other_type;
	uint64_t arp_in, arp_bad, arp_requests_out, arp_replies_out, arp_gratuitous_out;
	uint64_t arp_cache_adds, arp_expired, arp_failed, arp_queue_drops, no_route;
};

/* The stack inside uses `tcp_cfg` (NULL: defaults) with its MTU capped to
 * 1500, the payload of an untagged Ethernet frame (a smaller MTU is kept).
 * Returns NULL on a bad config: ip 0, broadcast, multicast or class E;
 * prefix_len > 32; a gateway outside the prefix or equal to ip; a
 * multicast mac; arp_ttl, arp_retry or arp_retries 0. Sends the
 * gratuitous ARP, if configured, from inside this call. */
struct synfin_netif *synfin_netif_create(const struct synfin_netif_config *cfg,
					 const struct synfin_config *tcp_cfg,
					 const struct synfin_netif_ops *ops, uint64_t seed,
					 synfin_time_t now);
void synfin_netif_destroy(struct synfin_netif *nif);
struct synfin_stack *synfin_netif_stack(struct synfin_netif *nif);
const struct synfin_netif_stats *synfin_netif_get_stats(const struct synfin_netif *nif);
void synfin_netif_mac(const struct synfin_netif *nif, uint8_t mac[6]);
/* The hardware address the ARP cache holds for `ip`, if resolved and not
 * expired at the latest time the interface was given (arp -n). */
bool synfin_netif_arp_lookup(const struct synfin_netif *nif, uint32_t ip, uint8_t mac[6]);

void synfin_netif_input(struct synfin_netif *nif, const uint8_t *frame, size_t len,
			synfin_time_t now);
void synfin_netif_poll(struct synfin_netif *nif, synfin_time_t now);
synfin_time_t synfin_netif_next_deadline(const struct synfin_netif *nif);

/* The default MAC: locally administered 02:53:46 ("SF") then the three low
 * bytes of the address, so it is stable across restarts. */
void synfin_mac_from_ip(uint32_t ip, uint8_t mac[6]);
/* "aa:bb:cc:dd:ee:ff" -> mac; false if malformed */
bool synfin_mac_parse(const char *s, uint8_t mac[6]);

#ifdef __cplusplus
}
#endif
#endif
