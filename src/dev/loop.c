/*
 * The TAP driver loop. Like libuv's, it reads the clock once per pass and
 * lets the stack's next deadline set the poll timeout; the core itself
 * never sees a clock or a descriptor.
 */
#define _GNU_SOURCE /* ppoll */

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "dev/loop.h"
#include "wire/bytes.h"

#define ETH_HLEN_ 14
#define ETHERTYPE_IP_ 0x0800
#define ETHERTYPE_ARP_ 0x0806
#define ETHERTYPE_IPV6_ 0x86dd
#define ETHERTYPE_VLAN_ 0x8100
#define ARP_LEN_ 28 /* Ethernet/IPv4 ARP */
#define DEV_LOOP_MAX_FDS 16

synfin_time_t dev_clock_now(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (synfin_time_t)ts.tv_sec * SYNFIN_US_PER_S + (synfin_time_t)ts.tv_nsec / 1000u;
}

static uint64_t wall_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * SYNFIN_US_PER_S + (uint64_t)ts.tv_nsec / 1000u;
}

void dev_loop_init(struct dev_loop *l, struct tap_dev *tap)
{
	memset(l, 0, sizeof *l);
	l->tap = tap;
	l->t0 = dev_clock_now();
	l->wall0_us = wall_now_us();
	wire_printer_init(&l->printer);
}

/* ---- the tcpdump-style frame printer ---- */

/* snprintf-like accumulation, as in wire/print.c: keeps counting past a
 * full buffer so the caller learns the length it would have needed. */
struct out {
	char *buf;
	size_t cap;
	size_t n;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(o->n < o->cap ? o->buf + o->n : NULL, o->n < o->cap ? o->cap - o->n : 0,
		      fmt, ap);
	va_end(ap);
	if (r > 0)
		o->n += (size_t)r;
}

static void print_time(struct out *o, synfin_time_t t)
{
	out_printf(o, "%llu.%06llu", (unsigned long long)(t / SYNFIN_US_PER_S),
		   (unsigned long long)(t % SYNFIN_US_PER_S));
}

static void print_arp(struct out *o, const uint8_t *a, size_t len)
{
	char s[16], t[16];

	if (len < ARP_LEN_ || get16(a) != 1 || get16(a + 2) != ETHERTYPE_IP_ || a[4] != 6 ||
	    a[5] != 4) {
		out_printf(o, " ARP, [unsupported], length %zu", len);
		return;
	}
	uint16_t op = get16(a + 6);
	const uint8_t *sha = a + 8;
	uint32_t spa = get32(a + 14), tpa = get32(a + 24);
	if (op == 1)
		out_printf(o, " ARP, Request who-has %s tell %s", synfin_ip_str(tpa, t),
			   synfin_ip_str(spa, s));
	else if (op == 2)
		out_printf(o, " ARP, Reply %s is-at %02x:%02x:%02x:%02x:%02x:%02x",
			   synfin_ip_str(spa, s), sha[0], sha[1], sha[2], sha[3], sha[4], sha[5]);
	else
		out_printf(o, " ARP, opcode %u, length %zu", (unsigned)op, len);
}

/* tcpdump's words for the ICMP messages one meets while testing a stack */
static void print_icmp(struct out *o, const struct ip4_view *ip)
{
	char s[16], d[16];
	const uint8_t *p = ip->payload;
	size_t len = ip->payload_len;

	out_printf(o, " IP %s > %s: ICMP", synfin_ip_str(ip->src, s), synfin_ip_str(ip->dst, d));
	if (len < 8)
		out_printf(o, " [truncated], length %zu", len);
	else if (p[0] == 8 || p[0] == 0)
		out_printf(o, " echo %s, id %u, seq %u, length %zu", p[0] == 8 ? "request" : "reply",
			   (unsigned)get16(p + 4), (unsigned)get16(p + 6), len);
	else if (p[0] == 3)
		out_printf(o, " unreachable (code %u), length %zu", (unsigned)p[1], len);
	else
		out_printf(o, " type %u code %u, length %zu", (unsigned)p[0], (unsigned)p[1], len);
}

size_t dev_frame_print(char *buf, size_t cap, struct wire_printer *p, const uint8_t *frame,
		       size_t len, synfin_time_t t)
{
	struct out o = {buf, cap, 0};

	if (cap > 0)
		buf[0] = '\0';
	if (len < ETH_HLEN_) {
		print_time(&o, t);
		out_printf(&o, " [truncated frame] length %zu", len);
		return o.n;
	}
	uint16_t type = get16(frame + 12);
	const uint8_t *pl = frame + ETH_HLEN_;
	size_t plen = len - ETH_HLEN_;

	if (type == ETHERTYPE_IP_) {
		struct ip4_view ip;

		if (ip4_parse(pl, plen, &ip) != WIRE_OK || ip.proto != IPPROTO_ICMP_)
			return wire_print(buf, cap, p, pl, plen, t);
		print_time(&o, t);
		print_icmp(&o, &ip);
		return o.n;
	}
	print_time(&o, t);
	if (type == ETHERTYPE_ARP_)
		print_arp(&o, pl, plen);
	else if (type == ETHERTYPE_IPV6_)
		out_printf(&o, " IP6, length %zu", plen);
	else if (type == ETHERTYPE_VLAN_)
		out_printf(&o, " 802.1Q, length %zu", plen);
	else
		out_printf(&o, " ethertype 0x%04x, length %zu", (unsigned)type, plen);
	return o.n;
}

/* ---- frames in and out ---- */

static void frame_hooks(struct dev_loop *l, bool out, const uint8_t *frame, size_t len,
			synfin_time_t now)
{
	if (l->pcap)
		pcap_write(l->pcap, l->wall0_us + (now - l->t0), frame, len);
	if (l->trace) {
		char line[512];
		size_t n = dev_frame_print(line, sizeof line, &l->printer, frame, len, now - l->t0);
		/* a line too long for the buffer is cut, not lost */
		fprintf(l->trace, "%s%s\n", line, n >= sizeof line ? "..." : "");
		fflush(l->trace);
	}
	if (l->on_frame)
		l->on_frame(l->ctx, out, frame, len, now);
}

void dev_loop_output(void *ctx, const uint8_t *frame, size_t len)
{
	struct dev_loop *l = ctx;
	/* the stack's own time would be as good; the clock keeps the pcap
	 * and trace stamps in the order frames really left */
	synfin_time_t now = dev_clock_now();
	int r;

	frame_hooks(l, true, frame, len, now);
	r = tap_write(l->tap, frame, len);
	if (r < 0) {
		l->tx_errors++;
		l->last_tx_error = -r;
		return;
	}
	l->frames_out++;
}

int dev_loop_timeout_ms(synfin_time_t now, synfin_time_t deadline)
{
	if (deadline == SYNFIN_TIME_NEVER)
		return -1;
	if (deadline <= now)
		return 0;
	synfin_time_t ms = (deadline - now + SYNFIN_US_PER_MS - 1) / SYNFIN_US_PER_MS;
	return ms > (synfin_time_t)INT_MAX ? INT_MAX : (int)ms;
}

/* Every frame waiting on the TAP, DEV_LOOP_BURST at most. Each is stamped
 * when read, so that the trace and the pcap stay in time order with the
 * frames its processing sends. */
static int read_frames(struct dev_loop *l)
{
	for (int i = 0; i < DEV_LOOP_BURST; i++) {
		long r = tap_read(l->tap, l->frame, sizeof l->frame);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return (int)r;
		synfin_time_t now = dev_clock_now();
		l->frames_in++;
		frame_hooks(l, false, l->frame, (size_t)r, now);
		synfin_netif_input(l->nif, l->frame, (size_t)r, now);
	}
	return 0;
}

int dev_loop_run_once(struct dev_loop *l, struct pollfd *fds, size_t nfds, synfin_time_t until)
{
	struct pollfd pfd[DEV_LOOP_MAX_FDS + 1];
	synfin_time_t now = dev_clock_now();
	int r, ready = 0;

	if (nfds > DEV_LOOP_MAX_FDS)
		return -EINVAL;
	/* Timers due while the caller was busy run before we sleep: they may
	 * send, and they move the next deadline. */
	synfin_netif_poll(l->nif, now);

	synfin_time_t deadline = synfin_netif_next_deadline(l->nif);
	if (until < deadline)
		deadline = until;
	int timeout = dev_loop_timeout_ms(now, deadline);

	pfd[0].fd = l->tap->fd;
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	for (size_t i = 0; i < nfds; i++) {
		pfd[i + 1] = fds[i];
		pfd[i + 1].revents = 0;
	}
	if (l->sleep_sigmask) {
		struct timespec ts, *tsp = NULL;
		if (timeout >= 0) {
			ts.tv_sec = timeout / 1000;
			ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
			tsp = &ts;
		}
		r = ppoll(pfd, (nfds_t)(nfds + 1), tsp, l->sleep_sigmask);
	} else {
		r = poll(pfd, (nfds_t)(nfds + 1), timeout);
	}
	if (r < 0 && errno != EINTR)
		return -errno;

	if (r > 0) {
		for (size_t i = 0; i < nfds; i++) {
			fds[i].revents = pfd[i + 1].revents;
			if (fds[i].revents)
				ready++;
		}
		if (pfd[0].revents & (POLLERR | POLLNVAL))
			return pfd[0].revents & POLLNVAL ? -EBADF : -EIO;
		if (pfd[0].revents & POLLIN) {
			int e = read_frames(l);
			if (e < 0)
				return e;
		}
	} else {
		for (size_t i = 0; i < nfds; i++)
			fds[i].revents = 0;
	}
	synfin_netif_poll(l->nif, dev_clock_now());
	return ready;
}
