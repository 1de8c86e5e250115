/* Big-endian (network order) loads and stores, for every parser and
 * emitter; nothing else reads multi-byte fields from the wire. With gcc or
 * clang on a little-endian host each is one unaligned access and a byte
 * swap; elsewhere, byte by byte. */
#ifndef SYNFIN_BYTES_H
#define SYNFIN_BYTES_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SYNFIN_BSWAP16(x) __builtin_bswap16(x)
#define SYNFIN_BSWAP32(x) __builtin_bswap32(x)
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SYNFIN_BSWAP16(x) (x)
#define SYNFIN_BSWAP32(x) (x)
#endif

#ifdef SYNFIN_BSWAP16
static inline uint16_t get16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return SYNFIN_BSWAP16(v);
}

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return SYNFIN_BSWAP32(v);
}

static inline void put16(uint8_t *p, uint16_t v)
{
	v = SYNFIN_BSWAP16(v);
	memcpy(p, &v, sizeof v);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	v = SYNFIN_BSWAP32(v);
	memcpy(p, &v, sizeof v);
}
#else
static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
#endif

#endif
