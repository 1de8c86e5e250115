/*
 * The driver loop for one netif on one TAP device: the real-time
 * counterpart of the simulator. It owns the clock (CLOCK_MONOTONIC in
 * microseconds, handed to the core), sleeps in poll() exactly until the
 * netif's next deadline or until a descriptor is ready, feeds every frame
 * that arrived to synfin_netif_input() and then runs synfin_netif_poll().
 *
 * Frames going out take the opposite path: give dev_loop_output() and the
 * loop to the netif as its output callback and context. Both directions
 * pass the hooks (pcap, trace, on_frame) with their time.
 *
 *   struct dev_loop l;
 *   dev_loop_init(&l, &tap);
 *   l.trace = stderr;                         // optional hooks
 *   struct synfin_netif_ops ops = {.ctx = &l, .output = dev_loop_output};
 *   l.nif = synfin_netif_create(&cfg, NULL, &ops, seed, dev_loop_now(&l));
 *   while (!done)
 *           dev_loop_run_once(&l, fds, nfds, SYNFIN_TIME_NEVER);
 */
#ifndef SYNFIN_DEV_LOOP_H
#define SYNFIN_DEV_LOOP_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dev/pcap.h"
#include "dev/tap.h"
#include "synfin/netif.h"
#include "wire/wire.h"

#define DEV_LOOP_BURST 256 /* frames read per pass at most; the rest wait for the next */

struct dev_loop {
	/* set by dev_loop_init() */
	struct tap_dev *tap;
	/* the caller sets these */
	struct synfin_netif *nif;       /* before the first dev_loop_run_once() */
	struct pcap_writer *pcap;       /* NULL: none; opened with PCAP_LINKTYPE_ETHERNET */
	FILE *trace;                    /* NULL: none; one tcpdump-style line per frame */
	/* Called for every frame, in (out false) and out, after pcap and trace. */
	void (*on_frame)(void *ctx, bool out, const uint8_t *frame, size_t len, synfin_time_t now);
	void *ctx;
	/* Signals to let through while poll() sleeps (ppoll): block them
	 * otherwise, so that one arriving between the caller's check of its
	 * flag and the sleep still interrupts the sleep. NULL: plain poll. */
	const sigset_t *sleep_sigmask;

	/* read-only for the caller */
	synfin_time_t t0;         /* clock at init: trace times count from here */
	uint64_t wall0_us;        /* wall clock at t0, for the pcap time stamps */
	uint64_t frames_in, frames_out;
	uint64_t tx_errors;       /* frames the TAP refused */
	int last_tx_error;        /* its errno */
	struct wire_printer printer;
	uint8_t frame[TAP_FRAME_MAX];
};

/* The monotonic clock in microseconds. */
synfin_time_t dev_clock_now(void);

void dev_loop_init(struct dev_loop *l, struct tap_dev *tap);
static inline synfin_time_t dev_loop_now(const struct dev_loop *l)
{
	(void)l;
	return dev_clock_now();
}

/* synfin_netif_ops.output: ctx is the struct dev_loop. */
void dev_loop_output(void *ctx, const uint8_t *frame, size_t len);

/* Milliseconds poll() should sleep from `now` to `deadline`, rounded up so
 * that we never wake before it; -1 for SYNFIN_TIME_NEVER. */
int dev_loop_timeout_ms(synfin_time_t now, synfin_time_t deadline);

/* One pass: run due timers, sleep until the netif's next deadline, `until`
 * (an absolute time of the caller's own, or SYNFIN_TIME_NEVER) or until the
 * TAP or one of `fds` is ready, then feed the frames and run the timers.
 * The revents of `fds` are filled. Returns how many of `fds` are ready (0
 * on a timeout or a signal), or -errno if the TAP failed. */
int dev_loop_run_once(struct dev_loop *l, struct pollfd *fds, size_t nfds, synfin_time_t until);

/* Format one Ethernet frame as a tcpdump line (no newline): IPv4 through
 * wire_print(), "ARP, Request who-has A tell B", "ARP, Reply A is-at MAC",
 * anything else by its ethertype. Returns the length like snprintf. */
size_t dev_frame_print(char *buf, size_t cap, struct wire_printer *p, const uint8_t *frame,
		       size_t len, synfin_time_t t);

#endif
