/*
 * The soak test: 1,000 seeded runs of a transfer in both directions at once
 * over a link that loses (up to 10%), duplicates, reorders and corrupts.
 * Every byte must arrive exactly once and in order, each run must finish
 * within a bound derived from the link, and the engine's invariants
 * (synfin_check) must hold on both stacks after every simulator event.
 */
#include <errno.h>
#include <stdlib.h>

#include "dev/sim.h"
#include "synfin/synfin.h"
#include "test.h"

#define SOAK_RUNS 1000
#define SOAK_BYTES 24000 /* each way: some twenty segments, enough for holes */

struct end {
	struct synfin_stack *st;
	int fd;
	uint32_t sent, got;
	bool shut, eof;
	uint8_t tag; /* pattern of this end's bytes */
};

struct soak {
	struct sim *sim;
	struct sim_host *h[2];
	struct end e[2];
	char why[256];
	bool bad;
};

static uint8_t pattern(uint8_t tag, uint32_t off)
{
	return (uint8_t)(tag ^ (off * 2654435761u >> 13));
}

/* One step of each application, then the invariants: called after every
 * simulator event. Returns true to stop (done or broken). */
static bool step(void *ctx)
{
	struct soak *s = ctx;
	for (int i = 0; i < 2 && !s->bad; i++) {
		struct end *e = &s->e[i], *peer = &s->e[1 - i];
		uint8_t buf[4096];
		while (e->sent < SOAK_BYTES) {
			uint32_t n = SOAK_BYTES - e->sent < sizeof buf ? SOAK_BYTES - e->sent : (uint32_t)sizeof buf;
			for (uint32_t k = 0; k < n; k++)
				buf[k] = pattern(e->tag, e->sent + k);
			long r = synfin_send(e->st, e->fd, buf, n);
			if (r == -EAGAIN)
				break;
			if (r <= 0) {
				snprintf(s->why, sizeof s->why, "end %d send: %ld", i, r);
				s->bad = true;
				return true;
			}
			e->sent += (uint32_t)r;
		}
		if (e->sent == SOAK_BYTES && !e->shut) {
			synfin_shutdown(e->st, e->fd, SYNFIN_SHUT_WR);
			e->shut = true;
		}
		for (;;) {
			long r = synfin_recv(e->st, e->fd, buf, sizeof buf);
			if (r == -EAGAIN)
				break;
			if (r == 0) {
				e->eof = true;
				break;
			}
			if (r < 0) {
				snprintf(s->why, sizeof s->why, "end %d recv: %ld", i, r);
				s->bad = true;
				return true;
			}
			for (long k = 0; k < r; k++) {
				if (buf[k] != pattern(peer->tag, e->got + (uint32_t)k)) {
					snprintf(s->why, sizeof s->why, "end %d: byte %u is wrong", i,
						 e->got + (uint32_t)k);
					s->bad = true;
					return true;
				}
			}
			e->got += (uint32_t)r;
			if (e->got > SOAK_BYTES) {
				snprintf(s->why, sizeof s->why, "end %d got %u bytes, more than sent", i, e->got);
				s->bad = true;
				return true;
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		char why[200];
		if (synfin_check(s->e[i].st, why, sizeof why) < 0) {
			snprintf(s->why, sizeof s->why, "invariant on end %d: %s", i, why);
			s->bad = true;
			return true;
		}
	}
	return s->e[0].eof && s->e[1].eof;
}

/* a fresh configuration of the link for run `seed` */
static void link_for(uint64_t seed, struct sim_link *l, double *loss)
{
	sim_link_default(l);
	uint64_t r = seed * 0x9e3779b97f4a7c15ull;
	*loss = (double)(r % 1001) / 10000.0; /* 0 to 10% */
	l->loss = *loss;
	l->dup = (double)((r >> 12) % 51) / 1000.0;     /* up to 5% */
	l->reorder = (double)((r >> 24) % 51) / 1000.0; /* up to 5% */
	l->corrupt = (double)((r >> 36) % 21) / 1000.0; /* up to 2% */
	l->delay = SYNFIN_MS(1 + (r >> 44) % 20);
	l->jitter = SYNFIN_MS((r >> 52) % 3);
}

TEST(soak_1000_lossy_bidirectional_transfers)
{
	struct synfin_config cfg;
	synfin_config_default(&cfg);
	cfg.rcvbuf = 8192; /* small windows: more segments in flight per byte */
	cfg.sndbuf = 8192;
	unsigned failed = 0;
	char first[512] = "";
	/* SOAK_SEED=N replays one run with its trace on stderr */
	const char *one = getenv("SOAK_SEED");
	uint64_t lo = one ? strtoull(one, NULL, 10) : 1, hi = one ? lo : SOAK_RUNS;
	for (uint64_t seed = lo; seed <= hi; seed++) {
		struct soak s;
		memset(&s, 0, sizeof s);
		struct sim_link l;
		double loss;
		link_for(seed, &l, &loss);
		cfg.congestion = (seed & 1) ? SYNFIN_CC_CUBIC : SYNFIN_CC_NEWRENO;
		cfg.sack = (seed % 3) != 0;
		s.sim = sim_create(seed, &cfg);
		if (one)
			sim_set_trace(s.sim, stderr, SIM_TRACE_SEGMENTS | SIM_TRACE_STATES);
		sim_set_default_link(s.sim, &l);
		s.h[0] = sim_add_host(s.sim, "a", 0xC6120001u, NULL);
		s.h[1] = sim_add_host(s.sim, "b", 0xC6120002u, NULL);
		s.e[0].st = sim_stack(s.h[0]);
		s.e[1].st = sim_stack(s.h[1]);
		s.e[0].tag = 0x5a;
		s.e[1].tag = 0xa5;
		int lfd = synfin_socket(s.e[0].st);
		synfin_bind(s.e[0].st, lfd, &(struct synfin_addr){0, 80});
		synfin_listen(s.e[0].st, lfd, 4);
		s.e[1].fd = synfin_socket(s.e[1].st);
		synfin_connect(s.e[1].st, s.e[1].fd, &(struct synfin_addr){0xC6120001u, 80});
		/* the bound: the transfer at the worst rate the window allows,
		 * one RTT per window, plus room for a chain of backed-off
		 * retransmissions (1+2+4+...+64 s) */
		synfin_time_t rtt = 2 * (l.delay + l.jitter);
		synfin_time_t bound = SYNFIN_SEC(300) + (SOAK_BYTES / 1000 + 10) * (rtt + SYNFIN_MS(200));
		s.e[0].fd = -1;
		bool accepted = false;
		for (int tries = 0; tries < 1000 && !accepted && sim_now(s.sim) < bound; tries++) {
			sim_run_for(s.sim, SYNFIN_MS(50));
			s.e[0].fd = synfin_accept(s.e[0].st, lfd, NULL);
			accepted = s.e[0].fd >= 0;
		}
		bool done = accepted && sim_run_until_cond(s.sim, step, &s, bound);
		if (!done || s.bad || s.e[0].got != SOAK_BYTES || s.e[1].got != SOAK_BYTES) {
			if (!failed++)
				snprintf(first, sizeof first,
					 "seed %llu (loss %.3f dup %.3f reorder %.3f corrupt %.3f): %s; got %u and %u of %u by %.1f s",
					 (unsigned long long)seed, loss, l.dup, l.reorder, l.corrupt,
					 s.bad ? s.why : accepted ? "stalled past the bound" : "never accepted",
					 s.e[0].got, s.e[1].got, SOAK_BYTES, (double)sim_now(s.sim) / 1e6);
		}
		sim_destroy(s.sim);
	}
	ASSERT_MSG(failed == 0, "%u of %d runs failed; first: %s", failed, SOAK_RUNS, first);
}
