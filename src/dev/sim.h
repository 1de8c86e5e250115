/*
 * The simulated network: hosts, each with its own synfin stack and IPv4
 * address, joined by links with delay, jitter, loss, duplication,
 * reordering, corruption and an MTU. One virtual clock and one event queue;
 * every random choice comes from the seed, so a run replays exactly.
 *
 * The simulator is a driver: it owns the clock, delivers datagrams with
 * synfin_input() and runs timers with synfin_poll(), jumping the clock
 * straight to the next event or deadline. Nothing sleeps.
 */
#ifndef SYNFIN_SIM_H
#define SYNFIN_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "synfin/synfin.h"

struct sim;
struct sim_host;

/*
 * A link, the same in both directions; each direction has its own
 * transmitter, queue and loss state. A datagram sent on a link with a rate
 * waits in the direction's queue (first in, first out) until the datagrams
 * ahead of it have been transmitted, takes len*8/rate_bps seconds to
 * transmit, then travels `delay` (+ jitter): it arrives at
 *   max(now, end of the previous transmission) + len*8/rate + delay + jitter.
 * Without a rate (0) transmission takes no time and nothing ever waits, so
 * the queue never fills. Pairs of hosts without a link of their own share
 * the default link's settings, each pair with its own transmitters.
 */
struct sim_link {
	synfin_time_t delay;  /* one-way propagation delay */
	synfin_time_t jitter; /* extra delay, uniform in [0, jitter] */
	double loss;          /* probability a datagram is dropped */
	double dup;           /* probability a datagram is delivered twice */
	double reorder;       /* probability a datagram is held back (delay*2+1ms extra) */
	double corrupt;       /* probability one random bit is flipped */
	uint32_t mtu;         /* larger datagrams are dropped; 0 = no limit */
	bool up;              /* false: the cable is unplugged, everything is lost */
	uint64_t rate_bps;    /* bits per second of each direction; 0 = infinite */
	/* drop-tail: a datagram that finds this many datagrams waiting for
	 * transmission (the one being transmitted not counted) is dropped;
	 * 0 = unlimited */
	uint32_t queue_pkts;
	/* bursty loss, Gilbert-Elliott: each direction is in a good state
	 * (nothing lost) or a bad one (everything lost); before each datagram
	 * it moves good -> bad with probability ge_p, bad -> good with ge_r.
	 * The long-run loss is ge_p / (ge_p + ge_r), the mean burst 1 / ge_r
	 * datagrams. ge_p = 0: off (a direction starts good). */
	double ge_p, ge_r;
};
/* defaults: delay 1 ms, nothing else, mtu 1500, up, infinite rate */
void sim_link_default(struct sim_link *l);

/* What happened to a datagram, for the trace and for drop filters. */
enum sim_fate {
	SIM_DELIVERED,
	SIM_LOST,
	SIM_DROPPED_FILTER,
	SIM_UNPLUGGED,
	SIM_TOO_BIG,
	SIM_NO_HOST,
	SIM_HOST_DOWN,
	SIM_QUEUE_DROP /* the direction's queue was full */
};

/* A scenario's own drop rule, asked for each datagram a host sends before
 * the random faults; return true to drop it. */
typedef bool (*sim_filter_fn)(void *ctx, const struct sim_host *from, const uint8_t *pkt, size_t len);

/* Trace options */
#define SIM_TRACE_SEGMENTS 0x1 /* every datagram sent, in tcpdump form */
#define SIM_TRACE_STATES 0x2   /* every state change */
#define SIM_TRACE_DROPS 0x4    /* note lost / filtered datagrams */

struct sim *sim_create(uint64_t seed, const struct synfin_config *cfg);
void sim_destroy(struct sim *s);

/* The default link between every pair of hosts (applies to pairs without a
 * link of their own), and a link for one pair (both directions). */
void sim_set_default_link(struct sim *s, const struct sim_link *l);
void sim_set_link(struct sim *s, struct sim_host *a, struct sim_host *b, const struct sim_link *l);
/* Unplug / plug the cable of a host: all its traffic is lost while unplugged. */
void sim_unplug(struct sim_host *h);
void sim_plug(struct sim_host *h);

/* Hosts. The config is the sim's unless one is given. */
struct sim_host *sim_add_host(struct sim *s, const char *name, uint32_t ip,
			      const struct synfin_config *cfg);
struct synfin_stack *sim_stack(struct sim_host *h);
const char *sim_host_name(const struct sim_host *h);
uint32_t sim_host_ip(const struct sim_host *h);
/* Crash: the stack and all its TCP state vanish at once (nothing is sent);
 * the host is down and drops what arrives. Reboot: a fresh stack (new
 * secret) starts at the current time. */
void sim_crash(struct sim_host *h);
void sim_reboot(struct sim_host *h);
bool sim_host_up(const struct sim_host *h);

/* Virtual time. */
synfin_time_t sim_now(const struct sim *s);
/* Process events (deliveries, timers) in order until the clock reaches t;
 * the clock ends at t. */
void sim_run_until(struct sim *s, synfin_time_t t);
void sim_run_for(struct sim *s, synfin_time_t d);
/* Run until cond(ctx) is true (checked after every event) or the clock
 * reaches `limit`; returns whether cond held. */
bool sim_run_until_cond(struct sim *s, bool (*cond)(void *ctx), void *ctx, synfin_time_t limit);

void sim_set_filter(struct sim *s, sim_filter_fn fn, void *ctx);
/* Trace to `out` (NULL: off). Lines: "<time> IP ..." for segments (as the
 * wire printer makes them, "  [lost]" etc. appended for drops), and
 * "<time> <host> <local> > <remote> OLD -> NEW (cause)" for state changes. */
void sim_set_trace(struct sim *s, FILE *out, unsigned flags);
/* Also write every datagram put on a link to a pcap file (LINKTYPE_RAW).
 * Returns 0 or -errno. */
int sim_set_pcap(struct sim *s, const char *path);

/* A user callback for each state change (after tracing). */
typedef void (*sim_state_fn)(void *ctx, struct sim_host *h, const struct synfin_state_event *ev);
void sim_set_state_hook(struct sim *s, sim_state_fn fn, void *ctx);

/* Counts of datagrams by fate, and all datagrams sent. `lost` includes the
 * bursty losses, also counted apart in `burst_lost`. */
struct sim_counts {
	uint64_t sent, delivered, lost, filtered, unplugged, too_big, no_host, host_down, duplicated, reordered, corrupted;
	uint64_t queue_drops, burst_lost;
};
const struct sim_counts *sim_get_counts(const struct sim *s);

/* Put a datagram on the wire from `from` as if its stack had sent it: the
 * filter, the link and its faults apply (crafted traffic, tests). Not from
 * inside the simulator's callbacks (filter, state hook). */
void sim_inject(struct sim_host *from, const uint8_t *pkt, size_t len);

/* The simulator's seeded random generator, for scenarios. */
uint64_t sim_rand(struct sim *s);

#endif
