/*
 * The TIME_WAIT record: reopening by a new SYN (RFC 1122 4.2.2.13, RFC 6191
 * with timestamps), old duplicates, RST in TIME_WAIT (RFC 1337 switch), and
 * the ports it keeps busy.
 */
#include "tcp_harness.h"

/* The reopened incarnation starts beyond anything the old one can still
 * have in flight: old SND.NXT + 65535 + 2. Our FIN took ISS+1, so the old
 * SND.NXT is ISS+2. */
#define REOPEN_ISS (ISS + 2 + 65537)

/* TIME_WAIT on the passive side (the server closed first), with the
 * listener still there; with timestamps when `ts`, the peer's TSval
 * reaching 5000 before the end. */
static struct harness *server_time_wait(const struct synfin_config *cfg, bool ts)
{
	struct harness *h = h_new(cfg);
	h->ts = ts;
	h->peer_tsval = 1000;
	h_established(h, PASSIVE);
	if (ts)
		ASSERT(h_tcb(h)->t_flags & TF_RCVD_TSTMP);
	/* a little data, with newer timestamps */
	h->peer_tsval = 3000;
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 50);
	APP_RECV(h, IRS + 1, 50);
	h_poll(h, T0 + MS(50));
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 51, 0);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_FIN_WAIT_1);
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 51, 0);
	h->peer_tsval = 5000;
	SEND(h, T0 + MS(60), .flags = TH_FIN | TH_ACK, .seq = IRS + 51, .ack = ISS + 2);
	EXPECT_EV(h, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2);
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 52, 0);
	EXPECT_NONE(h);
	ASSERT(h_tw(h) != NULL);
	return h;
}

/* old RCV.NXT of server_time_wait() */
#define TW_RCV_NXT (IRS + 52)

TEST(tw_new_syn_above_rcv_nxt_reopens)
{
	struct harness *h = server_time_wait(NULL, false);
	SEND(h, T0 + SEC(1), .flags = TH_SYN, .seq = TW_RCV_NXT + 100000, .mss = MSS);
	/* (when the old record goes is not the point here) */
	h_take_event(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_SEG(h, TH_SYN | TH_ACK, REOPEN_ISS, TW_RCV_NXT + 100001, 0);
	EXPECT_NONE(h);
	/* RFC 1122 4.2.2.13: above anything the old incarnation used */
	ASSERT(seq_gt(REOPEN_ISS, ISS + 2));
	ASSERT_EQ(synfin_get_stats(h->st)->tw_reopened, 1);
	/* the new incarnation completes */
	SEND(h, T0 + SEC(1) + MS(10), .flags = TH_ACK, .seq = TW_RCV_NXT + 100001, .ack = REOPEN_ISS + 1);
	h_take_event(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	h_take_event(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	int fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT(fd >= 0);
	h->fd = fd;
	ASSERT_EQ(synfin_state(h->st, fd), TCPS_ESTABLISHED);
	h_free(h);
}

TEST(tw_new_syn_below_rcv_nxt_gets_ack_and_stays)
{
	struct harness *h = server_time_wait(NULL, false);
	SEND(h, T0 + SEC(1), .flags = TH_SYN, .seq = TW_RCV_NXT - 5, .mss = MSS);
	/* an old duplicate: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
	EXPECT_SEG(h, TH_ACK, ISS + 2, TW_RCV_NXT, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT(h_tw(h) != NULL);
	/* and the 2MSL timer is not disturbed */
	EXPECT_DEADLINE(h, T0 + MS(60) + SEC(60));
	h_free(h);
}

TEST(tw_new_syn_without_listener_gets_ack)
{
	struct harness *h = h_new(NULL);
	h_time_wait(h, ACTIVE); /* on CLI_PORT: nobody listens there */
	SEND(h, h->now + SEC(1), .flags = TH_SYN, .seq = IRS + 100000, .mss = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 2, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_TIME_WAIT);
	h_free(h);
}

TEST(tw_ts_syn_with_newer_tsval_reopens_even_with_lower_seq)
{
	struct harness *h = server_time_wait(NULL, true);
	struct tcp_seg s;
	/* RFC 6191: timestamps on both incarnations, TSval newer than the
	 * last one seen (5000): a new connection, whatever SEG.SEQ */
	SEND(h, T0 + SEC(1), .flags = TH_SYN, .seq = TW_RCV_NXT - 1000, .mss = MSS, .tsval = 5001);
	h_take_event(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_SEG_OUT(h, TH_SYN | TH_ACK, REOPEN_ISS, TW_RCV_NXT - 999, 0, &s);
	ASSERT(s.opt.has & TOF_TS);
	ASSERT_EQ(s.opt.tsecr, 5001);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(tw_ts_syn_with_older_tsval_does_not_reopen)
{
	struct harness *h = server_time_wait(NULL, true);
	/* TSval older than any seen, sequence number higher: an old SYN */
	SEND(h, T0 + SEC(1), .flags = TH_SYN, .seq = TW_RCV_NXT + 100000, .mss = MSS, .tsval = 999);
	EXPECT_SEG(h, TH_ACK, ISS + 2, TW_RCV_NXT, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT(h_tw(h) != NULL);
	h_free(h);
}

TEST(tw_ts_syn_with_tsval_older_than_last_seen_does_not_reopen)
{
	struct harness *h = server_time_wait(NULL, true);
	/* 4000 is newer than the SYN's 1000 but older than the FIN's 5000:
	 * RFC 6191 compares with the last timestamp seen */
	SEND(h, T0 + SEC(1), .flags = TH_SYN, .seq = TW_RCV_NXT + 100000, .mss = MSS, .tsval = 4000);
	EXPECT_SEG(h, TH_ACK, ISS + 2, TW_RCV_NXT, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT(h_tw(h) != NULL);
	h_free(h);
}

TEST(tw_ts_syn_without_timestamp_falls_back_to_sequence)
{
	struct harness *h = server_time_wait(NULL, true);
	/* RFC 6191: no timestamps on the new SYN, timestamps before: the
	 * sequence number decides */
	SEND(h, T0 + SEC(1), .flags = TH_SYN, .seq = TW_RCV_NXT - 10, .mss = MSS, .no_ts = true);
	EXPECT_SEG(h, TH_ACK, ISS + 2, TW_RCV_NXT, 0);
	EXPECT_NO_EV(h);
	SEND(h, T0 + SEC(2), .flags = TH_SYN, .seq = TW_RCV_NXT + 10, .mss = MSS, .no_ts = true);
	h_take_event(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_SEG(h, TH_SYN | TH_ACK, REOPEN_ISS, TW_RCV_NXT + 11, 0);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(ts_recent_follows_the_newest_segment)
{
	struct harness *h = h_new(NULL);
	struct tcp_seg s;
	h->ts = true;
	h->peer_tsval = 1000;
	h_established(h, PASSIVE);
	h->peer_tsval = 7000;
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 10);
	h_poll(h, T0 + MS(41));
	/* RFC 7323 4.3: TSecr echoes TS.Recent, updated from this segment */
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 1, IRS + 11, 0, &s);
	ASSERT(s.opt.has & TOF_TS);
	ASSERT_EQ(s.opt.tsecr, 7000);
	h_free(h);
}

TEST(tw_rst_at_rcv_nxt_ends_time_wait_without_rfc1337)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rfc1337 = false;
	struct harness *h = server_time_wait(&cfg, false);
	SEND(h, T0 + SEC(1), .flags = TH_RST, .seq = TW_RCV_NXT);
	EXPECT_EV(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	ASSERT_STR(h_last_cause, "rcv RST");
	EXPECT_NONE(h);
	ASSERT(h_tw(h) == NULL);
	ASSERT_EQ(synfin_get_stats(h->st)->tw_killed_by_rst, 1);
	h_free(h);
}

TEST(tw_rst_in_window_not_exact_gets_challenge_ack)
{
	struct harness *h = server_time_wait(NULL, false);
	SEND(h, T0 + SEC(1), .flags = TH_RST, .seq = TW_RCV_NXT + 10);
	EXPECT_SEG(h, TH_ACK, ISS + 2, TW_RCV_NXT, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT(h_tw(h) != NULL);
	h_free(h);
}

TEST(tw_rst_ignored_with_rfc1337)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rfc1337 = true;
	struct harness *h = server_time_wait(&cfg, false);
	SEND(h, T0 + SEC(1), .flags = TH_RST, .seq = TW_RCV_NXT);
	SEND(h, T0 + SEC(1), .flags = TH_RST | TH_ACK, .seq = TW_RCV_NXT, .ack = ISS + 2);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT(h_tw(h) != NULL);
	ASSERT_EQ(synfin_get_stats(h->st)->tw_rst_ignored, 2);
	/* TIME_WAIT still lasts its full 2MSL */
	EXPECT_DEADLINE(h, T0 + MS(60) + SEC(60));
	h_poll(h, T0 + MS(60) + SEC(60));
	EXPECT_EV(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	h_free(h);
}

TEST(tw_reopen_by_old_duplicate_syn_returns_to_time_wait)
{
	struct harness *h = server_time_wait(NULL, false);
	/* a SYN above the old RCV.NXT reopens the 4-tuple ... */
	SEND(h, T0 + SEC(1), .flags = TH_SYN, .seq = TW_RCV_NXT + 100000, .mss = MSS);
	h_take_event(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_SEG(h, TH_SYN | TH_ACK, REOPEN_ISS, TW_RCV_NXT + 100001, 0);
	/* ... but it was an old duplicate: the peer knows nothing of it and
	 * resets our SYN,ACK (<SEQ=SEG.ACK><CTL=RST>) */
	SEND(h, T0 + SEC(1) + MS(10), .flags = TH_RST, .seq = TW_RCV_NXT + 100001);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_LISTEN);
	/* RFC 1122 4.2.2.13: reopening from TIME-WAIT is allowed only if the
	 * connection "returns to TIME-WAIT state if the SYN turns out to be
	 * an old duplicate": the old incarnation's retransmitted FIN is still
	 * answered from TIME_WAIT */
	ASSERT_MSG(h_tw(h) != NULL, "the 4-tuple left TIME_WAIT for good");
	SEND(h, T0 + SEC(2), .flags = TH_FIN | TH_ACK, .seq = TW_RCV_NXT - 1, .ack = ISS + 2);
	EXPECT_SEG(h, TH_ACK, ISS + 2, TW_RCV_NXT, 0);
	h_free(h);
}
