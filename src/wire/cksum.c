/*
 * The Internet checksum (RFC 1071): the ones' complement of the ones'
 * complement sum of the data taken as big-endian 16-bit words.
 */
#include "wire/wire.h"

/*
 * Words are read big-endian so that the folded result is stored with a plain
 * big-endian put, whatever the host order. Only the last chunk of a sum built
 * from several calls may have an odd length: its last byte is the high half
 * of a word padded with zero.
 */
uint32_t inet_sum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = sum;
	size_t i;

	/* 2^16 = 1 (mod 0xffff), so carries can be folded back at the end;
	 * a 64-bit accumulator cannot overflow on any buffer that fits in
	 * memory. */
	for (i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
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
