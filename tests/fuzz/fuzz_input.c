/*
 * libFuzzer target for the input path. The input's first byte picks the
 * entry point: odd, Ethernet frames into a netif (Ethernet, ARP, IPv4,
 * ICMP, TCP); even, IPv4 datagrams straight into the stack. The rest is a
 * script: records [flags][len_hi][len_lo][bytes...], each one frame or
 * datagram, given to a stack with a listener on port 80 and a connection
 * being opened. Flag bit 0 asks the harness to fix the IPv4 and TCP
 * checksums first (so that the fuzzer reaches the TCP state machine, not
 * just the checksum test); bit 1 steers the addresses to the stack's own;
 * the upper bits advance the clock. Afterwards every timer is run far into
 * the future and all sockets are closed: nothing may crash, hang or leak.
 *
 *   make fuzz FUZZ_SECONDS=60
 */
#include <stdint.h>
#include <string.h>

#include "synfin/netif.h"
#include "synfin/synfin.h"
#include "wire/wire.h"
#include "wire/bytes.h"

#define LOCAL 0xC6120001u
#define PEER 0xC6120002u

static void sink(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)pkt;
	(void)len;
}

/* Make the datagram look plausible: our addresses, right lengths and
 * checksums, so that the interesting code runs. */
static void fixup(uint8_t *d, size_t len, bool addrs)
{
	if (len < 20)
		return;
	size_t ihl = (size_t)(d[0] & 15) * 4;
	d[0] = (uint8_t)(0x40 | (d[0] & 15));
	if (ihl < 20 || ihl > len)
		return;
	put16(d + 2, (uint16_t)len);
	d[6] &= 0x40; /* no fragments */
	d[7] = 0;
	d[9] = 6;
	if (addrs) {
		put32(d + 12, PEER);
		put32(d + 16, LOCAL);
	}
	d[10] = d[11] = 0;
	put16(d + 10, inet_fold(inet_sum(d, ihl, 0)));
	if (len - ihl >= 20) {
		uint8_t *t = d + ihl;
		size_t tl = len - ihl;
		t[16] = t[17] = 0;
		uint32_t src = (uint32_t)d[12] << 24 | (uint32_t)d[13] << 16 | (uint32_t)d[14] << 8 | d[15];
		uint32_t dst = (uint32_t)d[16] << 24 | (uint32_t)d[17] << 16 | (uint32_t)d[18] << 8 | d[19];
		uint32_t sum = inet_pseudo_sum(src, dst, 6, (uint16_t)tl);
		put16(t + 16, inet_fold(inet_sum(t, tl, sum)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct synfin_ops ops = {.output = sink};
	struct synfin_netif_ops nops = {.output = sink};
	struct synfin_config cfg;
	synfin_config_default(&cfg);
	cfg.max_syn_backlog = 4; /* reach the SYN cookie path too */
	synfin_time_t now = 1000000;
	struct synfin_netif *nif = NULL;
	struct synfin_stack *st;
	uint8_t mac[6];
	bool frames = size > 0 && (data[0] & 1);
	if (size > 0) {
		data++;
		size--;
	}
	if (frames) {
		struct synfin_netif_config ncfg;
		synfin_netif_config_default(&ncfg);
		ncfg.ip = LOCAL;
		ncfg.prefix_len = 24;
		nif = synfin_netif_create(&ncfg, &cfg, &nops, 42, now);
		if (!nif)
			return 0;
		synfin_netif_mac(nif, mac);
		st = synfin_netif_stack(nif);
	} else {
		st = synfin_stack_create(&cfg, &ops, LOCAL, 42, now);
		if (!st)
			return 0;
	}
	int l = synfin_socket(st);
	synfin_bind(st, l, &(struct synfin_addr){0, 80});
	synfin_listen(st, l, 2);
	int c = synfin_socket(st);
	synfin_connect(st, c, &(struct synfin_addr){PEER, 9});
	static uint8_t buf[65536];
	size_t i = 0;
	while (i + 3 <= size) {
		uint8_t flags = data[i];
		size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
		i += 3;
		if (len > size - i)
			len = size - i;
		memcpy(buf, data + i, len);
		i += len;
		now += (synfin_time_t)(flags >> 2) * 50000;
		if (frames) {
			/* an Ethernet header to us; with bit 0, an IPv4 datagram
			 * behind it made plausible as above */
			if ((flags & 1) && len >= 14) {
				memcpy(buf, mac, 6);
				buf[12] = 0x08;
				buf[13] = (flags & 2) ? 0x00 : 0x06;
				if (buf[13] == 0x00)
					fixup(buf + 14, len - 14, true);
			}
			synfin_netif_input(nif, buf, len, now);
			synfin_netif_poll(nif, now);
		} else {
			if (flags & 1)
				fixup(buf, len, flags & 2);
			synfin_input(st, buf, len, now);
			synfin_poll(st, now);
		}
		int a = synfin_accept(st, l, NULL);
		if (a >= 0) {
			char rb[256];
			synfin_recv(st, a, rb, sizeof rb);
			synfin_send(st, a, "reply", 5);
			if (flags & 0x80)
				synfin_close(st, a);
		}
	}
	/* run every timer out: TIME_WAIT, keepalive, retransmissions */
	for (int k = 0; k < 64; k++) {
		synfin_time_t d = nif ? synfin_netif_next_deadline(nif) : synfin_next_deadline(st);
		if (d == SYNFIN_TIME_NEVER)
			break;
		now = d > now ? d : now + 1;
		if (nif)
			synfin_netif_poll(nif, now);
		else
			synfin_poll(st, now);
	}
	char table[4096];
	synfin_netstat(st, table, sizeof table);
	synfin_exit(st, 0);
	if (nif)
		synfin_netif_destroy(nif);
	else
		synfin_stack_destroy(st);
	return 0;
}
