/*
 * Wire format: checksums, IPv4/TCP parse and emit, the tcpdump-style
 * printer and the pcap writer.
 */
#include <stdlib.h>
#include <unistd.h>

#include "dev/pcap.h"
#include "test.h"
#include "wire/wire.h"
#include "wire/bytes.h"

#define A_CLIENT 0xc6120002u /* 198.18.0.2 */
#define A_SERVER 0xc6120001u /* 198.18.0.1 */

/* Recompute the IPv4 header checksum after a test edited the header. */
static void fix_ip_csum(uint8_t *pkt)
{
	size_t hlen = (size_t)(pkt[0] & 0x0f) * 4;

	put16(pkt + 10, 0);
	put16(pkt + 10, inet_fold(inet_sum(pkt, hlen, 0)));
}

/* Recompute the TCP checksum of a 20-byte-IP-header datagram. */
static void fix_tcp_csum(uint8_t *pkt, size_t len)
{
	uint8_t *th = pkt + 20;
	uint32_t src = (uint32_t)pkt[12] << 24 | (uint32_t)pkt[13] << 16 | (uint32_t)pkt[14] << 8 | pkt[15];
	uint32_t dst = (uint32_t)pkt[16] << 24 | (uint32_t)pkt[17] << 16 | (uint32_t)pkt[18] << 8 | pkt[19];
	uint32_t sum = inet_pseudo_sum(src, dst, 6, (uint16_t)(len - 20));

	put16(th + 16, 0);
	put16(th + 16, inet_fold(inet_sum(th, len - 20, sum)));
}

static struct tcp_seg mkseg(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport,
			    uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tcp_seg s;

	memset(&s, 0, sizeof(s));
	s.saddr = saddr;
	s.daddr = daddr;
	s.sport = sport;
	s.dport = dport;
	s.flags = flags;
	s.seq = seq;
	s.ack = ack;
	s.wnd = 65535;
	return s;
}

/*
 * A hand-built datagram with raw option bytes, so that the tests can send
 * what tcp_emit() never would. `optlen` must be a multiple of 4.
 */
static size_t raw_seg(uint8_t *buf, const uint8_t *opt, size_t optlen, uint16_t sport,
		      uint16_t dport)
{
	size_t len = 20 + 20 + optlen;

	memset(buf, 0, len);
	buf[0] = 0x45;
	put16(buf + 2, (uint16_t)len);
	put16(buf + 6, 0x4000);
	buf[8] = 64;
	buf[9] = 6;
	put32(buf + 12, A_CLIENT);
	put32(buf + 16, A_SERVER);
	fix_ip_csum(buf);
	put16(buf + 20, sport);
	put16(buf + 22, dport);
	put32(buf + 24, 1000);
	buf[32] = (uint8_t)((20 + optlen) / 4 << 4);
	buf[33] = TH_ACK;
	put16(buf + 34, 1024);
	if (optlen)
		memcpy(buf + 40, opt, optlen);
	fix_tcp_csum(buf, len);
	return len;
}

static enum wire_err parse_both(const uint8_t *pkt, size_t len, struct tcp_seg *seg)
{
	struct ip4_view ip;
	enum wire_err e = ip4_parse(pkt, len, &ip);

	if (e != WIRE_OK)
		return e;
	return tcp_parse(&ip, seg);
}

/* ---- checksums ---- */

TEST(cksum_rfc1071_example)
{
	/* RFC 1071 section 3: the words sum to 0x2ddf0, folded 0xddf2. */
	static const uint8_t d[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	ASSERT_EQ(inet_fold(inet_sum(d, sizeof(d), 0)), (uint16_t)~0xddf2);
	ASSERT_EQ(inet_fold(inet_sum(d, sizeof(d), 0)), 0x220d);
	/* Summing in even-sized chunks gives the same result. */
	ASSERT_EQ(inet_fold(inet_sum(d + 4, 4, inet_sum(d, 4, 0))), 0x220d);
	ASSERT_EQ(inet_fold(inet_sum(d + 2, 6, inet_sum(d, 2, 0))), 0x220d);
	/* An odd trailing byte is the high half of a zero-padded word. */
	static const uint8_t odd[] = { 0x12 };
	ASSERT_EQ(inet_fold(inet_sum(odd, 1, 0)), (uint16_t)~0x1200);
	ASSERT_EQ(inet_fold(0), 0xffff);
	ASSERT_EQ(inet_fold(0xffff), 0);
	ASSERT_EQ(inet_fold(0x1fffe), 0);
}

TEST(cksum_ipv4_header_vector)
{
	/* A well-known header: 192.168.0.1 -> 192.168.0.199, UDP, checksum b861. */
	uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			  0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };

	ASSERT_EQ(inet_fold(inet_sum(h, 20, 0)), 0xb861);
	ASSERT_EQ(ip4_hdr_csum(h, 20), 0xb861);
	put16(h + 10, 0xb861);
	ASSERT_EQ(inet_fold(inet_sum(h, 20, 0)), 0);
	ASSERT_EQ(ip4_hdr_csum(h, 20), 0);
}

/* A 4-, 2- or 1-byte tail added to a sum already near 2^64 (long runs of
 * 0xff) carries too: a 20-byte header of 0xff bytes sums to 0xffff. */
TEST(cksum_tail_carries_after_large_words)
{
	uint8_t d[41];
	memset(d, 0xff, sizeof d);
	for (size_t n = 1; n <= sizeof d; n++) {
		uint64_t ref = 0;
		for (size_t i = 0; i < n; i += 2)
			ref += (uint32_t)d[i] << 8 | (i + 1 < n ? d[i + 1] : 0);
		while (ref >> 16)
			ref = (ref & 0xffff) + (ref >> 16);
		ASSERT_EQ(inet_fold(inet_sum(d, n, 0)), (uint16_t)~ref);
	}
	ASSERT_EQ(inet_fold(inet_sum(d, 20, 0)), 0);
}

/* The five-load header checksum agrees with the general sum on headers of
 * every length and on words that carry at every fold. */
TEST(cksum_ipv4_header_fast_path_matches_general)
{
	uint8_t h[60];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int round = 0; round < 20000; round++) {
		size_t hlen = 20 + 4 * (size_t)(round % 11);
		for (size_t i = 0; i < hlen; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* a third of the rounds all 0xff or 0x00 bytes */
			h[i] = round % 3 == 1 ? 0xff : round % 3 == 2 && i % 5 ? 0 : (uint8_t)x;
		}
		ASSERT_EQ(ip4_hdr_csum(h, hlen), inet_fold(inet_sum(h, hlen, 0)));
	}
}

TEST(cksum_long_buffer_no_overflow)
{
	size_t n = 300001;
	uint8_t *d = malloc(n);
	uint64_t ref = 0;

	ASSERT(d);
	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)(0xff - (i % 7));
	for (size_t i = 0; i < n; i += 2)
		ref += (uint32_t)d[i] << 8 | (i + 1 < n ? d[i + 1] : 0);
	while (ref >> 16)
		ref = (ref & 0xffff) + (ref >> 16);
	uint16_t got = inet_fold(inet_sum(d, n, 0xfffffff0u));
	uint64_t ref2 = ref + 0xfffffff0u;
	while (ref2 >> 16)
		ref2 = (ref2 & 0xffff) + (ref2 >> 16);
	free(d);
	ASSERT_EQ(got, (uint16_t)~ref2);
}

TEST(cksum_pseudo_header)
{
	uint8_t ph[12] = { 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7, 0, 6, 0x05, 0xdc };

	ASSERT_EQ(inet_fold(inet_pseudo_sum(0xc0a80001u, 0xc0a800c7u, 6, 1500)),
		  inet_fold(inet_sum(ph, sizeof(ph), 0)));
}

/* ---- IPv4 ---- */

static size_t good_datagram(uint8_t *buf, size_t cap)
{
	struct tcp_seg s = mkseg(A_CLIENT, 49152, A_SERVER, 80, TH_ACK | TH_PSH, 1, 1);
	static const uint8_t payload[] = "hello, world";

	s.data = payload;
	s.len = 12;
	return tcp_emit(buf, cap, &s, 0x1234);
}

TEST(ip4_parse_good)
{
	uint8_t buf[128];
	struct ip4_view ip;
	size_t n = good_datagram(buf, sizeof(buf));

	ASSERT_EQ(n, 20 + 20 + 12);
	ASSERT_EQ(ip4_parse(buf, n, &ip), WIRE_OK);
	ASSERT_U32(ip.src, A_CLIENT);
	ASSERT_U32(ip.dst, A_SERVER);
	ASSERT_EQ(ip.proto, 6);
	ASSERT_EQ(ip.ttl, 64);
	ASSERT_EQ(ip.tos, 0);
	ASSERT_EQ(ip.id, 0x1234);
	ASSERT_EQ(ip.hlen, 20);
	ASSERT(ip.df);
	ASSERT(ip.payload == buf + 20);
	ASSERT_EQ(ip.payload_len, 32);

	/* Link padding beyond the total length is not payload. */
	memset(buf + n, 0xee, 8);
	ASSERT_EQ(ip4_parse(buf, n + 8, &ip), WIRE_OK);
	ASSERT_EQ(ip.payload_len, 32);

	/* IPv4 options are skipped by IHL. */
	uint8_t opt[128];
	memcpy(opt, buf, 20);
	opt[0] = 0x46;
	put16(opt + 2, (uint16_t)(n + 4));
	memset(opt + 20, 1, 4); /* NOPs */
	memcpy(opt + 24, buf + 20, n - 20);
	fix_ip_csum(opt);
	ASSERT_EQ(ip4_parse(opt, n + 4, &ip), WIRE_OK);
	ASSERT_EQ(ip.hlen, 24);
	ASSERT(ip.payload == opt + 24);
	ASSERT_EQ(ip.payload_len, 32);
}

TEST(ip4_parse_rejects_each_malformation)
{
	uint8_t good[128], b[128];
	struct ip4_view ip;
	size_t n = good_datagram(good, sizeof(good));

	for (size_t l = 0; l < 20; l++)
		ASSERT_EQ(ip4_parse(good, l, &ip), WIRE_TRUNCATED);
	ASSERT_EQ(ip4_parse(NULL, 0, &ip), WIRE_TRUNCATED);
	/* Cut inside the payload: the total length now exceeds the bytes. */
	ASSERT_EQ(ip4_parse(good, n - 1, &ip), WIRE_BAD_TOTLEN);

	memcpy(b, good, n);
	b[0] = 0x65;
	fix_ip_csum(b);
	ASSERT_EQ(ip4_parse(b, n, &ip), WIRE_BAD_VERSION);

	memcpy(b, good, n);
	b[0] = 0x44;
	ASSERT_EQ(ip4_parse(b, n, &ip), WIRE_BAD_HLEN);

	/* IHL 15 = 60 bytes, past a 40-byte datagram. */
	memcpy(b, good, n);
	b[0] = 0x4f;
	ASSERT_EQ(ip4_parse(b, 40, &ip), WIRE_BAD_HLEN);

	memcpy(b, good, n);
	put16(b + 2, (uint16_t)(n + 1));
	fix_ip_csum(b);
	ASSERT_EQ(ip4_parse(b, n, &ip), WIRE_BAD_TOTLEN);

	memcpy(b, good, n);
	put16(b + 2, 19);
	fix_ip_csum(b);
	ASSERT_EQ(ip4_parse(b, n, &ip), WIRE_BAD_TOTLEN);

	memcpy(b, good, n);
	b[0] = 0x46;
	put16(b + 2, 20);
	fix_ip_csum(b);
	ASSERT_EQ(ip4_parse(b, n, &ip), WIRE_BAD_TOTLEN);

	memcpy(b, good, n);
	b[10] ^= 0x01;
	ASSERT_EQ(ip4_parse(b, n, &ip), WIRE_BAD_CSUM);
	memcpy(b, good, n);
	b[15] ^= 0x80; /* a changed address must be caught too */
	ASSERT_EQ(ip4_parse(b, n, &ip), WIRE_BAD_CSUM);

	memcpy(b, good, n);
	put16(b + 6, 0x2000); /* MF */
	fix_ip_csum(b);
	ASSERT_EQ(ip4_parse(b, n, &ip), WIRE_FRAGMENT);

	memcpy(b, good, n);
	put16(b + 6, 0x4000 | 185); /* DF and an offset: still a fragment */
	fix_ip_csum(b);
	ASSERT_EQ(ip4_parse(b, n, &ip), WIRE_FRAGMENT);

	memcpy(b, good, n);
	put16(b + 6, 0x0001);
	fix_ip_csum(b);
	ASSERT_EQ(ip4_parse(b, n, &ip), WIRE_FRAGMENT);

	/* DF alone (and no DF) are fine. */
	memcpy(b, good, n);
	put16(b + 6, 0);
	fix_ip_csum(b);
	ASSERT_EQ(ip4_parse(b, n, &ip), WIRE_OK);
	ASSERT(!ip.df);
}

TEST(wire_err_str_names_every_error)
{
	for (int e = WIRE_OK; e <= WIRE_BAD_ADDR; e++) {
		const char *s = wire_err_str((enum wire_err)e);
		ASSERT(s && *s);
		ASSERT(strcmp(s, "unknown error") != 0);
	}
	ASSERT_STR(wire_err_str(WIRE_BAD_CSUM), "bad checksum");
}

/* ---- TCP parse ---- */

TEST(tcp_parse_good_and_options)
{
	uint8_t buf[128];
	struct tcp_seg s;
	/* unknown kind 30 (len 4), NOP, MSS without SYN, EOL then garbage */
	static const uint8_t opt[] = { 30, 4, 0xaa, 0xbb, 1, 2, 4, 0x05, 0xb4, 0, 0xff, 0xff };
	size_t n = raw_seg(buf, opt, sizeof(opt), 1234, 80);

	ASSERT_EQ(parse_both(buf, n, &s), WIRE_OK);
	ASSERT_EQ(s.sport, 1234);
	ASSERT_EQ(s.dport, 80);
	ASSERT_U32(s.seq, 1000);
	ASSERT_EQ(s.flags, TH_ACK);
	ASSERT_EQ(s.wnd, 1024);
	ASSERT_EQ(s.opt.has, TOF_MSS);
	ASSERT_EQ(s.opt.mss, 1460);
	ASSERT_EQ(s.len, 0);
	ASSERT(s.data == buf + n);

	/* WSCALE and SACK_PERM are recorded on a non-SYN too. */
	static const uint8_t o2[] = { 3, 3, 14, 4, 2, 1, 1, 1 };
	n = raw_seg(buf, o2, sizeof(o2), 1234, 80);
	ASSERT_EQ(parse_both(buf, n, &s), WIRE_OK);
	ASSERT_EQ(s.opt.has, TOF_WSCALE | TOF_SACKPERM);
	ASSERT_EQ(s.opt.wscale, 14);

	/* A trailing NOP run up to the header end. */
	static const uint8_t o3[] = { 1, 1, 1, 1 };
	n = raw_seg(buf, o3, sizeof(o3), 1234, 80);
	ASSERT_EQ(parse_both(buf, n, &s), WIRE_OK);
	ASSERT_EQ(s.opt.has, 0);
}

/* The SYN layout read in one go (MSS, SACK permitted, TS, NOP, WS) gives
 * what the same options in another order give; near misses of it are read
 * option by option. */
TEST(tcp_parse_syn_layout)
{
	uint8_t buf[128];
	struct tcp_seg a, b;
	static const uint8_t linux_syn[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44,
					      0x55, 0x66, 0x77, 0x88, 1, 3, 3, 7};
	static const uint8_t other[20] = {1, 3, 3, 7, 2, 4, 0x05, 0xb4, 8, 10, 0x11, 0x22,
					  0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 4, 2};
	size_t n = raw_seg(buf, linux_syn, sizeof linux_syn, 1234, 80);
	ASSERT_EQ(parse_both(buf, n, &a), WIRE_OK);
	n = raw_seg(buf, other, sizeof other, 1234, 80);
	ASSERT_EQ(parse_both(buf, n, &b), WIRE_OK);
	ASSERT_EQ(a.opt.has, TOF_MSS | TOF_SACKPERM | TOF_TS | TOF_WSCALE);
	ASSERT_EQ(b.opt.has, a.opt.has);
	ASSERT_EQ(a.opt.mss, 1460);
	ASSERT_EQ(b.opt.mss, 1460);
	ASSERT_U32(a.opt.tsval, 0x11223344u);
	ASSERT_U32(b.opt.tsval, 0x11223344u);
	ASSERT_U32(a.opt.tsecr, 0x55667788u);
	ASSERT_U32(b.opt.tsecr, 0x55667788u);
	ASSERT_EQ(a.opt.wscale, 7);
	ASSERT_EQ(b.opt.wscale, 7);

	/* an EOL where the NOP was: the window scale after it is not read */
	uint8_t eol[20];
	memcpy(eol, linux_syn, sizeof eol);
	eol[16] = 0;
	n = raw_seg(buf, eol, sizeof eol, 1234, 80);
	ASSERT_EQ(parse_both(buf, n, &a), WIRE_OK);
	ASSERT_EQ(a.opt.has, TOF_MSS | TOF_SACKPERM | TOF_TS);
	/* a window scale option of length 4 is malformed, as anywhere */
	uint8_t ws4[20];
	memcpy(ws4, linux_syn, sizeof ws4);
	ws4[18] = 4;
	n = raw_seg(buf, ws4, sizeof ws4, 1234, 80);
	ASSERT_EQ(parse_both(buf, n, &a), WIRE_BAD_OPT);
	/* an MSS option of length 5 too */
	uint8_t mss5[20];
	memcpy(mss5, linux_syn, sizeof mss5);
	mss5[1] = 5;
	n = raw_seg(buf, mss5, sizeof mss5, 1234, 80);
	ASSERT_EQ(parse_both(buf, n, &a), WIRE_BAD_OPT);
}

TEST(tcp_parse_rejects)
{
	uint8_t buf[128];
	struct tcp_seg s;
	struct ip4_view ip;
	size_t n;

	/* data offset 4, then one past the segment */
	n = raw_seg(buf, NULL, 0, 1234, 80);
	buf[32] = 4 << 4;
	fix_tcp_csum(buf, n);
	ASSERT_EQ(parse_both(buf, n, &s), WIRE_BAD_OFF);
	buf[32] = 6 << 4;
	fix_tcp_csum(buf, n);
	ASSERT_EQ(parse_both(buf, n, &s), WIRE_BAD_OFF);

	/* fewer than 20 bytes of TCP */
	n = raw_seg(buf, NULL, 0, 1234, 80);
	put16(buf + 2, 39);
	fix_ip_csum(buf);
	ASSERT_EQ(parse_both(buf, 39, &s), WIRE_TRUNCATED);

	n = raw_seg(buf, NULL, 0, 1234, 80);
	buf[n - 1] ^= 0x40;
	ASSERT_EQ(parse_both(buf, n, &s), WIRE_BAD_CSUM);
	/* The pseudo header counts: a different destination breaks it. */
	n = raw_seg(buf, NULL, 0, 1234, 80);
	ASSERT_EQ(ip4_parse(buf, n, &ip), WIRE_OK);
	ip.dst ^= 1;
	ASSERT_EQ(tcp_parse(&ip, &s), WIRE_BAD_CSUM);

	static const uint8_t len0[] = { 30, 0, 0, 0 };
	static const uint8_t len1[] = { 30, 1, 0, 0 };
	static const uint8_t past[] = { 1, 30, 4, 0 };
	static const uint8_t nolen[] = { 1, 1, 1, 30 };
	static const uint8_t mss3[] = { 2, 3, 5, 1 };
	static const uint8_t mss5[] = { 2, 5, 5, 0xb4, 0, 1, 1, 1 };
	static const uint8_t ws4[] = { 3, 4, 7, 0 };
	static const uint8_t sp3[] = { 4, 3, 0, 0 };
	static const uint8_t ts8[] = { 8, 8, 0, 0, 0, 1, 0, 0 };
	static const uint8_t sack2[] = { 1, 1, 5, 2 };
	static const uint8_t sack9[] = { 1, 1, 5, 9, 0, 0, 0, 1, 0, 0, 0, 2 };
	static const uint8_t sack5blk[44] = { 5, 42 };
	const struct {
		const uint8_t *o;
		size_t n;
	} bad[] = {
		{ len0, sizeof(len0) }, { len1, sizeof(len1) },	  { past, sizeof(past) },
		{ nolen, sizeof(nolen) }, { mss3, sizeof(mss3) }, { mss5, sizeof(mss5) },
		{ ws4, sizeof(ws4) },	  { sp3, sizeof(sp3) },	  { ts8, sizeof(ts8) },
		{ sack2, sizeof(sack2) }, { sack9, sizeof(sack9) },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = raw_seg(buf, bad[i].o, bad[i].n, 1234, 80);
		ASSERT_MSG(parse_both(buf, n, &s) == WIRE_BAD_OPT, "bad option case %zu", i);
	}
	/* A SACK option claiming five blocks (42 bytes) cannot fit in the
	 * 40 bytes of option space. */
	n = raw_seg(buf, sack5blk, 40, 1234, 80);
	ASSERT_EQ(parse_both(buf, n, &s), WIRE_BAD_OPT);

	n = raw_seg(buf, NULL, 0, 0, 80);
	ASSERT_EQ(parse_both(buf, n, &s), WIRE_BAD_ADDR);
	n = raw_seg(buf, NULL, 0, 1234, 0);
	ASSERT_EQ(parse_both(buf, n, &s), WIRE_BAD_ADDR);
}

/* ---- emit ---- */

static void check_roundtrip(uint8_t has, uint8_t nsack, uint8_t flags, uint32_t plen)
{
	uint8_t payload[1000];
	uint8_t buf[1200];
	struct tcp_seg in = mkseg(A_CLIENT, 65535, A_SERVER, 1, flags, 0xfffffff0u, 0xffffffffu);
	struct tcp_seg out;
	size_t n;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	in.wnd = 0x8001;
	in.urp = (flags & TH_URG) ? 7 : 0;
	in.opt.has = has;
	in.opt.mss = 1460;
	in.opt.wscale = 7;
	in.opt.tsval = 0xfffffffeu;
	in.opt.tsecr = 0x01020304u;
	in.opt.nsack = (has & TOF_SACK) ? nsack : 0;
	for (unsigned b = 0; b < TCP_MAX_SACK; b++) {
		in.opt.sack[b].left = 0xfffffff0u + b * 100;
		in.opt.sack[b].right = 0xfffffff0u + b * 100 + 50;
	}
	in.data = plen ? payload : NULL;
	in.len = plen;

	size_t olen = tcp_opts_len(&in.opt);
	ASSERT_EQ(olen % 4, 0);
	n = tcp_emit(buf, sizeof(buf), &in, 0xbeef);
	if (olen > TCP_OPT_MAX) {
		ASSERT_EQ(n, 0);
		return;
	}
	ASSERT_EQ(n, 40 + olen + plen);
	ASSERT_EQ((size_t)(buf[32] >> 4) * 4 - 20, olen);
	ASSERT_EQ(get16(buf + 2), n);
	ASSERT_EQ(get16(buf + 4), 0xbeef);
	ASSERT_EQ(get16(buf + 6), 0x4000);
	ASSERT_EQ(buf[0], 0x45);
	ASSERT_EQ(buf[8], 64);
	ASSERT_EQ(buf[9], 6);
	ASSERT_EQ(buf[1], 0);

	memset(&out, 0xa5, sizeof(out));
	ASSERT_EQ(parse_both(buf, n, &out), WIRE_OK);
	ASSERT_U32(out.saddr, in.saddr);
	ASSERT_U32(out.daddr, in.daddr);
	ASSERT_EQ(out.sport, in.sport);
	ASSERT_EQ(out.dport, in.dport);
	ASSERT_U32(out.seq, in.seq);
	ASSERT_U32(out.ack, in.ack);
	ASSERT_EQ(out.flags, in.flags);
	ASSERT_EQ(out.wnd, in.wnd);
	ASSERT_EQ(out.urp, in.urp);
	ASSERT_EQ(out.len, plen);
	ASSERT(out.data == buf + 40 + olen);
	ASSERT(plen == 0 || memcmp(out.data, payload, plen) == 0);

	uint8_t want = has;
	if ((has & TOF_SACK) && nsack == 0)
		want &= (uint8_t)~TOF_SACK;
	ASSERT_EQ(out.opt.has, want);
	if (want & TOF_MSS)
		ASSERT_EQ(out.opt.mss, 1460);
	if (want & TOF_WSCALE)
		ASSERT_EQ(out.opt.wscale, 7);
	if (want & TOF_TS) {
		ASSERT_U32(out.opt.tsval, in.opt.tsval);
		ASSERT_U32(out.opt.tsecr, in.opt.tsecr);
	}
	if (want & TOF_SACK) {
		ASSERT_EQ(out.opt.nsack, nsack);
		for (unsigned b = 0; b < nsack; b++) {
			ASSERT_U32(out.opt.sack[b].left, in.opt.sack[b].left);
			ASSERT_U32(out.opt.sack[b].right, in.opt.sack[b].right);
		}
	}
}

TEST(tcp_emit_parse_roundtrip_every_option_combination)
{
	static const uint8_t flag_sets[] = {
		TH_SYN, TH_SYN | TH_ACK, TH_ACK, TH_ACK | TH_PSH, TH_FIN | TH_ACK, TH_RST,
		TH_RST | TH_ACK, TH_ACK | TH_URG | TH_ECE | TH_CWR, 0xff,
	};
	static const uint32_t plens[] = { 0, 1, 3, 536, 1000 };
	unsigned combos = 0;

	for (unsigned has = 0; has < 32; has++)
		for (uint8_t nsack = 0; nsack <= TCP_MAX_SACK; nsack++) {
			if (!(has & TOF_SACK) && nsack > 0)
				continue;
			for (size_t f = 0; f < sizeof(flag_sets); f++)
				for (size_t p = 0; p < sizeof(plens) / sizeof(plens[0]); p++) {
					check_roundtrip((uint8_t)has, nsack, flag_sets[f], plens[p]);
					combos++;
				}
		}
	ASSERT(combos > 1000);
}

TEST(tcp_emit_option_layout_is_linux)
{
	uint8_t buf[128];
	struct tcp_seg s = mkseg(A_CLIENT, 49152, A_SERVER, 80, TH_SYN, 1, 0);

	s.opt.has = TOF_MSS | TOF_SACKPERM | TOF_TS | TOF_WSCALE;
	s.opt.mss = 1460;
	s.opt.wscale = 7;
	s.opt.tsval = 0x01020304;
	s.opt.tsecr = 0;
	static const uint8_t syn[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4,
				       0, 0, 0, 0, 1, 3, 3, 7 };
	ASSERT_EQ(tcp_opts_len(&s.opt), sizeof(syn));
	ASSERT_EQ(tcp_emit(buf, sizeof(buf), &s, 0), 40 + sizeof(syn));
	ASSERT(memcmp(buf + 40, syn, sizeof(syn)) == 0);

	s.opt.has = TOF_TS | TOF_SACK;
	s.opt.nsack = 1;
	s.opt.sack[0].left = 0x11111111;
	s.opt.sack[0].right = 0x22222222;
	static const uint8_t ack[] = { 1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0,
				       1, 1, 5, 10, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22 };
	ASSERT_EQ(tcp_opts_len(&s.opt), sizeof(ack));
	ASSERT_EQ(tcp_emit(buf, sizeof(buf), &s, 0), 40 + sizeof(ack));
	ASSERT(memcmp(buf + 40, ack, sizeof(ack)) == 0);

	s.opt.has = TOF_SACKPERM;
	static const uint8_t sp[] = { 1, 1, 4, 2 };
	ASSERT_EQ(tcp_opts_len(&s.opt), 4);
	ASSERT_EQ(tcp_emit(buf, sizeof(buf), &s, 0), 44);
	ASSERT(memcmp(buf + 40, sp, sizeof(sp)) == 0);

	/* TS with three SACK blocks is exactly 40 bytes; four do not fit. */
	s.opt.has = TOF_TS | TOF_SACK;
	s.opt.nsack = 3;
	ASSERT_EQ(tcp_opts_len(&s.opt), 40);
	ASSERT_EQ(tcp_emit(buf, sizeof(buf), &s, 0), 80);
	s.opt.nsack = 4;
	ASSERT_EQ(tcp_opts_len(&s.opt), 48);
	ASSERT_EQ(tcp_emit(buf, sizeof(buf), &s, 0), 0);
	/* A corrupt count never reads past sack[]. */
	s.opt.nsack = 200;
	ASSERT_EQ(tcp_emit(buf, sizeof(buf), &s, 0), 0);
}

TEST(tcp_emit_returns_zero_when_cap_too_small)
{
	static const uint8_t payload[100] = { 1 };
	struct tcp_seg s = mkseg(A_CLIENT, 49152, A_SERVER, 80, TH_ACK, 5, 6);
	uint8_t big[256];

	s.opt.has = TOF_TS;
	s.data = payload;
	s.len = sizeof(payload);
	size_t need = tcp_emit(big, sizeof(big), &s, 1);
	ASSERT_EQ(need, 20 + 20 + 12 + 100);
	for (size_t cap = 0; cap <= need; cap++) {
		/* An exact-size heap buffer lets ASan catch any overrun. */
		uint8_t *b = malloc(cap ? cap : 1);
		ASSERT(b);
		size_t got = tcp_emit(b, cap, &s, 1);
		int same = got == need && memcmp(b, big, need) == 0;
		free(b);
		if (cap < need)
			ASSERT_EQ(got, 0);
		else
			ASSERT(same);
	}
	ASSERT_EQ(tcp_emit(NULL, 0, &s, 1), 0);
	/* Payload too big for an IPv4 datagram. */
	s.len = 70000;
	ASSERT_EQ(tcp_emit(big, sizeof(big), &s, 1), 0);
}

/* ---- printer ---- */

static const char *print_seg(char *line, size_t cap, struct wire_printer *p,
			     const struct tcp_seg *s, synfin_time_t t)
{
	uint8_t buf[1600];
	size_t n = tcp_emit(buf, sizeof(buf), s, 0);
	size_t r;

	if (n == 0)
		test_fail(__FILE__, __LINE__, "tcp_emit failed");
	r = wire_print(line, cap, p, buf, n, t);
	if (r != strlen(line))
		test_fail(__FILE__, __LINE__, "wire_print returned %zu for \"%s\"", r, line);
	return line;
}

TEST(printer_handshake_data_fin_lines)
{
	struct wire_printer p;
	char l[256];
	struct tcp_seg s;
	static const uint8_t data[12] = "GET / HTTP/1";
	const uint32_t ci = 1415531521u, si = 1823083521u;

	wire_printer_init(&p);
	s = mkseg(A_CLIENT, 49152, A_SERVER, 80, TH_SYN, ci, 0);
	s.opt.has = TOF_MSS;
	s.opt.mss = 1460;
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, 0),
		   "0.000000 IP 198.18.0.2.49152 > 198.18.0.1.80: S 1415531521:1415531521(0) win 65535 <mss 1460>");

	s = mkseg(A_SERVER, 80, A_CLIENT, 49152, TH_SYN | TH_ACK, si, ci + 1);
	s.opt.has = TOF_MSS;
	s.opt.mss = 1460;
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, SYNFIN_MS(1)),
		   "0.001000 IP 198.18.0.1.80 > 198.18.0.2.49152: S 1823083521:1823083521(0) ack 1 win 65535 <mss 1460>");

	s = mkseg(A_CLIENT, 49152, A_SERVER, 80, TH_ACK, ci + 1, si + 1);
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, SYNFIN_MS(2)),
		   "0.002000 IP 198.18.0.2.49152 > 198.18.0.1.80: . ack 1 win 65535");

	s = mkseg(A_CLIENT, 49152, A_SERVER, 80, TH_ACK | TH_PSH, ci + 1, si + 1);
	s.data = data;
	s.len = sizeof(data);
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, SYNFIN_MS(3)),
		   "0.003000 IP 198.18.0.2.49152 > 198.18.0.1.80: P 1:13(12) ack 1 win 65535");

	/* Another connection, closed after its handshake. */
	s = mkseg(A_CLIENT, 1748, A_SERVER, 80, TH_SYN, 100, 0);
	print_seg(l, sizeof(l), &p, &s, SYNFIN_SEC(4));
	s = mkseg(A_SERVER, 80, A_CLIENT, 1748, TH_SYN | TH_ACK, 0xfffffffeu, 101);
	print_seg(l, sizeof(l), &p, &s, SYNFIN_SEC(4));
	s = mkseg(A_CLIENT, 1748, A_SERVER, 80, TH_FIN | TH_ACK, 101, 0xffffffffu);
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, SYNFIN_SEC(5)),
		   "5.000000 IP 198.18.0.2.1748 > 198.18.0.1.80: F 1:1(0) ack 1 win 65535");
	/* Relative numbers work across the 2^32 wrap. */
	s = mkseg(A_SERVER, 80, A_CLIENT, 1748, TH_FIN | TH_PSH | TH_ACK, 0xffffffffu, 102);
	s.data = data;
	s.len = 4;
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, SYNFIN_SEC(5) + 1),
		   "5.000001 IP 198.18.0.1.80 > 198.18.0.2.1748: FP 1:5(4) ack 2 win 65535");
}

TEST(printer_rst_refusing_syn)
{
	struct wire_printer p;
	char l[256];
	struct tcp_seg s;

	wire_printer_init(&p);
	s = mkseg(A_CLIENT, 1087, A_SERVER, 20000, TH_SYN, 1415531521u, 0);
	print_seg(l, sizeof(l), &p, &s, 0);
	s = mkseg(A_SERVER, 20000, A_CLIENT, 1087, TH_RST | TH_ACK, 0, 1415531522u);
	s.wnd = 0;
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, SYNFIN_MS(1)),
		   "0.001000 IP 198.18.0.1.20000 > 198.18.0.2.1087: R 0:0(0) ack 1415531522 win 0");
}

TEST(printer_time_flags_and_options)
{
	struct wire_printer p;
	char l[256];
	struct tcp_seg s;

	wire_printer_init(&p);
	s = mkseg(A_CLIENT, 49152, A_SERVER, 80, TH_SYN, 5, 0);
	s.opt.has = TOF_MSS | TOF_TS | TOF_WSCALE;
	s.opt.mss = 1460;
	s.opt.tsval = 100;
	s.opt.wscale = 7;
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, SYNFIN_SEC(7200) + 123),
		   "7200.000123 IP 198.18.0.2.49152 > 198.18.0.1.80: S 5:5(0) win 65535 <mss 1460,nop,nop,timestamp 100 0,nop,wscale 7>");

	s.opt.has |= TOF_SACKPERM;
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, 0),
		   "0.000000 IP 198.18.0.2.49152 > 198.18.0.1.80: S 5:5(0) win 65535 <mss 1460,sackOK,timestamp 100 0,nop,wscale 7>");

	s = mkseg(A_CLIENT, 49152, A_SERVER, 80, TH_ACK, 6, 77);
	s.opt.has = TOF_SACKPERM;
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, 0),
		   "0.000000 IP 198.18.0.2.49152 > 198.18.0.1.80: . ack 77 win 65535 <nop,nop,sackOK>");
	s.opt.has = TOF_SACK;
	s.opt.nsack = 2;
	s.opt.sack[0] = (struct tcp_sack_block){ 1000, 2000 };
	s.opt.sack[1] = (struct tcp_sack_block){ 3000, 4000 };
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, 0),
		   "0.000000 IP 198.18.0.2.49152 > 198.18.0.1.80: . ack 77 win 65535 <nop,nop,sack 2 {1000:2000}{3000:4000}>");

	s = mkseg(A_CLIENT, 49152, A_SERVER, 80, TH_SYN | TH_FIN | TH_RST | TH_PSH | TH_URG, 9, 0);
	ASSERT_STR(print_seg(l, sizeof(l), &p, &s, 0),
		   "0.000000 IP 198.18.0.2.49152 > 198.18.0.1.80: SFRP 9:9(0) win 65535");

	/* Raw bytes: unknown kinds and EOL print as they are. */
	uint8_t buf[128];
	static const uint8_t opt[] = { 30, 4, 0, 0, 1, 0, 0, 0 };
	size_t n = raw_seg(buf, opt, sizeof(opt), 1234, 80);
	wire_print(l, sizeof(l), &p, buf, n, 0);
	ASSERT_STR(l, "0.000000 IP 198.18.0.2.1234 > 198.18.0.1.80: . ack 0 win 1024 <opt30,nop,eol>");
}

TEST(printer_malformed_and_other_protocols)
{
	struct wire_printer p;
	char l[256];
	uint8_t buf[128];
	size_t n;

	wire_printer_init(&p);
	n = good_datagram(buf, sizeof(buf));
	ASSERT_EQ(wire_print(l, sizeof(l), &p, buf, 10, 1), strlen(l));
	ASSERT_STR(l, "0.000001 [malformed: truncated] len 10");
	wire_print(l, sizeof(l), &p, NULL, 0, 0);
	ASSERT_STR(l, "0.000000 [malformed: truncated] len 0");

	buf[0] = 0x60;
	wire_print(l, sizeof(l), &p, buf, n, 0);
	ASSERT_STR(l, "0.000000 [malformed: bad IP version] len 52");
	buf[0] = 0x45;

	buf[10] ^= 1;
	wire_print(l, sizeof(l), &p, buf, n, 0);
	ASSERT_STR(l, "0.000000 IP 198.18.0.2 > 198.18.0.1: [malformed: bad checksum]");
	buf[10] ^= 1;

	buf[n - 1] ^= 1;
	wire_print(l, sizeof(l), &p, buf, n, 0);
	ASSERT_STR(l, "0.000000 IP 198.18.0.2 > 198.18.0.1: [malformed: bad checksum]");
	buf[n - 1] ^= 1;

	wire_print(l, sizeof(l), &p, buf, n - 1, 0);
	ASSERT_STR(l, "0.000000 IP 198.18.0.2 > 198.18.0.1: [malformed: bad IP total length]");

	buf[9] = 17;
	fix_ip_csum(buf);
	wire_print(l, sizeof(l), &p, buf, n, 0);
	ASSERT_STR(l, "0.000000 IP 198.18.0.2 > 198.18.0.1: proto 17 len 32");

	static const uint8_t bad[] = { 2, 3, 0, 0 };
	n = raw_seg(buf, bad, sizeof(bad), 1234, 80);
	wire_print(l, sizeof(l), &p, buf, n, 0);
	ASSERT_STR(l, "0.000000 IP 198.18.0.2 > 198.18.0.1: [malformed: bad TCP option]");
}

TEST(printer_truncates_like_snprintf)
{
	struct wire_printer p;
	char full[256], l[256];
	uint8_t buf[128];
	size_t n = good_datagram(buf, sizeof(buf));
	size_t need;

	wire_printer_init(&p);
	need = wire_print(full, sizeof(full), &p, buf, n, SYNFIN_SEC(12) + 120);
	ASSERT_STR(full, "12.000120 IP 198.18.0.2.49152 > 198.18.0.1.80: P 1:13(12) ack 1 win 65535");
	ASSERT_EQ(need, strlen(full));
	ASSERT_EQ(wire_print(NULL, 0, &p, buf, n, SYNFIN_SEC(12) + 120), need);
	for (size_t cap = 1; cap <= need + 1; cap++) {
		memset(l, 'x', sizeof(l));
		ASSERT_EQ(wire_print(l, cap, &p, buf, n, SYNFIN_SEC(12) + 120), need);
		ASSERT_EQ(strlen(l), cap - 1 < need ? cap - 1 : need);
		ASSERT(strncmp(l, full, cap - 1) == 0);
		ASSERT_EQ(l[cap], 'x');
	}
}

TEST(printer_flow_table_round_robin)
{
	struct wire_printer p;
	char l[256];
	struct tcp_seg s;

	wire_printer_init(&p);
	/* More SYNs than slots: the oldest are forgotten, nothing breaks. */
	for (unsigned i = 0; i < 3 * WIRE_PRINTER_FLOWS; i++) {
		s = mkseg(A_CLIENT, (uint16_t)(1000 + i), A_SERVER, 80, TH_SYN, 1000 * i, 0);
		print_seg(l, sizeof(l), &p, &s, 0);
	}
	/* The newest flow is still known, the first one is not. */
	unsigned last = 3 * WIRE_PRINTER_FLOWS - 1;
	s = mkseg(A_CLIENT, (uint16_t)(1000 + last), A_SERVER, 80, TH_PSH, 1000 * last + 1, 0);
	s.data = (const uint8_t *)"ab";
	s.len = 2;
	ASSERT(strstr(print_seg(l, sizeof(l), &p, &s, 0), ": P 1:3(2) win") != NULL);
	s = mkseg(A_CLIENT, 1000, A_SERVER, 80, TH_PSH, 77, 0);
	s.data = (const uint8_t *)"ab";
	s.len = 2;
	ASSERT(strstr(print_seg(l, sizeof(l), &p, &s, 0), ": P 77:79(2) win") != NULL);

	/* A new SYN replaces the ISN of its direction. */
	s = mkseg(A_CLIENT, (uint16_t)(1000 + last), A_SERVER, 80, TH_SYN, 5000, 0);
	ASSERT(strstr(print_seg(l, sizeof(l), &p, &s, 0), ": S 5000:5000(0) win") != NULL);
	s = mkseg(A_CLIENT, (uint16_t)(1000 + last), A_SERVER, 80, TH_FIN, 5001, 0);
	ASSERT(strstr(print_seg(l, sizeof(l), &p, &s, 0), ": F 1:1(0) win") != NULL);
}

/* ---- robustness: nothing may read out of bounds, whatever the bytes ---- */

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Runs every consumer of datagrams over an exactly-sized heap copy, so that
 * any read past the end is an ASan error. */
static void feed(struct wire_printer *p, const uint8_t *pkt, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);
	struct ip4_view ip;
	struct tcp_seg s;
	char line[512], tiny[7];
	size_t r;

	if (!b)
		test_fail(__FILE__, __LINE__, "out of memory");
	if (len)
		memcpy(b, pkt, len);
	if (ip4_parse(b, len, &ip) == WIRE_OK) {
		if (ip.payload + ip.payload_len > b + len)
			test_fail(__FILE__, __LINE__, "ip payload past the buffer");
		if (tcp_parse(&ip, &s) == WIRE_OK) {
			if (s.data + s.len > b + len)
				test_fail(__FILE__, __LINE__, "tcp data past the buffer");
			if (s.opt.nsack > TCP_MAX_SACK)
				test_fail(__FILE__, __LINE__, "nsack %u", s.opt.nsack);
		}
	}
	r = wire_print(line, sizeof(line), p, b, len, 1);
	if (r != strlen(line))
		test_fail(__FILE__, __LINE__, "wire_print returned %zu for \"%s\"", r, line);
	if (wire_print(tiny, sizeof(tiny), p, b, len, 1) != r || strlen(tiny) != sizeof(tiny) - 1)
		test_fail(__FILE__, __LINE__, "wire_print truncation");
	free(b);
}

TEST(wire_robustness_truncations_and_mutations)
{
	struct wire_printer p;
	uint8_t good[200], m[200];
	struct tcp_seg s = mkseg(A_CLIENT, 49152, A_SERVER, 80, TH_SYN | TH_ACK, 0xfffffff0u, 7);
	static const uint8_t payload[40] = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	size_t n;

	wire_printer_init(&p);
	s.opt.has = TOF_MSS | TOF_TS | TOF_SACK | TOF_WSCALE;
	s.opt.nsack = 2;
	s.opt.sack[0] = (struct tcp_sack_block){ 1, 2 };
	s.opt.sack[1] = (struct tcp_sack_block){ 3, 4 };
	s.data = payload;
	s.len = sizeof(payload);
	n = tcp_emit(good, sizeof(good), &s, 9);
	ASSERT(n > 0);

	for (size_t l = 0; l <= n; l++)
		feed(&p, good, l);

	for (unsigned iter = 0; iter < 20000; iter++) {
		size_t len = n, flips;

		memcpy(m, good, n);
		flips = 1 + xorshift64(&rng) % 6;
		for (size_t f = 0; f < flips; f++) {
			uint64_t r = xorshift64(&rng);
			/* Mostly the headers, where the lengths live. */
			size_t at = (r & 1) ? (r >> 8) % 80 : (r >> 8) % n;
			m[at] = (uint8_t)(r >> 40);
		}
		if (xorshift64(&rng) % 4 == 0)
			len = xorshift64(&rng) % (n + 1);
		/* Fixing the checksums half the time gets the mutations past
		 * them into the length and option checks. */
		if ((iter & 1) && len >= 20 && (m[0] & 0x0f) >= 5 &&
		    (size_t)(m[0] & 0x0f) * 4 <= len) {
			fix_ip_csum(m);
			size_t tot = get16(m + 2);
			if ((m[0] & 0x0f) == 5 && tot >= 40 && tot <= len)
				fix_tcp_csum(m, tot);
		}
		feed(&p, m, len);
	}
}

/* ---- pcap ---- */

TEST(pcap_writes_header_and_records)
{
	char path[64];
	struct pcap_writer w;
	uint8_t pkt[128], big[70000], file[256];
	size_t n = good_datagram(pkt, sizeof(pkt));
	FILE *f;
	size_t got;
	uint32_t u32;
	uint16_t u16;

	snprintf(path, sizeof(path), "/tmp/synfin-test-%ld.pcap", (long)getpid());
	ASSERT_EQ(pcap_open(&w, path, PCAP_LINKTYPE_RAW), 0);
	pcap_write(&w, SYNFIN_SEC(7200) + 123, pkt, n);
	memset(big, 0x5a, sizeof(big));
	pcap_write(&w, 5, big, sizeof(big));
	ASSERT_EQ(w.written, 2);
	ASSERT_EQ(pcap_close(&w), 0);

	f = fopen(path, "rb");
	ASSERT(f);
	got = fread(file, 1, sizeof(file), f);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	remove(path);

	ASSERT_EQ(size, 24 + 16 + (long)n + 16 + 65535);
	ASSERT(got >= 24 + 16 + n + 16);
	memcpy(&u32, file, 4);
	ASSERT_U32(u32, 0xa1b2c3d4u);
	memcpy(&u16, file + 4, 2);
	ASSERT_EQ(u16, 2);
	memcpy(&u16, file + 6, 2);
	ASSERT_EQ(u16, 4);
	memcpy(&u32, file + 8, 4);
	ASSERT_U32(u32, 0);
	memcpy(&u32, file + 12, 4);
	ASSERT_U32(u32, 0);
	memcpy(&u32, file + 16, 4);
	ASSERT_U32(u32, 65535);
	memcpy(&u32, file + 20, 4);
	ASSERT_U32(u32, PCAP_LINKTYPE_RAW);

	const uint8_t *r = file + 24;
	memcpy(&u32, r, 4);
	ASSERT_U32(u32, 7200);
	memcpy(&u32, r + 4, 4);
	ASSERT_U32(u32, 123);
	memcpy(&u32, r + 8, 4);
	ASSERT_U32(u32, n);
	memcpy(&u32, r + 12, 4);
	ASSERT_U32(u32, n);
	ASSERT(memcmp(r + 16, pkt, n) == 0);

	r += 16 + n;
	memcpy(&u32, r, 4);
	ASSERT_U32(u32, 0);
	memcpy(&u32, r + 4, 4);
	ASSERT_U32(u32, 5);
	memcpy(&u32, r + 8, 4);
	ASSERT_U32(u32, 65535); /* truncated to the snaplen */
	memcpy(&u32, r + 12, 4);
	ASSERT_U32(u32, sizeof(big));
}

TEST(pcap_open_failure_is_an_errno)
{
	struct pcap_writer w;

	int r = pcap_open(&w, "/nonexistent-synfin-dir/x.pcap", PCAP_LINKTYPE_RAW);

	ASSERT(r < 0);
	ASSERT(w.f == NULL);
	/* Closing after a failed open is harmless and reports the same error. */
	ASSERT_EQ(pcap_close(&w), r);
	pcap_write(&w, 0, (const uint8_t *)"x", 1);
	ASSERT_EQ(w.written, 0);
}

TEST(pcap_write_error_is_kept)
{
	struct pcap_writer w;

	/* /dev/full accepts the open and fails every flush with ENOSPC. */
	if (access("/dev/full", W_OK) != 0)
		return;
	int r = pcap_open(&w, "/dev/full", PCAP_LINKTYPE_RAW);
	if (r != 0) {
		ASSERT(r < 0);
		return;
	}
	uint8_t big[70000] = { 0 };
	for (int i = 0; i < 4; i++)
		pcap_write(&w, 0, big, sizeof(big));
	ASSERT(pcap_close(&w) < 0);
	ASSERT(w.f == NULL);
}
