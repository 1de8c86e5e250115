/*
 * ARP for IPv4 over Ethernet (RFC 826, with RFC 1122 2.3.2): the packet
 * format, and a fixed-size cache that answers for our address, learns by
 * RFC 826's merge rule, resolves next hops while holding a few datagrams
 * for each, retries, expires entries and replaces the least recently used.
 *
 * Sans-IO like the rest: time comes in as an argument, packets leave
 * through a send hook, and arp_next_deadline() says when arp_poll() has
 * work. Everything is allocated by arp_init(); nothing per packet.
 */
#ifndef SYNFIN_ARP_H
#define SYNFIN_ARP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eth/eth.h"
#include "synfin/netif.h"

#define ARP_PKT_LEN 28 /* Ethernet/IPv4: 8 + 2 * (6 + 4) */
#define ARP_HTYPE_ETHER 1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

#define ARP_CACHE_SIZE 64
#define ARP_QLEN 4  /* datagrams held for one unresolved address */
#define ARP_POOL 32 /* buffers for held datagrams, shared by all addresses */

enum arp_err {
	ARP_OK = 0,
	ARP_TRUNCATED, /* shorter than 28 bytes */
	ARP_BAD_HW,    /* hardware type not Ethernet, or length not 6 */
	ARP_BAD_PROTO, /* protocol type not IPv4, or length not 4 */
	ARP_BAD_OP,    /* neither request nor reply */
};

struct arp_pkt {
	uint16_t op;
	uint8_t sha[ETH_ALEN];
	uint32_t spa; /* host order */
	uint8_t tha[ETH_ALEN];
	uint32_t tpa;
};

/* Validate and decode; bytes past the 28 are Ethernet padding. */
enum arp_err arp_parse(const uint8_t *p, size_t len, struct arp_pkt *a);
/* Encode into ARP_PKT_LEN bytes at buf. */
void arp_emit(uint8_t *buf, const struct arp_pkt *a);

/* How the cache sends: one Ethernet payload to `dst` with EtherType `type`
 * (ARP packets, and the datagrams it held once their next hop resolved).
 * Optional `unreachable`: each held datagram dropped because its next hop
 * never answered. */
struct arp_send {
	void *ctx;
	void (*send)(void *ctx, const uint8_t dst[ETH_ALEN], uint16_t type, const uint8_t *payload,
		     size_t len);
	void (*unreachable)(void *ctx, const uint8_t *dgram, size_t len);
};

enum { ARP_FREE = 0, ARP_INCOMPLETE, ARP_RESOLVED };

struct arp_entry {
	synfin_time_t when;   /* RESOLVED: expiry; INCOMPLETE: next request */
	synfin_time_t used;   /* last sent to or confirmed: the LRU order */
	uint32_t ip;
	uint32_t tries;       /* requests sent while INCOMPLETE */
	uint8_t mac[ETH_ALEN];
	uint8_t state;        /* ARP_* */
	uint8_t qhead, qlen;  /* held datagrams, oldest at q[qhead] */
	uint8_t q[ARP_QLEN];  /* indices into the pool */
};

struct arp_cache {
	struct arp_entry e[ARP_CACHE_SIZE];
	uint32_t ip;                /* ours */
	uint8_t mac[ETH_ALEN];      /* ours */
	synfin_time_t ttl, retry;
	uint32_t retries;           /* requests before giving up */
	synfin_time_t next;         /* earliest INCOMPLETE deadline */
	uint32_t hint;              /* the entry used last: most traffic goes to one hop */
	struct synfin_netif_stats *stats;
	struct arp_send out;
	/* the pool of held datagrams */
	uint8_t *pool;              /* ARP_POOL buffers of bufsize bytes */
	size_t bufsize;
	uint16_t pool_len[ARP_POOL];
	uint8_t pool_free[ARP_POOL];
	uint8_t nfree;
};

struct arp_params {
	uint32_t ip;
	uint8_t mac[ETH_ALEN];
	synfin_time_t ttl, retry;
	uint32_t retries;
	size_t max_datagram;        /* the largest datagram to hold: the MTU */
};

/* Returns false if the pool cannot be allocated. */
bool arp_init(struct arp_cache *c, const struct arp_params *p, struct synfin_netif_stats *stats,
	      const struct arp_send *out);
void arp_fini(struct arp_cache *c);

/* One ARP packet (the Ethernet payload) arrives. */
void arp_input(struct arp_cache *c, const uint8_t *pkt, size_t len, synfin_time_t now);
/* Send one IPv4 datagram to the neighbour `nexthop`: at once if its
 * address is known and fresh, else held (copied) while it is resolved. */
void arp_output(struct arp_cache *c, uint32_t nexthop, const uint8_t *dgram, size_t len,
		synfin_time_t now);
/* Announce our address: a request with sender = target = our address. */
void arp_announce(struct arp_cache *c);
/* Retransmit due requests and give up on addresses that never answered. */
void arp_poll(struct arp_cache *c, synfin_time_t now);
synfin_time_t arp_next_deadline(const struct arp_cache *c);
/* The fresh hardware address of `ip`, if cached (tests, tools). */
bool arp_lookup(const struct arp_cache *c, uint32_t ip, synfin_time_t now, uint8_t mac[ETH_ALEN]);

#endif
