/*
 * Opening a connection: the edges of the RFC 9293 state diagram (figure 5)
 * out of CLOSED, LISTEN, SYN_SENT and SYN_RCVD, one segment at a time.
 */
#include "tcp_harness.h"

/* ==== CLOSED -> LISTEN, LISTEN -> CLOSED ==== */

TEST(closed_to_listen_on_listen)
{
	struct harness *h = h_new(NULL);
	h_listen(h, 4); /* CLOSED -> LISTEN, nothing sent */
	ASSERT_STR(h_last_cause, "listen");
	EXPECT_NO_EV(h);
	h_free(h);
}

TEST(listen_to_closed_on_close)
{
	struct harness *h = h_new(NULL);
	h_listen(h, 4);
	ASSERT_EQ(synfin_close(h->st, h->lfd), 0);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_CLOSED);
	EXPECT_NONE(h);
	/* the port is closed now: a SYN gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> */
	SEND(h, T0 + MS(1), .flags = TH_SYN, .seq = IRS, .mss = MSS);
	EXPECT_SEG(h, TH_RST | TH_ACK, 0, IRS + 1, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	h_free(h);
}

/* ==== CLOSED -> SYN_SENT ==== */

TEST(closed_to_syn_sent_on_connect)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h); /* SYN <SEQ=ISS>, MSS option, CLOSED -> SYN_SENT */
	ASSERT_STR(h_last_cause, "connect");
	/* the SYN is timed by the retransmission timer: initial RTO 1 s */
	EXPECT_DEADLINE(h, T0 + SEC(1));
	h_free(h);
}

/* ==== LISTEN -> SYN_RCVD ==== */

TEST(listen_syn_gives_syn_ack_and_syn_rcvd)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h); /* SYN in; <SEQ=ISS><ACK=IRS+1><CTL=SYN,ACK> with MSS out */
	ASSERT_EQ(synfin_accept(h->st, h->lfd, NULL), -EAGAIN);
	ASSERT_EQ(synfin_state(h->st, h->lfd), TCPS_LISTEN);
	h_free(h);
}

TEST(listen_syn_ack_mss_is_ours_not_the_peers)
{
	struct harness *h = h_new(NULL);
	struct tcp_seg s;
	h_listen(h, 4);
	/* the peer's smaller MSS limits what we send, not what we announce */
	SEND(h, T0, .flags = TH_SYN, .seq = IRS, .mss = 536);
	EXPECT_SEG_OUT(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0, &s);
	ASSERT(s.opt.has & TOF_MSS);
	ASSERT_EQ(s.opt.mss, MSS);
	/* no window scale or timestamps unless the SYN offered them (RFC 7323) */
	ASSERT_EQ(s.opt.has & (TOF_WSCALE | TOF_TS), 0);
	h_free(h);
}

/* ==== SYN_RCVD -> ESTABLISHED ==== */

TEST(syn_rcvd_ack_establishes)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h);
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	EXPECT_NONE(h);
	struct synfin_addr peer;
	int fd = synfin_accept(h->st, h->lfd, &peer);
	ASSERT(fd >= 0);
	ASSERT_EQ(peer.ip, REMOTE_IP);
	ASSERT_EQ(peer.port, PEER_PORT);
	ASSERT_EQ(synfin_state(h->st, fd), TCPS_ESTABLISHED);
	/* nothing is pending: no retransmission of the SYN,ACK */
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	h_free(h);
}

TEST(syn_rcvd_ack_sets_send_window)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h); /* the SYN offered 65535 */
	/* SND.WND <- SEG.WND of the ACK that establishes (3.10.7.4 fifth) */
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .wnd = 2000);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	h->fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT(h->fd >= 0);
	/* 2000 bytes of window: one full segment; the 540-byte rest is held
	 * by sender SWS avoidance (with 65535 a second 1460 would go) */
	APP_SEND(h, ISS + 1, 3000);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, MSS);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(syn_rcvd_unacceptable_ack_gets_rst)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h);
	/* SND.UNA < SEG.ACK =< SND.NXT fails: <SEQ=SEG.ACK><CTL=RST> (3.10.7.4 fifth) */
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 2);
	EXPECT_SEG(h, TH_RST, ISS + 2, 0, 0);
	SEND(h, T0 + MS(11), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS);
	EXPECT_SEG(h, TH_RST, ISS, 0, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_SYN_RCVD);
	h_free(h);
}

TEST(syn_rcvd_retransmitted_syn_gets_syn_ack_again)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h);
	SEND(h, T0 + MS(500), .flags = TH_SYN, .seq = IRS, .mss = MSS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_SYN_RCVD);
	h_free(h);
}

TEST(syn_rcvd_data_ack_establishes_and_delivers)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h);
	/* the handshake's ACK carries 150 bytes, from 2^32-100 across 2^32:
	 * text on the ACK that completes the handshake is taken (3.10.7.4
	 * fifth then seventh), whether or not accept() was called yet */
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 150);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	EXPECT_NO_EV(h);
	EXPECT_NONE(h); /* the ACK is delayed */
	int fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT_MSG(fd >= 0, "accept: %d", fd);
	h->fd = fd;
	APP_RECV(h, IRS + 1, 150);
	STEP_TO(h, T0 + MS(10) + MS(40));
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 151, 0);
	h_free(h);
}

TEST(established_data_before_accept_is_kept)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h);
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	/* a request arrives before the application calls accept(): a socket
	 * in the accept queue is not a closed one */
	SEND(h, T0 + MS(11), .flags = TH_ACK | TH_PSH, .seq = IRS + 1, .ack = ISS + 1, .len = 120);
	EXPECT_NO_EV(h);
	EXPECT_NONE(h);
	int fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT_MSG(fd >= 0, "accept: %d", fd);
	h->fd = fd;
	APP_RECV(h, IRS + 1, 120);
	h_free(h);
}

TEST(syn_rcvd_fin_ack_goes_to_close_wait)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h);
	/* the ACK establishes, then the FIN (3.10.7.4 eighth: SYN-RECEIVED and
	 * ESTABLISHED enter CLOSE-WAIT) */
	SEND(h, T0 + MS(10), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSE_WAIT);
	int fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT(fd >= 0);
	char c;
	ASSERT_EQ(synfin_recv(h->st, fd, &c, 1), 0); /* end of file */
	h_free(h);
}

/* ==== SYN_RCVD -> LISTEN ==== */

TEST(syn_rcvd_rst_returns_to_listen)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h);
	/* RST at exactly RCV.NXT: the passive open goes back to LISTEN */
	SEND(h, T0 + MS(10), .flags = TH_RST, .seq = IRS + 1);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_LISTEN);
	EXPECT_NONE(h);
	ASSERT(h_tcb(h) == NULL);
	ASSERT_EQ(synfin_accept(h->st, h->lfd, NULL), -EAGAIN);
	ASSERT_EQ(synfin_state(h->st, h->lfd), TCPS_LISTEN);
	/* no SYN,ACK retransmission is left behind */
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	/* and the listener still takes a new SYN on the same 4-tuple */
	SEND(h, T0 + MS(20), .flags = TH_SYN, .seq = IRS + 5000, .mss = MSS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 5001, 0);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(syn_rcvd_rst_in_window_not_exact_gets_challenge_ack)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h);
	/* RFC 5961 3.2: in the window but not RCV.NXT -> challenge ACK */
	SEND(h, T0 + MS(10), .flags = TH_RST, .seq = IRS + 2);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_SYN_RCVD);
	h_free(h);
}

/* ==== SYN_SENT -> ESTABLISHED ==== */

TEST(syn_sent_syn_ack_establishes)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	SEND(h, T0 + MS(30), .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = ISS + 1, .mss = MSS);
	/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_ESTABLISHED);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_ESTABLISHED);
	ASSERT(synfin_events(h->st, h->fd) & SYNFIN_EV_OUT);
	struct synfin_addr a = {REMOTE_IP, PEER_SRV_PORT};
	ASSERT_EQ(synfin_connect(h->st, h->fd, &a), -EISCONN);
	/* the SYN's retransmission timer is gone */
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	/* data now flows from ISS+1 across 2^32 */
	APP_SEND(h, ISS + 1, 40);
	struct tcp_seg s;
	EXPECT_SEG_OUT(h, TH_ACK, ISS + 1, IRS + 1, 40, &s);
	CHECK_PAYLOAD(&s);
	h_free(h);
}

/* ==== SYN_SENT -> SYN_RCVD (simultaneous open) ==== */

TEST(syn_sent_simultaneous_open)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	/* the peer's SYN crosses ours: SYN,ACK with our original ISS */
	SEND(h, T0 + MS(5), .flags = TH_SYN, .seq = IRS, .mss = MSS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_SYN_RCVD);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_SYN_RCVD);
	/* the peer's SYN,ACK (or ACK) completes it */
	SEND(h, T0 + MS(10), .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = ISS + 1, .mss = MSS);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_ESTABLISHED);
	h_free(h);
}

TEST(syn_sent_simultaneous_open_ack_establishes)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	SEND(h, T0 + MS(5), .flags = TH_SYN, .seq = IRS, .mss = MSS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_SYN_RCVD);
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_ESTABLISHED);
	h_free(h);
}

TEST(syn_rcvd_after_simultaneous_open_rst_refuses)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	SEND(h, T0 + MS(5), .flags = TH_SYN, .seq = IRS, .mss = MSS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_SYN_RCVD);
	/* from an active OPEN: "connection refused" (3.10.7.4 second) */
	SEND(h, T0 + MS(10), .flags = TH_RST, .seq = IRS + 1);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_CLOSED);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	struct synfin_addr a = {REMOTE_IP, PEER_SRV_PORT};
	ASSERT_EQ(synfin_connect(h->st, h->fd, &a), -ECONNREFUSED);
	h_free(h);
}

/* ==== SYN_RCVD -> FIN_WAIT_1 (close after a simultaneous open) ==== */

TEST(syn_rcvd_close_sends_fin_once_established)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	SEND(h, T0 + MS(5), .flags = TH_SYN, .seq = IRS, .mss = MSS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_SYN_RCVD);
	/* close in SYN_RCVD: the FIN is queued until ESTABLISHED */
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(h_state(h), TCPS_SYN_RCVD);
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_FIN_WAIT_1);
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_NONE(h);
	/* and the close goes on: ACK of FIN, FIN, TIME_WAIT */
	SEND(h, T0 + MS(20), .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 2);
	EXPECT_EV(h, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2);
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 2, 0);
	EXPECT_NONE(h);
	h_free(h);
}

/* ==== SYN_SENT -> CLOSED ==== */

TEST(syn_sent_close_deletes_tcb)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_CLOSED);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	/* the SYN,ACK now meets no connection: <SEQ=SEG.ACK><CTL=RST> */
	SEND(h, T0 + MS(30), .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = ISS + 1, .mss = MSS);
	EXPECT_SEG(h, TH_RST, ISS + 1, 0, 0);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(syn_sent_rst_with_acceptable_ack_refuses)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	SEND(h, T0 + MS(30), .flags = TH_RST | TH_ACK, .seq = 0, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_CLOSED);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	ASSERT(synfin_events(h->st, h->fd) & SYNFIN_EV_ERR);
	struct synfin_addr a = {REMOTE_IP, PEER_SRV_PORT};
	/* "error: connection refused", reported once */
	ASSERT_EQ(synfin_connect(h->st, h->fd, &a), -ECONNREFUSED);
	int err = -1;
	size_t len = sizeof err;
	ASSERT_EQ(synfin_getsockopt(h->st, h->fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_ERROR, &err, &len), 0);
	ASSERT_EQ(err, 0);
	h_free(h);
}

TEST(syn_sent_rst_reported_by_so_error)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	SEND(h, T0 + MS(30), .flags = TH_RST | TH_ACK, .seq = 0, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_SYN_SENT, TCPS_CLOSED);
	int err = 0;
	size_t len = sizeof err;
	ASSERT_EQ(synfin_getsockopt(h->st, h->fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_ERROR, &err, &len), 0);
	ASSERT_EQ(err, ECONNREFUSED);
	h_free(h);
}
