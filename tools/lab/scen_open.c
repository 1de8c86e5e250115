/* Opening a connection: the handshake and what can go wrong with it. */
#include <errno.h>
#include <string.h>

#include "scenarios.h"
#include "wire/wire.h"

#define LIMIT SYNFIN_SEC(600)

void scen_handshake(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	int l = lab_listen(lab, SERVER, 80, 5, false);
	CHECK(lab, l >= 0, "listen failed");
	lab_note(lab, "server listens on port 80; client connects");
	int c = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 80);
	CHECK(lab, c >= 0, "connect failed");
	CHECK(lab, synfin_state(lab_st(lab, CLIENT), c) == TCPS_SYN_SENT, "client not in SYN_SENT after connect");
	CHECK(lab, lab_wait_state(lab, CLIENT, c, TCPS_ESTABLISHED, LIMIT), "client never ESTABLISHED");
	int s = lab_accept(lab, SERVER, l, LIMIT);
	CHECK(lab, s >= 0, "nothing to accept");
	CHECK(lab, lab_wait_state(lab, SERVER, s, TCPS_ESTABLISHED, LIMIT), "server side never ESTABLISHED");

	/* the three segments and their numbers (RFC 9293 3.5) */
	int syn = lab_find(lab, CLIENT, TH_SYN, TH_ACK, 0);
	int synack = lab_find(lab, SERVER, TH_SYN | TH_ACK, 0, 0);
	CHECK(lab, syn >= 0 && synack >= 0, "no SYN or no SYN,ACK on the wire");
	CHECK(lab, lab->segs[synack].ack == lab->segs[syn].seq + 1, "SYN,ACK acks %u, want ISN+1 = %u",
	      lab->segs[synack].ack, lab->segs[syn].seq + 1);
	int ack = lab_find(lab, CLIENT, TH_ACK, TH_SYN, syn);
	CHECK(lab, ack >= 0, "client never sent the third segment");
	CHECK(lab, lab->segs[ack].ack == lab->segs[synack].seq + 1 &&
		       lab->segs[ack].seq == lab->segs[syn].seq + 1,
	      "third segment is seq %u ack %u", lab->segs[ack].seq, lab->segs[ack].ack);
	if (lab_clean(lab))
		CHECK(lab, lab->nsegs == 3, "a clean handshake takes 3 segments, saw %d", lab->nsegs);

	struct synfin_addr a, p;
	CHECK(lab, synfin_getsockname(lab_st(lab, CLIENT), c, &a) == 0 && a.ip == LAB_CLIENT_IP &&
		       a.port >= 32768 && a.port <= 60999,
	      "client's ephemeral port %u not in 32768..60999", a.port);
	CHECK(lab, synfin_getpeername(lab_st(lab, SERVER), s, &p) == 0 && p.ip == LAB_CLIENT_IP &&
		       p.port == a.port,
	      "server sees the wrong peer");
	lab_netstat(lab, SERVER);
	lab_netstat(lab, CLIENT);

	char buf[64];
	CHECK(lab, lab_send_str(lab, CLIENT, c, "hello, server\n"), "send failed");
	CHECK(lab, lab_read_n(lab, SERVER, s, buf, 14, LIMIT) == 14 && !memcmp(buf, "hello, server\n", 14),
	      "data did not arrive intact");
}

void scen_refused(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	lab_note(lab, "nobody listens on port 20000 of the server");
	int c = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 20000);
	CHECK(lab, c >= 0, "connect failed");
	unsigned ev = lab_wait_events(lab, CLIENT, c, SYNFIN_EV_ERR, LIMIT);
	CHECK(lab, ev & SYNFIN_EV_ERR, "connect never failed");
	int r = synfin_connect(lab_st(lab, CLIENT), c, &(struct synfin_addr){LAB_SERVER_IP, 20000});
	CHECK(lab, r == -ECONNREFUSED, "connect reports %s, want ECONNREFUSED", lab_errname(r));
	CHECK(lab, synfin_state(lab_st(lab, CLIENT), c) == TCPS_CLOSED, "client not CLOSED");
	/* RFC 9293 3.10.7.1: the SYN had no ACK, so the RST is
	 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, the SYN counting one */
	int syn = lab_find(lab, CLIENT, TH_SYN, TH_ACK, 0);
	int rst = lab_find(lab, SERVER, TH_RST, 0, 0);
	CHECK(lab, syn >= 0 && rst >= 0, "no SYN or no RST on the wire");
	CHECK(lab, lab->segs[rst].seq == 0, "RST seq %u, want 0", lab->segs[rst].seq);
	CHECK(lab, (lab->segs[rst].flags & TH_ACK) && lab->segs[rst].ack == lab->segs[syn].seq + 1,
	      "RST ack %u, want ISN+1 = %u", lab->segs[rst].ack, lab->segs[syn].seq + 1);
	CHECK(lab, synfin_get_stats(lab_st(lab, SERVER))->rst_no_socket >= 1, "server did not count it");
	synfin_close(lab_st(lab, CLIENT), c);
}

void scen_simultaneous_open(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	lab_note(lab, "client (port 7777) and server host (port 8888) connect to each other at once");
	int a = lab_connect(lab, CLIENT, 7777, LAB_SERVER_IP, 8888);
	int b = lab_connect(lab, SERVER, 8888, LAB_CLIENT_IP, 7777);
	CHECK(lab, a >= 0 && b >= 0, "connect failed");
	CHECK(lab, lab_wait_state(lab, CLIENT, a, TCPS_ESTABLISHED, LIMIT), "client side never ESTABLISHED");
	CHECK(lab, lab_wait_state(lab, SERVER, b, TCPS_ESTABLISHED, LIMIT), "server side never ESTABLISHED");
	/* each side answered the other's SYN with SYN,ACK carrying its own
	 * original ISN (RFC 9293 3.5, figure 8) */
	for (int h = 0; h < 2; h++) {
		int syn = lab_find(lab, h, TH_SYN, TH_ACK, 0);
		int synack = lab_find(lab, h, TH_SYN | TH_ACK, 0, 0);
		CHECK(lab, syn >= 0, "host %d sent no SYN", h);
		/* with loss one SYN may never arrive: that side then sees an
		 * ordinary SYN,ACK and opens without one of its own */
		CHECK(lab, synack >= 0 || !lab_clean(lab), "host %d sent no SYN,ACK", h);
		if (synack < 0)
			continue;
		CHECK(lab, lab->segs[synack].seq == lab->segs[syn].seq, "SYN,ACK seq %u differs from the SYN's ISN %u",
		      lab->segs[synack].seq, lab->segs[syn].seq);
	}
	if (lab_clean(lab)) {
		CHECK(lab, lab->nsegs == 4, "a clean simultaneous open takes 4 segments, saw %d", lab->nsegs);
		CHECK(lab, lab_count(lab, -1, TH_SYN | TH_ACK, 0, 0) == 2, "want 2 SYN,ACKs");
	}
	lab_netstat(lab, CLIENT);
	lab_netstat(lab, SERVER);
	char buf[16];
	CHECK(lab, lab_send_str(lab, CLIENT, a, "ping"), "send");
	CHECK(lab, lab_read_n(lab, SERVER, b, buf, 4, LIMIT) == 4 && !memcmp(buf, "ping", 4), "no data across");
}

void scen_syn_timeout(struct lab *lab)
{
	struct synfin_config cfg, linux_like;
	synfin_config_default(&cfg);
	lab_setup(lab, 2, &cfg);
	/* a third host whose only limit is the retry count, as on Linux */
	linux_like = cfg;
	linux_like.conn_timeout = SYNFIN_SEC(1000);
	lab->h[OTHER] = sim_add_host(lab->sim, "other", LAB_OTHER_IP, &linux_like);
	lab->nhosts = 3;
	sim_unplug(lab->h[SERVER]);
	lab_note(lab, "the server's cable is unplugged: no SYN gets an answer");
	lab_note(lab, "client: RTO 1 s doubling, 6 retries, 75 s connection-establishment timer (4.4BSD)");
	lab_note(lab, "other: the same with no establishment timer: 6 retries end it at 127 s (Linux)");
	synfin_time_t t0 = lab_now(lab);
	int c = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 80);
	int o = lab_connect(lab, OTHER, 0, LAB_SERVER_IP, 80);
	CHECK(lab, c >= 0 && o >= 0, "connect failed");
	CHECK(lab, lab_wait_events(lab, CLIENT, c, SYNFIN_EV_ERR, SYNFIN_SEC(200)) & SYNFIN_EV_ERR, "client connect never failed");
	synfin_time_t t_client = lab_now(lab) - t0;
	CHECK(lab, lab_wait_events(lab, OTHER, o, SYNFIN_EV_ERR, SYNFIN_SEC(200)) & SYNFIN_EV_ERR, "other's connect never failed");
	synfin_time_t t_other = lab_now(lab) - t0;
	int r = synfin_connect(lab_st(lab, CLIENT), c, &(struct synfin_addr){LAB_SERVER_IP, 80});
	CHECK(lab, r == -ETIMEDOUT, "client's connect reports %s, want ETIMEDOUT", lab_errname(r));
	CHECK(lab, lab_so_error(lab, OTHER, o) == ETIMEDOUT, "other's SO_ERROR is not ETIMEDOUT");
	lab_note(lab, "client gave up after %.3f s, other after %.3f s", (double)t_client / 1e6, (double)t_other / 1e6);
	/* the SYNs left at 0, 1, 3, 7, 15, 31 and 63 s */
	static const unsigned when[] = {0, 1, 3, 7, 15, 31, 63};
	for (int h = CLIENT; h <= OTHER; h++) {
		int i = -1;
		for (unsigned k = 0; k < sizeof when / sizeof when[0]; k++) {
			i = lab_find(lab, h, TH_SYN, 0, i + 1);
			CHECK(lab, i >= 0, "host %d sent only %u SYNs", h, k);
			CHECK(lab, lab->segs[i].t - t0 == SYNFIN_SEC(when[k]), "SYN %u of host %d left at %llu us, want %u s", k, h,
			      (unsigned long long)(lab->segs[i].t - t0), when[k]);
		}
		CHECK(lab, lab_find(lab, h, TH_SYN, 0, i + 1) < 0, "host %d sent more than 7 SYNs", h);
	}
	CHECK(lab, t_client == SYNFIN_SEC(75), "client failed at %llu us, want 75 s", (unsigned long long)t_client);
	CHECK(lab, t_other == SYNFIN_SEC(127), "other failed at %llu us, want 127 s", (unsigned long long)t_other);
	synfin_close(lab_st(lab, CLIENT), c);
	synfin_close(lab_st(lab, OTHER), o);
}

struct tuple_ctx {
	int host;
	uint16_t lport;
	uint32_t faddr;
	uint16_t fport;
	int state;
};

static bool tuple_in(struct lab *lab, void *p)
{
	struct tuple_ctx *t = p;
	return lab_tuple_state(lab, t->host, t->lport, t->faddr, t->fport) == t->state;
}

void scen_syn_rcvd_reset(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	int l = lab_listen(lab, SERVER, 80, 5, false);
	CHECK(lab, l >= 0, "listen");
	int c = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 80);
	CHECK(lab, c >= 0, "connect");
	struct synfin_addr ca;
	synfin_getsockname(lab_st(lab, CLIENT), c, &ca);
	struct tuple_ctx t = {SERVER, 80, LAB_CLIENT_IP, ca.port, TCPS_SYN_RCVD};
	CHECK(lab, lab_wait(lab, tuple_in, &t, LIMIT), "server never reached SYN_RCVD");
	lab_netstat(lab, SERVER);
	lab_note(lab, "the client host crashes and reboots before the SYN,ACK reaches it");
	sim_crash(lab->h[CLIENT]);
	sim_reboot(lab->h[CLIENT]);
	int rst_from = lab->nsegs;
	t.state = TCPS_CLOSED;
	CHECK(lab, lab_wait(lab, tuple_in, &t, LIMIT), "the passive connection never left SYN_RCVD");
	int rst = lab_find(lab, CLIENT, TH_RST, 0, rst_from);
	CHECK(lab, rst >= 0, "the rebooted client sent no RST");
	/* RFC 9293 3.10.7.1: the SYN,ACK has ACK on, so <SEQ=SEG.ACK><CTL=RST> */
	int synack = lab_find(lab, SERVER, TH_SYN | TH_ACK, 0, 0);
	CHECK(lab, lab->segs[rst].seq == lab->segs[synack].ack && !(lab->segs[rst].flags & TH_ACK),
	      "RST is seq %u (ack flag %d), want seq = the SYN,ACK's ack %u", lab->segs[rst].seq,
	      !!(lab->segs[rst].flags & TH_ACK), lab->segs[synack].ack);
	lab_netstat(lab, SERVER);
	CHECK(lab, synfin_state(lab_st(lab, SERVER), l) == TCPS_LISTEN, "listener not in LISTEN");
	CHECK(lab, synfin_accept(lab_st(lab, SERVER), l, NULL) == -EAGAIN, "something to accept after the reset");
	lab_note(lab, "back in LISTEN: the next client gets in");
	int c2 = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 80);
	CHECK(lab, c2 >= 0, "connect");
	int s = lab_accept(lab, SERVER, l, LIMIT);
	CHECK(lab, s >= 0, "second connection not accepted");
	CHECK(lab, lab_wait_state(lab, CLIENT, c2, TCPS_ESTABLISHED, LIMIT), "second client never ESTABLISHED");
}

void scen_backlog_full(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	struct synfin_stack *ss = lab_st(lab, SERVER), *cs = lab_st(lab, CLIENT);
	int l = lab_listen(lab, SERVER, 80, 1, false);
	CHECK(lab, l >= 0, "listen");
	lab_note(lab, "listen(backlog 1); the application does not accept yet");
	int c[3];
	c[0] = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 80);
	CHECK(lab, c[0] >= 0, "connect");
	CHECK(lab, lab_wait_events(lab, SERVER, l, SYNFIN_EV_IN, LIMIT) & SYNFIN_EV_IN, "first connection never queued");
	lab_note(lab, "the accept queue is full; two more clients connect");
	c[1] = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 80);
	c[2] = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 80);
	CHECK(lab, c[1] >= 0 && c[2] >= 0, "connect");
	lab_run_for(lab, SYNFIN_SEC(5));
	lab_netstat(lab, SERVER);
	lab_netstat(lab, CLIENT);
	CHECK(lab, synfin_get_stats(ss)->listen_overflows >= 2, "the full queue dropped %llu SYNs, want >= 2",
	      (unsigned long long)synfin_get_stats(ss)->listen_overflows);
	CHECK(lab, synfin_state(cs, c[1]) == TCPS_SYN_SENT && synfin_state(cs, c[2]) == TCPS_SYN_SENT,
	      "late clients should still be in SYN_SENT, retransmitting");
	lab_note(lab, "the application accepts: each retransmitted SYN now finds room");
	int accepted = 0;
	for (int round = 0; round < 3; round++) {
		int s = lab_accept(lab, SERVER, l, SYNFIN_SEC(70));
		CHECK(lab, s >= 0, "only %d of 3 connections accepted", accepted);
		accepted++;
	}
	for (int i = 0; i < 3; i++)
		CHECK(lab, lab_wait_state(lab, CLIENT, c[i], TCPS_ESTABLISHED, LIMIT), "client %d never ESTABLISHED", i);
	lab_netstat(lab, SERVER);
}

void scen_quiet_time(struct lab *lab)
{
	struct synfin_config cfg;
	synfin_config_default(&cfg);
	cfg.quiet_time = true;
	lab_setup(lab, 2, &cfg);
	lab_note(lab, "quiet time on: a stack assigns no sequence number for MSL (30 s) after it starts");
	lab_run_for(lab, cfg.msl);
	int l = lab_listen(lab, SERVER, 80, 5, false);
	CHECK(lab, l >= 0, "listen");
	int c = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 80);
	CHECK(lab, c >= 0 && lab_wait_state(lab, CLIENT, c, TCPS_ESTABLISHED, LIMIT), "first connection failed");
	lab_note(lab, "the server host crashes and reboots; its new stack is quiet until MSL has passed");
	sim_crash(lab->h[SERVER]);
	sim_reboot(lab->h[SERVER]);
	synfin_time_t boot = lab_now(lab);
	struct synfin_stack *ss = lab_st(lab, SERVER);
	l = lab_listen(lab, SERVER, 80, 5, false);
	CHECK(lab, l >= 0, "listen after reboot");
	int out = lab_connect(lab, SERVER, 0, LAB_CLIENT_IP, 9);
	CHECK(lab, out >= 0, "connect from the quiet host");
	int since = lab->nsegs;
	int c2 = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 80);
	CHECK(lab, c2 >= 0, "connect");
	int s = lab_accept(lab, SERVER, l, LIMIT);
	CHECK(lab, s >= 0, "never accepted after the quiet time");
	synfin_time_t took = lab_now(lab) - boot;
	lab_note(lab, "the new connection was accepted %.3f s after the reboot", (double)took / 1e6);
	CHECK(lab, took >= cfg.msl, "accepted after %llu us: inside the quiet time", (unsigned long long)took);
	CHECK(lab, synfin_get_stats(ss)->quiet_drops >= 1, "no SYN was dropped during the quiet time");
	int syn = lab_find(lab, SERVER, TH_SYN, 0, since);
	CHECK(lab, syn >= 0, "the quiet host never sent its SYN");
	CHECK(lab, lab->segs[syn].t >= boot + cfg.msl, "the quiet host sent a SYN %llu us after reboot",
	      (unsigned long long)(lab->segs[syn].t - boot));
	if (lab_clean(lab))
		CHECK(lab, lab->segs[syn].t == boot + cfg.msl, "the held SYN should leave exactly at the end of the quiet time");
}
