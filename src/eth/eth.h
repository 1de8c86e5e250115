/*
 * Ethernet II framing (IEEE 802.3 with an EtherType, RFC 894): the 14-byte
 * header, parsed into a view and emitted in front of a payload. No FCS:
 * the NIC (or the kernel's TAP) adds and checks it, and pads short frames.
 */
#ifndef SYNFIN_ETH_H
#define SYNFIN_ETH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_ALEN 6
#define ETH_HDR_LEN 14
#define ETH_MTU 1500 /* payload of an untagged frame */

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_VLAN 0x8100 /* 802.1Q tag: we are not on a trunk */

enum eth_err {
	ETH_OK = 0,
	ETH_TRUNCATED,  /* shorter than the header */
	ETH_BAD_SRC,    /* a group (multicast/broadcast) source address */
};

struct eth_view {
	const uint8_t *dst, *src; /* ETH_ALEN bytes each, inside the frame */
	uint16_t type;            /* host order; < 0x0600 is an 802.3 length */
	const uint8_t *payload;
	size_t payload_len;       /* may include padding up to 46 bytes */
};

extern const uint8_t eth_broadcast[ETH_ALEN];

enum eth_err eth_parse(const uint8_t *frame, size_t len, struct eth_view *v);

/* Write the header at buf (ETH_HDR_LEN bytes); the payload follows it. */
void eth_emit_header(uint8_t *buf, const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN],
		     uint16_t type);

/* The I/G bit: set on broadcast and multicast addresses. */
static inline bool eth_is_group(const uint8_t mac[ETH_ALEN])
{
	return (mac[0] & 1) != 0;
}

static inline bool eth_is_zero(const uint8_t mac[ETH_ALEN])
{
	return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

#endif
