/*
 * SEGMENT ARRIVES, RFC 9293 section 3.10.7, row by row: no connection
 * (3.10.7.1), LISTEN (3.10.7.2), SYN_SENT (3.10.7.3) and the synchronized
 * states (3.10.7.4: sequence check, RST, SYN, ACK), with RFC 5961's RST,
 * SYN and ACK hardening.
 */
#include "tcp_harness.h"

/* ==== 3.10.7.1 CLOSED (no connection block) ==== */

TEST(closed_ack_gets_rst_seq_seg_ack)
{
	struct harness *h = h_new(NULL);
	h->lport = 7777; /* nobody */
	h->rport = PEER_PORT;
	/* ACK on: <SEQ=SEG.ACK><CTL=RST> */
	SEND(h, T0, .flags = TH_ACK, .seq = IRS, .ack = 0xfffffffeu, .data = "xyz");
	EXPECT_SEG(h, TH_RST, 0xfffffffeu, 0, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_get_stats(h->st)->rst_no_socket, 1);
	h_free(h);
}

TEST(closed_syn_gets_rst_ack_seq0_ack_seq_plus_1)
{
	struct harness *h = h_new(NULL);
	h->lport = 7777;
	h->rport = PEER_PORT;
	/* ACK off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; the SYN counts */
	SEND(h, T0, .flags = TH_SYN, .seq = 0xffffffffu, .mss = MSS);
	EXPECT_SEG(h, TH_RST | TH_ACK, 0, 0, 0); /* 2^32-1 + 1 wraps to 0 */
	EXPECT_NONE(h);
	h_free(h);
}

TEST(closed_fin_with_data_gets_rst_ack_counting_data_and_fin)
{
	struct harness *h = h_new(NULL);
	h->lport = 7777;
	h->rport = PEER_PORT;
	/* 10 bytes and the FIN from 2^32-6: SEG.SEQ+SEG.LEN = 5 after the wrap */
	SEND(h, T0, .flags = TH_FIN, .seq = 0xfffffffau, .len = 10);
	EXPECT_SEG(h, TH_RST | TH_ACK, 0, 5, 0);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(closed_rst_gets_nothing)
{
	struct harness *h = h_new(NULL);
	h->lport = 7777;
	h->rport = PEER_PORT;
	SEND(h, T0, .flags = TH_RST, .seq = 1234);
	SEND(h, T0, .flags = TH_RST | TH_ACK, .seq = 1234, .ack = 99);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(closed_bound_socket_not_listening_gets_rst)
{
	struct harness *h = h_new(NULL);
	struct synfin_addr a = {LOCAL_IP, 8080};
	int fd = synfin_socket(h->st);
	ASSERT_EQ(synfin_bind(h->st, fd, &a), 0);
	h->lport = 8080;
	h->rport = PEER_PORT;
	SEND(h, T0, .flags = TH_SYN, .seq = IRS, .mss = MSS);
	EXPECT_SEG(h, TH_RST | TH_ACK, 0, IRS + 1, 0);
	EXPECT_NONE(h);
	h_free(h);
}

/* ==== 3.10.7.2 LISTEN ==== */

TEST(listen_rst_ignored)
{
	struct harness *h = h_new(NULL);
	h_listen(h, 4);
	SEND(h, T0, .flags = TH_RST, .seq = IRS);
	SEND(h, T0, .flags = TH_RST | TH_ACK, .seq = IRS, .ack = 5);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_state(h->st, h->lfd), TCPS_LISTEN);
	h_free(h);
}

TEST(listen_ack_gets_rst_seq_seg_ack)
{
	struct harness *h = h_new(NULL);
	h_listen(h, 4);
	SEND(h, T0, .flags = TH_ACK, .seq = IRS + 1, .ack = 0x00000010u);
	EXPECT_SEG(h, TH_RST, 0x00000010u, 0, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_state(h->st, h->lfd), TCPS_LISTEN);
	h_free(h);
}

TEST(listen_syn_ack_gets_rst_seq_seg_ack)
{
	struct harness *h = h_new(NULL);
	h_listen(h, 4);
	/* a SYN,ACK is an ACK for a listener: the ACK check comes first */
	SEND(h, T0, .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = 777);
	EXPECT_SEG(h, TH_RST, 777, 0, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	h_free(h);
}

TEST(listen_syn_gets_syn_ack_with_mss)
{
	struct harness *h = h_new(NULL);
	struct tcp_seg s;
	h_listen(h, 4);
	SEND(h, T0, .flags = TH_SYN, .seq = 0xffffffffu, .mss = MSS);
	/* <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, RCV.NXT = SEG.SEQ+1 = 0 */
	EXPECT_SEG_OUT(h, TH_SYN | TH_ACK, ISS, 0, 0, &s);
	ASSERT(s.opt.has & TOF_MSS);
	ASSERT_EQ(s.opt.mss, MSS);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(listen_fin_alone_dropped)
{
	struct harness *h = h_new(NULL);
	h_listen(h, 4);
	SEND(h, T0, .flags = TH_FIN, .seq = IRS);
	SEND(h, T0, .flags = 0, .seq = IRS, .data = "no control bits");
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_state(h->st, h->lfd), TCPS_LISTEN);
	h_free(h);
}

/* ==== 3.10.7.3 SYN_SENT ==== */

TEST(syn_sent_ack_at_iss_gets_rst)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	/* SEG.ACK =< ISS: <SEQ=SEG.ACK><CTL=RST> */
	SEND(h, T0 + MS(1), .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = ISS, .mss = MSS);
	EXPECT_SEG(h, TH_RST, ISS, 0, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_SYN_SENT);
	h_free(h);
}

TEST(syn_sent_ack_below_iss_across_wrap_gets_rst)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS, .ack = ISS - 1000);
	EXPECT_SEG(h, TH_RST, ISS - 1000, 0, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_SYN_SENT);
	h_free(h);
}

TEST(syn_sent_ack_above_snd_nxt_gets_rst)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	/* SND.NXT = ISS+1; ISS+2 acknowledges something never sent */
	SEND(h, T0 + MS(1), .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = ISS + 2, .mss = MSS);
	EXPECT_SEG(h, TH_RST, ISS + 2, 0, 0);
	/* far above, past the wrap */
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS, .ack = 0x100);
	EXPECT_SEG(h, TH_RST, 0x100, 0, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_SYN_SENT);
	h_free(h);
}

TEST(syn_sent_rst_with_unacceptable_ack_ignored)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	SEND(h, T0 + MS(1), .flags = TH_RST | TH_ACK, .seq = 0, .ack = ISS + 5);
	SEND(h, T0 + MS(1), .flags = TH_RST | TH_ACK, .seq = 0, .ack = ISS);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_SYN_SENT);
	h_free(h);
}

TEST(syn_sent_rst_without_ack_ignored)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	SEND(h, T0 + MS(1), .flags = TH_RST, .seq = IRS);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_SYN_SENT);
	/* the SYN is still retransmitted */
	STEP_TO(h, T0 + SEC(1));
	EXPECT_SEG(h, TH_SYN, ISS, 0, 0);
	h_free(h);
}

TEST(syn_sent_segment_without_syn_or_rst_dropped)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	/* an acceptable ACK but neither SYN nor RST: drop (3.10.7.3 fifth) */
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .data = "data");
	SEND(h, T0 + MS(2), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	SEND(h, T0 + MS(3), .flags = TH_FIN, .seq = IRS + 1);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_SYN_SENT);
	h_free(h);
}

TEST(syn_sent_syn_ack_takes_the_peers_window)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	/* SND.WND from the SYN,ACK (never scaled, RFC 7323 2.2) */
	SEND(h, T0 + MS(1), .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = ISS + 1, .mss = MSS,
	     .wnd = 10);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_ESTABLISHED);
	APP_SEND(h, ISS + 1, 25);
	/* only 10 bytes fit in the peer's window */
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 10);
	EXPECT_NONE(h);
	h_free(h);
}

/* ==== 3.10.7.4 first: the sequence number check, the four cases ==== */

/* Established with a 4096-byte receive buffer; the peer fills it with
 * 1460 + 1460 + 1176 bytes and our window is 0. */
static struct harness *zero_window(void)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rcvbuf = 4096;
	struct harness *h = h_new(&cfg);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 1460);
	EXPECT_NONE(h);
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS + 1461, .ack = ISS + 1, .len = 1460);
	/* every second full segment is acknowledged at once */
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 2921, 0, 4096 - 2920);
	SEND(h, T0 + MS(3), .flags = TH_ACK, .seq = IRS + 2921, .ack = ISS + 1, .len = 1176);
	EXPECT_NONE(h);
	STEP_TO(h, T0 + MS(3) + MS(40));
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 4097, 0, 0);
	EXPECT_NONE(h);
	return h;
}

TEST(first_check_len0_wnd0_exact_seq_acceptable)
{
	struct harness *h = zero_window();
	SEND(h, T0 + MS(100), .flags = TH_ACK, .seq = IRS + 4097, .ack = ISS + 1);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(first_check_len0_wnd0_other_seq_gets_ack)
{
	struct harness *h = zero_window();
	SEND(h, T0 + MS(100), .flags = TH_ACK, .seq = IRS + 4098, .ack = ISS + 1);
	/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 4097, 0, 0);
	/* answers to unacceptable bare ACKs are rate-limited (one per
	 * 500 ms, as Linux's tcp_invalid_ratelimit): two ends that each find
	 * the other's ACKs out of window must not answer each other forever */
	SEND(h, T0 + MS(101), .flags = TH_ACK, .seq = IRS + 4096, .ack = ISS + 1);
	EXPECT_NONE(h);
	SEND(h, T0 + MS(700), .flags = TH_ACK, .seq = IRS + 4096, .ack = ISS + 1);
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 4097, 0, 0);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(first_check_data_into_zero_window_gets_ack)
{
	struct harness *h = zero_window();
	/* SEG.LEN > 0 with RCV.WND = 0 is never acceptable: the ACK goes
	 * back, which is also what answers the peer's zero-window probe
	 * (RFC 9293 3.8.6.1) */
	SEND(h, T0 + MS(100), .flags = TH_ACK, .seq = IRS + 4097, .ack = ISS + 1, .len = 1);
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 4097, 0, 0);
	EXPECT_NONE(h);
	SEND(h, T0 + MS(200), .flags = TH_ACK, .seq = IRS + 4000, .ack = ISS + 1, .len = 200);
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 4097, 0, 0);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(first_check_zero_window_still_takes_ack_and_rst)
{
	struct harness *h = zero_window();
	/* special allowance: the ACK field of an unacceptable segment at
	 * RCV.NXT is still processed */
	APP_SEND(h, ISS + 1, 10);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 4097, 10);
	SEND(h, T0 + MS(100), .flags = TH_ACK, .seq = IRS + 4097, .ack = ISS + 11, .len = 5);
	ASSERT_EQ(h_tcb(h)->snd_una, ISS + 11);
	h_discard(h);
	/* and an RST at RCV.NXT is taken */
	SEND(h, T0 + MS(200), .flags = TH_RST, .seq = IRS + 4097);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSED);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(first_check_len0_wnd_open_window_edges)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	/* RCV.WND = 65535 from RCV.NXT = 2^32-100: the window crosses 2^32 */
	uint32_t nxt = IRS + 1, wnd = 65535;
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = nxt + wnd - 1, .ack = ISS + 1);
	EXPECT_NONE(h); /* RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND */
	/* a bare ACK exactly at the right edge is taken, as 4.4BSD and
	 * Linux take it (a sender that filled the window speaks from there) */
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = nxt + wnd, .ack = ISS + 1);
	EXPECT_NONE(h);
	SEND(h, T0 + MS(3), .flags = TH_ACK, .seq = nxt + wnd + 1, .ack = ISS + 1);
	EXPECT_SEG(h, TH_ACK, ISS + 1, nxt, 0);
	SEND(h, T0 + MS(600), .flags = TH_ACK, .seq = nxt - 1, .ack = ISS + 1);
	EXPECT_SEG(h, TH_ACK, ISS + 1, nxt, 0);
	SEND(h, T0 + MS(601), .flags = TH_ACK, .seq = nxt, .ack = ISS + 1);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(first_check_data_entirely_old_gets_ack)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 200);
	APP_RECV(h, IRS + 1, 200);
	h_discard(h);
	/* a retransmission of bytes already received: duplicate ACK at once */
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS + 101, .ack = ISS + 1, .len = 100);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 201, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_recv(h->st, h->fd, (char[1]){0}, 1), -EAGAIN);
	h_free(h);
}

TEST(first_check_data_beyond_window_gets_ack)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1 + 65535, .ack = ISS + 1, .len = 10);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_recv(h->st, h->fd, (char[1]){0}, 1), -EAGAIN);
	h_free(h);
}

TEST(first_check_trims_data_before_rcv_nxt)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 90);
	APP_RECV(h, IRS + 1, 90);
	/* 30 bytes from 2^32-20: 10 old, 20 new and across the wrap */
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS + 81, .ack = ISS + 1, .len = 30);
	APP_RECV(h, IRS + 91, 20);
	/* one ACK for all 110 bytes, at the latest when the delayed ACK runs */
	h_poll(h, T0 + MS(1) + MS(40));
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 111, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(h_tcb(h)->rcv_nxt, 10);
	h_free(h);
}

TEST(first_check_trims_data_beyond_window)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rcvbuf = 4096;
	struct harness *h = h_new(&cfg);
	h_established(h, PASSIVE);
	/* 4196 bytes into a 4096-byte window: the last 100 are cut off and
	 * the rest acknowledged at once */
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 4196);
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 4097, 0, 0);
	EXPECT_NONE(h);
	APP_RECV(h, IRS + 1, 4096);
	h_free(h);
}

TEST(first_check_fin_beyond_window_not_taken)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rcvbuf = 4096;
	struct harness *h = h_new(&cfg);
	h_established(h, PASSIVE);
	/* the FIN lies past the window with the trimmed bytes: it is cut off
	 * too */
	SEND(h, T0 + MS(1), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 4100);
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 4097, 0, 0);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_ESTABLISHED);
	h_free(h);
}

TEST(first_check_unacceptable_rst_gets_nothing)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(1), .flags = TH_RST, .seq = IRS + 1 + 65535);
	SEND(h, T0 + MS(2), .flags = TH_RST, .seq = IRS);
	SEND(h, T0 + MS(3), .flags = TH_RST | TH_ACK, .seq = IRS - 5000, .ack = ISS + 1);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_ESTABLISHED);
	h_free(h);
}

/* ==== 3.10.7.4 second: RST (RFC 5961 3.2) ==== */

TEST(rst_exact_rcv_nxt_resets)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	SEND(h, T0 + MS(5), .flags = TH_RST, .seq = IRS + 1);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSED);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	char c;
	/* "connection reset", reported once; then end of file */
	ASSERT_EQ(synfin_recv(h->st, h->fd, &c, 1), -ECONNRESET);
	ASSERT_EQ(synfin_recv(h->st, h->fd, &c, 1), 0);
	ASSERT_EQ(synfin_send(h->st, h->fd, "x", 1), -EPIPE);
	h_free(h);
}

TEST(rst_exact_rcv_nxt_after_wrap_resets)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 300);
	APP_RECV(h, IRS + 1, 300);
	h_discard(h);
	/* RCV.NXT is now 200, past 2^32 */
	SEND(h, T0 + MS(2), .flags = TH_RST, .seq = 200);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSED);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(rst_in_window_not_exact_gets_challenge_ack)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	SEND(h, T0 + MS(5), .flags = TH_RST, .seq = IRS + 2);
	/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	SEND(h, T0 + MS(6), .flags = TH_RST | TH_ACK, .seq = IRS + 1 + 65534, .ack = ISS + 1);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_ESTABLISHED);
	ASSERT_EQ(synfin_get_stats(h->st)->challenge_acks, 2);
	h_free(h);
}

TEST(rst_out_of_window_gets_nothing)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	SEND(h, T0 + MS(5), .flags = TH_RST, .seq = IRS + 1 + 65535);
	SEND(h, T0 + MS(6), .flags = TH_RST, .seq = IRS);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_ESTABLISHED);
	h_free(h);
}

TEST(fin_wait_1_rst_closes_with_econnreset)
{
	struct harness *h = h_new(NULL);
	h_fin_wait_1(h, ACTIVE, true);
	SEND(h, T0 + MS(5), .flags = TH_RST, .seq = IRS + 1);
	EXPECT_EV(h, TCPS_FIN_WAIT_1, TCPS_CLOSED);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	char c;
	ASSERT_EQ(synfin_recv(h->st, h->fd, &c, 1), -ECONNRESET);
	h_free(h);
}

/* ==== 3.10.7.4 fourth: SYN in a synchronized state (RFC 5961 4) ==== */

TEST(syn_in_established_gets_challenge_ack)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	/* in the window */
	SEND(h, T0 + MS(5), .flags = TH_SYN, .seq = IRS + 1000, .mss = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	/* at RCV.NXT exactly */
	SEND(h, T0 + MS(6), .flags = TH_SYN, .seq = IRS + 1, .mss = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	/* far outside the window: an ACK too, whatever the number */
	SEND(h, T0 + MS(7), .flags = TH_SYN, .seq = IRS + 0x40000000u, .mss = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_ESTABLISHED);
	h_free(h);
}

TEST(syn_in_close_wait_gets_challenge_ack)
{
	struct harness *h = h_new(NULL);
	h_close_wait(h, ACTIVE);
	SEND(h, h->now + MS(5), .flags = TH_SYN, .seq = IRS + 10, .mss = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 2, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	h_free(h);
}

TEST(challenge_ack_rate_limit)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.challenge_ack_limit = 2;
	struct harness *h = h_new(&cfg);
	h_established(h, PASSIVE);
	/* three challenges within one second: the third is not answered */
	SEND(h, T0 + MS(100), .flags = TH_RST, .seq = IRS + 2);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	SEND(h, T0 + MS(200), .flags = TH_SYN, .seq = IRS + 5, .mss = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	SEND(h, T0 + MS(300), .flags = TH_RST, .seq = IRS + 3);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_get_stats(h->st)->challenge_acks, 2);
	ASSERT_EQ(synfin_get_stats(h->st)->challenge_acks_limited, 1);
	ASSERT_EQ(h_state(h), TCPS_ESTABLISHED);
	/* a second later the budget is back */
	SEND(h, T0 + SEC(1) + MS(100), .flags = TH_RST, .seq = IRS + 4);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_get_stats(h->st)->challenge_acks, 3);
	h_free(h);
}

/* ==== 3.10.7.4 fifth: the ACK field ==== */

TEST(ackless_segment_dropped)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(5), .flags = TH_PSH, .seq = IRS + 1, .data = "no ack bit");
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_recv(h->st, h->fd, (char[16]){0}, 16), -EAGAIN);
	ASSERT_EQ(h_tcb(h)->rcv_nxt, IRS + 1);
	h_free(h);
}

TEST(ack_above_snd_nxt_acked_and_dropped)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	APP_SEND(h, ISS + 1, 10);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 10);
	/* SEG.ACK > SND.NXT (= ISS+11): send an ACK, drop the segment */
	SEND(h, T0 + MS(5), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 12, .data = "abc");
	EXPECT_SEG(h, TH_ACK, ISS + 11, IRS + 1, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_recv(h->st, h->fd, (char[4]){0}, 4), -EAGAIN);
	ASSERT_EQ(h_tcb(h)->snd_una, ISS + 1);
	ASSERT_EQ(h_state(h), TCPS_ESTABLISHED);
	h_free(h);
}

TEST(ack_too_old_dropped)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	/* MAX.SND.WND = 65535: SEG.ACK below SND.UNA - 65535 is discarded
	 * with an ACK sent back (RFC 5961 5.2), and the text is not taken */
	SEND(h, T0 + MS(5), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1 - 65536, .data = "abc");
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_recv(h->st, h->fd, (char[4]){0}, 4), -EAGAIN);
	h_free(h);
}

TEST(ack_old_but_within_max_snd_wnd_is_a_duplicate)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	APP_SEND(h, ISS + 1, 40);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 40);
	SEND(h, T0 + MS(5), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 41);
	EXPECT_NONE(h);
	/* SEG.ACK < SND.UNA: ignore the ACK, keep the text */
	SEND(h, T0 + MS(6), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 3);
	APP_RECV(h, IRS + 1, 3);
	ASSERT_EQ(h_tcb(h)->snd_una, ISS + 41);
	h_free(h);
}

TEST(duplicate_ack_ignored)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	SEND(h, T0 + MS(5), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	SEND(h, T0 + MS(6), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	h_free(h);
}

TEST(ack_advances_snd_una_across_wrap)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	APP_SEND(h, ISS + 1, 100);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 100);
	EXPECT_DEADLINE(h, T0 + SEC(1));
	/* half of it: 50 bytes from 2^32-15 end at 35 */
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 51);
	ASSERT_EQ(h_tcb(h)->snd_una, 35);
	EXPECT_NONE(h);
	SEND(h, T0 + MS(20), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 101);
	ASSERT_EQ(h_tcb(h)->snd_una, 85);
	/* all acknowledged: no retransmission pending */
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(window_update_not_from_older_ack)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	APP_SEND(h, ISS + 1, 10);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 10);
	/* the peer acknowledges and closes its window: SND.WL1 = IRS+1,
	 * SND.WL2 = ISS+11 */
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 11, .wnd = WND_ZERO);
	APP_SEND(h, ISS + 11, 10);
	EXPECT_NONE(h);
	/* a reordered older ACK (same SEG.SEQ, SEG.ACK < SND.WL2) must not
	 * reopen the window (3.10.7.4 fifth, ESTABLISHED) */
	SEND(h, T0 + MS(20), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .wnd = 1000);
	EXPECT_NONE(h);
	/* the newest one does */
	SEND(h, T0 + MS(30), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 11, .wnd = 1000);
	EXPECT_SEG(h, TH_ACK, ISS + 11, IRS + 1, 10);
	EXPECT_NONE(h);
	h_free(h);
}

/* ==== RFC 7323 5.3: PAWS ==== */

TEST(paws_old_timestamp_dropped_with_ack)
{
	struct harness *h = h_new(NULL);
	h->ts = true;
	h->peer_tsval = 1000;
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 10, .tsval = 2000);
	APP_RECV(h, IRS + 1, 10);
	h_poll(h, T0 + MS(41));
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 11, 0);
	/* in the window, but its TSval is older than TS.Recent: an old
	 * duplicate; send an ACK and drop it (R1) */
	SEND(h, T0 + MS(50), .flags = TH_ACK, .seq = IRS + 11, .ack = ISS + 1, .len = 10, .tsval = 1500);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 11, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_recv(h->st, h->fd, (char[16]){0}, 16), -EAGAIN);
	ASSERT_EQ(synfin_get_stats(h->st)->paws_drops, 1);
	/* an RST is not subject to PAWS... (RFC 7323 5.2: RSTs are accepted
	 * regardless of timestamp) */
	SEND(h, T0 + MS(60), .flags = TH_RST, .seq = IRS + 11, .tsval = 1);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSED);
	h_free(h);
}

TEST(paws_ts_recent_not_taken_from_out_of_window_segment)
{
	struct harness *h = h_new(NULL);
	h->ts = true;
	h->peer_tsval = 1000;
	h_established(h, PASSIVE);
	/* a segment far below the window (an old duplicate, or a blind
	 * injection) with a TSval 2^30 ahead: RFC 7323 5.3 R2 rejects it by
	 * the window check before R3 could record its timestamp */
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1 - 100000, .ack = ISS + 1, .len = 10,
	     .tsval = 1000 + 0x40000000u);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	ASSERT_EQ(h_tcb(h)->ts_recent, 1000);
	/* so the peer's next real segment is still taken */
	SEND(h, T0 + MS(2), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 10, .tsval = 1010);
	APP_RECV(h, IRS + 1, 10);
	h_free(h);
}

/* ==== header prediction: what the fast path takes, what it leaves ==== */

TEST(prediction_takes_in_order_text_and_new_acks)
{
	struct harness *h = h_new(NULL);
	h->ts = true;
	h->peer_tsval = 1000;
	h_established(h, PASSIVE);
	const struct synfin_stats *s = synfin_get_stats(h->st);
	uint64_t d0 = s->predicted_data, a0 = s->predicted_acks;
	/* text in order: taken, its ACK delayed (RFC 5681 4.2), TS.Recent
	 * recorded */
	SEND(h, T0 + MS(1), .flags = TH_ACK | TH_PSH, .seq = IRS + 1, .ack = ISS + 1, .len = 10, .tsval = 1001);
	EXPECT_NONE(h);
	ASSERT_EQ(s->predicted_data, d0 + 1);
	ASSERT_EQ(h_tcb(h)->ts_recent, 1001);
	EXPECT_DEADLINE(h, T0 + MS(41));
	APP_RECV(h, IRS + 1, 10);
	/* the reply carries the ACK; the peer's ACK of the reply is taken
	 * too, with its window (a newer SND.WL2), and nothing is left to
	 * retransmit */
	APP_SEND(h, ISS + 1, 20);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 11, 20);
	SEND(h, T0 + MS(3), .flags = TH_ACK, .seq = IRS + 11, .ack = ISS + 21, .tsval = 1002, .wnd = 1000);
	ASSERT_EQ(s->predicted_acks, a0 + 1);
	ASSERT_EQ(h_tcb(h)->snd_una, ISS + 21);
	ASSERT_EQ(h_tcb(h)->snd_wnd, 1000);
	ASSERT_EQ(h_tcb(h)->ts_recent, 1002);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	/* a second segment in a row is acknowledged at once */
	SEND(h, T0 + MS(4), .flags = TH_ACK, .seq = IRS + 11, .ack = ISS + 21, .len = 5, .tsval = 1003);
	SEND(h, T0 + MS(5), .flags = TH_ACK, .seq = IRS + 16, .ack = ISS + 21, .len = 5, .tsval = 1004);
	EXPECT_SEG(h, TH_ACK, ISS + 21, IRS + 21, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(s->predicted_data, d0 + 3);
	h_free(h);
}

/* An established connection with timestamps, a 4096-byte receive buffer
 * and 40 bytes of ours in flight; *pred counts the predicted segments so far. */
static struct harness *predicted_conn(uint64_t *pred)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rcvbuf = 4096;
	struct harness *h = h_new(&cfg);
	h->ts = true;
	h->peer_tsval = 1000;
	h_established(h, PASSIVE);
	APP_SEND(h, ISS + 1, 40);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 40);
	const struct synfin_stats *s = synfin_get_stats(h->st);
	*pred = s->predicted_data + s->predicted_acks;
	return h;
}

static uint64_t predicted(const struct harness *h)
{
	const struct synfin_stats *s = synfin_get_stats(h->st);
	return s->predicted_data + s->predicted_acks;
}

/* Each of these differs from a predictable segment in one way only: the
 * general path answers it with an ACK of `ack` (0: no answer) and counts
 * it under `counter` (an offset in struct synfin_stats, or -1). */
struct unpredicted {
	const char *what;
	struct seg_spec seg;
	uint32_t ack;
	int counter;
};

TEST(prediction_leaves_other_segments_to_the_general_path)
{
	static const struct unpredicted cases[] = {
		{"text past the free room (cut to the window, acknowledged at once)",
		 {.flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 41, .len = 4196, .tsval = 1001}, IRS + 4097, -1},
		{"an old timestamp (PAWS)",
		 {.flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 41, .len = 1, .tsval = 999}, IRS + 1,
		 (int)offsetof(struct synfin_stats, paws_drops)},
		{"text out of order (a duplicate ACK at once)",
		 {.flags = TH_ACK, .seq = IRS + 11, .ack = ISS + 41, .len = 10, .tsval = 1001}, IRS + 1,
		 (int)offsetof(struct synfin_stats, ooo_segs)},
		{"an ACK of more than was sent (RFC 5961 5.2: an ACK back, dropped)",
		 {.flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 100, .len = 5, .tsval = 1001}, IRS + 1,
		 (int)offsetof(struct synfin_stats, bad_ack_drops)},
		{"a FIN (the ACK is delayed)", {.flags = TH_ACK | TH_FIN, .seq = IRS + 1, .ack = ISS + 41, .tsval = 1001},
		 0, -1},
		{"a duplicate ACK", {.flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .tsval = 1001}, 0, -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct unpredicted *c = &cases[i];
		uint64_t p0;
		struct harness *h = predicted_conn(&p0);
		h_send(h, __FILE__, __LINE__, T0 + MS(4), &c->seg);
		if (c->ack)
			EXPECT_SEG(h, TH_ACK, ISS + 41, c->ack, 0);
		EXPECT_NONE(h);
		if (c->counter >= 0)
			ASSERT_EQ(*(const uint64_t *)((const char *)synfin_get_stats(h->st) + c->counter), 1);
		if (predicted(h) != p0)
			test_fail(__FILE__, __LINE__, "predicted: %s", c->what);
		h_free(h);
	}
	/* what each did: the text kept, the state, the duplicate counted */
	uint64_t p0;
	struct harness *h = predicted_conn(&p0);
	h_send(h, __FILE__, __LINE__, T0 + MS(4), &cases[0].seg);
	APP_RECV(h, IRS + 1, 4096);
	h_free(h);
	h = predicted_conn(&p0);
	h_send(h, __FILE__, __LINE__, T0 + MS(4), &cases[4].seg);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSE_WAIT);
	h_free(h);
	h = predicted_conn(&p0);
	h_send(h, __FILE__, __LINE__, T0 + MS(4), &cases[5].seg);
	ASSERT_EQ(h_tcb(h)->dupacks, 1);
	h_free(h);
	/* the ACK of more than was sent, with a valid ACK, is predicted */
	struct seg_spec ok = cases[3].seg;
	ok.ack = ISS + 41;
	h = predicted_conn(&p0);
	h_send(h, __FILE__, __LINE__, T0 + MS(4), &ok);
	ASSERT_EQ(h_tcb(h)->snd_una, ISS + 41);
	ASSERT_EQ(predicted(h), p0 + 1);
	APP_RECV(h, IRS + 1, 5);
	h_free(h);
}

/* ==== RFC 5681 3.2: fast retransmit ==== */

TEST(third_duplicate_ack_fast_retransmits)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	APP_SEND(h, ISS + 1, 4 * MSS);
	for (uint32_t i = 0; i < 4; i++)
		EXPECT_SEG(h, TH_ACK, ISS + 1 + i * MSS, IRS + 1, MSS);
	EXPECT_NONE(h);
	/* the first segment is lost; three duplicate ACKs for it */
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	SEND(h, T0 + MS(11), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_NONE(h);
	SEND(h, T0 + MS(12), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	struct tcp_seg s;
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 1, IRS + 1, MSS, &s);
	CHECK_PAYLOAD(&s);
	EXPECT_NONE(h);
	h_free(h);
}

/* ==== old SYNs and SYN,ACKs in synchronized states ==== */

TEST(retransmitted_syn_ack_in_established_gets_ack)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	/* our ACK of the SYN,ACK was lost; the peer sends it again: an old
	 * duplicate below RCV.NXT, answered with <SEQ=SND.NXT><ACK=RCV.NXT> */
	SEND(h, T0 + SEC(1), .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = ISS + 1, .mss = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_ESTABLISHED);
	h_free(h);
}

TEST(duplicate_syn_at_irs_in_established_gets_challenge_ack)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	/* the peer's first SYN, duplicated by the network, arrives late:
	 * RFC 5961 4.2 (RFC 9293 3.10.7.4 fourth), whatever its number a SYN
	 * in a synchronized state is answered with a challenge ACK */
	SEND(h, T0 + MS(300), .flags = TH_SYN, .seq = IRS, .mss = MSS);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_ESTABLISHED);
	h_free(h);
}

TEST(syn_rcvd_new_syn_in_window_drops_passive_child)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h);
	/* 3.10.7.4 fourth, SYN-RECEIVED from a passive OPEN: back to LISTEN */
	SEND(h, T0 + MS(10), .flags = TH_SYN, .seq = IRS + 100, .mss = MSS);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_LISTEN);
	EXPECT_NONE(h);
	ASSERT(h_tcb(h) == NULL);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	/* the peer's next SYN starts afresh */
	SEND(h, T0 + SEC(1), .flags = TH_SYN, .seq = IRS + 100, .mss = MSS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 101, 0);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	h_free(h);
}

/* ==== options on the SYN (RFC 9293 3.7.1, RFC 7323) ==== */

TEST(peer_mss_limits_segment_size)
{
	struct harness *h = h_new(NULL);
	h_listen(h, 4);
	SEND(h, T0, .flags = TH_SYN, .seq = IRS, .mss = 536);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	h->fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT(h->fd >= 0);
	APP_SEND(h, ISS + 1, 1000);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 536);
	EXPECT_NONE(h); /* the 464-byte tail waits (Nagle) */
	SEND(h, T0 + MS(20), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 537);
	EXPECT_SEG(h, TH_ACK, ISS + 537, IRS + 1, 464);
	h_free(h);
}

TEST(no_mss_option_means_536)
{
	struct harness *h = h_new(NULL);
	h_listen(h, 4);
	SEND(h, T0, .flags = TH_SYN, .seq = IRS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	h->fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT(h->fd >= 0);
	APP_SEND(h, ISS + 1, 600);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 536);
	h_free(h);
}

TEST(window_scale_applies_after_the_syn)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rcvbuf = 1u << 20;
	struct harness *h = h_new(&cfg);
	struct tcp_seg s;
	struct synfin_addr me = {LOCAL_IP, CLI_PORT}, peer = {REMOTE_IP, PEER_SRV_PORT};
	h->fd = synfin_socket(h->st);
	ASSERT_EQ(synfin_bind(h->st, h->fd, &me), 0);
	h->lport = CLI_PORT;
	h->rport = PEER_SRV_PORT;
	ASSERT_EQ(synfin_connect(h->st, h->fd, &peer), -EINPROGRESS);
	EXPECT_EV(h, TCPS_CLOSED, TCPS_SYN_SENT);
	/* 1 MiB needs a shift of 5 to fit 16 bits; the SYN's own window is
	 * never scaled (RFC 7323 2.2): 65535 */
	EXPECT_SEG_OUT(h, TH_SYN, ISS, 0, 0, &s);
	ASSERT(s.opt.has & TOF_WSCALE);
	ASSERT_EQ(s.opt.wscale, 5);
	ASSERT_EQ(s.wnd, 65535);
	/* the peer scales by 7; its SYN,ACK window (10) is not scaled */
	SEND(h, T0 + MS(1), .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = ISS + 1, .mss = MSS,
	     .ws = true, .wscale = 7, .wnd = 10);
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 1, 0, (1u << 20) >> 5);
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_ESTABLISHED);
	APP_SEND(h, ISS + 1, 3000);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 10);
	EXPECT_NONE(h);
	/* later windows are scaled: 10 << 7 = 1280 bytes */
	SEND(h, T0 + MS(20), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 11, .wnd = 10);
	EXPECT_SEG(h, TH_ACK, ISS + 11, IRS + 1, 1280);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(window_scale_not_used_unless_both_offer)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rcvbuf = 1u << 20;
	struct harness *h = h_new(&cfg);
	h_established(h, ACTIVE); /* the peer's SYN,ACK has no window scale */
	APP_SEND(h, ISS + 1, 10);
	/* no scaling: the field says as much as fits, 65535 */
	EXPECT_SEG_WND(h, TH_ACK, ISS + 1, IRS + 1, 10, 65535);
	/* and the peer's windows are taken as they are: 2000 bytes is one
	 * full segment and a 540-byte rest that sender SWS avoidance holds
	 * (it would be 1460 more if 2000 were scaled) */
	SEND(h, T0 + MS(20), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 11, .wnd = 2000);
	APP_SEND(h, ISS + 11, 3000);
	EXPECT_SEG(h, TH_ACK, ISS + 11, IRS + 1, MSS);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(syn_ack_offers_window_scale_only_if_the_syn_did)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.rcvbuf = 1u << 20;
	struct harness *h = h_new(&cfg);
	struct tcp_seg s;
	h_listen(h, 4);
	SEND(h, T0, .flags = TH_SYN, .seq = IRS, .mss = MSS, .ws = true, .wscale = 2);
	EXPECT_SEG_OUT(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0, &s);
	ASSERT(s.opt.has & TOF_WSCALE);
	ASSERT_EQ(s.opt.wscale, 5);
	ASSERT_EQ(s.wnd, 65535);
	h_free(h);
}
