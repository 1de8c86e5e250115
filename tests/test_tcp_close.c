/*
 * Closing a connection: every edge of the RFC 9293 state diagram from
 * ESTABLISHED on, FIN processing in each state (3.10.7.4 eighth), the
 * retransmitted FIN, and the 2MSL wait.
 */
#include "tcp_harness.h"

/* ==== ESTABLISHED -> FIN_WAIT_1 ==== */

TEST(established_close_sends_fin_active)
{
	struct harness *h = h_new(NULL);
	h_fin_wait_1(h, ACTIVE, false); /* <SEQ=ISS+1><ACK=IRS+1><CTL=FIN,ACK> */
	ASSERT_STR(h_last_cause, "close");
	/* the FIN is retransmitted if not acknowledged: RTO 1 s */
	EXPECT_DEADLINE(h, T0 + SEC(1));
	STEP_TO(h, T0 + SEC(1));
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(established_close_sends_fin_passive)
{
	struct harness *h = h_new(NULL);
	h_fin_wait_1(h, PASSIVE, false);
	EXPECT_NO_EV(h);
	h_free(h);
}

TEST(established_close_sends_data_then_fin)
{
	struct harness *h = h_new(NULL);
	struct tcp_seg s;
	h_established(h, ACTIVE);
	/* 30 bytes from 2^32-15: the FIN sits at ISS+31 = 15, past the wrap */
	APP_SEND(h, ISS + 1, 30);
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 1, IRS + 1, 30, &s);
	CHECK_PAYLOAD(&s);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_FIN_WAIT_1);
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 31, IRS + 1, 0);
	EXPECT_NONE(h);
	/* acknowledging the data only keeps FIN_WAIT_1 */
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 31);
	EXPECT_NO_EV(h);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_FIN_WAIT_1);
	/* acknowledging the FIN (at 15 after the wrap) moves on */
	SEND(h, T0 + MS(20), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 32);
	EXPECT_EV(h, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2);
	EXPECT_NONE(h);
	h_free(h);
}

/* ==== FIN_WAIT_1 -> FIN_WAIT_2 ==== */

TEST(fin_wait_1_ack_of_fin_goes_fin_wait_2)
{
	struct harness *h = h_new(NULL);
	h_fin_wait_2(h, ACTIVE, false);
	ASSERT_STR(h_last_cause, "rcv ACK of FIN");
	h_free(h);
}

/* ==== FIN_WAIT_1 -> CLOSING ==== */

TEST(fin_wait_1_fin_goes_closing)
{
	struct harness *h = h_new(NULL);
	h_closing(h, ACTIVE); /* FIN in, <SEQ=ISS+2><ACK=IRS+2><CTL=ACK> out */
	/* our FIN is still unacknowledged and is retransmitted */
	STEP_TO(h, T0 + SEC(1));
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 2, 0);
	EXPECT_NONE(h);
	h_free(h);
}

/* ==== CLOSING -> TIME_WAIT ==== */

TEST(closing_ack_of_fin_goes_time_wait)
{
	struct harness *h = h_new(NULL);
	h_closing(h, ACTIVE);
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 2, .ack = ISS + 2);
	EXPECT_EV(h, TCPS_CLOSING, TCPS_TIME_WAIT);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_TIME_WAIT);
	/* 2MSL from the moment TIME_WAIT was entered */
	EXPECT_DEADLINE(h, T0 + MS(10) + SEC(60));
	h_free(h);
}

TEST(closing_ack_not_of_fin_stays)
{
	struct harness *h = h_new(NULL);
	h_closing(h, ACTIVE);
	/* a duplicate ACK that does not cover our FIN: ignore, stay CLOSING */
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 2, .ack = ISS + 1);
	EXPECT_NO_EV(h);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_CLOSING);
	h_free(h);
}

/* ==== FIN_WAIT_1 -> TIME_WAIT (FIN,ACK that acks our FIN) ==== */

TEST(fin_wait_1_fin_ack_of_fin_goes_time_wait)
{
	struct harness *h = h_new(NULL);
	h_fin_wait_1(h, ACTIVE, false);
	SEND(h, T0 + MS(10), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 2);
	/* the ACK part first (FIN_WAIT_2), then the FIN (TIME_WAIT) */
	EXPECT_EV(h, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2);
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 2, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_TIME_WAIT);
	EXPECT_DEADLINE(h, T0 + MS(10) + SEC(60));
	h_free(h);
}

/* ==== FIN_WAIT_2 -> TIME_WAIT ==== */

TEST(fin_wait_2_fin_goes_time_wait)
{
	struct harness *h = h_new(NULL);
	h_time_wait(h, ACTIVE);
	ASSERT_STR(h_last_cause, "rcv FIN");
	h_free(h);
}

TEST(fin_wait_2_takes_data_then_fin)
{
	struct harness *h = h_new(NULL);
	/* half close: we may still read */
	h_fin_wait_2(h, ACTIVE, true);
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 2, .len = 200);
	EXPECT_NONE(h); /* delayed */
	APP_RECV(h, IRS + 1, 200);
	SEND(h, T0 + MS(20), .flags = TH_FIN | TH_ACK, .seq = IRS + 201, .ack = ISS + 2);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 202, 0);
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_TIME_WAIT);
	char c;
	ASSERT_EQ(synfin_recv(h->st, h->fd, &c, 1), 0);
	h_free(h);
}

TEST(fin_wait_2_fin_out_of_order_waits_for_data)
{
	struct harness *h = h_new(NULL);
	h_fin_wait_2(h, ACTIVE, true);
	/* the FIN comes with the second half of the data, the first half is
	 * missing: the FIN cannot be processed yet (3.10.7.4 eighth: only once
	 * everything before it has arrived) */
	SEND(h, T0 + MS(10), .flags = TH_FIN | TH_ACK, .seq = IRS + 101, .ack = ISS + 2, .len = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 1, 0); /* duplicate ACK */
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_FIN_WAIT_2);
	/* the hole is filled; the peer's FIN is retransmitted with its data */
	SEND(h, T0 + MS(20), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 2, .len = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 201, 0);
	SEND(h, T0 + MS(30), .flags = TH_FIN | TH_ACK, .seq = IRS + 101, .ack = ISS + 2, .len = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 202, 0);
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT);
	APP_RECV(h, IRS + 1, 200);
	h_free(h);
}

/* ==== ESTABLISHED -> CLOSE_WAIT ==== */

TEST(established_fin_goes_close_wait_with_delayed_ack)
{
	struct harness *h;
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.delack = MS(25);
	h = h_new(&cfg);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(100), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSE_WAIT);
	ASSERT_STR(h_last_cause, "rcv FIN");
	EXPECT_NONE(h);
	char c;
	ASSERT_EQ(synfin_recv(h->st, h->fd, &c, 1), 0); /* end of file */
	ASSERT(synfin_events(h->st, h->fd) & SYNFIN_EV_RDHUP);
	/* the ACK of the FIN waits exactly cfg.delack */
	EXPECT_DEADLINE(h, T0 + MS(125));
	h_poll(h, T0 + MS(125) - 1);
	EXPECT_NONE(h);
	h_poll(h, T0 + MS(125));
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 2, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_CLOSE_WAIT);
	/* we may still send in CLOSE_WAIT */
	APP_SEND(h, ISS + 1, 20);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 2, 20);
	h_free(h);
}

TEST(close_wait_close_before_delack_sends_fin_ack_in_one)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	SEND(h, T0 + MS(100), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSE_WAIT);
	EXPECT_NONE(h);
	/* the application closes at once: ACK of the FIN and our FIN together */
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	EXPECT_EV(h, TCPS_CLOSE_WAIT, TCPS_LAST_ACK);
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 2, 0);
	EXPECT_NONE(h);
	/* and no separate delayed ACK follows: next is the FIN's retransmission */
	EXPECT_DEADLINE(h, T0 + MS(100) + SEC(1));
	h_free(h);
}

/* ==== CLOSE_WAIT -> LAST_ACK -> CLOSED ==== */

TEST(close_wait_close_goes_last_ack)
{
	struct harness *h = h_new(NULL);
	h_last_ack(h, PASSIVE); /* <SEQ=ISS+1><ACK=IRS+2><CTL=FIN,ACK> */
	ASSERT_STR(h_last_cause, "close");
	h_free(h);
}

TEST(last_ack_ack_of_fin_closes)
{
	struct harness *h = h_new(NULL);
	h_last_ack(h, PASSIVE);
	synfin_time_t t = h->now + MS(10);
	SEND(h, t, .flags = TH_ACK, .seq = IRS + 2, .ack = ISS + 2);
	EXPECT_EV(h, TCPS_LAST_ACK, TCPS_CLOSED);
	EXPECT_NONE(h);
	ASSERT(h_tcb(h) == NULL);
	ASSERT(h_tw(h) == NULL); /* no TIME_WAIT for the passive closer */
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	/* the 4-tuple is free: a late segment gets a reset (3.10.7.1) */
	SEND(h, t + MS(1), .flags = TH_ACK, .seq = IRS + 2, .ack = ISS + 2);
	EXPECT_SEG(h, TH_RST, ISS + 2, 0, 0);
	h_free(h);
}

TEST(last_ack_ack_not_of_fin_stays)
{
	struct harness *h = h_new(NULL);
	h_last_ack(h, ACTIVE);
	SEND(h, h->now + MS(10), .flags = TH_ACK, .seq = IRS + 2, .ack = ISS + 1);
	EXPECT_NO_EV(h);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_LAST_ACK);
	h_free(h);
}

/* ==== the peer's retransmitted FIN ==== */

TEST(close_wait_retransmitted_fin_reacked)
{
	struct harness *h = h_new(NULL);
	h_close_wait(h, ACTIVE);
	SEND(h, h->now + SEC(1), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 2, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_CLOSE_WAIT);
	h_free(h);
}

TEST(last_ack_retransmitted_fin_reacked)
{
	struct harness *h = h_new(NULL);
	h_last_ack(h, ACTIVE);
	/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>: SND.NXT is past our FIN */
	SEND(h, h->now + MS(500), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 2, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_LAST_ACK);
	h_free(h);
}

TEST(closing_retransmitted_fin_reacked)
{
	struct harness *h = h_new(NULL);
	h_closing(h, ACTIVE);
	SEND(h, T0 + MS(500), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 2, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_CLOSING);
	h_free(h);
}

TEST(time_wait_retransmitted_fin_reacked_and_2msl_restarts)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.msl = SEC(10);
	struct harness *h = h_new(&cfg);
	h_time_wait(h, ACTIVE);
	synfin_time_t t = h->now;
	EXPECT_DEADLINE(h, t + SEC(20));
	/* our last ACK was lost: the peer's FIN again, 5 s later */
	SEND(h, t + SEC(5), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 2);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 2, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_get_stats(h->st)->tw_fin_reacked, 1);
	/* 2MSL counts again from the retransmitted FIN */
	EXPECT_DEADLINE(h, t + SEC(25));
	h_poll(h, t + SEC(20));
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_TIME_WAIT);
	h_poll(h, t + SEC(25) - 1);
	ASSERT_EQ(h_state(h), TCPS_TIME_WAIT);
	h_poll(h, t + SEC(25));
	EXPECT_EV(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(time_wait_ack_in_window_needs_nothing)
{
	struct harness *h = h_new(NULL);
	h_time_wait(h, ACTIVE);
	SEND(h, h->now + MS(5), .flags = TH_ACK, .seq = IRS + 2, .ack = ISS + 2);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_TIME_WAIT);
	h_free(h);
}

/* ==== TIME_WAIT -> CLOSED ==== */

TEST(time_wait_ends_after_exactly_2msl)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.msl = SEC(7);
	struct harness *h = h_new(&cfg);
	h_time_wait(h, ACTIVE);
	synfin_time_t t = h->now;
	EXPECT_DEADLINE(h, t + SEC(14));
	h_poll(h, t + SEC(14) - 1);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_TIME_WAIT);
	h_poll(h, t + SEC(14));
	EXPECT_EV(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	ASSERT_STR(h_last_cause, "2MSL timer");
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	ASSERT(h_tw(h) == NULL);
	h_free(h);
}

TEST(time_wait_with_socket_still_held_reports_time_wait)
{
	struct harness *h = h_new(NULL);
	/* shutdown() rather than close(): the application still holds it */
	h_fin_wait_2(h, ACTIVE, true);
	SEND(h, T0 + MS(10), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 2);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 2, 0);
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_TIME_WAIT);
	h_poll(h, T0 + MS(10) + SEC(60));
	EXPECT_EV(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_CLOSED);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	h_free(h);
}

/* ==== RST in the closing states ==== */

TEST(close_wait_rst_closes_with_econnreset)
{
	struct harness *h = h_new(NULL);
	h_close_wait(h, ACTIVE);
	SEND(h, h->now + MS(5), .flags = TH_RST, .seq = IRS + 2);
	EXPECT_EV(h, TCPS_CLOSE_WAIT, TCPS_CLOSED);
	EXPECT_NONE(h);
	char c;
	ASSERT_EQ(synfin_recv(h->st, h->fd, &c, 1), -ECONNRESET);
	h_free(h);
}

TEST(fin_wait_2_rst_closes)
{
	struct harness *h = h_new(NULL);
	h_fin_wait_2(h, ACTIVE, true);
	SEND(h, T0 + MS(5), .flags = TH_RST, .seq = IRS + 1);
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_CLOSED);
	EXPECT_NONE(h);
	char c;
	ASSERT_EQ(synfin_recv(h->st, h->fd, &c, 1), -ECONNRESET);
	h_free(h);
}

TEST(last_ack_rst_closes)
{
	struct harness *h = h_new(NULL);
	h_last_ack(h, ACTIVE);
	SEND(h, h->now + MS(5), .flags = TH_RST, .seq = IRS + 2);
	EXPECT_EV(h, TCPS_LAST_ACK, TCPS_CLOSED);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	h_free(h);
}

TEST(closing_rst_closes)
{
	struct harness *h = h_new(NULL);
	h_closing(h, ACTIVE);
	SEND(h, T0 + MS(5), .flags = TH_RST, .seq = IRS + 2);
	EXPECT_EV(h, TCPS_CLOSING, TCPS_CLOSED);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	h_free(h);
}

/* ==== text after the peer's FIN is ignored (3.10.7.4 seventh) ==== */

TEST(close_wait_text_after_fin_ignored)
{
	struct harness *h = h_new(NULL);
	h_close_wait(h, ACTIVE);
	SEND(h, h->now + MS(5), .flags = TH_ACK, .seq = IRS + 2, .ack = ISS + 1, .data = "late");
	char c;
	ASSERT_EQ(synfin_recv(h->st, h->fd, &c, 1), 0);
	ASSERT_EQ(h_state(h), TCPS_CLOSE_WAIT);
	h_free(h);
}

TEST(fin_retransmission_carries_the_unacked_data)
{
	struct harness *h = h_new(NULL);
	struct tcp_seg s;
	h_established(h, ACTIVE);
	APP_SEND(h, ISS + 1, 30);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 30);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 31, IRS + 1, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_FIN_WAIT_1);
	/* nothing acknowledged: from SND.UNA again, the data and the FIN
	 * after it (RFC 9293 3.10.4) */
	STEP_TO(h, T0 + SEC(1));
	EXPECT_SEG_OUT(h, TH_FIN | TH_ACK, ISS + 1, IRS + 1, 30, &s);
	CHECK_PAYLOAD(&s);
	EXPECT_NONE(h);
	SEND(h, T0 + SEC(1) + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 32);
	EXPECT_EV(h, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(fin_wait_1_takes_data)
{
	struct harness *h = h_new(NULL);
	h_fin_wait_1(h, PASSIVE, true);
	SEND(h, T0 + MS(5), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 70);
	APP_RECV(h, IRS + 1, 70);
	ASSERT_EQ(h_state(h), TCPS_FIN_WAIT_1);
	h_free(h);
}

TEST(data_and_fin_in_one_segment)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(5), .flags = TH_FIN | TH_ACK | TH_PSH, .seq = IRS + 1, .ack = ISS + 1, .len = 150);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSE_WAIT);
	APP_RECV(h, IRS + 1, 150);
	ASSERT_EQ(synfin_recv(h->st, h->fd, (char[1]){0}, 1), 0);
	/* one ACK covers the data and the FIN (at 2^32-100+150 = 50) */
	h_poll(h, T0 + MS(45));
	EXPECT_SEG(h, TH_ACK, ISS + 1, 51, 0);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(so_linger_zero_in_syn_sent_sends_nothing)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	struct synfin_linger l = {1, 0};
	ASSERT_EQ(synfin_setsockopt(h->st, h->fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_LINGER, &l, sizeof l), 0);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	/* ABORT in SYN-SENT: delete the TCB, no reset (RFC 9293 3.10.5) */
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_CLOSED);
	EXPECT_NONE(h);
	h_free(h);
}
