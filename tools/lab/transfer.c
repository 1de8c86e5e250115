/*
 * synfin-lab transfer: bulk data through a bottleneck, measured.
 *
 * Two simulated hosts joined by one link with a rate, a drop-tail queue
 * and loss (random, bursty or the Nth data segment); N connections from
 * the sender host to the receiver host share it. Each sender writes its
 * bytes as fast as its window lets it, each receiver reads everything and
 * checks every byte against a pattern derived from the offset. Then:
 * goodput (bits read by the receivers / time from the first SYN to the
 * last byte read), utilisation of the link, retransmissions.
 *
 * How it runs: the applications live in the simulator's condition
 * callback, which the simulator calls after every event (a delivery or a
 * round of timers), so a sender refills its buffer at the very instant an
 * ACK makes room and a receiver reads at the instant data arrives. The
 * filter, which sees every datagram sent, records what flow 1 sends and
 * what it gets acknowledged for the plot, and drops the Nth data segment
 * when asked. Nothing is allocated per datagram here: the plot keeps at
 * most a fixed number of points (every k-th, k doubling when full).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dev/sim.h"
#include "lab.h"
#include "transfer.h"
#include "wire/wire.h"

#define XF_SERVER_PORT 5001
#define XF_CLIENT_PORT0 40001 /* flow i connects from 40001 + i */
#define XF_MAX_FLOWS 64
/* asked for at most; the engine clamps to its own limit (64 MiB), and
 * what it granted is read back for the header */
#define XF_BUF_MAX (64u << 20)
#define XF_BUF_MIN (64u << 10)
#define XF_BUF_TOTAL (1ull << 30) /* all flows' buffers together, at most */
/* The data pattern: a fixed pseudo-random table of a prime length, so a
 * byte delivered at the wrong offset (by anything short of a multiple of
 * 65521, which no MSS, window or 2^32 wrap is) is caught. Stored twice
 * over so any run of up to XF_PAT bytes is one contiguous piece. */
#define XF_PAT 65521u
#define XF_RBUF (64u << 10)
/* points kept for the plot, at most */
#define XF_PTS_SENT 10000u
#define XF_PTS_REXMIT 4000u
#define XF_PTS_ACK 6000u

struct xf_opts {
	uint64_t rate_bps;
	synfin_time_t rtt;
	uint32_t queue;      /* packets; 0 unlimited */
	bool queue_set;
	uint64_t bytes;      /* per flow */
	double loss, ge_p, ge_r;
	unsigned flows;
	uint8_t cc;
	bool sack, reverse;
	uint64_t seed;
	const char *csv, *svg;
	uint32_t mtu;
	uint64_t drop_nth;   /* 0: none */
};

struct xf_flow {
	int sfd, rfd;          /* the sending and the receiving socket (-1 until known) */
	uint64_t sent, got;    /* bytes written by the sender, read by the receiver */
	synfin_time_t t_last;  /* when the last byte was read */
	bool shut;             /* all written, the send side shut down */
	bool eof, done, bad;
	uint64_t bad_off;      /* first byte that was wrong */
	char why[96];          /* what went wrong */
	struct synfin_tcp_info info; /* the sender's, at the end */
	bool have_info;
	uint64_t got_shared;   /* bytes read when the first flow finished */
};

/* Points of one series of the plot: every `stride`-th point offered is
 * kept; when full, every other kept point goes and the stride doubles. */
struct xf_pt {
	double t, y;
};
struct xf_series {
	struct xf_pt *p;
	uint32_t n, cap;
	uint64_t stride, offered;
};

struct xf {
	struct xf_opts o;
	struct sim *sim;
	struct sim_host *srv, *cli;  /* the listener's host and the connecting one */
	struct sim_host *tx, *rx;    /* the sender host and the receiver host */
	int lfd;
	int granted;                 /* the buffer size the engine took */
	struct xf_flow *flows;
	unsigned ndone;
	synfin_time_t t_first_done;  /* when the first flow finished (fairness window) */
	uint8_t *pat;                /* 2 * XF_PAT bytes */
	uint8_t *rbuf;               /* XF_RBUF bytes */
	bool fatal;
	char fatal_why[128];

	/* what the filter sees */
	uint64_t data_segs;          /* data segments the sender host sent */
	bool seen_syn;
	synfin_time_t t_first_syn;
	bool isn_known;              /* flow 1's sender ISN */
	uint32_t isn;
	uint64_t snd_max;            /* flow 1: highest byte offset sent + 1 */
	uint64_t ack_max;
	struct xf_series sent, rexmit, acks;
	uint64_t f1_segs, f1_rexmits;
};

/* ---- the command line ---- */

void transfer_usage(FILE *f)
{
	fprintf(f, "       synfin-lab transfer [--rate 1000mbit] [--rtt 100ms] [--queue PACKETS] [--bytes 1G]\n"
		   "                           [--loss P] [--burst-loss P,R] [--flows N] [--cc cubic|newreno]\n"
		   "                           [--no-sack] [--seed N] [--csv FILE] [--svg FILE] [--mtu N]\n"
		   "                           [--reverse] [--drop-nth N]\n");
}

static void transfer_help(FILE *f)
{
	fprintf(f, "usage: synfin-lab transfer [options]\n");
	fprintf(f, "Bulk data from a sender host to a receiver host through one simulated\n"
		   "bottleneck; every byte is checked. The last line is\n"
		   "  goodput MBIT mbit/s utilisation PCT%% retransmits N\n"
		   "options:\n"
		   "  --rate R        link rate, each direction: 100mbit, 1gbit, 512kbit (default 1000mbit)\n"
		   "  --rtt T         round trip time, twice the one-way delay: 100ms, 0.1s, 500us (default 100ms)\n"
		   "  --queue N       drop-tail queue of each direction, packets (default one BDP, at least 16; 0 unlimited)\n"
		   "  --bytes B       bytes per flow, k/m/g binary suffixes (default 1G)\n"
		   "  --loss P        random loss probability, both directions\n"
		   "  --burst-loss P,R  Gilbert-Elliott loss: good->bad P, bad->good R (loss P/(P+R), bursts 1/R)\n"
		   "  --flows N       connections sharing the link, 1..%d (default 1)\n"
		   "  --cc ALG        cubic or newreno (default cubic)\n"
		   "  --no-sack       do not offer SACK\n"
		   "  --seed N        simulator seed (default 1)\n"
		   "  --csv FILE      flow 1's cwnd, ssthresh, srtt, rto, flight, delivered every max(1 ms, rtt/8)\n"
		   "  --svg FILE      flow 1's time-sequence plot\n"
		   "  --mtu N         link and interface MTU (default 1500)\n"
		   "  --reverse       the accepting host sends (default: the connecting host sends)\n"
		   "  --drop-nth N    drop the Nth data segment the sender host sends, once\n",
		XF_MAX_FLOWS);
}

static int xf_bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "synfin-lab transfer: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	fprintf(stderr, "usage:");
	transfer_usage(stderr);
	return 2;
}

static bool lower_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char c = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
		if (c != *b)
			return false;
	}
	return *a == *b;
}

static bool xf_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

/* "16M", "1G", "512k", "1000": binary multiples; "1GiB" and "1GB" too. */
static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	unsigned shift = 0;
	if (*end) {
		const char *units = "kmgt", *u = strchr(units, *end | 0x20);
		if (!u)
			return false;
		shift = 10 * (unsigned)(u - units + 1);
	}
	if (shift && *++end && strcmp(end, "iB") && strcmp(end, "B") && strcmp(end, "b"))
		return false;
	if (v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

/* "100mbit", "1gbit", "1.5gbit", "512kbit", "64000" (bit/s); decimal. */
static bool parse_rate(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {
		{"", 1},         {"bit", 1},      {"bps", 1},      {"k", 1e3},  {"kbit", 1e3},
		{"kbps", 1e3},   {"m", 1e6},      {"mbit", 1e6},   {"mbps", 1e6}, {"g", 1e9},
		{"gbit", 1e9},   {"gbps", 1e9},
	};
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v > 0))
		return false;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (!lower_eq(end, units[i].unit))
			continue;
		double bps = v * units[i].mult;
		if (!(bps >= 1 && bps <= 1e13))
			return false;
		*out = (uint64_t)(bps + 0.5);
		return true;
	}
	return false;
}

/* "100ms", "0.1s", "500us", "100" (ms). */
static bool parse_time(const char *s, synfin_time_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	double us;
	if (errno || end == s || !(v >= 0))
		return false;
	if (!*end || lower_eq(end, "ms"))
		us = v * 1e3;
	else if (lower_eq(end, "s"))
		us = v * 1e6;
	else if (lower_eq(end, "us"))
		us = v;
	else
		return false;
	if (!(us <= 1e9)) /* 1000 s */
		return false;
	*out = (synfin_time_t)(us + 0.5);
	return true;
}

static bool parse_burst(const char *s, double *p, double *r)
{
	char buf[64];
	const char *comma = strchr(s, ',');
	if (!comma || (size_t)(comma - s) >= sizeof buf)
		return false;
	memcpy(buf, s, (size_t)(comma - s));
	buf[comma - s] = 0;
	return lab_parse_prob(buf, p) && lab_parse_prob(comma + 1, r) && !(*p > 0 && *r == 0);
}

static int parse_args(int argc, char **argv, struct xf_opts *o)
{
	*o = (struct xf_opts){
		.rate_bps = 1000000000ull,
		.rtt = SYNFIN_MS(100),
		.bytes = 1ull << 30,
		.flows = 1,
		.cc = SYNFIN_CC_CUBIC,
		.sack = true,
		.seed = 1,
		.mtu = 1500,
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			transfer_help(stdout);
			return 0;
		}
		if (!strcmp(a, "--no-sack")) {
			o->sack = false;
			continue;
		}
		if (!strcmp(a, "--reverse")) {
			o->reverse = true;
			continue;
		}
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return xf_bad("option '%s' needs a value", a);
		i++;
		if (!strcmp(a, "--rate")) {
			if (!parse_rate(v, &o->rate_bps))
				return xf_bad("--rate wants a rate like 100mbit or 1gbit (1 bit/s .. 10 Tbit/s), not '%s'", v);
		} else if (!strcmp(a, "--rtt")) {
			if (!parse_time(v, &o->rtt))
				return xf_bad("--rtt wants a time like 100ms, 0.1s or 500us (at most 1000 s), not '%s'", v);
		} else if (!strcmp(a, "--queue")) {
			uint64_t q;
			if (!xf_parse_u64(v, &q) || q > UINT32_MAX)
				return xf_bad("--queue wants a number of packets (0: unlimited), not '%s'", v);
			o->queue = (uint32_t)q;
			o->queue_set = true;
		} else if (!strcmp(a, "--bytes")) {
			if (!parse_size(v, &o->bytes) || o->bytes == 0 || o->bytes > (1ull << 50))
				return xf_bad("--bytes wants a size like 16M or 1G (1 byte .. 1P), not '%s'", v);
		} else if (!strcmp(a, "--loss")) {
			if (!lab_parse_prob(v, &o->loss) || o->loss >= 1.0)
				return xf_bad("--loss wants a probability from 0 to below 1, not '%s'", v);
		} else if (!strcmp(a, "--burst-loss")) {
			if (!parse_burst(v, &o->ge_p, &o->ge_r))
				return xf_bad("--burst-loss wants P,R: two probabilities, R above 0 (e.g. 0.01,0.3), not '%s'", v);
		} else if (!strcmp(a, "--flows")) {
			uint64_t n;
			if (!xf_parse_u64(v, &n) || n < 1 || n > XF_MAX_FLOWS)
				return xf_bad("--flows wants 1 to 64, not '%s'", v);
			o->flows = (unsigned)n;
		} else if (!strcmp(a, "--cc")) {
			if (!strcmp(v, "cubic"))
				o->cc = SYNFIN_CC_CUBIC;
			else if (!strcmp(v, "newreno") || !strcmp(v, "reno"))
				o->cc = SYNFIN_CC_NEWRENO;
			else
				return xf_bad("--cc wants cubic or newreno, not '%s'", v);
		} else if (!strcmp(a, "--seed")) {
			if (!xf_parse_u64(v, &o->seed))
				return xf_bad("--seed wants a non-negative integer, not '%s'", v);
		} else if (!strcmp(a, "--csv")) {
			o->csv = v;
		} else if (!strcmp(a, "--svg")) {
			o->svg = v;
		} else if (!strcmp(a, "--mtu")) {
			uint64_t m;
			if (!xf_parse_u64(v, &m) || m < 576 || m > 65535)
				return xf_bad("--mtu wants 576 to 65535, not '%s'", v);
			o->mtu = (uint32_t)m;
		} else if (!strcmp(a, "--drop-nth")) {
			if (!xf_parse_u64(v, &o->drop_nth) || o->drop_nth == 0)
				return xf_bad("--drop-nth wants a positive integer, not '%s'", v);
		} else {
			return xf_bad("unknown option '%s'", a);
		}
	}
	return -1;
}

/* ---- derived sizes ---- */

static uint64_t xf_bdp(const struct xf_opts *o)
{
	return (uint64_t)((double)o->rate_bps * (double)o->rtt / 8e6);
}

static uint32_t xf_queue(const struct xf_opts *o)
{
	if (o->queue_set)
		return o->queue;
	uint64_t q = (xf_bdp(o) + o->mtu - 1) / o->mtu;
	return q < 16 ? 16 : q > UINT32_MAX ? UINT32_MAX : (uint32_t)q;
}

/* Buffers of at least two BDP so that one flow can fill a long fat link,
 * within the engine's limit and a memory budget for many flows. */
static uint32_t xf_buffer(const struct xf_opts *o)
{
	uint64_t b = 2 * xf_bdp(o);
	uint64_t budget = XF_BUF_TOTAL / (2 * o->flows);
	if (b < XF_BUF_MIN)
		b = XF_BUF_MIN;
	if (b > budget)
		b = budget;
	return b > XF_BUF_MAX ? XF_BUF_MAX : (uint32_t)b;
}

/* the maximum time the transfer may take before it is a stall */
static synfin_time_t xf_limit(const struct xf_opts *o)
{
	double ideal_s = (double)o->bytes * o->flows * 8.0 / (double)o->rate_bps;
	/* With loss the rate a Reno-like sender can keep is far below the
	 * link's: Padhye et al.'s model (timeouts included, T0 = 1 s, an ACK
	 * per two segments), with the loss of both directions and the average
	 * of a bursty pattern, bounds the expected time; the limit allows
	 * five times that. */
	double p = o->loss;
	if (o->ge_p > 0)
		p += o->ge_p / (o->ge_p + o->ge_r);
	p = 1 - (1 - p) * (1 - p); /* a segment or its ACK */
	if (p > 0) {
		double rtt = (double)o->rtt / 1e6 + 0.001, b = 2;
		double t0 = 1.0 + 4 * rtt;
		double q = 3 * sqrt(3 * b * p / 8);
		double per_seg = rtt * sqrt(2 * b * p / 3) + t0 * (q < 1 ? q : 1) * p * (1 + 32 * p * p);
		double segs = (double)o->bytes * o->flows / 1448.0;
		ideal_s += 5 * segs * per_seg;
	}
	double s = 20.0 * (ideal_s + 10.0 * (double)o->rtt / 1e6) + 60.0;
	return s > 1e7 ? SYNFIN_SEC(10000000) : (synfin_time_t)(s * 1e6);
}

static const char *fmt_bytes(char *buf, size_t cap, uint64_t b)
{
	if (b >= (1ull << 30) && b % (1ull << 30) == 0)
		snprintf(buf, cap, "%" PRIu64 " GiB", b >> 30);
	else if (b >= (1ull << 20) && b % (1ull << 20) == 0)
		snprintf(buf, cap, "%" PRIu64 " MiB", b >> 20);
	else if (b >= (1ull << 10) && b % (1ull << 10) == 0)
		snprintf(buf, cap, "%" PRIu64 " KiB", b >> 10);
	else
		snprintf(buf, cap, "%" PRIu64 " bytes", b);
	return buf;
}

static const char *fmt_rate(char *buf, size_t cap, uint64_t bps)
{
	if (bps >= 1000000000ull && bps % 1000000000ull == 0)
		snprintf(buf, cap, "%" PRIu64 " gbit/s", (uint64_t)(bps / 1000000000u));
	else if (bps >= 1000000ull)
		snprintf(buf, cap, "%g mbit/s", (double)bps / 1e6);
	else
		snprintf(buf, cap, "%g kbit/s", (double)bps / 1e3);
	return buf;
}

/* One line naming every parameter: the header and the plot's title. */
static void describe(const struct xf *x, char *buf, size_t cap)
{
	const struct xf_opts *o = &x->o;
	char b1[32], b2[32], loss[64];
	uint32_t q = xf_queue(o);
	if (o->ge_p > 0)
		snprintf(loss, sizeof loss, "burst loss %g,%g", o->ge_p, o->ge_r);
	else
		snprintf(loss, sizeof loss, "loss %g", o->loss);
	if (o->ge_p > 0 && o->loss > 0)
		snprintf(loss + strlen(loss), sizeof loss - strlen(loss), " + %g", o->loss);
	char qs[32];
	if (q)
		snprintf(qs, sizeof qs, "%" PRIu32 " pkts", q);
	else
		snprintf(qs, sizeof qs, "unlimited");
	snprintf(buf, cap, "%u flow%s x %s, %s, rtt %g ms, queue %s, %s, %s, %s, mtu %" PRIu32 "%s, seed %" PRIu64,
		 o->flows, o->flows == 1 ? "" : "s", fmt_bytes(b1, sizeof b1, o->bytes),
		 fmt_rate(b2, sizeof b2, o->rate_bps), (double)o->rtt / 1e3, qs,
		 o->cc == SYNFIN_CC_NEWRENO ? "newreno" : "cubic", o->sack ? "sack" : "no sack", loss, o->mtu,
		 o->reverse ? ", reverse" : "", o->seed);
	if (o->drop_nth) {
		size_t n = strlen(buf);
		snprintf(buf + n, cap - n, ", drop data segment %" PRIu64, o->drop_nth);
	}
}

/* ---- the data pattern ---- */

static uint8_t *pattern_new(void)
{
	uint8_t *p = malloc(2 * XF_PAT);
	uint64_t z = 0x5eed5eed5eed5eedull;
	if (!p)
		return NULL;
	for (uint32_t i = 0; i < XF_PAT; i++) {
		/* splitmix64, a byte at a time: any fixed table would do */
		uint64_t v = (z += 0x9e3779b97f4a7c15ull);
		v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ull;
		v = (v ^ (v >> 27)) * 0x94d049bb133111ebull;
		p[i] = (uint8_t)((v ^ (v >> 31)) >> 24);
	}
	memcpy(p + XF_PAT, p, XF_PAT);
	return p;
}

/* where byte `off` of flow `f` is in the table: each flow its own phase */
static uint32_t pat_pos(unsigned f, uint64_t off)
{
	return (uint32_t)((off + (uint64_t)f * 7919u) % XF_PAT);
}

/* ---- the plot's series ---- */

static bool series_init(struct xf_series *s, uint32_t cap)
{
	*s = (struct xf_series){.cap = cap, .stride = 1};
	s->p = malloc(cap * sizeof *s->p);
	return s->p != NULL;
}

static void series_add(struct xf_series *s, double t, double y)
{
	uint64_t i = s->offered++;
	if (i % s->stride)
		return;
	if (s->n == s->cap) {
		for (uint32_t k = 0; 2 * k < s->n; k++)
			s->p[k] = s->p[2 * k];
		s->n = (s->n + 1) / 2;
		s->stride *= 2;
		if (i % s->stride)
			return;
	}
	s->p[s->n++] = (struct xf_pt){t, y};
}

/* ---- observing the wire ---- */

static bool is_sender(const struct xf *x, const struct sim_host *h)
{
	return h == x->tx;
}

/* flow index of a segment by the client's port, or -1 */
static int flow_of(const struct xf *x, const struct tcp_seg *seg)
{
	uint16_t cport = seg->saddr == sim_host_ip(x->cli) ? seg->sport : seg->dport;
	uint16_t sport = seg->saddr == sim_host_ip(x->cli) ? seg->dport : seg->sport;
	if (sport != XF_SERVER_PORT || cport < XF_CLIENT_PORT0 || cport >= XF_CLIENT_PORT0 + x->o.flows)
		return -1;
	return cport - XF_CLIENT_PORT0;
}

/* a 32-bit sequence offset from the ISN, unwrapped near `ref` */
static uint64_t unwrap(uint32_t rel, uint64_t ref)
{
	int64_t d = (int32_t)(rel - (uint32_t)ref);
	return (int64_t)ref + d < 0 ? 0 : (uint64_t)((int64_t)ref + d);
}

static bool xf_filter(void *ctx, const struct sim_host *from, const uint8_t *pkt, size_t len)
{
	struct xf *x = ctx;
	struct ip4_view ip;
	struct tcp_seg seg;
	bool drop = false;

	if (ip4_parse(pkt, len, &ip) != WIRE_OK || ip.proto != IPPROTO_TCP_ ||
	    tcp_parse_ex(&ip, &seg, false) != WIRE_OK)
		return false;
	synfin_time_t now = sim_now(x->sim);
	bool tx = is_sender(x, from);
	int f = flow_of(x, &seg);

	if ((seg.flags & TH_SYN) && !x->seen_syn) {
		x->seen_syn = true;
		x->t_first_syn = now;
	}
	if (tx && seg.len > 0) {
		x->data_segs++;
		drop = x->o.drop_nth && x->data_segs == x->o.drop_nth;
	}
	if (f != 0)
		return drop;
	double t = (double)now / 1e6;
	if (tx && (seg.flags & TH_SYN)) {
		x->isn = seg.seq;
		x->isn_known = true;
		x->snd_max = x->ack_max = 0;
	} else if (tx && seg.len > 0 && x->isn_known) {
		uint64_t off = unwrap(seg.seq - x->isn - 1, x->snd_max);
		x->f1_segs++;
		if (off < x->snd_max) {
			x->f1_rexmits++;
			series_add(&x->rexmit, t, (double)off);
		} else {
			series_add(&x->sent, t, (double)off);
		}
		if (off + seg.len > x->snd_max)
			x->snd_max = off + seg.len;
	} else if (!tx && (seg.flags & TH_ACK) && x->isn_known && !(seg.flags & TH_SYN)) {
		uint64_t a = unwrap(seg.ack - x->isn - 1, x->snd_max);
		if (a > x->ack_max) {
			x->ack_max = a;
			series_add(&x->acks, t, (double)a);
		}
	}
	return drop;
}

/* ---- the applications ---- */

static void flow_fail(struct xf *x, struct xf_flow *fl, const char *why, long err)
{
	if (fl->done)
		return;
	fl->bad = true;
	if (err)
		snprintf(fl->why, sizeof fl->why, "%s: %s", why, lab_errname((int)err));
	else
		snprintf(fl->why, sizeof fl->why, "%s", why);
	fl->done = true;
	x->ndone++;
}

static void accept_all(struct xf *x)
{
	struct synfin_stack *st = sim_stack(x->srv);
	for (unsigned k = 0; k < x->o.flows; k++) {
		struct synfin_addr peer;
		int fd = synfin_accept(st, x->lfd, &peer);
		if (fd < 0) {
			if (fd != -EAGAIN && !x->fatal) {
				x->fatal = true;
				snprintf(x->fatal_why, sizeof x->fatal_why, "accept: %s", lab_errname(fd));
			}
			return;
		}
		unsigned f = (unsigned)peer.port - XF_CLIENT_PORT0;
		if (peer.port < XF_CLIENT_PORT0 || f >= x->o.flows) {
			synfin_close(st, fd);
			continue;
		}
		struct xf_flow *fl = &x->flows[f];
		if (x->o.reverse) {
			fl->sfd = fd;
			int cc = x->o.cc;
			/* the stack's default is the same algorithm; the
			 * option is set to exercise it */
			synfin_setsockopt(st, fd, SYNFIN_SOL_TCP, SYNFIN_TCP_CONGESTION, &cc, sizeof cc);
		} else {
			fl->rfd = fd;
		}
	}
}

static void pump_send(struct xf *x, unsigned f)
{
	struct xf_flow *fl = &x->flows[f];
	struct synfin_stack *st = sim_stack(x->tx);
	if (fl->sfd < 0 || fl->shut || fl->done)
		return;
	/* bounded: a pass that does not fill the buffer is the last, and a
	 * buffer holds at most 16 MiB */
	while (fl->sent < x->o.bytes) {
		uint64_t left = x->o.bytes - fl->sent;
		uint32_t n = left < XF_PAT ? (uint32_t)left : XF_PAT;
		long r = synfin_send(st, fl->sfd, x->pat + pat_pos(f, fl->sent), n);
		if (r == -EAGAIN)
			return;
		if (r <= 0) {
			flow_fail(x, fl, "send", r);
			return;
		}
		fl->sent += (uint64_t)r;
		if ((uint32_t)r < n)
			return;
	}
	int r = synfin_shutdown(st, fl->sfd, SYNFIN_SHUT_WR);
	if (r < 0)
		flow_fail(x, fl, "shutdown", r);
	fl->shut = true;
}

static void check_bytes(struct xf *x, unsigned f, const uint8_t *buf, size_t n)
{
	struct xf_flow *fl = &x->flows[f];
	size_t i = 0;
	if (fl->bad)
		return;
	while (i < n) {
		uint64_t off = fl->got + i;
		size_t piece = n - i < XF_PAT ? n - i : XF_PAT;
		const uint8_t *want = x->pat + pat_pos(f, off);
		if (memcmp(buf + i, want, piece)) {
			size_t k = 0;
			while (k < piece && buf[i + k] == want[k])
				k++;
			fl->bad = true;
			fl->bad_off = off + k;
			snprintf(fl->why, sizeof fl->why, "byte %" PRIu64 " is wrong", fl->bad_off);
			return;
		}
		i += piece;
	}
}

static void pump_recv(struct xf *x, unsigned f)
{
	struct xf_flow *fl = &x->flows[f];
	struct synfin_stack *st = sim_stack(x->rx);
	if (fl->rfd < 0 || fl->done)
		return;
	/* bounded by what the receive buffer holds: each pass empties up to
	 * XF_RBUF of it, and nothing arrives during the loop */
	for (;;) {
		long r = synfin_recv(st, fl->rfd, x->rbuf, XF_RBUF);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			flow_fail(x, fl, "recv", r);
			return;
		}
		if (r == 0) {
			fl->eof = true;
			if (fl->got != x->o.bytes && !fl->bad) {
				fl->bad = true;
				snprintf(fl->why, sizeof fl->why, "EOF after %" PRIu64 " bytes", fl->got);
			}
			fl->done = true;
			if (x->ndone++ == 0) {
				/* the end of the time all flows shared the link */
				x->t_first_done = sim_now(x->sim);
				for (unsigned k = 0; k < x->o.flows; k++)
					x->flows[k].got_shared = x->flows[k].got;
			}
			return;
		}
		if (fl->got + (uint64_t)r > x->o.bytes && !fl->bad) {
			fl->bad = true;
			snprintf(fl->why, sizeof fl->why, "more than %" PRIu64 " bytes arrived", x->o.bytes);
		}
		check_bytes(x, f, x->rbuf, (size_t)r);
		fl->got += (uint64_t)r;
		fl->t_last = sim_now(x->sim);
	}
}

/* The simulator's condition: run the applications; true when all is done. */
static bool pump(void *ctx)
{
	struct xf *x = ctx;
	accept_all(x);
	for (unsigned f = 0; f < x->o.flows; f++) {
		pump_send(x, f);
		pump_recv(x, f);
	}
	return x->ndone == x->o.flows || x->fatal;
}

/* ---- setting up ---- */

static int set_int(struct synfin_stack *st, int fd, int level, int name, int v)
{
	return synfin_setsockopt(st, fd, level, name, &v, sizeof v);
}

static bool xf_setup(struct xf *x)
{
	const struct xf_opts *o = &x->o;
	struct synfin_config cfg;
	struct sim_link l;
	int buf = (int)xf_buffer(o);

	synfin_config_default(&cfg);
	cfg.mtu = o->mtu;
	cfg.sack = o->sack;
	cfg.congestion = o->cc;
	x->sim = sim_create(o->seed, &cfg);
	if (!x->sim)
		return false;
	x->srv = sim_add_host(x->sim, "server", LAB_SERVER_IP, NULL);
	x->cli = sim_add_host(x->sim, "client", LAB_CLIENT_IP, NULL);
	if (!x->srv || !x->cli)
		return false;
	x->tx = o->reverse ? x->srv : x->cli;
	x->rx = o->reverse ? x->cli : x->srv;

	sim_link_default(&l);
	l.delay = o->rtt / 2;
	l.mtu = o->mtu;
	l.rate_bps = o->rate_bps;
	l.queue_pkts = xf_queue(o);
	l.loss = o->loss;
	l.ge_p = o->ge_p;
	l.ge_r = o->ge_r;
	sim_set_link(x->sim, x->srv, x->cli, &l);
	sim_set_filter(x->sim, xf_filter, x);

	struct synfin_stack *ss = sim_stack(x->srv), *cs = sim_stack(x->cli);
	struct synfin_addr la = {0, XF_SERVER_PORT};
	x->lfd = synfin_socket(ss);
	if (x->lfd < 0 || set_int(ss, x->lfd, SYNFIN_SOL_SOCKET, SYNFIN_SO_SNDBUF, buf) < 0 ||
	    set_int(ss, x->lfd, SYNFIN_SOL_SOCKET, SYNFIN_SO_RCVBUF, buf) < 0 ||
	    synfin_bind(ss, x->lfd, &la) < 0 || synfin_listen(ss, x->lfd, (int)o->flows) < 0) {
		snprintf(x->fatal_why, sizeof x->fatal_why, "cannot listen on port %d", XF_SERVER_PORT);
		return false;
	}
	size_t glen = sizeof x->granted;
	if (synfin_getsockopt(ss, x->lfd, SYNFIN_SOL_SOCKET, SYNFIN_SO_RCVBUF, &x->granted, &glen) < 0)
		x->granted = 0;
	for (unsigned f = 0; f < o->flows; f++) {
		struct xf_flow *fl = &x->flows[f];
		struct synfin_addr me = {0, (uint16_t)(XF_CLIENT_PORT0 + f)};
		struct synfin_addr to = {LAB_SERVER_IP, XF_SERVER_PORT};
		int fd = synfin_socket(cs);
		fl->sfd = fl->rfd = -1;
		if (fd < 0 || set_int(cs, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_SNDBUF, buf) < 0 ||
		    set_int(cs, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_RCVBUF, buf) < 0 ||
		    synfin_bind(cs, fd, &me) < 0) {
			snprintf(x->fatal_why, sizeof x->fatal_why, "cannot make flow %u's socket", f + 1);
			return false;
		}
		if (!o->reverse)
			set_int(cs, fd, SYNFIN_SOL_TCP, SYNFIN_TCP_CONGESTION, o->cc);
		int r = synfin_connect(cs, fd, &to);
		if (r != -EINPROGRESS && r != 0) {
			snprintf(x->fatal_why, sizeof x->fatal_why, "connect: %s", lab_errname(r));
			return false;
		}
		if (o->reverse)
			fl->rfd = fd;
		else
			fl->sfd = fd;
	}
	return true;
}

/* ---- the CSV ---- */

static void csv_row(struct xf *x, FILE *f)
{
	struct xf_flow *fl = &x->flows[0];
	struct synfin_tcp_info ti;
	if (fl->sfd < 0 || synfin_tcp_info(sim_stack(x->tx), fl->sfd, &ti) < 0)
		return;
	synfin_time_t t = sim_now(x->sim);
	fprintf(f, "%" PRIu64 ".%06" PRIu64 ",%" PRIu32 ",%" PRIu32 ",%.3f,%.3f,%" PRIu32 ",%" PRIu64 "\n",
		(uint64_t)(t / SYNFIN_US_PER_S), (uint64_t)(t % SYNFIN_US_PER_S), ti.cwnd, ti.ssthresh, ti.srtt_us / 1e3,
		ti.rto_us / 1e3, ti.in_flight, fl->got);
}

/* ---- the SVG ---- */

/* a tick step of 1, 2 or 5 times a power of ten, about range/n */
static double nice_step(double range, int n)
{
	double raw = range / n;
	if (!(raw > 0))
		return 1;
	double p = pow(10, floor(log10(raw)));
	double m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static int decimals_for(double step)
{
	int d = 0;
	while (d < 6 && step * pow(10, d) < 0.999)
		d++;
	return d;
}

static void svg_text_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else
			fputc(*s, f);
	}
}

#define SVG_W 1100
#define SVG_H 700
#define SVG_L 90.0   /* plot area */
#define SVG_R 1070.0
#define SVG_T 70.0
#define SVG_B 630.0

static void svg_series(FILE *f, const struct xf_series *s, double tmax, double ymax, const char *color,
		       double width, double mark)
{
	if (!s->n)
		return;
	fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%g\" stroke-linecap=\"square\" d=\"", color,
		width);
	for (uint32_t i = 0; i < s->n; i++) {
		double px = SVG_L + s->p[i].t / tmax * (SVG_R - SVG_L);
		double py = SVG_B - s->p[i].y / ymax * (SVG_B - SVG_T);
		fprintf(f, "M%.1f %.1fh%g", px, py, mark);
	}
	fprintf(f, "\"/>\n");
}

static bool write_svg(struct xf *x, const char *path, const char *desc)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	double tmax = 0, ymax = (double)x->o.bytes;
	const struct xf_series *all[3] = {&x->sent, &x->rexmit, &x->acks};
	for (int k = 0; k < 3; k++)
		for (uint32_t i = 0; i < all[k]->n; i++) {
			if (all[k]->p[i].t > tmax)
				tmax = all[k]->p[i].t;
			if (all[k]->p[i].y > ymax)
				ymax = all[k]->p[i].y;
		}
	if (!(tmax > 0))
		tmax = 1e-3;
	/* the y axis in MiB, or KiB for small transfers */
	double unit = ymax >= 4.0 * (1 << 20) ? (double)(1 << 20) : 1024.0;
	const char *uname = unit > 1024.0 ? "MiB" : "KiB";
	double ystep = nice_step(ymax / unit, 8), tstep = nice_step(tmax, 10);
	tmax = ceil(tmax / tstep) * tstep;
	ymax = ceil(ymax / unit / ystep) * ystep * unit;

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		   "font-family=\"sans-serif\" font-size=\"13\">\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		SVG_W, SVG_H, SVG_W, SVG_H);
	fprintf(f, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">"
		   "synfin transfer: time-sequence of flow 1</text>\n",
		SVG_W / 2);
	fprintf(f, "<text x=\"%d\" y=\"46\" text-anchor=\"middle\">", SVG_W / 2);
	svg_text_escaped(f, desc);
	fprintf(f, "</text>\n");
	/* grid, ticks and labels */
	int td = decimals_for(tstep), yd = decimals_for(ystep);
	fprintf(f, "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n");
	for (int i = 0; i <= 200 && i * tstep <= tmax * (1 + 1e-9); i++) {
		double px = SVG_L + i * tstep / tmax * (SVG_R - SVG_L);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px, SVG_T, px, SVG_B);
	}
	for (int i = 0; i <= 200 && i * ystep * unit <= ymax * (1 + 1e-9); i++) {
		double py = SVG_B - i * ystep * unit / ymax * (SVG_B - SVG_T);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", SVG_L, py, SVG_R, py);
	}
	fprintf(f, "</g>\n<g stroke=\"black\" stroke-width=\"1\">\n");
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", SVG_L, SVG_B, SVG_R, SVG_B);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", SVG_L, SVG_T, SVG_L, SVG_B);
	for (int i = 0; i <= 200 && i * tstep <= tmax * (1 + 1e-9); i++) {
		double px = SVG_L + i * tstep / tmax * (SVG_R - SVG_L);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px, SVG_B, px, SVG_B + 6);
	}
	for (int i = 0; i <= 200 && i * ystep * unit <= ymax * (1 + 1e-9); i++) {
		double py = SVG_B - i * ystep * unit / ymax * (SVG_B - SVG_T);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", SVG_L - 6, py, SVG_L, py);
	}
	fprintf(f, "</g>\n<g text-anchor=\"middle\">\n");
	for (int i = 0; i <= 200 && i * tstep <= tmax * (1 + 1e-9); i++) {
		double px = SVG_L + i * tstep / tmax * (SVG_R - SVG_L);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%.*f</text>\n", px, SVG_B + 22, td, i * tstep);
	}
	fprintf(f, "</g>\n<g text-anchor=\"end\">\n");
	for (int i = 0; i <= 200 && i * ystep * unit <= ymax * (1 + 1e-9); i++) {
		double py = SVG_B - i * ystep * unit / ymax * (SVG_B - SVG_T);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%.*f</text>\n", SVG_L - 10, py + 4, yd, i * ystep);
	}
	fprintf(f, "</g>\n");
	fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">time (s)</text>\n", (SVG_L + SVG_R) / 2,
		SVG_H - 30);
	fprintf(f, "<text transform=\"translate(24 %.1f) rotate(-90)\" text-anchor=\"middle\">"
		   "sequence offset (%s)</text>\n",
		(SVG_T + SVG_B) / 2, uname);
	/* the data: the ACK line under the segments, retransmissions on top */
	fprintf(f, "<path fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"1.2\" d=\"");
	for (uint32_t i = 0; i < x->acks.n; i++) {
		double px = SVG_L + x->acks.p[i].t / tmax * (SVG_R - SVG_L);
		double py = SVG_B - x->acks.p[i].y / ymax * (SVG_B - SVG_T);
		fprintf(f, "%c%.1f %.1f", i ? 'L' : 'M', px, py);
	}
	fprintf(f, "\"/>\n");
	svg_series(f, &x->sent, tmax, ymax, "#1f77b4", 2, 1);
	svg_series(f, &x->rexmit, tmax, ymax, "#d62728", 4, 1);
	/* legend */
	fprintf(f, "<g font-size=\"12\">\n"
		   "<rect x=\"%.1f\" y=\"%.1f\" width=\"250\" height=\"70\" fill=\"white\" stroke=\"#999\"/>\n",
		SVG_L + 12, SVG_T + 8);
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"4\" fill=\"#1f77b4\"/>"
		   "<text x=\"%.1f\" y=\"%.1f\">data sent (%" PRIu64 " segments)</text>\n",
		SVG_L + 22, SVG_T + 22, SVG_L + 42, SVG_T + 27, x->f1_segs - x->f1_rexmits);
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"6\" fill=\"#d62728\"/>"
		   "<text x=\"%.1f\" y=\"%.1f\">retransmitted (%" PRIu64 ")</text>\n",
		SVG_L + 22, SVG_T + 39, SVG_L + 42, SVG_T + 45, x->f1_rexmits);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#2ca02c\" stroke-width=\"2\"/>"
		   "<text x=\"%.1f\" y=\"%.1f\">cumulative ACK</text>\n",
		SVG_L + 22, SVG_T + 60, SVG_L + 34, SVG_T + 60, SVG_L + 42, SVG_T + 64);
	fprintf(f, "</g>\n");
	if (x->sent.stride > 1 || x->acks.stride > 1 || x->rexmit.stride > 1)
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" font-size=\"11\" fill=\"#666\">"
			   "decimated: 1 in %" PRIu64 " segments sent, 1 in %" PRIu64 " retransmissions, 1 in %" PRIu64
			   " ACK advances drawn</text>\n",
			SVG_R, SVG_H - 10, x->sent.stride, x->rexmit.stride, x->acks.stride);
	fprintf(f, "</svg>\n");
	return fclose(f) == 0;
}

/* ---- the run ---- */

static void xf_free(struct xf *x)
{
	if (x->sim)
		sim_destroy(x->sim);
	free(x->flows);
	free(x->pat);
	free(x->rbuf);
	free(x->sent.p);
	free(x->rexmit.p);
	free(x->acks.p);
	free(x);
}

static int report(struct xf *x, bool stalled)
{
	const struct xf_opts *o = &x->o;
	bool ok = !stalled && !x->fatal;
	uint64_t delivered = 0, retrans = 0;
	synfin_time_t t_end = x->t_first_syn;

	for (unsigned f = 0; f < o->flows; f++) {
		struct xf_flow *fl = &x->flows[f];
		if (fl->sfd >= 0 && synfin_tcp_info(sim_stack(x->tx), fl->sfd, &fl->info) == 0) {
			fl->have_info = true;
			retrans += fl->info.retrans_segs;
		}
		delivered += fl->got;
		if (fl->got && fl->t_last > t_end)
			t_end = fl->t_last;
	}
	for (unsigned f = 0; f < o->flows; f++) {
		struct xf_flow *fl = &x->flows[f];
		double el = fl->got ? (double)(fl->t_last - x->t_first_syn) / 1e6 : 0;
		double mb = el > 0 ? (double)fl->got * 8 / el / 1e6 : 0;
		const char *verdict = "OK";
		if (!fl->done && !fl->bad)
			snprintf(fl->why, sizeof fl->why, "stalled at %" PRIu64 " of %" PRIu64 " bytes", fl->got, o->bytes);
		if (!fl->done || fl->bad) {
			ok = false;
			verdict = "FAIL";
		}
		printf("flow %u: %" PRIu64 " bytes in %.3f s, %.1f mbit/s", f + 1, fl->got, el, mb);
		if (fl->have_info)
			printf(", retransmits %" PRIu64 " (fast %" PRIu64 ", timeouts %" PRIu64
			       "), cwnd %" PRIu32 ", srtt %.1f ms",
			       fl->info.retrans_segs, fl->info.fast_retrans, fl->info.rto_count, fl->info.cwnd,
			       fl->info.srtt_us / 1e3);
		printf(", %s%s%s\n", verdict, fl->why[0] ? ": " : "", fl->why);
	}
	if (o->flows > 1 && x->ndone) {
		/* Jain's index over the bytes each flow got while all of them
		 * ran: (sum x)^2 / (n * sum x^2), 1 when the shares are equal */
		double sum = 0, sq = 0;
		for (unsigned f = 0; f < o->flows; f++) {
			sum += (double)x->flows[f].got_shared;
			sq += (double)x->flows[f].got_shared * (double)x->flows[f].got_shared;
		}
		double jain = sq > 0 ? sum * sum / ((double)o->flows * sq) : 0;
		printf("fairness: jain %.3f over the %.3f s all flows shared the link\n", jain,
		       (double)(x->t_first_done - x->t_first_syn) / 1e6);
	}
	const struct sim_counts *c = sim_get_counts(x->sim);
	printf("link: %" PRIu64 " datagrams sent, %" PRIu64 " queue drops, %" PRIu64 " lost (%" PRIu64
	       " in bursts), %" PRIu64 " dropped by --drop-nth\n",
	       c->sent, c->queue_drops, c->lost, c->burst_lost, c->filtered);
	if (x->fatal)
		printf("FAIL: %s\n", x->fatal_why);
	if (stalled)
		printf("FAIL: stalled: not done after %.1f s of virtual time\n", (double)xf_limit(o) / 1e6);
	double el = (double)(t_end - x->t_first_syn) / 1e6;
	double gp = el > 0 ? (double)delivered * 8 / el / 1e6 : 0;
	printf("goodput %.1f mbit/s utilisation %.1f%% retransmits %" PRIu64 "\n", gp,
	       gp * 1e6 / (double)o->rate_bps * 100, retrans);
	return ok ? 0 : 1;
}

int transfer_main(int argc, char **argv)
{
	struct xf *x = calloc(1, sizeof *x);
	int rc;
	if (!x) {
		fprintf(stderr, "synfin-lab transfer: out of memory\n");
		return 1;
	}
	rc = parse_args(argc, argv, &x->o);
	if (rc >= 0) {
		free(x);
		return rc;
	}
	x->flows = calloc(x->o.flows, sizeof *x->flows);
	x->pat = pattern_new();
	x->rbuf = malloc(XF_RBUF);
	if (!x->flows || !x->pat || !x->rbuf || !series_init(&x->sent, XF_PTS_SENT) ||
	    !series_init(&x->rexmit, XF_PTS_REXMIT) || !series_init(&x->acks, XF_PTS_ACK)) {
		fprintf(stderr, "synfin-lab transfer: out of memory\n");
		xf_free(x);
		return 1;
	}

	FILE *csv = NULL;
	if (x->o.csv) {
		csv = fopen(x->o.csv, "w");
		if (!csv) {
			fprintf(stderr, "synfin-lab transfer: cannot write %s: %s\n", x->o.csv, strerror(errno));
			xf_free(x);
			return 1;
		}
		fprintf(csv, "time_s,cwnd_bytes,ssthresh_bytes,srtt_ms,rto_ms,in_flight_bytes,delivered_bytes\n");
	}

	char desc[320];
	bool stalled = false, set_up = xf_setup(x);
	describe(x, desc, sizeof desc);
	printf("transfer: %s; buffers %d KiB, BDP %" PRIu64 " bytes\n", desc, x->granted >> 10, xf_bdp(&x->o));
	fflush(stdout);

	if (!set_up) {
		if (!x->fatal_why[0])
			snprintf(x->fatal_why, sizeof x->fatal_why, "cannot set up the network");
		x->fatal = true;
	} else {
		synfin_time_t limit = xf_limit(&x->o);
		synfin_time_t period = x->o.rtt / 8 > SYNFIN_MS(1) ? x->o.rtt / 8 : SYNFIN_MS(1);
		synfin_time_t next = 0;
		bool done = false;
		/* bounded: each pass moves the clock to the next sample or
		 * to the limit */
		while (!done && sim_now(x->sim) < limit) {
			synfin_time_t until = csv && next < limit ? next : limit;
			done = sim_run_until_cond(x->sim, pump, x, until);
			if (csv && sim_now(x->sim) >= next) {
				csv_row(x, csv);
				next = sim_now(x->sim) - sim_now(x->sim) % period + period;
			}
		}
		if (csv)
			csv_row(x, csv);
		stalled = !done;
	}
	int status = report(x, stalled);
	if (csv && fclose(csv) != 0) {
		fprintf(stderr, "synfin-lab transfer: writing %s failed\n", x->o.csv);
		status = 1;
	}
	if (x->o.svg && !write_svg(x, x->o.svg, desc)) {
		fprintf(stderr, "synfin-lab transfer: cannot write %s: %s\n", x->o.svg, strerror(errno));
		status = 1;
	}
	xf_free(x);
	return status;
}
