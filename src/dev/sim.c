/*
 * The deterministic network simulator (see sim.h).
 *
 * Why it is built the way it is:
 *  - Stacks call ops.output() from inside synfin_input(), synfin_poll() and
 *    the socket calls. Output therefore only enqueues; the main loop is the
 *    one place that calls into a stack, one call at a time, so no stack is
 *    ever re-entered and the order of work is the order of the queue. The
 *    same holds for the state-change callback, the state hook and the
 *    filter: none of them may call into a stack, crash or reboot a host, or
 *    run the simulator.
 *  - The queue is a binary min-heap keyed by (time, sequence number): two
 *    datagrams due at the same microsecond are delivered in the order they
 *    were sent whatever the heap's shape, so a run replays exactly.
 *  - Every random choice comes from one splitmix64 generator seeded by the
 *    caller. Per datagram that passes the filter, plug, MTU and queue
 *    checks, the draws are made in this order: the Gilbert-Elliott step;
 *    loss; corruption (and then the bit to flip); duplication; reordering;
 *    the jitter of the first copy; the jitter of the duplicate. A fault
 *    whose probability is 0 (or a jitter of 0) draws nothing, so traffic
 *    over clean links consumes no randomness and leaves the stack seeds
 *    and sim_rand() untouched. The rate and the queue draw nothing.
 *  - A link's rate is modelled by one transmitter per direction: the end
 *    of its last transmission (busy_until, kept exact as whole
 *    microseconds plus a fraction in units of 1/rate_bps us, so that
 *    rounding never accumulates) and, for the drop-tail queue, the start
 *    times of the datagrams still waiting, oldest first. A datagram is
 *    queued, then transmitted, then lost or not on the way: a datagram
 *    lost on the wire has used the transmitter all the same. The duplicate
 *    of a datagram is the network's doing and does not use it again.
 *  - When a timer and a delivery are due at the same instant the delivery
 *    goes first: an ACK that arrives just as the RTO expires is seen before
 *    the retransmission, which is the kinder and the reproducible choice.
 *
 * Trace rule for datagrams (it lives here because sim.h only names the
 * flags): with SIM_TRACE_SEGMENTS every datagram is printed when it is sent,
 * as the wire printer formats it, followed by a note for each fault:
 * "  [lost]", "  [dropped by scenario]", "  [unplugged]", "  [too big]",
 * "  [no such host]" or "  [queue full]" when it will never arrive;
 * "  [corrupted]", "  [duplicated]", "  [reordered]" when it arrives
 * altered. With SIM_TRACE_DROPS alone only the datagrams that will never
 * arrive are printed, with their note, numbered as in a full trace. With
 * either flag, a datagram that reaches a host that is down is printed
 * again when it arrives, stamped with the arrival time and noted
 * "  [host down]".
 * SIM_TRACE_STATES prints every state change, and "<time> <host> crashed"
 * and "<time> <host> rebooted" lines, since a crash reports no state
 * changes of its own.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dev/pcap.h"
#include "dev/sim.h"
#include "wire/wire.h"

/* A loop that runs this many steps without the clock moving is stuck (a
 * stack whose deadline never passes, or an endless exchange at one
 * instant); stopping keeps every run finite. */
#define SIM_MAX_STUCK_STEPS 10000000ull

struct sim_host {
	struct sim *sim;
	size_t idx;            /* position in sim->hosts, the key of links */
	char *name;
	uint32_t ip;
	struct synfin_config cfg;
	struct synfin_ops ops; /* kept here in case the stack keeps the pointer */
	struct synfin_stack *stack; /* NULL while down */
	bool up;               /* false while crashed, and while being destroyed */
	bool plugged;
};

/* One direction of a link: its transmitter, its queue, its loss state. */
struct sim_dir {
	synfin_time_t busy_until; /* the last transmission ends at busy_until */
	uint64_t busy_frac;       /*   + busy_frac / frac_rate microseconds */
	uint64_t frac_rate;       /* the rate busy_frac counts in */
	/* when each waiting datagram starts transmission, a ring in FIFO order */
	synfin_time_t *waiting;
	uint32_t wcap, whead, wlen;
	bool ge_bad;              /* Gilbert-Elliott: in the bad state */
};

/* A pair of hosts: its own link (own), or the default's settings with the
 * pair's own transmitters (made when a datagram first needs them). */
struct sim_link_slot {
	size_t a, b; /* host indices, a <= b */
	bool own;
	struct sim_link link;
	struct sim_dir dir[2]; /* a -> b, b -> a */
};

/* One datagram in flight; owns its bytes. */
struct sim_event {
	synfin_time_t t;
	uint64_t seq;
	struct sim_host *to;
	uint8_t *pkt;
	size_t len;
};

struct sim {
	uint64_t rng;
	synfin_time_t now;
	struct synfin_config cfg;

	struct sim_host **hosts; /* pointers: hosts are handed out and must not move */
	size_t nhosts, hosts_cap;

	struct sim_link dflt;
	struct sim_link_slot *links;
	size_t nlinks, links_cap;

	struct sim_event *heap;
	size_t nev, ev_cap;
	uint64_t next_seq;

	sim_filter_fn filter;
	void *filter_ctx;
	sim_state_fn state_hook;
	void *state_ctx;

	FILE *trace;
	unsigned trace_flags;
	struct wire_printer printer;

	struct pcap_writer pcap;
	bool pcap_on;

	struct sim_counts counts;
	bool in_stack; /* a call into a stack is under way */
};

/* ---- random numbers ---- */

/* splitmix64: tiny, passes BigCrush, and any seed (even 0) is fine. */
uint64_t sim_rand(struct sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1) from the top 53 bits: every value is exact in a double,
 * so "u < p" is true with probability p, always for 1.0, never for 0.0. */
static double sim_uniform(struct sim *s)
{
	return (double)(sim_rand(s) >> 11) * 0x1.0p-53;
}

static bool sim_chance(struct sim *s, double p)
{
	if (!(p > 0.0))
		return false;
	return sim_uniform(s) < p;
}

/* Uniform in [0, max]. The modulo bias is below 2^-40 for any sane jitter. */
static synfin_time_t sim_rand_upto(struct sim *s, synfin_time_t max)
{
	if (max == 0)
		return 0;
	if (max == UINT64_MAX)
		return sim_rand(s);
	return sim_rand(s) % (max + 1);
}

/* Saturating: an absurd delay must not wrap around to the past, nor reach
 * SYNFIN_TIME_NEVER, which means "nothing to do". */
static synfin_time_t time_add(synfin_time_t a, synfin_time_t b)
{
	if (a >= SYNFIN_TIME_NEVER - 1 || b >= SYNFIN_TIME_NEVER - 1 - a)
		return SYNFIN_TIME_NEVER - 1;
	return a + b;
}

/* "12.000120": the wire printer's clock format, so both kinds of trace
 * lines line up. */
static const char *fmt_time(char *buf, size_t cap, synfin_time_t t)
{
	snprintf(buf, cap, "%" PRIu64 ".%06" PRIu64, (uint64_t)(t / SYNFIN_US_PER_S),
		 (uint64_t)(t % SYNFIN_US_PER_S));
	return buf;
}

/* ---- the event queue ---- */

static bool ev_before(const struct sim_event *a, const struct sim_event *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void ev_swap(struct sim_event *a, struct sim_event *b)
{
	struct sim_event tmp = *a;

	*a = *b;
	*b = tmp;
}

/* Takes ownership of pkt (freed here if the queue cannot grow). */
static bool heap_push(struct sim *s, synfin_time_t t, struct sim_host *to, uint8_t *pkt, size_t len)
{
	size_t i;

	if (s->nev == s->ev_cap) {
		size_t cap = s->ev_cap ? s->ev_cap * 2 : 64;
		struct sim_event *n = realloc(s->heap, cap * sizeof(*n));

		if (!n) {
			free(pkt);
			return false;
		}
		s->heap = n;
		s->ev_cap = cap;
	}
	i = s->nev++;
	s->heap[i] = (struct sim_event){ .t = t, .seq = s->next_seq++, .to = to, .pkt = pkt, .len = len };
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!ev_before(&s->heap[i], &s->heap[parent]))
			break;
		ev_swap(&s->heap[i], &s->heap[parent]);
		i = parent;
	}
	return true;
}

static struct sim_event heap_pop(struct sim *s)
{
	struct sim_event top = s->heap[0];
	size_t i = 0;

	s->heap[0] = s->heap[--s->nev];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->nev && ev_before(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->nev && ev_before(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			break;
		ev_swap(&s->heap[i], &s->heap[m]);
		i = m;
	}
	return top;
}

/* ---- links and routing ---- */

void sim_link_default(struct sim_link *l)
{
	*l = (struct sim_link){ .delay = SYNFIN_MS(1), .mtu = 1500, .up = true };
}

static struct sim_link_slot *link_find(struct sim *s, size_t a, size_t b)
{
	if (a > b) {
		size_t t = a;

		a = b;
		b = t;
	}
	for (size_t i = 0; i < s->nlinks; i++)
		if (s->links[i].a == a && s->links[i].b == b)
			return &s->links[i];
	return NULL;
}

static const struct sim_link *link_between(struct sim *s, const struct sim_host *a,
					   const struct sim_host *b)
{
	struct sim_link_slot *ls = link_find(s, a->idx, b->idx);

	return ls && ls->own ? &ls->link : &s->dflt;
}

static struct sim_link_slot *slot_new(struct sim *s, size_t a, size_t b)
{
	struct sim_link_slot *ls;

	if (s->nlinks == s->links_cap) {
		size_t cap = s->links_cap ? s->links_cap * 2 : 8;
		struct sim_link_slot *n = realloc(s->links, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->links = n;
		s->links_cap = cap;
	}
	ls = &s->links[s->nlinks++];
	*ls = (struct sim_link_slot){ .a = a < b ? a : b, .b = a < b ? b : a };
	return ls;
}

/* The state of the direction from -> to, made on first use. NULL only when
 * out of memory. Making a slot may move the slots, so no pointer into them
 * may be held across this call (the default link is not among them). */
static struct sim_dir *dir_state(struct sim *s, const struct sim_host *from, const struct sim_host *to)
{
	struct sim_link_slot *ls = link_find(s, from->idx, to->idx);

	if (!ls)
		ls = slot_new(s, from->idx, to->idx);
	if (!ls)
		return NULL;
	return &ls->dir[from->idx <= to->idx ? 0 : 1];
}

void sim_set_default_link(struct sim *s, const struct sim_link *l)
{
	s->dflt = *l;
}

void sim_set_link(struct sim *s, struct sim_host *a, struct sim_host *b, const struct sim_link *l)
{
	struct sim_link_slot *ls = link_find(s, a->idx, b->idx);

	if (!ls)
		ls = slot_new(s, a->idx, b->idx);
	if (!ls) {
		fprintf(stderr, "sim: out of memory for a link; keeping the default\n");
		return;
	}
	/* A change of settings keeps the transmitters busy as they are: what
	 * is already queued goes out as it was scheduled. */
	ls->own = true;
	ls->link = *l;
}

void sim_unplug(struct sim_host *h)
{
	h->plugged = false;
}

void sim_plug(struct sim_host *h)
{
	h->plugged = true;
}

/* The host owning the destination address; a down host still owns it, so
 * what is sent to it is lost on arrival, not refused. */
static struct sim_host *route(struct sim *s, const uint8_t *pkt, size_t len)
{
	uint32_t dst;

	if (len < IP4_HDR_MIN || (pkt[0] >> 4) != 4)
		return NULL;
	dst = (uint32_t)pkt[16] << 24 | (uint32_t)pkt[17] << 16 | (uint32_t)pkt[18] << 8 | pkt[19];
	for (size_t i = 0; i < s->nhosts; i++)
		if (s->hosts[i]->ip == dst)
			return s->hosts[i];
	return NULL;
}

/* ---- tracing ---- */

static const char *fate_note(enum sim_fate f)
{
	switch (f) {
	case SIM_DELIVERED:
		return "";
	case SIM_LOST:
		return "  [lost]";
	case SIM_DROPPED_FILTER:
		return "  [dropped by scenario]";
	case SIM_UNPLUGGED:
		return "  [unplugged]";
	case SIM_TOO_BIG:
		return "  [too big]";
	case SIM_NO_HOST:
		return "  [no such host]";
	case SIM_HOST_DOWN:
		return "  [host down]";
	case SIM_QUEUE_DROP:
		return "  [queue full]";
	}
	return "  [?]";
}

/* Every datagram sent goes through the printer while datagrams are traced,
 * printed or not: it learns each direction's ISN from the SYN, so a
 * drops-only trace shows the same relative numbers as a full one. */
static void trace_datagram(struct sim *s, const uint8_t *pkt, size_t len, synfin_time_t t,
			   const char *notes, bool show)
{
	char line[512];

	if (!s->trace || !(s->trace_flags & (SIM_TRACE_SEGMENTS | SIM_TRACE_DROPS)))
		return;
	wire_print(line, sizeof(line), &s->printer, pkt, len, t);
	if (show)
		fprintf(s->trace, "%s%s\n", line, notes);
}

static void count_fate(struct sim_counts *c, enum sim_fate f)
{
	switch (f) {
	case SIM_DELIVERED:
		c->delivered++;
		break;
	case SIM_LOST:
		c->lost++;
		break;
	case SIM_DROPPED_FILTER:
		c->filtered++;
		break;
	case SIM_UNPLUGGED:
		c->unplugged++;
		break;
	case SIM_TOO_BIG:
		c->too_big++;
		break;
	case SIM_NO_HOST:
		c->no_host++;
		break;
	case SIM_HOST_DOWN:
		c->host_down++;
		break;
	case SIM_QUEUE_DROP:
		c->queue_drops++;
		break;
	}
}

/* ---- sending: the faults, in the order sim.h lists them ---- */

static uint8_t *dup_bytes(const uint8_t *pkt, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	if (p && len)
		memcpy(p, pkt, len);
	return p;
}

static void enqueue(struct sim *s, synfin_time_t t, struct sim_host *to, uint8_t *pkt, size_t len)
{
	if (!pkt || !heap_push(s, t, to, pkt, len)) {
		/* Out of memory: the datagram is lost, and said so, rather
		 * than the run stopping. */
		fprintf(stderr, "sim: out of memory; a datagram is lost\n");
		s->counts.lost++;
	}
}

/* Room for one more start time in the queue's ring, kept in FIFO order. */
static bool queue_grow(struct sim_dir *d)
{
	uint32_t cap = d->wcap ? d->wcap * 2 : 64;
	synfin_time_t *n;

	if (d->wcap >= UINT32_MAX / 2)
		return false;
	n = malloc((size_t)cap * sizeof(*n));
	if (!n)
		return false;
	for (uint32_t i = 0; i < d->wlen; i++)
		n[i] = d->waiting[(d->whead + i) % d->wcap];
	free(d->waiting);
	d->waiting = n;
	d->wcap = cap;
	d->whead = 0;
	return true;
}

/* Queue a datagram of `len` bytes on a direction with a rate and transmit
 * it; *depart is when its last bit leaves (rounded up to the
 * microsecond). False: the queue is full, and nothing changed. */
static bool transmit(struct sim *s, struct sim_dir *d, const struct sim_link *l, size_t len,
		     synfin_time_t *depart)
{
	uint64_t rate = l->rate_bps;
	/* bit-microseconds: len*8 bits take this / rate microseconds */
	uint64_t work = (uint64_t)len * 8u * SYNFIN_US_PER_S;
	uint64_t q = work / rate, r = work % rate;

	if (d->frac_rate != rate) {
		/* the link's rate was changed: round the current end up */
		d->busy_until = time_add(d->busy_until, d->busy_frac ? 1 : 0);
		d->busy_frac = 0;
		d->frac_rate = rate;
	}
	/* the datagrams whose transmission has begun are waiting no more */
	while (d->wlen && d->waiting[d->whead] <= s->now) {
		d->whead = (d->whead + 1) % d->wcap;
		d->wlen--;
	}
	if (d->busy_until > s->now || (d->busy_until == s->now && d->busy_frac)) {
		/* the transmitter is busy: wait behind the others */
		if (l->queue_pkts && d->wlen >= l->queue_pkts)
			return false;
		if (d->wlen == d->wcap && !queue_grow(d)) {
			fprintf(stderr, "sim: out of memory for a queue; a datagram is dropped\n");
			return false;
		}
		d->waiting[(d->whead + d->wlen) % d->wcap] = time_add(d->busy_until, d->busy_frac ? 1 : 0);
		d->wlen++;
	} else {
		d->busy_until = s->now;
		d->busy_frac = 0;
	}
	d->busy_until = time_add(d->busy_until, q);
	if (r >= rate - d->busy_frac) {
		d->busy_frac -= rate - r;
		d->busy_until = time_add(d->busy_until, 1);
	} else {
		d->busy_frac += r;
	}
	*depart = time_add(d->busy_until, d->busy_frac ? 1 : 0);
	return true;
}

/* One Gilbert-Elliott step of a direction, then whether the datagram is
 * lost (always in the bad state, never in the good one). */
static bool ge_lost(struct sim *s, struct sim_dir *d, const struct sim_link *l)
{
	if (d->ge_bad) {
		if (sim_chance(s, l->ge_r))
			d->ge_bad = false;
	} else if (sim_chance(s, l->ge_p)) {
		d->ge_bad = true;
	}
	return d->ge_bad;
}

/* The faults that keep a datagram from ever arriving; fills *to, *l and
 * *depart (when its last bit leaves the sender) when it will arrive. */
static enum sim_fate decide_fate(struct sim *s, struct sim_host *from, const uint8_t *pkt,
				 size_t len, struct sim_host **to, const struct sim_link **l,
				 synfin_time_t *depart)
{
	struct sim_dir *d = NULL;

	*depart = s->now;
	if (s->filter && s->filter(s->filter_ctx, from, pkt, len))
		return SIM_DROPPED_FILTER;
	*to = route(s, pkt, len);
	if (!*to)
		return SIM_NO_HOST;
	*l = link_between(s, from, *to);
	if (!(*l)->up || !from->plugged || !(*to)->plugged)
		return SIM_UNPLUGGED;
	if ((*l)->mtu && len > (*l)->mtu)
		return SIM_TOO_BIG;
	/* *l stays valid: a slot is only made for a pair on the default
	 * link, which does not live among the slots */
	if ((*l)->rate_bps || (*l)->ge_p > 0.0) {
		d = dir_state(s, from, *to);
		if (!d) {
			fprintf(stderr, "sim: out of memory for a link's state; a datagram is dropped\n");
			return SIM_QUEUE_DROP;
		}
	}
	if ((*l)->rate_bps && !transmit(s, d, *l, len, depart))
		return SIM_QUEUE_DROP;
	if ((*l)->ge_p > 0.0 && ge_lost(s, d, *l)) {
		s->counts.burst_lost++;
		return SIM_LOST;
	}
	if (sim_chance(s, (*l)->loss))
		return SIM_LOST;
	return SIM_DELIVERED;
}

static void sim_send(struct sim *s, struct sim_host *from, const uint8_t *pkt, size_t len)
{
	struct sim_host *to = NULL;
	const struct sim_link *l = NULL;
	enum sim_fate fate;
	uint8_t *copy, *copy2;
	bool corrupt, dup, reorder;
	synfin_time_t depart, d1, d2;
	char notes[64] = "";

	s->counts.sent++;
	/* Before any fault: the capture shows what the host put on the wire. */
	if (s->pcap_on)
		pcap_write(&s->pcap, s->now, pkt, len);

	fate = decide_fate(s, from, pkt, len, &to, &l, &depart);
	if (fate != SIM_DELIVERED) {
		count_fate(&s->counts, fate);
		trace_datagram(s, pkt, len, s->now, fate_note(fate), true);
		return;
	}

	copy = dup_bytes(pkt, len);
	corrupt = sim_chance(s, l->corrupt);
	if (corrupt) {
		/* One bit anywhere, header or payload: the checksums are
		 * what must catch it, wherever it lands. */
		uint64_t bit = len ? sim_rand(s) % ((uint64_t)len * 8) : 0;

		if (copy && len)
			copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		s->counts.corrupted++;
		strcat(notes, "  [corrupted]");
	}
	dup = sim_chance(s, l->dup);
	reorder = sim_chance(s, l->reorder);
	d1 = time_add(l->delay, sim_rand_upto(s, l->jitter));
	d2 = dup ? time_add(l->delay, sim_rand_upto(s, l->jitter)) : 0;
	if (reorder) {
		/* Held back past the datagrams sent after it, and past its
		 * own duplicate. */
		d1 = time_add(d1, time_add(time_add(l->delay, l->delay), SYNFIN_MS(1)));
		s->counts.reordered++;
	}
	/* The duplicate is made after the corruption: both copies carry the
	 * same damage, as when a router repeats a damaged frame. */
	copy2 = dup && copy ? dup_bytes(copy, len) : NULL;
	enqueue(s, time_add(depart, d1), to, copy, len);
	if (dup) {
		s->counts.duplicated++;
		strcat(notes, "  [duplicated]");
		enqueue(s, time_add(depart, d2), to, copy2, len);
	}
	if (reorder)
		strcat(notes, "  [reordered]");
	trace_datagram(s, pkt, len, s->now, notes, s->trace_flags & SIM_TRACE_SEGMENTS);
}

/* ---- the stack's callbacks ---- */

static void host_output(void *ctx, const uint8_t *pkt, size_t len)
{
	struct sim_host *h = ctx;

	/* A stack being destroyed (crash, teardown) sends nothing. */
	if (!h->up)
		return;
	sim_send(h->sim, h, pkt, len);
}

void sim_inject(struct sim_host *from, const uint8_t *pkt, size_t len)
{
	/* a crashed host sends nothing, crafted or not */
	if (!from->up)
		return;
	sim_send(from->sim, from, pkt, len);
}

static void host_state_change(void *ctx, const struct synfin_state_event *ev)
{
	struct sim_host *h = ctx;
	struct sim *s = h->sim;

	/* A crash makes the TCP state vanish; whatever the stack reports
	 * while it is torn down did not happen on the network. */
	if (!h->up)
		return;
	if (s->trace && (s->trace_flags & SIM_TRACE_STATES)) {
		char tbuf[32], lip[16], rip[16], remote[32];

		if (ev->remote.ip)
			snprintf(remote, sizeof(remote), "%s.%u",
				 synfin_ip_str(ev->remote.ip, rip), (unsigned)ev->remote.port);
		else
			snprintf(remote, sizeof(remote), "*.*");
		fprintf(s->trace, "%s %-8s %s.%u > %s %s -> %s (%s)\n",
			fmt_time(tbuf, sizeof(tbuf), s->now), h->name,
			synfin_ip_str(ev->local.ip, lip), (unsigned)ev->local.port, remote,
			synfin_state_name(ev->old_state), synfin_state_name(ev->new_state),
			ev->cause ? ev->cause : "?");
	}
	if (s->state_hook)
		s->state_hook(s->state_ctx, h, ev);
}

/* ---- hosts ---- */

static bool host_boot(struct sim *s, struct sim_host *h)
{
	/* The seed is drawn even if creation fails, so a failure does not
	 * shift every later random choice. */
	uint64_t seed = sim_rand(s);

	h->up = true;
	s->in_stack = true;
	h->stack = synfin_stack_create(&h->cfg, &h->ops, h->ip, seed, s->now);
	s->in_stack = false;
	if (!h->stack)
		h->up = false;
	return h->stack != NULL;
}

static void host_kill(struct sim *s, struct sim_host *h)
{
	if (!h->stack)
		return;
	h->up = false;
	s->in_stack = true;
	synfin_stack_destroy(h->stack);
	s->in_stack = false;
	h->stack = NULL;
}

struct sim_host *sim_add_host(struct sim *s, const char *name, uint32_t ip,
			      const struct synfin_config *cfg)
{
	struct sim_host *h;
	size_t nlen = strlen(name);

	for (size_t i = 0; i < s->nhosts; i++)
		if (s->hosts[i]->ip == ip)
			return NULL; /* an address belongs to one host */
	if (s->nhosts == s->hosts_cap) {
		size_t cap = s->hosts_cap ? s->hosts_cap * 2 : 16;
		struct sim_host **n = realloc(s->hosts, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->hosts = n;
		s->hosts_cap = cap;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->name = malloc(nlen + 1);
	if (!h->name) {
		free(h);
		return NULL;
	}
	memcpy(h->name, name, nlen + 1);
	h->sim = s;
	h->idx = s->nhosts;
	h->ip = ip;
	h->cfg = cfg ? *cfg : s->cfg;
	h->ops = (struct synfin_ops){ .ctx = h, .output = host_output, .state_change = host_state_change };
	h->plugged = true;
	if (!host_boot(s, h)) {
		free(h->name);
		free(h);
		return NULL;
	}
	s->hosts[s->nhosts++] = h;
	return h;
}

struct synfin_stack *sim_stack(struct sim_host *h)
{
	return h->stack;
}

const char *sim_host_name(const struct sim_host *h)
{
	return h->name;
}

uint32_t sim_host_ip(const struct sim_host *h)
{
	return h->ip;
}

bool sim_host_up(const struct sim_host *h)
{
	return h->up;
}

static void trace_host_event(struct sim *s, const struct sim_host *h, const char *what)
{
	char tbuf[32];

	if (s->trace && (s->trace_flags & SIM_TRACE_STATES))
		fprintf(s->trace, "%s %-8s %s\n", fmt_time(tbuf, sizeof(tbuf), s->now), h->name, what);
}

void sim_crash(struct sim_host *h)
{
	struct sim *s = h->sim;

	/* Destroying a stack from inside one of its own callbacks would pull
	 * it out from under itself. */
	assert(!s->in_stack);
	if (!h->up)
		return;
	host_kill(s, h);
	trace_host_event(s, h, "crashed");
}

void sim_reboot(struct sim_host *h)
{
	struct sim *s = h->sim;

	assert(!s->in_stack);
	if (h->up)
		sim_crash(h);
	if (host_boot(s, h))
		trace_host_event(s, h, "rebooted");
	else
		fprintf(stderr, "sim: %s: could not create a stack; the host stays down\n", h->name);
}

/* ---- lifecycle and settings ---- */

struct sim *sim_create(uint64_t seed, const struct synfin_config *cfg)
{
	struct sim *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->rng = seed;
	if (cfg)
		s->cfg = *cfg;
	else
		synfin_config_default(&s->cfg);
	sim_link_default(&s->dflt);
	wire_printer_init(&s->printer);
	return s;
}

void sim_destroy(struct sim *s)
{
	if (!s)
		return;
	/* Teardown is not part of the run: no callbacks into the user (whose
	 * trace file or hook context may already be gone). */
	s->trace = NULL;
	s->state_hook = NULL;
	s->filter = NULL;
	for (size_t i = 0; i < s->nhosts; i++) {
		host_kill(s, s->hosts[i]);
		free(s->hosts[i]->name);
		free(s->hosts[i]);
	}
	free(s->hosts);
	for (size_t i = 0; i < s->nev; i++)
		free(s->heap[i].pkt);
	free(s->heap);
	for (size_t i = 0; i < s->nlinks; i++) {
		free(s->links[i].dir[0].waiting);
		free(s->links[i].dir[1].waiting);
	}
	free(s->links);
	if (s->pcap_on && pcap_close(&s->pcap) < 0)
		fprintf(stderr, "sim: writing the pcap file failed\n");
	free(s);
}

void sim_set_filter(struct sim *s, sim_filter_fn fn, void *ctx)
{
	s->filter = fn;
	s->filter_ctx = ctx;
}

void sim_set_trace(struct sim *s, FILE *out, unsigned flags)
{
	s->trace = out;
	s->trace_flags = flags;
}

int sim_set_pcap(struct sim *s, const char *path)
{
	int err = 0;

	if (s->pcap_on) {
		s->pcap_on = false;
		err = pcap_close(&s->pcap);
	}
	if (!path)
		return err;
	err = pcap_open(&s->pcap, path, PCAP_LINKTYPE_RAW);
	s->pcap_on = err == 0;
	return err;
}

void sim_set_state_hook(struct sim *s, sim_state_fn fn, void *ctx)
{
	s->state_hook = fn;
	s->state_ctx = ctx;
}

const struct sim_counts *sim_get_counts(const struct sim *s)
{
	return &s->counts;
}

synfin_time_t sim_now(const struct sim *s)
{
	return s->now;
}

/* ---- the main loop ---- */

static void deliver(struct sim *s, struct sim_event *ev)
{
	struct sim_host *h = ev->to;

	if (!h->up) {
		s->counts.host_down++;
		trace_datagram(s, ev->pkt, ev->len, s->now, fate_note(SIM_HOST_DOWN), true);
	} else {
		s->counts.delivered++;
		s->in_stack = true;
		synfin_input(h->stack, ev->pkt, ev->len, s->now);
		s->in_stack = false;
	}
	free(ev->pkt);
}

static synfin_time_t min_deadline(const struct sim *s)
{
	synfin_time_t t = SYNFIN_TIME_NEVER;

	for (size_t i = 0; i < s->nhosts; i++) {
		const struct sim_host *h = s->hosts[i];

		if (h->up) {
			synfin_time_t d = synfin_next_deadline(h->stack);

			if (d < t)
				t = d;
		}
	}
	return t;
}

/* Poll the hosts in index order, so ties between hosts replay too.
 * all == false: only those with a timer due now. */
static void poll_hosts(struct sim *s, bool all)
{
	for (size_t i = 0; i < s->nhosts; i++) {
		struct sim_host *h = s->hosts[i];

		if (!h->up)
			continue;
		if (!all && synfin_next_deadline(h->stack) > s->now)
			continue;
		s->in_stack = true;
		synfin_poll(h->stack, s->now);
		s->in_stack = false;
	}
}

/* One delivery or one round of due timers, if anything is due by `limit`. */
static bool step(struct sim *s, synfin_time_t limit)
{
	synfin_time_t t_ev = s->nev ? s->heap[0].t : SYNFIN_TIME_NEVER;
	synfin_time_t t_dl = min_deadline(s);
	synfin_time_t t = t_ev < t_dl ? t_ev : t_dl;

	if (t == SYNFIN_TIME_NEVER || t > limit)
		return false;
	/* A deadline already in the past runs now: time never goes back. */
	if (t > s->now)
		s->now = t;
	if (t_ev <= t_dl) {
		struct sim_event ev = heap_pop(s);

		deliver(s, &ev);
	} else {
		poll_hosts(s, false);
	}
	return true;
}

static bool run(struct sim *s, synfin_time_t limit, bool (*cond)(void *ctx), void *ctx)
{
	uint64_t stuck = 0;
	bool held = cond && cond(ctx);

	/* Running the simulator from inside a stack callback would re-enter
	 * that stack. */
	assert(!s->in_stack);
	while (!held) {
		synfin_time_t before = s->now;

		if (!step(s, limit))
			break;
		if (s->now != before) {
			stuck = 0;
		} else if (++stuck >= SIM_MAX_STUCK_STEPS) {
			char tbuf[32];

			fprintf(stderr, "sim: %llu steps at %s without the clock moving; giving up on this run\n",
				(unsigned long long)stuck, fmt_time(tbuf, sizeof(tbuf), s->now));
			break;
		}
		if (cond)
			held = cond(ctx);
	}
	if (!held && s->now < limit)
		s->now = limit;
	/* Every stack learns the final time, so socket calls made between
	 * runs are stamped with it. */
	poll_hosts(s, true);
	if (!held && cond)
		held = cond(ctx);
	return held;
}

void sim_run_until(struct sim *s, synfin_time_t t)
{
	run(s, t, NULL, NULL);
}

void sim_run_for(struct sim *s, synfin_time_t d)
{
	sim_run_until(s, time_add(s->now, d));
}

bool sim_run_until_cond(struct sim *s, bool (*cond)(void *ctx), void *ctx, synfin_time_t limit)
{
	return run(s, limit, cond, ctx);
}
