/*
 * st_siphash, behind the RFC 6528 ISNs, the timestamp offsets, the
 * ephemeral port offset and the SYN cookies, is SipHash-2-4: with the
 * reference key (bytes 0x00..0x0f) and the message 0x00, 0x01, ... it gives
 * the published vectors (the SipHash paper's appendix A and the reference
 * implementation's vectors.h) for every tail length 0..7, for one full
 * 8-byte word and for a word plus a 7-byte tail.
 */
#include "tcp/tcp_priv.h"
#include "test.h"

TEST(siphash_gives_the_reference_vectors)
{
	static const struct {
		size_t len;
		uint64_t want;
	} v[] = {
		{0, 0x726fdb47dd0e0e31ull},  {1, 0x74f839c593dc67fdull}, {2, 0x0d6c8009d9a94f5aull},
		{3, 0x85676696d7fb7e2dull},  {4, 0xcf2794e0277187b7ull}, {5, 0x18765564cd99a68dull},
		{6, 0xcbc9466e58fee3ceull},  {7, 0xab0200f58b01d137ull}, {8, 0x93f5f5799a932462ull},
		{9, 0x9e0082df0ba9e4b0ull},  {15, 0xa129ca6149be45e5ull},
	};
	struct synfin_ops ops = {.output = test_noop_output};
	struct synfin_stack *st = synfin_stack_create(NULL, &ops, 0xc6120001u, 7, SYNFIN_SEC(1));
	ASSERT(st);
	st->key[0] = 0x0706050403020100ull;
	st->key[1] = 0x0f0e0d0c0b0a0908ull;
	/* one byte more than the message, so that nothing past it is read
	 * into the hash unseen (AddressSanitizer would see an overread) */
	uint8_t msg[16];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)i;
	for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
		uint64_t got = st_siphash(st, msg, v[k].len);
		ASSERT_MSG(got == v[k].want, "length %zu: %016llx, want %016llx", v[k].len, (unsigned long long)got,
			   (unsigned long long)v[k].want);
	}
	/* the same bytes at an odd address hash the same */
	uint8_t shifted[17];
	memcpy(shifted + 1, msg, 15);
	ASSERT(st_siphash(st, shifted + 1, 15) == 0xa129ca6149be45e5ull);
	synfin_stack_destroy(st);
}
