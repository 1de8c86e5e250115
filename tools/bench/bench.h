/*
 * synfin-bench: shared declarations. The tool measures synfin against the
 * Linux kernel in the same run (main.c), synfin through two or more stacks
 * joined in one process by a zero-delay link (link.c, sf_bench.c), and
 * Linux over loopback (linux_bench.c).
 */
#ifndef SYNFIN_BENCH_H
#define SYNFIN_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synfin/synfin.h"

/* ---- clocks and small helpers (main.c) ---- */
double bench_now_s(void);   /* CLOCK_MONOTONIC, seconds */
double bench_rss_mib(void); /* resident set of this process, from /proc/self/statm */
void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double bench_median(double *v, size_t n); /* sorts v */

/* Connection cycles are timed in batches of about a millisecond on both
 * sides (synfin 1000 cycles, Linux 16). On this shared host a neighbour
 * takes half of the core for some milliseconds at a time, so a round's
 * batches come in two groups, undisturbed and about 2x slower
 * (docs/BENCHMARKS.md, "Noise"). A round's figure is its batch at this
 * quantile from the fast end, the undisturbed cost; its median batch is
 * reported beside it. */
#define CYCLE_QUANTILE 0.10
struct batch_times {
	double fast; /* seconds per cycle at CYCLE_QUANTILE from the fast end */
	double median;
	size_t batches;
};
/* v: seconds per cycle of each batch (sorted on return) */
void bench_batches(double *v, size_t n, struct batch_times *out);

/* ---- a size-class pool behind ops.alloc/free (link.c) ----
 * Objects up to 4 KiB come from free lists carved out of 4 MiB chunks, with
 * no per-object header; larger blocks from malloc, 1 MiB and up from mmap.
 * Destroying the pool returns everything to the system. */
struct pool;
struct pool *pool_create(void);
void pool_destroy(struct pool *p);

/* What one stack holds: bytes and objects asked for through ops.alloc and
 * not yet freed, by exact size for small objects. */
#define MEM_SMALL_MAX 4096
struct memacct {
	int64_t live_bytes;
	int64_t live_objs;
	int64_t large_bytes; /* objects above MEM_SMALL_MAX */
	int64_t large_objs;
	int64_t by_size[MEM_SMALL_MAX / 8 + 1]; /* live objects of each 8-byte class */
	uint64_t allocs, frees;
};

/* ---- the in-process network (link.c) ----
 * Stacks numbered 0..n-1 with addresses base+0..base+n-1. Each output
 * datagram is copied into a queue; net_drain() delivers queued datagrams to
 * the stack owning the destination address, never from inside ops.output.
 * The queue is double-buffered: while one generation is delivered, what the
 * stacks send goes into the other, so nothing moves under the reader. */
#define NET_MAX_STACKS 8
struct net;
struct net_node {
	struct net *net;
	int idx;
	struct memacct mem;
};
struct pktq {
	uint8_t *buf;
	size_t len, cap;
};
struct net {
	struct synfin_stack *st[NET_MAX_STACKS];
	struct net_node node[NET_MAX_STACKS];
	bool deliver[NET_MAX_STACKS]; /* false: datagrams to this stack are dropped */
	int n;
	uint32_t base_ip;
	struct pool *pool;
	struct pktq q[2];
	int out; /* queue that output appends to */
	synfin_time_t now;
	uint64_t pkts, bytes, dropped;
	bool refs; /* a segment went by reference since the last release */
};

#define NET_BASE_IP 0xc6120001u /* 198.18.0.1 */
#define NET_T0 SYNFIN_SEC(1)

/* cfg[i] for stack i (NULL: defaults). Returns NULL on failure. */
struct net *net_create(int n, const struct synfin_config *const *cfg, uint64_t seed);
/* drop: free the pool without synfin_stack_destroy() (large populations) */
void net_destroy(struct net *net, bool drop);
/* Deliver until no datagram is queued; false if the bound was hit. */
bool net_drain(struct net *net);
/* Move the clock to t, run every timer due on every stack, deliver. */
bool net_advance(struct net *net, synfin_time_t t);
/* A datagram built outside any stack (raw SYNs), queued like output. */
void net_inject(struct net *net, const uint8_t *pkt, size_t len);
static inline uint32_t net_ip(const struct net *net, int i)
{
	return net->base_ip + (uint32_t)i;
}

/* ---- synfin measurements (sf_bench.c) ---- */
/* A cycle moves the virtual clock by 2MSL/TW_LIVE: about TW_LIVE TIME_WAIT
 * records are alive once TW_WARMUP_CYCLES have run. */
#define TW_LIVE 4096
/* the cycle figures: each side's median of this many rounds (odd: the
 * median is a round's own figure) */
#define CYCLE_ROUNDS 5
_Static_assert(CYCLE_ROUNDS % 2 == 1, "an odd number of rounds");
#define TW_WARMUP_CYCLES (TW_LIVE + 2000)
#define CG_WARMUP 5000 /* callgrind: cycles before the counted ones */
#define CG_CYCLES 2000
#define BULK_BUF (256u << 10) /* send and receive buffers of the bulk connection */
#define BULK_COPIES 3         /* memcpy passes over each byte of a bulk transfer */
struct sf_cycles {
	double cycles_per_s;        /* at the CYCLE_QUANTILE batch */
	double cycles_per_s_median; /* at the median batch */
	double ns_per_cycle;        /* at the CYCLE_QUANTILE batch */
	size_t batches;
	uint64_t cycles;       /* timed */
	uint64_t warmup;
	double pkts_per_cycle;
};
/* The connection cycle between two fresh stacks. min_s: timed seconds. */
int sf_measure_cycles(double min_s, uint64_t warmup, struct sf_cycles *out);
/* Exactly `warmup` + `count` cycles, untimed: what callgrind runs. */
int sf_run_cycles_fixed(uint64_t warmup, uint64_t count);

struct sf_bulk {
	double mib_per_s;
	uint64_t bytes;
	double seconds;
	uint32_t mtu, buf;
	uint64_t segments;
	uint64_t stalls;
};
/* The first and last byte of every read are checked against the stream;
 * with check_all, every byte (untimed use only). */
int sf_measure_bulk(uint64_t bytes, uint32_t mtu, uint32_t buf, bool check_all, struct sf_bulk *out);

struct sf_memory {
	uint32_t n_conn, n_buf, n_tw, n_syn;
	double conn_server, conn_client;     /* established idle, no buffers */
	double conn_buffers;                 /* after a 64-byte exchange, both ways */
	double time_wait;
	double syn_rcvd;
	double syn_cookie;
	/* the largest contributors, for the report */
	char conn_detail[256], tw_detail[256], syn_detail[256];
};
int sf_measure_memory(uint32_t n, uint32_t n_buf, struct sf_memory *out);

struct sf_scale {
	uint32_t connections;
	double ns_per_cycle;
	double ns_per_timer_event;
	double rss_mib;
	double build_s;
	uint64_t timer_events;
	uint64_t cycles;
	/* paired: batches alternated with a population of ref_connections */
	uint32_t ref_connections;
	double ref_ns_per_cycle; /* the reference's median batch */
	double paired_ratio;     /* the median over pairs of (this batch / the reference's next) */
};
#define SCALE_REF 1000 /* the smallest population, which the others are paired with */
/* n connections; with ref_n < n, a population of ref_n is held beside it
 * and the cycle batches alternate between the two (0: no reference). */
int sf_measure_scale(uint32_t n, uint32_t ref_n, double min_cycle_s, struct sf_scale *out);

double sf_memcpy_gib_per_s(size_t block, size_t total);

/* ---- Linux measurements (linux_bench.c) ---- */
struct linux_results {
	int ok;                  /* 1 when the figures below were measured */
	double cycles_per_s;     /* at the CYCLE_QUANTILE batch */
	double cycles_per_s_median;
	size_t batches;
	uint64_t cycles;
	double bulk_mib_per_s;   /* one thread, both ends, one core */
	double bulk2_mib_per_s;  /* sender and receiver threads (two cores) */
	char err[200];
};
/* Runs in whatever network namespace the caller is in; the bulk figures
 * are the median of `reps` transfers (0: the cycles alone). */
void linux_measure(double cycle_s, uint64_t bulk_bytes, int reps, struct linux_results *out);

/* Object sizes from /proc/slabinfo, or -1 where unreadable. */
struct linux_slab {
	double tcp, tw, req;
};
void linux_slab_sizes(struct linux_slab *out);

#endif
