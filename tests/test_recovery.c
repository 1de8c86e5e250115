/*
 * Loss recovery when a retransmission is lost too, checked with two real
 * stacks over the simulator: in SACK recovery, the resent first hole is
 * probed again after the PTO (two RTTs) when nothing acknowledges it, not
 * after the 1 s RTO, even when no more ACKs are on their way; and the
 * probes back off and give way to the RTO on a dead path.
 */
#include <errno.h>
#include <stdlib.h>

#include "dev/sim.h"
#include "tcp/tcp_priv.h"
#include "test.h"
#include "wire/wire.h"

#define SRV_IP 0xc6120001u
#define CLI_IP 0xc6120002u
#define TOTAL (30 * 1448) /* about 30 segments: the loss is near the tail */

struct drop_seq {
	const struct sim_host *from;
	uint32_t off;   /* payload offset (from the first data byte) to drop */
	int times;      /* how many transmissions of it to drop */
	int seen;       /* transmissions of it so far */
	uint32_t off2;  /* a second one (0: none), dropped once */
	int seen2;
	uint32_t isn;   /* the sender's ISS, once its SYN went */
	bool have_isn;
	bool all;       /* drop everything from `from` (a dead path) */
	int dropped;
};

static bool drop_filter(void *ctx, const struct sim_host *from, const uint8_t *pkt, size_t len)
{
	struct drop_seq *d = ctx;
	if (from != d->from)
		return false;
	struct ip4_view ip;
	struct tcp_seg seg;
	if (ip4_parse(pkt, len, &ip) != WIRE_OK || tcp_parse(&ip, &seg) != WIRE_OK)
		return false;
	if (seg.flags & TH_SYN) {
		d->isn = seg.seq;
		d->have_isn = true;
		return false;
	}
	if (d->all && seg.len > 0) {
		d->dropped++;
		return true;
	}
	if (d->have_isn && d->off2 && seg.len > 0 && seg.seq - d->isn - 1 == d->off2 && d->seen2++ < 1) {
		d->dropped++;
		return true;
	}
	if (d->have_isn && seg.len > 0 && seg.seq - d->isn - 1 == d->off && d->seen++ < d->times) {
		d->dropped++;
		return true;
	}
	return false;
}

struct xfer {
	struct sim *s;
	struct sim_host *srv, *cli;
	int lfd, cfd, afd;
	uint32_t sent, got;
};

static bool pump(void *ctx)
{
	struct xfer *x = ctx;
	struct synfin_stack *c = sim_stack(x->cli), *s = sim_stack(x->srv);
	if (x->afd < 0)
		x->afd = synfin_accept(s, x->lfd, NULL);
	static uint8_t buf[TOTAL];
	if (x->sent < TOTAL && synfin_state(c, x->cfd) == TCPS_ESTABLISHED) {
		long k = synfin_send(c, x->cfd, buf, TOTAL - x->sent);
		if (k > 0)
			x->sent += (uint32_t)k;
	}
	if (x->afd >= 0) {
		long k;
		while ((k = synfin_recv(s, x->afd, buf, sizeof buf)) > 0)
			x->got += (uint32_t)k;
	}
	return x->got == TOTAL;
}

static void xfer_start(struct xfer *x, struct drop_seq *d)
{
	memset(x, 0, sizeof *x);
	x->s = sim_create(5, NULL);
	ASSERT(x->s);
	struct sim_link l;
	sim_link_default(&l);
	l.delay = SYNFIN_MS(10); /* RTT 20 ms */
	sim_set_default_link(x->s, &l);
	x->srv = sim_add_host(x->s, "server", SRV_IP, NULL);
	x->cli = sim_add_host(x->s, "client", CLI_IP, NULL);
	ASSERT(x->srv && x->cli);
	struct synfin_stack *s = sim_stack(x->srv), *c = sim_stack(x->cli);
	x->lfd = synfin_socket(s);
	ASSERT_EQ(synfin_bind(s, x->lfd, &(struct synfin_addr){0, 80}), 0);
	ASSERT_EQ(synfin_listen(s, x->lfd, 4), 0);
	x->afd = -1;
	d->from = x->cli;
	sim_set_filter(x->s, drop_filter, d);
	x->cfd = synfin_socket(c);
	ASSERT_EQ(synfin_connect(c, x->cfd, &(struct synfin_addr){SRV_IP, 80}), -EINPROGRESS);
}

/* The segment 25 of 30 is lost, and so is its fast retransmission; the
 * segments after it are SACKed, and then no ACK is left to come. */
TEST(lost_retransmission_at_the_tail_is_probed_after_the_pto)
{
	struct xfer x;
	struct drop_seq d = {.off = 24 * 1448, .times = 2};
	xfer_start(&x, &d);
	ASSERT(sim_run_until_cond(x.s, pump, &x, SYNFIN_SEC(30)));
	ASSERT_EQ(d.dropped, 2);
	const struct synfin_stats *st = synfin_get_stats(sim_stack(x.cli));
	ASSERT_EQ(st->timeouts, 0);
	/* about 3 RTTs for the data, the fast retransmit one more, the probe
	 * two more: far from the 1 s RTO */
	ASSERT_MSG(sim_now(x.s) < SYNFIN_MS(400), "done at %llu us", (unsigned long long)sim_now(x.s));
	struct tcb *tp = sim_stack(x.cli)->fds[x.cfd];
	ASSERT(tp->x && tp->x->fast_retrans >= 1 && tp->x->rto_count == 0);
	sim_destroy(x.s);
}

/* Two holes, the second made during recovery (new data sent then is
 * lost): the first one's resend arrives (a partial ACK), the second one's
 * is lost, and is probed again within a few RTTs. */
TEST(lost_retransmission_of_a_later_hole_is_probed_after_the_pto)
{
	struct xfer x;
	struct drop_seq d = {.off = 28 * 1448, .times = 2, .off2 = 19 * 1448};
	xfer_start(&x, &d);
	ASSERT(sim_run_until_cond(x.s, pump, &x, SYNFIN_SEC(30)));
	ASSERT_EQ(d.dropped, 3);
	ASSERT_EQ(synfin_get_stats(sim_stack(x.cli))->timeouts, 0);
	ASSERT_MSG(sim_now(x.s) < SYNFIN_MS(400), "done at %llu us", (unsigned long long)sim_now(x.s));
	sim_destroy(x.s);
}

/* Without the probe (a plain RTO) the same loss costs at least 1 s: the
 * test above measures what the probe brings. */
TEST(lost_retransmission_costs_the_rto_when_probes_are_spent)
{
	struct xfer x;
	/* the first transmission, the fast retransmission and RPROBE_MAX
	 * probes are all lost: only the RTO is left */
	struct drop_seq d = {.off = 24 * 1448, .times = 2 + RPROBE_MAX};
	xfer_start(&x, &d);
	ASSERT(sim_run_until_cond(x.s, pump, &x, SYNFIN_SEC(60)));
	ASSERT_EQ(d.dropped, 2 + RPROBE_MAX);
	ASSERT(sim_now(x.s) > SYNFIN_SEC(1));
	struct tcb *tp = sim_stack(x.cli)->fds[x.cfd];
	ASSERT(tp->x && tp->x->rto_count >= 1);
	sim_destroy(x.s);
}

/* A dead path: the probes back off (10 ms, 20 ms, ... doubling) and stop
 * after RPROBE_MAX; the RTO and its backoff take over, so the connection
 * times out as it would without them. */
TEST(recovery_probes_back_off_on_a_dead_path)
{
	struct xfer x;
	struct drop_seq d = {.off = 24 * 1448, .times = 1};
	xfer_start(&x, &d);
	/* run until the loss put the sender into recovery, then cut the path */
	for (int i = 0; i < 100000 && !(sim_stack(x.cli)->fds[x.cfd] && sim_stack(x.cli)->fds[x.cfd]->x &&
					  sim_stack(x.cli)->fds[x.cfd]->x->ca_state == CA_RECOVERY);
	     i++) {
		pump(&x);
		sim_run_for(x.s, SYNFIN_US_PER_MS / 10);
	}
	struct tcb *tp = sim_stack(x.cli)->fds[x.cfd];
	ASSERT(tp && tp->x && tp->x->ca_state == CA_RECOVERY);
	d.all = true;
	uint64_t rx0 = synfin_get_stats(sim_stack(x.cli))->rexmits;
	sim_run_for(x.s, SYNFIN_MS(900));
	uint64_t in_900ms = synfin_get_stats(sim_stack(x.cli))->rexmits - rx0;
	ASSERT(tp->x->rprobes <= RPROBE_MAX);
	/* a handful of probes (each resends what the window allows), not a
	 * storm: with no backoff 900 ms would hold 90 probes */
	ASSERT_MSG(in_900ms < 40, "%llu retransmissions in 900 ms", (unsigned long long)in_900ms);
	sim_destroy(x.s);
}
