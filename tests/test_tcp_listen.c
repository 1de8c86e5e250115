/*
 * The listener's queues: a full accept queue drops SYNs, a full SYN queue
 * answers with SYN cookies (RFC 4987 3.6) that keep no state, and a forged
 * cookie gets a reset.
 */
#include "tcp_harness.h"

#define PORT_B 49153
#define PORT_C 49154
#define IRS_B 0xfffff000u

TEST(listen_backlog_full_drops_syn)
{
	struct harness *h = h_new(NULL);
	h_listen(h, 1);
	/* A completes and waits in the accept queue */
	SEND(h, T0, .flags = TH_SYN, .seq = IRS, .mss = MSS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	/* B's SYN finds the accept queue full: no reply at all */
	h->rport = PORT_B;
	SEND(h, T0 + MS(2), .flags = TH_SYN, .seq = IRS_B, .mss = MSS);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT(h_tcb(h) == NULL);
	ASSERT_EQ(synfin_get_stats(h->st)->listen_overflows, 1);
	/* the application accepts A; B's retransmitted SYN gets in */
	struct synfin_addr peer;
	int fa = synfin_accept(h->st, h->lfd, &peer);
	ASSERT(fa >= 0);
	ASSERT_EQ(peer.port, PEER_PORT);
	SEND(h, T0 + SEC(1), .flags = TH_SYN, .seq = IRS_B, .mss = MSS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS_B + 1, 0);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	h_free(h);
}

/* A listener whose SYN queue holds one connection, already taken by a
 * half-open connection from PEER_PORT. */
static struct harness *syn_queue_full(bool cookies)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.max_syn_backlog = 1;
	cfg.syncookies = cookies;
	struct harness *h = h_new(&cfg);
	h_syn_rcvd(h);
	return h;
}

TEST(syn_queue_full_without_cookies_drops_syn)
{
	struct harness *h = syn_queue_full(false);
	h->rport = PORT_B;
	SEND(h, T0 + MS(1), .flags = TH_SYN, .seq = IRS_B, .mss = MSS);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_get_stats(h->st)->syn_queue_overflows, 1);
	h_free(h);
}

TEST(syn_cookie_syn_ack_keeps_no_state)
{
	struct harness *h = syn_queue_full(true);
	struct tcp_seg s;
	h->rport = PORT_B;
	SEND(h, T0 + MS(1), .flags = TH_SYN, .seq = IRS_B, .mss = MSS, .ws = true, .wscale = 7,
	     .ts = true, .tsval = 77);
	POP(h, &s);
	ASSERT_EQ(s.flags, TH_SYN | TH_ACK);
	ASSERT_EQ(s.ack, IRS_B + 1);
	ASSERT_EQ(s.sport, SRV_PORT);
	ASSERT_EQ(s.dport, PORT_B);
	ASSERT(s.opt.has & TOF_MSS);
	ASSERT_EQ(s.opt.mss, MSS);
	/* no state: the peer's window scale rides in the low 4 bits of our
	 * TSval (as Linux's cookies carry it), echoed back in its TSecr */
	ASSERT(s.opt.has & TOF_TS);
	ASSERT_EQ(s.opt.tsval & 0xf, 7);
	ASSERT_EQ(s.opt.tsecr, 77);
	ASSERT(s.opt.has & TOF_WSCALE);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT(h_tcb(h) == NULL);
	ASSERT_EQ(synfin_get_stats(h->st)->syncookies_sent, 1);
	/* no timer either: a lost cookie SYN,ACK is not retransmitted */
	STEP_TO(h, T0 + SEC(1)); /* only the first child's SYN,ACK */
	h->rport = PEER_PORT;
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
	EXPECT_NONE(h);
	h_free(h);
}

/* B's SYN answered with a cookie; returns the cookie (our ISS for B) */
static uint32_t cookie_for_b(struct harness *h, synfin_time_t t)
{
	struct tcp_seg s;
	h->rport = PORT_B;
	SEND(h, t, .flags = TH_SYN, .seq = IRS_B, .mss = MSS);
	POP(h, &s);
	ASSERT_EQ(s.flags, TH_SYN | TH_ACK);
	ASSERT_EQ(s.ack, IRS_B + 1);
	ASSERT_EQ(s.dport, PORT_B);
	EXPECT_NONE(h);
	return s.seq;
}

TEST(syn_cookie_ack_creates_established_connection)
{
	struct harness *h = syn_queue_full(true);
	uint32_t cookie = cookie_for_b(h, T0 + MS(1));
	/* the third segment of the handshake brings the cookie back */
	SEND(h, T0 + MS(50), .flags = TH_ACK, .seq = IRS_B + 1, .ack = cookie + 1);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	/* (whether anything answers that ACK: syn_cookie_final_ack_elicits_nothing) */
	h_discard(h);
	ASSERT_EQ(synfin_get_stats(h->st)->syncookies_ok, 1);
	struct synfin_addr peer;
	h->fd = synfin_accept(h->st, h->lfd, &peer);
	ASSERT(h->fd >= 0);
	ASSERT_EQ(peer.ip, REMOTE_IP);
	ASSERT_EQ(peer.port, PORT_B);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_ESTABLISHED);
	/* both directions carry on from the cookie and the peer's ISN */
	APP_SEND(h, cookie + 1, 30);
	struct tcp_seg s;
	EXPECT_SEG_OUT(h, TH_ACK, cookie + 1, IRS_B + 1, 30, &s);
	CHECK_PAYLOAD(&s);
	SEND(h, T0 + MS(60), .flags = TH_ACK, .seq = IRS_B + 1, .ack = cookie + 31, .len = 20);
	APP_RECV(h, IRS_B + 1, 20);
	/* the MSS the cookie encodes (1460) is the one used */
	int v = 0;
	size_t len = sizeof v;
	ASSERT_EQ(synfin_getsockopt(h->st, h->fd, SYNFIN_SOL_TCP, SYNFIN_TCP_MAXSEG, &v, &len), 0);
	ASSERT_EQ(v, MSS);
	h_free(h);
}

TEST(syn_cookie_final_ack_elicits_nothing)
{
	struct harness *h = syn_queue_full(true);
	uint32_t cookie = cookie_for_b(h, T0 + MS(1));
	/* as with a normal handshake (syn_rcvd_ack_establishes), an
	 * acceptable bare ACK needs no answer: the cookie's SYN,ACK already
	 * offered a 65535-byte window from IRS_B+1, so there is no window
	 * update to announce either (RFC 9293 3.8.6.2.2) */
	SEND(h, T0 + MS(50), .flags = TH_ACK, .seq = IRS_B + 1, .ack = cookie + 1);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(syn_cookie_ack_with_data_delivers_it)
{
	struct harness *h = syn_queue_full(true);
	uint32_t cookie = cookie_for_b(h, T0 + MS(1));
	SEND(h, T0 + MS(50), .flags = TH_ACK | TH_PSH, .seq = IRS_B + 1, .ack = cookie + 1, .len = 64);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	EXPECT_NO_EV(h);
	h->fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT(h->fd >= 0);
	APP_RECV(h, IRS_B + 1, 64);
	h_free(h);
}

TEST(syn_cookie_without_mss_option_uses_536)
{
	struct harness *h = syn_queue_full(true);
	struct tcp_seg s;
	/* B's SYN carries no MSS option */
	h->rport = PORT_B;
	SEND(h, T0 + MS(1), .flags = TH_SYN, .seq = IRS_B);
	POP(h, &s);
	ASSERT_EQ(s.flags, TH_SYN | TH_ACK);
	uint32_t cookie = s.seq;
	SEND(h, T0 + MS(50), .flags = TH_ACK, .seq = IRS_B + 1, .ack = cookie + 1);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	h_discard(h);
	h->fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT(h->fd >= 0);
	/* RFC 9293 3.7.1 (MUST-15): no MSS option received, the send MSS is
	 * 536, as on a connection that kept state (no_mss_option_means_536) */
	APP_SEND(h, cookie + 1, 1000);
	EXPECT_SEG(h, TH_ACK, cookie + 1, IRS_B + 1, 536);
	h_free(h);
}

TEST(syn_cookie_encodes_a_small_peer_mss)
{
	struct harness *h = syn_queue_full(true);
	struct tcp_seg s;
	h->rport = PORT_B;
	SEND(h, T0 + MS(1), .flags = TH_SYN, .seq = IRS_B, .mss = 536);
	POP(h, &s);
	uint32_t cookie = s.seq;
	SEND(h, T0 + MS(50), .flags = TH_ACK, .seq = IRS_B + 1, .ack = cookie + 1);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	h_discard(h);
	h->fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT(h->fd >= 0);
	APP_SEND(h, cookie + 1, 1000);
	EXPECT_SEG(h, TH_ACK, cookie + 1, IRS_B + 1, 536);
	h_free(h);
}

TEST(syn_cookie_forged_ack_gets_rst)
{
	struct harness *h = syn_queue_full(true);
	uint32_t cookie = cookie_for_b(h, T0 + MS(1));
	/* off by one: not the cookie */
	SEND(h, T0 + MS(50), .flags = TH_ACK, .seq = IRS_B + 1, .ack = cookie + 2);
	EXPECT_SEG(h, TH_RST, cookie + 2, 0, 0);
	/* right cookie, but for another ISN of the peer */
	SEND(h, T0 + MS(51), .flags = TH_ACK, .seq = IRS_B + 2, .ack = cookie + 1);
	EXPECT_SEG(h, TH_RST, cookie + 1, 0, 0);
	/* right cookie from another port */
	h->rport = PORT_C;
	SEND(h, T0 + MS(52), .flags = TH_ACK, .seq = IRS_B + 1, .ack = cookie + 1);
	EXPECT_SEG(h, TH_RST, cookie + 1, 0, 0);
	EXPECT_NONE(h);
	EXPECT_NO_EV(h);
	ASSERT_EQ(synfin_get_stats(h->st)->syncookies_ok, 0);
	ASSERT_EQ(synfin_get_stats(h->st)->syncookies_bad, 3);
	ASSERT_EQ(synfin_accept(h->st, h->lfd, NULL), -EAGAIN);
	h_free(h);
}

TEST(syn_cookie_expires)
{
	struct harness *h = syn_queue_full(true);
	uint32_t cookie = cookie_for_b(h, T0 + MS(1));
	/* a cookie lives 64 to 128 s; at 200 s it is stale (the first
	 * child's SYN,ACK retransmissions and its end are of no interest) */
	h_poll(h, T0 + SEC(200));
	h_discard(h);
	while (h->nev)
		EXPECT_EV(h, h->ev[h->ev_head].old_state, h->ev[h->ev_head].new_state);
	h->rport = PORT_B;
	SEND(h, T0 + SEC(200), .flags = TH_ACK, .seq = IRS_B + 1, .ack = cookie + 1);
	EXPECT_SEG(h, TH_RST, cookie + 1, 0, 0);
	EXPECT_NO_EV(h);
	h_free(h);
}

TEST(close_listener_resets_unaccepted_connections)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h);
	SEND(h, T0 + MS(1), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	ASSERT_EQ(synfin_close(h->st, h->lfd), 0);
	/* the established child nobody accepted: <SEQ=SND.NXT><CTL=RST> */
	EXPECT_SEG(h, TH_RST | TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSED);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_CLOSED);
	EXPECT_NONE(h);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	h_free(h);
}

TEST(close_listener_drops_half_open_connections)
{
	struct harness *h = h_new(NULL);
	h_syn_rcvd(h);
	ASSERT_EQ(synfin_close(h->st, h->lfd), 0);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_CLOSED);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_CLOSED);
	EXPECT_DEADLINE(h, SYNFIN_TIME_NEVER);
	h_discard(h);
	/* the handshake's ACK now meets no connection: <SEQ=SEG.ACK><CTL=RST> */
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_SEG(h, TH_RST, ISS + 1, 0, 0);
	EXPECT_NONE(h);
	h_free(h);
}

TEST(syn_cookie_keeps_window_scale_and_timestamps)
{
	struct harness *h = syn_queue_full(true);
	struct tcp_seg s;
	h->rport = PORT_B;
	SEND(h, T0 + MS(1), .flags = TH_SYN, .seq = IRS_B, .mss = MSS, .ws = true, .wscale = 7,
	     .ts = true, .tsval = 77);
	POP(h, &s);
	uint32_t cookie = s.seq, our_ts = s.opt.tsval;
	/* our TSval never runs ahead of our clock (rounded down, not up) */
	EXPECT_NONE(h);
	SEND(h, T0 + MS(50), .flags = TH_ACK, .seq = IRS_B + 1, .ack = cookie + 1, .wnd = 100,
	     .ts = true, .tsval = 78, .tsecr = our_ts);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	h_discard(h);
	h->fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT(h->fd >= 0);
	struct tcb *tp = h_tcb(h);
	ASSERT(tp->t_flags & TF_RCVD_TSTMP);
	ASSERT(tp->t_flags & TF_RCVD_SCALE);
	ASSERT_EQ(tp->snd_scale, 7);
	ASSERT_EQ(tp->snd_wnd, 100u << 7);
	ASSERT_EQ(tp->ts_recent, 78);
	h_free(h);
}

TEST(syn_cookie_without_timestamps_has_no_window_scale)
{
	struct harness *h = syn_queue_full(true);
	struct tcp_seg s;
	h->rport = PORT_B;
	/* no timestamps, so no room to carry the window scale: none */
	SEND(h, T0 + MS(1), .flags = TH_SYN, .seq = IRS_B, .mss = MSS, .ws = true, .wscale = 7);
	POP(h, &s);
	ASSERT_EQ(s.opt.has & (TOF_WSCALE | TOF_TS), 0);
	SEND(h, T0 + MS(50), .flags = TH_ACK, .seq = IRS_B + 1, .ack = s.seq + 1, .wnd = 100);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	h_discard(h);
	h->fd = synfin_accept(h->st, h->lfd, NULL);
	ASSERT(h->fd >= 0);
	ASSERT_EQ(h_tcb(h)->snd_scale, 0);
	ASSERT_EQ(h_tcb(h)->snd_wnd, 100);
	h_free(h);
}

TEST(syn_cookies_always_keep_no_state_even_with_room)
{
	struct synfin_config cfg;
	h_config(&cfg);
	cfg.syncookies = SYNFIN_SYNCOOKIES_ALWAYS;
	struct harness *h = h_new(&cfg);
	h_listen(h, 5);
	struct tcp_seg s;
	SEND(h, T0, .flags = TH_SYN, .seq = IRS, .mss = MSS);
	POP(h, &s);
	ASSERT_EQ(s.flags, TH_SYN | TH_ACK);
	EXPECT_NO_EV(h); /* no SYN_RCVD block */
	ASSERT_EQ(synfin_get_stats(h->st)->syncookies_sent, 1);
	ASSERT_EQ(synfin_next_deadline(h->st), SYNFIN_TIME_NEVER);
	SEND(h, T0 + MS(10), .flags = TH_ACK, .seq = IRS + 1, .ack = s.seq + 1);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	h_free(h);
}

static int listen_on_port(struct harness *h, uint16_t port, bool reuse)
{
	struct synfin_addr a = {LOCAL_IP, port};
	int one = 1, fd = synfin_socket(h->st);
	ASSERT(fd >= 0);
	if (reuse)
		ASSERT_EQ(synfin_setsockopt(h->st, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_REUSEADDR, &one, sizeof one), 0);
	ASSERT_EQ(synfin_bind(h->st, fd, &a), 0);
	return fd;
}

/* A SYN to lport from PEER_PORT: answered by a listener, or reset. */
static void syn_to(struct harness *h, uint16_t lport, bool listened)
{
	h->lport = lport;
	h->rport = PEER_PORT;
	SEND(h, h->now, .flags = TH_SYN, .seq = IRS, .mss = MSS);
	if (listened) {
		EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0);
		EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
		ASSERT(h_tcb(h) != NULL);
	} else {
		EXPECT_SEG(h, TH_RST | TH_ACK, 0, IRS + 1, 0);
		EXPECT_NO_EV(h);
		ASSERT(h_tcb(h) == NULL);
	}
}

/* Listeners are found through the port table, not by walking them all:
 * with hundreds of ports listening, each SYN reaches its own port's
 * listener, and a port whose listener closed answers with a reset. */
TEST(many_listeners_each_syn_finds_its_own_port)
{
	enum { N = 300, BASE = 20000 };
	struct harness *h = h_new(NULL);
	int fd[N];
	for (int i = 0; i < N; i++) {
		fd[i] = listen_on_port(h, (uint16_t)(BASE + i), false);
		ASSERT_EQ(synfin_listen(h->st, fd[i], 4), 0);
		EXPECT_EV(h, TCPS_CLOSED, TCPS_LISTEN);
	}
	for (int i = 0; i < N; i += 37)
		syn_to(h, (uint16_t)(BASE + i), true);
	syn_to(h, BASE + N - 1, true);
	syn_to(h, BASE + N, false);
	syn_to(h, BASE - 1, false);
	/* one closes: its port resets, its neighbours still answer */
	ASSERT_EQ(synfin_close(h->st, fd[1]), 0);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_CLOSED);
	syn_to(h, BASE + 1, false);
	syn_to(h, BASE + 2, true);
	/* and a new listener on that port is found */
	fd[1] = listen_on_port(h, BASE + 1, false);
	ASSERT_EQ(synfin_listen(h->st, fd[1], 4), 0);
	EXPECT_EV(h, TCPS_CLOSED, TCPS_LISTEN);
	syn_to(h, BASE + 1, true);
	h_free(h);
}

/* Two sockets share a port with SO_REUSEADDR; the one bound first listens
 * last. The listener is found all the same, a second listen on the port is
 * refused, and the connections it accepts are bound behind it. */
TEST(listener_is_found_among_sockets_sharing_its_port)
{
	enum { PORT = 30000 };
	struct harness *h = h_new(NULL);
	int a = listen_on_port(h, PORT, true), b = listen_on_port(h, PORT, true);
	syn_to(h, PORT, false);
	ASSERT_EQ(synfin_listen(h->st, a, 4), 0);
	EXPECT_EV(h, TCPS_CLOSED, TCPS_LISTEN);
	ASSERT_EQ(synfin_listen(h->st, b, 4), -EADDRINUSE);
	syn_to(h, PORT, true);
	SEND(h, h->now, .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
	/* a second peer port: still the same listener */
	h->rport = PORT_B;
	SEND(h, h->now, .flags = TH_SYN, .seq = IRS_B, .mss = MSS);
	EXPECT_SEG(h, TH_SYN | TH_ACK, ISS, IRS_B + 1, 0);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	struct synfin_addr peer;
	ASSERT(synfin_accept(h->st, a, &peer) >= 0);
	ASSERT_EQ(peer.port, PEER_PORT);
	h_free(h);
}
