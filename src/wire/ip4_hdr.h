/* Writing an IPv4 header: shared by the TCP and ICMP emitters, inline
 * because every datagram goes through it. */
#ifndef SYNFIN_IP4_HDR_H
#define SYNFIN_IP4_HDR_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/bytes.h"

/* The 20-byte header of a datagram of `total` bytes. The checksum is
 * summed from the field values, not read back from the buffer. */
static inline void ip4_write_header(uint8_t *buf, uint16_t total, uint16_t id, bool df, uint8_t ttl,
				    uint8_t proto, uint32_t src, uint32_t dst)
{
	uint16_t frag = df ? 0x4000 : 0;
	/* the big-endian 16-bit words, as numbers: at most 10 x 0xffff */
	uint32_t sum = 0x4500u + total + id + frag + ((uint32_t)ttl << 8 | proto) + (src >> 16) +
		       (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	buf[0] = 0x45;
	buf[1] = 0;
	put16(buf + 2, total);
	put16(buf + 4, id);
	put16(buf + 6, frag);
	buf[8] = ttl;
	buf[9] = proto;
	put16(buf + 10, (uint16_t)~sum);
	put32(buf + 12, src);
	put32(buf + 16, dst);
}

#endif
