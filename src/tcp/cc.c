/*
 * The congestion control registry: the algorithm behind a SYNFIN_CC_*
 * number, and the initial window every algorithm starts from.
 */
#include "tcp/cc.h"

const struct cc_ops *cc_get(uint8_t which)
{
	switch (which) {
	case SYNFIN_CC_CUBIC:
		return &cc_cubic;
	case SYNFIN_CC_NEWRENO:
		return &cc_newreno;
	default:
		return NULL;
	}
}

uint32_t cc_initial_window(uint32_t mss)
{
	/* RFC 6928 2: about 10 segments, but never more than 14600 bytes
	 * unless that is less than 2 segments (a jumbo MSS still gets two) */
	uint64_t floor2 = 2ull * mss > 14600 ? 2ull * mss : 14600;
	uint64_t ten = 10ull * mss;
	return (uint32_t)(ten < floor2 ? ten : floor2);
}
