/*
 * Timers, on the virtual clock: SYN and SYN,ACK retransmission, the
 * connection-establishment limit, data retransmission (RFC 6298 backoff and
 * Karn), the FIN_WAIT_2 timer, keepalive (RFC 1122 4.2.3.6), zero-window
 * probes (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17) and the quiet time (RFC 9293
 * 3.4.3).
 */
#include "tcp_harness.h"

/* ==== SYN retransmission ==== */

TEST(syn_retransmission_schedule_then_etimedout)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.syn_retries = 6;
	cfg.conn_timeout = SEC(1000); /* out of the way: only syn_retries */
	struct harness *h = h_new(&cfg);
	h_syn_sent(h);
	/* RTO 1 s doubled each time (RFC 6298 5.5): 1, 2, 4, 8, 16, 32 s */
	synfin_time_t t = T0, gap = SEC(1);
	for (int i = 0; i < 6; i++) {
		t += gap;
		gap *= 2;
		h_poll(h, t - 1);
		EXPECT_NONE(h);
		STEP_TO(h, t);
		EXPECT_SEG(h, TH_SYN, ISS, 0, 0);
		EXPECT_NONE(h);
		ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_SYN_SENT);
	}
	ASSERT_EQ(t, T0 + SEC(63));
	/* the sixth retransmission is the last; 64 s later the attempt ends */
	STEP_TO(h, T0 + SEC(127));
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_CLOSED);
	EXPECT_NONE(h); /* nothing was ever received: no RST to send */
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	ASSERT(synfin_events(h->st, h->fd) & SYNFIN_EV_ERR);
	int err = 0;
	size_t len = sizeof err;
	ASSERT_EQ(synfin_getsockopt(h->st, h->fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_ERROR, &err, &len), 0);
	ASSERT_EQ(err, ETIMEDOUT);
	ASSERT_EQ(synfin_get_stats(h->st)->syn_rexmits, 6);
	h_free(h);
}

TEST(connection_establishment_limit)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.syn_retries = 100;
	cfg.conn_timeout = SEC(10);
	struct harness *h = h_new(&cfg);
	h_syn_sent(h);
	STEP_TO(h, T0 + SEC(1));
	EXPECT_SEG(h, TH_SYN, ISS, 0, 0);
	STEP_TO(h, T0 + SEC(3));
	EXPECT_SEG(h, TH_SYN, ISS, 0, 0);
	STEP_TO(h, T0 + SEC(7));
	EXPECT_SEG(h, TH_SYN, ISS, 0, 0);
	/* the next retransmission would be at 15 s; the limit comes first */
	STEP_TO(h, T0 + SEC(10));
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_CLOSED);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	struct synfin_addr a = {REMOTE_IP, PEER_SRV_PORT};
	ASSERT_EQ(synfin_connect(h->st, h->fd, &a), -ETIMEDOUT);
	h_free(h);
}

TEST(syn_ack_retransmission_schedule_then_child_dropped)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.synack_retries = 5;
	cfg.conn_timeout = SEC(1000);
	struct harness *h = h_new(&cfg);
	h_syn_rcvd(h);
	synfin_time_t t = T0, gap = SEC(1);
	for (int i = 0; i < 5; i++) {
		t += gap;
		gap *= 2;
		STEP_TO(h, t);
		EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
		EXPECT_NONE(h);
	}
	STEP_TO(h, T0 + SEC(63));
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_CLOSED);
	ASSERT(h_tcb(h) == NULL);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	ASSERT_EQ(synfin_state(h->st, h->lfd), TCPS_LISTEN);
	h_free(h);
}

TEST(syn_rcvd_connection_establishment_limit)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.synack_retries = 100;
	cfg.conn_timeout = SEC(5);
	struct harness *h = h_new(&cfg);
	h_syn_rcvd(h);
	STEP_TO(h, T0 + SEC(1));
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	STEP_TO(h, T0 + SEC(3));
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	STEP_TO(h, T0 + SEC(5));
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_CLOSED);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	h_free(h);
}

/* ==== data retransmission (RFC 6298) ==== */

/* ESTABLISHED by an active open whose SYN,ACK came back after `rtt`: the
 * first RTT sample (RFC 6298 2.2: SRTT = R, RTTVAR = R/2). */
static struct harness *established_with_rtt(const struct synfin_config *cfg, synfin_time_t rtt)
{
	struct harness *h = h_new(cfg);
	h_syn_sent(h);
	SEND(h, T0 + rtt, .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = ISS + 1, .mss = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_ESTABLISHED);
	EXPECT_NONE(h);
	return h;
}

TEST(rto_from_the_handshake_sample)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rto_min = MS(200);
	struct harness *h = established_with_rtt(&cfg, MS(100));
	/* RTO = SRTT + 4*RTTVAR = 100 + 4*50 = 300 ms */
	synfin_time_t t = T0 + MS(500);
	h_poll(h, t);
	APP_SEND(h, ISS + 1, 10);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 10);
	EXPECT_DEADLINE(h, t + MS(300));
	h_free(h);
}

TEST(data_rexmit_exponential_backoff_then_etimedout)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.retries = 4;
	struct harness *h = h_new(&cfg);
	h_established(h, ACTIVE);
	synfin_time_t t = T0 + MS(10);
	h_poll(h, t);
	APP_SEND(h, ISS + 1, 20); /* ISS+1 .. ISS+20 crosses 2^32 */
	struct tcp_seg s;
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 1, IRS + 1, 20, &s);
	CHECK_PAYLOAD(&s);
	/* 1 s, then doubled: retransmissions at +1, +3, +7, +15 s */
	synfin_time_t gap = SEC(1);
	for (int i = 0; i < 4; i++) {
		t += gap;
		gap *= 2;
		STEP_TO(h, t);
		EXPECT_SEG_OUT(h, TH_ACK, ISS + 1, IRS + 1, 20, &s);
		CHECK_PAYLOAD(&s);
		EXPECT_NONE(h);
	}
	ASSERT_EQ(synfin_get_stats(h->st)->rexmits, 4);
	/* R2 reached: the connection is aborted, <SEQ=SND.NXT><CTL=RST> */
	STEP_TO(h, t + gap);
	EXPECT_SEG(h, TH_RST | TH_ACK, ISS + 21, IRS + 1, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSED);
	EXPECT_NONE(h);
	char c;
	ASSERT_EQ(synfin_recv(h->st, h->fd, &c, 1), -ETIMEDOUT);
	h_free(h);
}

TEST(data_rexmit_backoff_capped_by_rto_max)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rto_max = SEC(5);
	struct harness *h = h_new(&cfg);
	h_established(h, ACTIVE);
	APP_SEND(h, ISS + 1, 5);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 5);
	static const unsigned at[] = {1, 3, 7, 12, 17, 22};
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		STEP_TO(h, T0 + SEC(at[i]));
		EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 5);
	}
	EXPECT_NONE(h);
	h_free(h);
}

TEST(data_rexmit_goes_back_to_snd_una)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	APP_SEND(h, ISS + 1, 2 * MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1 + MSS, IRS + 1, MSS);
	/* the first segment is acknowledged at 100 ms: the timer restarts */
	SEND(h, T0 + MS(100), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1 + MSS);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, T0 + MS(100) + SEC(1));
	STEP_TO(h, T0 + MS(100) + SEC(1));
	/* one segment from SND.UNA (RFC 6298 5.4; cwnd is one segment) */
	struct tcp_seg s;
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 1 + MSS, IRS + 1, MSS, &s);
	CHECK_PAYLOAD(&s);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(karn_no_rtt_sample_from_retransmitted_segment)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rto_min = MS(200);
	struct harness *h = established_with_rtt(&cfg, MS(100));
	struct tcb *tp = h_tcb(h);
	ASSERT_EQ(tp->srtt, 100000);
	ASSERT_EQ(tp->rttvar, 50000);
	ASSERT_EQ(tp->rto, 300000);
	synfin_time_t t1 = T0 + MS(200);
	h_poll(h, t1);
	APP_SEND(h, ISS + 1, 100);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 100);
	STEP_TO(h, t1 + MS(300));
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 100);
	STEP_TO(h, t1 + MS(900));
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 100);
	/* the ACK 1 s after the first transmission is ambiguous: no sample */
	SEND(h, t1 + MS(1000), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 101);
	EXPECT_NONE(h);
	ASSERT_EQ(tp->srtt, 100000);
	ASSERT_EQ(tp->rttvar, 50000);
	h_free(h);
}

TEST(rto_stays_backed_off_until_a_new_sample)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rto_min = MS(200);
	struct harness *h = established_with_rtt(&cfg, MS(100));
	synfin_time_t t1 = T0 + MS(200);
	h_poll(h, t1);
	APP_SEND(h, ISS + 1, 100);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 100);
	STEP_TO(h, t1 + MS(300)); /* RTO 300 -> 600 ms */
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 100);
	STEP_TO(h, t1 + MS(900)); /* RTO 600 -> 1200 ms */
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 100);
	SEND(h, t1 + MS(1000), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 101);
	EXPECT_NONE(h);
	/* RFC 6298 5.5/5.6 and section 5's note: the doubled RTO stays until
	 * a new RTT measurement; there was none (Karn), so the next segment
	 * is timed with 1200 ms, not 300 */
	synfin_time_t t2 = t1 + MS(1100);
	h_poll(h, t2);
	APP_SEND(h, ISS + 101, 10);
	EXPECT_SEG(h, TH_ACK, ISS + 101, IRS + 1, 10);
	EXPECT_DEADLINE(h, t2 + MS(1200));
	/* its ACK after 100 ms is a clean sample: the RTO collapses to
	 * SRTT + 4*RTTVAR = 100 + 4*37.5 = 250 ms (RFC 6298 2.3) */
	SEND(h, t2 + MS(100), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 111);
	synfin_time_t t3 = t2 + MS(200);
	h_poll(h, t3);
	APP_SEND(h, ISS + 111, 10);
	EXPECT_SEG(h, TH_ACK, ISS + 111, IRS + 1, 10);
	EXPECT_DEADLINE(h, t3 + MS(250));
	h_free(h);
}

TEST(rto_is_3s_after_a_retransmitted_syn)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	STEP_TO(h, T0 + SEC(1));
	EXPECT_SEG(h, TH_SYN, ISS, 0, 0);
	/* the SYN,ACK arrives after the retransmission: no RTT sample (Karn) */
	SEND(h, T0 + SEC(1) + MS(50), .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = ISS + 1, .mss = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_ESTABLISHED);
	/* RFC 6298 5.7: the timer expired on the SYN and RTO < 3 s, so the
	 * RTO MUST be 3 s when data transmission begins */
	synfin_time_t t = T0 + SEC(2);
	h_poll(h, t);
	APP_SEND(h, ISS + 1, 10);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 10);
	EXPECT_DEADLINE(h, t + SEC(3));
	h_free(h);
}

/* ==== FIN_WAIT_2 timer ==== */

TEST(fin_wait_2_timeout_after_close)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.fin_wait_2_timeout = SEC(30);
	struct harness *h = h_new(&cfg);
	h_fin_wait_2(h, ACTIVE, false);
	EXPECT_DEADLINE(h, T0 + SEC(30));
	h_poll(h, T0 + SEC(30) - 1);
	EXPECT_NO_EV(h);
	h_poll(h, T0 + SEC(30));
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_CLOSED);
	ASSERT(h_tcb(h) == NULL);
	ASSERT(h_tw(h) == NULL);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	/* the peer's late FIN meets no connection: <SEQ=SEG.ACK><CTL=RST> */
	SEND(h, T0 + SEC(31), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 2);
	EXPECT_SEG(h, TH_RST, ISS + 2, 0, 0);
	h_free(h);
}

TEST(fin_wait_2_no_timeout_after_shutdown)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.fin_wait_2_timeout = SEC(30);
	struct harness *h = h_new(&cfg);
	h_fin_wait_2(h, ACTIVE, true);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	h_poll(h, T0 + SEC(10000));
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_FIN_WAIT_2);
	/* the peer still sends, we still read */
	SEND(h, T0 + SEC(10001), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 2, .len = 10);
	APP_RECV(h, IRS + 1, 10);
	/* close() now bounds it */
	synfin_time_t t = T0 + SEC(10002);
	h_poll(h, t);
	h_discard(h);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	EXPECT_DEADLINE(h, t + SEC(30));
	h_poll(h, t + SEC(30));
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_CLOSED);
	h_free(h);
}

/* ==== keepalive (RFC 1122 4.2.3.6) ==== */

static void set_int(struct harness *h, int level, int name, int v)
{
	ASSERT_EQ(synfin_setsockopt(h->st, h->fd, level, name, &v, sizeof v), 0);
}

TEST(keepalive_default_idle_is_two_hours)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	set_int(h, SYNFIN_SOL_SOCKET, SYNFIN_SO_KEEPALIVE, 1);
	EXPECT_DEADLINE(h, T0 + SEC(7200));
	h_free(h);
}

TEST(keepalive_probes_then_etimedout)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	set_int(h, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE, 10);
	set_int(h, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPINTVL, 3);
	set_int(h, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPCNT, 2);
	set_int(h, SYNFIN_SOL_SOCKET, SYNFIN_SO_KEEPALIVE, 1);
	EXPECT_DEADLINE(h, T0 + SEC(10));
	h_poll(h, T0 + SEC(10) - 1);
	EXPECT_NONE(h);
	h_poll(h, T0 + SEC(10));
	/* <SEQ=SND.UNA-1><ACK=RCV.NXT><CTL=ACK>, no data: ISS+1-1 */
	EXPECT_SEG(h, TH_ACK, ISS, IRS + 1, 0);
	EXPECT_NONE(h);
	STEP_TO(h, T0 + SEC(13));
	EXPECT_SEG(h, TH_ACK, ISS, IRS + 1, 0);
	EXPECT_NONE(h);
	/* two probes unanswered: the connection is dropped */
	STEP_TO(h, T0 + SEC(16));
	EXPECT_SEG(h, TH_RST | TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSED);
	EXPECT_NONE(h);
	char c;
	ASSERT_EQ(synfin_recv(h->st, h->fd, &c, 1), -ETIMEDOUT);
	ASSERT_EQ(synfin_get_stats(h->st)->keep_probes, 2);
	h_free(h);
}

TEST(keepalive_answered_probe_restarts_idle)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	set_int(h, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE, 10);
	set_int(h, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPINTVL, 3);
	set_int(h, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPCNT, 2);
	set_int(h, SYNFIN_SOL_SOCKET, SYNFIN_SO_KEEPALIVE, 1);
	for (int i = 0; i < 5; i++) {
		synfin_time_t t = T0 + (synfin_time_t)i * MS(10500) + SEC(10);
		STEP_TO(h, t);
		EXPECT_SEG(h, TH_ACK, ISS, IRS + 1, 0);
		EXPECT_NONE(h);
		/* the peer answers 500 ms later: idle again from there */
		SEND(h, t + MS(500), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
		EXPECT_NONE(h);
	}
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_ESTABLISHED);
	h_free(h);
}

TEST(keepalive_idle_counts_from_last_segment)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	set_int(h, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE, 10);
	set_int(h, SYNFIN_SOL_SOCKET, SYNFIN_SO_KEEPALIVE, 1);
	SEND(h, T0 + SEC(4), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 5);
	APP_RECV(h, IRS + 1, 5);
	h_poll(h, T0 + SEC(4) + MS(40));
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 6, 0);
	EXPECT_DEADLINE(h, T0 + SEC(14));
	h_free(h);
}

/* An ACK moves the connection's earliest deadline later (the retransmission
 * timer stops, keepalive remains): the heap entry is left early, lazily,
 * yet nothing fires at the old time and the deadline reported is exact. */
TEST(later_deadline_is_settled_lazily_never_fired_early)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	set_int(h, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE, 10);
	set_int(h, SYNFIN_SOL_SOCKET, SYNFIN_SO_KEEPALIVE, 1);
	APP_SEND(h, ISS + 1, 10);
	EXPECT_SEG(h, TH_ACK | TH_PSH, ISS + 1, IRS + 1, 10);
	struct tcb *tp = h_tcb(h);
	synfin_time_t rexmt = tp->t_rexmt;
	ASSERT(rexmt > T0 && rexmt < T0 + SEC(10));
	SEND(h, T0 + MS(100), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 11);
	ASSERT_EQ(tp->t_rexmt, SYNFIN_TIME_NEVER);
	/* left where it was: the entry still says the old deadline */
	ASSERT(tp->tmr.idx != TMR_NONE);
	ASSERT_EQ(h->st->heap[tp->tmr.idx].when, rexmt);
	char why[160];
	ASSERT_MSG(synfin_check(h->st, why, sizeof why) == 0, "%s", why);
	/* nothing at the old time; the entry moves to the true deadline */
	h_poll(h, rexmt);
	EXPECT_NONE(h);
	ASSERT_EQ(h->st->heap[tp->tmr.idx].when, T0 + MS(100) + SEC(10));
	EXPECT_DEADLINE(h, T0 + MS(100) + SEC(10));
	/* the deadline is exact even when asked before any poll */
	SEND(h, T0 + SEC(2), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 11, .len = 1);
	APP_RECV(h, IRS + 1, 1);
	h_poll(h, T0 + SEC(2) + MS(40));
	EXPECT_SEG(h, TH_ACK, ISS + 11, IRS + 2, 0);
	EXPECT_DEADLINE(h, T0 + SEC(12));
	ASSERT_MSG(synfin_check(h->st, why, sizeof why) == 0, "%s", why);
	h_free(h);
}

/* ==== zero-window probes (persist) ==== */

/* Persist bounds 5 s to 60 s (`retries`: 0 for the default); established
 * (active open); at T0 + 10 ms the peer shuts its window, and the
 * application has 10 bytes to send. */
static struct harness *persist_fixture(uint32_t retries)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.persist_min = SEC(5);
	cfg.persist_max = SEC(60);
	if (retries)
		cfg.retries = retries;
	struct harness *h = h_new(&cfg);
	h_established(h, ACTIVE);
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .wnd = WND_ZERO);
	APP_SEND(h, ISS + 1, 10);
	return h;
}

TEST(persist_first_probe_after_persist_min)
{
	struct harness *h = persist_fixture(0);
	EXPECT_NONE(h);
	/* RTO is 1 s, raised to persist_min */
	EXPECT_DEADLINE(h, T0 + MS(10) + SEC(5));
	STEP_TO(h, T0 + MS(10) + SEC(5));
	struct tcp_seg s;
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 1, IRS + 1, 1, &s);
	CHECK_PAYLOAD(&s);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(persist_probes_continue_while_answered)
{
	struct harness *h = persist_fixture(3);
	EXPECT_NONE(h);
	synfin_time_t last = T0 + MS(10);
	synfin_time_t prev_gap = 0;
	/* far more answered probes than cfg.retries: the peer is alive */
	for (int i = 0; i < 12; i++) {
		synfin_time_t next = synfin_next_deadline(h->st);
		ASSERT_MSG(next != SYNFIN_TIME_NEVER, "probe %d: no persist timer", i + 1);
		synfin_time_t gap = next - last;
		ASSERT_MSG(gap >= SEC(5) && gap <= SEC(60), "probe %d after %llu us", i + 1,
			   (unsigned long long)gap);
		ASSERT_MSG(gap >= prev_gap, "probe %d: interval shrank", i + 1);
		h_poll(h, next);
		struct tcp_seg s;
		EXPECT_SEG_OUT(h, TH_ACK, ISS + 1, IRS + 1, 1, &s);
		CHECK_PAYLOAD(&s);
		EXPECT_NONE(h);
		/* still closed: <ACK=ISS+1>, window 0 */
		SEND(h, next + MS(50), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .wnd = WND_ZERO);
		EXPECT_NONE(h);
		last = next;
		prev_gap = gap;
	}
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_ESTABLISHED);
	/* the window opens: everything goes */
	SEND(h, h->now + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .wnd = 1000);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 10);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(persist_unanswered_probe_is_repeated)
{
	struct harness *h = persist_fixture(0);
	STEP_TO(h, T0 + MS(10) + SEC(5));
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 1);
	/* the probe (or its answer) is lost: the sender must keep probing
	 * (RFC 9293 3.8.6.1), or a lost window update deadlocks both ends */
	synfin_time_t next = synfin_next_deadline(h->st);
	ASSERT_MSG(next != SYNFIN_TIME_NEVER, "no timer after the first probe");
	ASSERT(next >= T0 + MS(10) + SEC(10) && next <= T0 + MS(10) + SEC(65));
	h_poll(h, next);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 1);
	h_free(h);
}

TEST(persist_probe_accepted_byte_advances)
{
	struct harness *h = persist_fixture(0); /* (persist_max: the default 60 s) */
	STEP_TO(h, T0 + MS(10) + SEC(5));
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 1);
	/* the peer takes the probe's byte and opens its window */
	SEND(h, T0 + MS(10) + SEC(5) + MS(50), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 2, .wnd = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 1, 9);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(persist_probe_byte_taken_window_still_zero)
{
	struct harness *h = persist_fixture(0); /* (persist_max: the default 60 s) */
	STEP_TO(h, T0 + MS(10) + SEC(5));
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 1);
	/* the peer takes the byte but its window is closed again */
	SEND(h, T0 + MS(10) + SEC(5) + MS(50), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 2,
	     .wnd = WND_ZERO);
	EXPECT_NONE(h);
	/* the next probe carries the next byte */
	synfin_time_t next = synfin_next_deadline(h->st);
	ASSERT(next != SYNFIN_TIME_NEVER);
	h_poll(h, next);
	struct tcp_seg s;
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 2, IRS + 1, 1, &s);
	CHECK_PAYLOAD(&s);
	h_free(h);
}

/* ==== quiet time (RFC 9293 3.4.3) ==== */

TEST(quiet_time_delays_connect_syn)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.quiet_time = true;
	cfg.msl = SEC(10);
	struct harness *h = h_new(&cfg);
	struct synfin_addr me = {LOCAL_IP, CLI_PORT}, peer = {REMOTE_IP, PEER_SRV_PORT};
	h->lport = CLI_PORT;
	h->rport = PEER_SRV_PORT;
	h_poll(h, T0 + SEC(1));
	h->fd = synfin_socket(h->st);
	ASSERT_EQ(synfin_bind(h->st, h->fd, &me), 0);
	ASSERT_EQ(synfin_connect(h->st, h->fd, &peer), -EINPROGRESS);
	EXPECT_EV(h, TCPS_CLOSED, TCPS_SYN_SENT);
	EXPECT_NONE(h);
	/* no sequence number goes out before start + MSL */
	EXPECT_DEADLINE(h, T0 + SEC(10));
	h_poll(h, T0 + SEC(10) - 1);
	EXPECT_NONE(h);
	h_poll(h, T0 + SEC(10));
	EXPECT_SEG(h, TH_SYN, ISS, 0, 0);
	EXPECT_NONE(h);
	/* and it is the first SYN, timed as such */
	EXPECT_DEADLINE(h, T0 + SEC(11));
	h_free(h);
}

TEST(quiet_time_drops_incoming_syn)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.quiet_time = true;
	cfg.msl = SEC(10);
	struct harness *h = h_new(&cfg);
	h_listen(h, 4);
	SEND(h, T0 + SEC(2), .flags = TH_SYN, .seq = IRS, .mss = MSS);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_get_stats(h->st)->quiet_drops, 1);
	SEND(h, T0 + SEC(10), .flags = TH_SYN, .seq = IRS, .mss = MSS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	h_free(h);
}
