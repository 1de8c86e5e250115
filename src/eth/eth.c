/*
 * Ethernet II header parse and emit.
 */
#include <string.h>

#include "eth/eth.h"

/* const, so not mutable state: shared by every interface */
const uint8_t eth_broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

enum eth_err eth_parse(const uint8_t *frame, size_t len, struct eth_view *v)
{
	if (len < ETH_HDR_LEN)
		return ETH_TRUNCATED;
	/* A group address is never a station's own (IEEE 802 9.2): such a
	 * source cannot be answered, and learning it would poison the cache. */
	if (eth_is_group(frame + ETH_ALEN))
		return ETH_BAD_SRC;
	v->dst = frame;
	v->src = frame + ETH_ALEN;
	v->type = (uint16_t)(frame[12] << 8 | frame[13]);
	v->payload = frame + ETH_HDR_LEN;
	v->payload_len = len - ETH_HDR_LEN;
	return ETH_OK;
}

void eth_emit_header(uint8_t *buf, const uint8_t dst[ETH_ALEN], const uint8_t src[ETH_ALEN],
		     uint16_t type)
{
	memcpy(buf, dst, ETH_ALEN);
	memcpy(buf + ETH_ALEN, src, ETH_ALEN);
	buf[12] = (uint8_t)(type >> 8);
	buf[13] = (uint8_t)type;
}
