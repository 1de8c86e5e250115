/*
 * The Internet checksum (RFC 1071): the ones' complement of the ones'
 * complement sum of the data taken as big-endian 16-bit words.
 */
#include <string.h>

#include "wire/wire.h"

/*
 * Summing in the host's byte order and swapping once at the end gives the
 * same ones' complement sum as summing big-endian words (RFC 1071 2(B)), so
 * the data is read eight bytes at a time with the carries added back in.
 * Only the last chunk of a sum built from several calls may have an odd
 * length: its last byte is the high half of a big-endian word padded with
 * zero.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_IS_BIG 1
#else
#define HOST_IS_BIG 0
#endif

uint32_t inet_sum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = 0;

	while (len >= 32) {
		uint64_t w[4];
		memcpy(w, p, sizeof w);
		for (int i = 0; i < 4; i++) {
			acc += w[i];
			acc += acc < w[i]; /* end-around carry */
		}
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		acc += w;
		acc += acc < w;
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, p, 4);
		acc += w;
		acc += acc < w; /* the 8-byte words may have left acc near 2^64 */
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		acc += w;
		acc += acc < w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint64_t b = HOST_IS_BIG ? (uint64_t)p[0] << 8 : p[0];
		acc += b;
		acc += acc < b;
	}
	/* fold 64 -> 16 bits in host order, then to network order */
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	uint32_t h = (uint32_t)acc;
	if (!HOST_IS_BIG)
		h = ((h & 0xffu) << 8) | (h >> 8);
	uint64_t r = (uint64_t)sum + h;
	return (uint32_t)((r & 0xffffffffu) + (r >> 32));
}

uint16_t ip4_hdr_csum(const uint8_t *h, size_t hlen)
{
	if (hlen != 20)
		return inet_fold(inet_sum(h, hlen, 0));
	/* word by word from the datagram (a copy to an array first would go
	 * through the stack) */
	uint64_t acc = 0;
	for (int i = 0; i < 5; i++) {
		uint32_t w;
		memcpy(&w, h + 4 * i, sizeof w);
		acc += w;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	uint16_t v = (uint16_t)~acc;
	/* summed in host order: swap once to read it big-endian */
	return HOST_IS_BIG ? v : (uint16_t)((v << 8) | (v >> 8));
}

uint16_t inet_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t inet_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	return (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) +
	       proto + len;
}
