/*
 * Socket calls and options on a connection: SO_LINGER (abort and the
 * lingering close), close with unread data (RFC 2525 2.17), the port rules
 * of bind() and connect() around TIME_WAIT, and the errors of the calls
 * (RFC 9293 3.10 "error:" cases in BSD errno form).
 */
#include "tcp_harness.h"

static void set_linger(struct harness *h, int fd, int on, int secs)
{
	struct synfin_linger l = {on, secs};
	ASSERT_EQ(synfin_setsockopt(h->st, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_LINGER, &l, sizeof l), 0);
}

static void set_reuse(struct harness *h, int fd)
{
	int one = 1;
	ASSERT_EQ(synfin_setsockopt(h->st, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_REUSEADDR, &one, sizeof one), 0);
}

/* ==== SO_LINGER {1, 0}: ABORT (RFC 9293 3.10.5) ==== */

TEST(so_linger_zero_close_sends_rst)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	APP_SEND(h, ISS + 1, 5);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 5);
	set_linger(h, h->fd, 1, 0);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	/* <SEQ=SND.NXT><CTL=RST>: SND.NXT, not SND.UNA */
	EXPECT_SEG(h, TH_RST | TH_ACK, ISS + 6, IRS + 1, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSED);
	EXPECT_NONE(h);
	ASSERT(h_tw(h) == NULL);
	ASSERT(h_tcb(h) == NULL);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	/* nothing holds the port: bind() succeeds without SO_REUSEADDR */
	struct synfin_addr a = {LOCAL_IP, CLI_PORT};
	int fd = synfin_socket(h->st);
	ASSERT_EQ(synfin_bind(h->st, fd, &a), 0);
	h_free(h);
}

TEST(so_linger_zero_in_close_wait_sends_rst)
{
	struct harness *h = h_new(NULL);
	h_close_wait(h, PASSIVE);
	set_linger(h, h->fd, 1, 0);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	EXPECT_SEG(h, TH_RST | TH_ACK, ISS + 1, IRS + 2, 0);
	EXPECT_EV(h, TCPS_CLOSE_WAIT, TCPS_CLOSED);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(close_with_unread_data_sends_rst)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(5), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 5);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	EXPECT_SEG(h, TH_RST | TH_ACK, ISS + 1, IRS + 6, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSED);
	EXPECT_NONE(h);
	ASSERT(h_tw(h) == NULL);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	h_free(h);
}

TEST(close_after_reading_everything_is_graceful)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	SEND(h, T0 + MS(5), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .len = 5);
	APP_RECV(h, IRS + 1, 5);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 6, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_FIN_WAIT_1);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(data_after_close_gets_rst)
{
	struct harness *h = h_new(NULL);
	h_fin_wait_2(h, ACTIVE, false);
	/* nobody will read: the peer is told at once */
	SEND(h, T0 + MS(50), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 2, .data = "more");
	EXPECT_SEG(h, TH_RST | TH_ACK, ISS + 2, IRS + 1, 0);
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_CLOSED);
	EXPECT_NONE(h);
	h_free(h);
}

/* ==== SO_LINGER {1, N} ==== */

TEST(so_linger_n_close_waits_for_ack_of_fin)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	set_linger(h, h->fd, 1, 5);
	ASSERT_EQ(synfin_close(h->st, h->fd), -EINPROGRESS);
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_FIN_WAIT_1);
	ASSERT_EQ(synfin_events(h->st, h->fd) & SYNFIN_EV_CLOSED, 0);
	ASSERT_EQ(synfin_close(h->st, h->fd), -EINPROGRESS);
	SEND(h, T0 + MS(100), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 2);
	EXPECT_EV(h, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2);
	ASSERT(synfin_events(h->st, h->fd) & SYNFIN_EV_CLOSED);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	ASSERT_EQ(synfin_close(h->st, h->fd), -EBADF);
	h->fd = -1;
	EXPECT_NONE(h);
	h_free(h);
}

TEST(so_linger_n_expires_with_ewouldblock)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	set_linger(h, h->fd, 1, 5);
	ASSERT_EQ(synfin_close(h->st, h->fd), -EINPROGRESS);
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_FIN_WAIT_1);
	STEP_TO(h, T0 + SEC(1));
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 1, 0);
	STEP_TO(h, T0 + SEC(3));
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 1, 0);
	ASSERT_EQ(synfin_events(h->st, h->fd) & SYNFIN_EV_CLOSED, 0);
	/* N = 5 seconds after close() */
	STEP_TO(h, T0 + SEC(5));
	EXPECT_NONE(h);
	ASSERT(synfin_events(h->st, h->fd) & SYNFIN_EV_CLOSED);
	ASSERT_EQ(synfin_close(h->st, h->fd), -EWOULDBLOCK);
	h->fd = -1;
	/* the close goes on in the background */
	ASSERT_EQ(h_state(h), TCPS_FIN_WAIT_1);
	STEP_TO(h, T0 + SEC(7));
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 1, 0);
	h_free(h);
}

/* ==== bind() and connect() around TIME_WAIT ==== */

TEST(bind_time_wait_holds_port_without_reuseaddr)
{
	struct harness *h = h_new(NULL);
	h_time_wait(h, ACTIVE); /* CLI_PORT in TIME_WAIT */
	struct synfin_addr a = {LOCAL_IP, CLI_PORT};
	int fd = synfin_socket(h->st);
	ASSERT_EQ(synfin_bind(h->st, fd, &a), -EADDRINUSE);
	set_reuse(h, fd);
	ASSERT_EQ(synfin_bind(h->st, fd, &a), 0);
	h_free(h);
}

TEST(bind_port_free_after_time_wait_ends)
{
	struct harness *h = h_new(NULL);
	h_time_wait(h, ACTIVE);
	h_poll(h, h->now + SEC(60));
	EXPECT_EV(h, TCPS_TIME_WAIT, TCPS_CLOSED);
	struct synfin_addr a = {LOCAL_IP, CLI_PORT};
	int fd = synfin_socket(h->st);
	ASSERT_EQ(synfin_bind(h->st, fd, &a), 0);
	h_free(h);
}

TEST(connect_to_time_wait_tuple_eaddrinuse_even_with_reuseaddr)
{
	struct harness *h = h_new(NULL);
	h_time_wait(h, ACTIVE);
	struct synfin_addr a = {LOCAL_IP, CLI_PORT}, peer = {REMOTE_IP, PEER_SRV_PORT};
	int fd = synfin_socket(h->st);
	set_reuse(h, fd);
	ASSERT_EQ(synfin_bind(h->st, fd, &a), 0);
	ASSERT_EQ(synfin_connect(h->st, fd, &peer), -EADDRINUSE);
	EXPECT_NONE(h);
	/* another peer port is a different 4-tuple */
	struct synfin_addr other = {REMOTE_IP, 81};
	ASSERT_EQ(synfin_connect(h->st, fd, &other), -EINPROGRESS);
	h_free(h);
}

TEST(bind_listener_always_holds_port)
{
	struct harness *h = h_new(NULL);
	h_listen(h, 4);
	set_reuse(h, h->lfd);
	struct synfin_addr a = {LOCAL_IP, SRV_PORT};
	int fd = synfin_socket(h->st);
	set_reuse(h, fd);
	ASSERT_EQ(synfin_bind(h->st, fd, &a), -EADDRINUSE);
	h_free(h);
}

TEST(bind_two_sockets_same_port)
{
	struct harness *h = h_new(NULL);
	struct synfin_addr a = {LOCAL_IP, 5555};
	int f1 = synfin_socket(h->st), f2 = synfin_socket(h->st);
	ASSERT_EQ(synfin_bind(h->st, f1, &a), 0);
	ASSERT_EQ(synfin_bind(h->st, f2, &a), -EADDRINUSE);
	h_free(h);
}

TEST(bind_time_wait_of_passive_connection_holds_listen_port)
{
	struct harness *h = h_new(NULL);
	/* the server's own TIME_WAIT on port 80, then the listener goes */
	h_fin_wait_2(h, PASSIVE, false);
	SEND(h, h->now, .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 2);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 2, 0);
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT);
	ASSERT_EQ(synfin_close(h->st, h->lfd), 0);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_CLOSED);
	struct synfin_addr a = {LOCAL_IP, SRV_PORT};
	int fd = synfin_socket(h->st);
	ASSERT_EQ(synfin_bind(h->st, fd, &a), -EADDRINUSE);
	set_reuse(h, fd);
	ASSERT_EQ(synfin_bind(h->st, fd, &a), 0);
	ASSERT_EQ(synfin_listen(h->st, fd, 4), 0);
	h_free(h);
}

/* ==== errors of the calls ==== */

TEST(connect_when_connected_eisconn)
{
	struct harness *h = h_new(NULL);
	h_established(h, PASSIVE);
	struct synfin_addr peer = {REMOTE_IP, PEER_PORT};
	ASSERT_EQ(synfin_connect(h->st, h->fd, &peer), -EISCONN);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(connect_twice_ealready)
{
	struct harness *h = h_new(NULL);
	h_syn_sent(h);
	struct synfin_addr peer = {REMOTE_IP, PEER_SRV_PORT};
	ASSERT_EQ(synfin_connect(h->st, h->fd, &peer), -EALREADY);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	h_free(h);
}

TEST(calls_on_unconnected_socket_enotconn)
{
	struct harness *h = h_new(NULL);
	int fd = synfin_socket(h->st);
	char c;
	struct synfin_addr a;
	ASSERT_EQ(synfin_send(h->st, fd, "x", 1), -ENOTCONN);
	ASSERT_EQ(synfin_recv(h->st, fd, &c, 1), -ENOTCONN);
	ASSERT_EQ(synfin_getpeername(h->st, fd, &a), -ENOTCONN);
	ASSERT_EQ(synfin_shutdown(h->st, fd, SYNFIN_SHUT_WR), -ENOTCONN);
	h_free(h);
}

TEST(calls_on_listener)
{
	struct harness *h = h_new(NULL);
	h_listen(h, 4);
	char c;
	ASSERT_EQ(synfin_send(h->st, h->lfd, "x", 1), -ENOTCONN);
	ASSERT_EQ(synfin_recv(h->st, h->lfd, &c, 1), -ENOTCONN);
	ASSERT_EQ(synfin_accept(h->st, h->lfd, NULL), -EAGAIN);
	h_free(h);
}

TEST(send_after_shutdown_wr_epipe)
{
	struct harness *h = h_new(NULL);
	h_fin_wait_1(h, ACTIVE, true);
	ASSERT_EQ(synfin_send(h->st, h->fd, "x", 1), -EPIPE);
	SEND(h, T0 + MS(5), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 2);
	EXPECT_EV(h, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2);
	ASSERT_EQ(synfin_send(h->st, h->fd, "x", 1), -EPIPE);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(send_in_close_wait_after_shutdown_epipe)
{
	struct harness *h = h_new(NULL);
	h_close_wait(h, ACTIVE);
	ASSERT_EQ(synfin_shutdown(h->st, h->fd, SYNFIN_SHUT_WR), 0);
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 2, 0);
	EXPECT_EV(h, TCPS_CLOSE_WAIT, TCPS_LAST_ACK);
	ASSERT_EQ(synfin_send(h->st, h->fd, "x", 1), -EPIPE);
	h_free(h);
}

TEST(einval_cases)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	struct synfin_addr a = {LOCAL_IP, 6000};
	/* already bound */
	ASSERT_EQ(synfin_bind(h->st, h->fd, &a), -EINVAL);
	/* listen on a connected socket */
	ASSERT_EQ(synfin_listen(h->st, h->fd, 4), -EINVAL);
	/* accept on a socket that does not listen */
	ASSERT_EQ(synfin_accept(h->st, h->fd, NULL), -EINVAL);
	/* shutdown with a bad `how` */
	ASSERT_EQ(synfin_shutdown(h->st, h->fd, 7), -EINVAL);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_ESTABLISHED);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(closed_descriptor_ebadf)
{
	struct harness *h = h_new(NULL);
	int fd = synfin_socket(h->st);
	ASSERT_EQ(synfin_close(h->st, fd), 0);
	ASSERT_EQ(synfin_close(h->st, fd), -EBADF);
	ASSERT_EQ(synfin_state(h->st, fd), -EBADF);
	ASSERT_EQ(synfin_send(h->st, fd, "x", 1), -EBADF);
	h_free(h);
}

TEST(keepalive_options_read_back)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	int v = 0;
	size_t len = sizeof v;
	/* defaults: RFC 1122 4.2.3.6 idle of at least two hours */
	ASSERT_EQ(synfin_getsockopt(h->st, h->fd, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE, &v, &len), 0);
	ASSERT_EQ(v, 7200);
	v = 42;
	ASSERT_EQ(synfin_setsockopt(h->st, h->fd, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE, &v, sizeof v), 0);
	v = 0;
	len = sizeof v;
	ASSERT_EQ(synfin_getsockopt(h->st, h->fd, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE, &v, &len), 0);
	ASSERT_EQ(v, 42);
	v = 0;
	ASSERT_EQ(synfin_setsockopt(h->st, h->fd, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPCNT, &v, sizeof v), -EINVAL);
	len = sizeof v;
	ASSERT_EQ(synfin_getsockopt(h->st, h->fd, SYNFIN_SOL_TCP, SYNFIN_TCP_MAXSEG, &v, &len), 0);
	ASSERT_EQ(v, MSS);
	h_free(h);
}

TEST(exit_closes_an_owners_sockets_without_lingering)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	ASSERT_EQ(synfin_set_owner(h->st, h->fd, 7), 0);
	set_linger(h, h->fd, 1, 30);
	synfin_exit(h->st, 7);
	/* a process that exits closes gracefully and does not wait */
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_FIN_WAIT_1);
	ASSERT_EQ(synfin_state(h->st, h->fd), -EBADF);
	h->fd = -1;
	h_free(h);
}

TEST(exit_with_linger_zero_resets)
{
	struct harness *h = h_new(NULL);
	h_established(h, ACTIVE);
	ASSERT_EQ(synfin_set_owner(h->st, h->fd, 7), 0);
	set_linger(h, h->fd, 1, 0);
	synfin_exit(h->st, 7);
	EXPECT_SEG(h, TH_RST | TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSED);
	h->fd = -1;
	h_free(h);
}

TEST(send_buffer_full_eagain)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.sndbuf = 4096;
	struct harness *h = h_new(&cfg);
	h_established(h, ACTIVE);
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1, .wnd = WND_ZERO);
	static uint8_t buf[5000];
	h_pattern(ISS + 1, buf, sizeof buf);
	ASSERT_EQ(synfin_send(h->st, h->fd, buf, sizeof buf), 4096);
	ASSERT_EQ(synfin_send(h->st, h->fd, buf, 1), -EAGAIN);
	ASSERT_EQ(synfin_events(h->st, h->fd) & SYNFIN_EV_OUT, 0);
	EXPECT_NONE(h);
	h_free(h);
}
