/* Closing a connection: the four-way close, its variants, SO_LINGER. */
#include <errno.h>
#include <string.h>

#include "scenarios.h"
#include "wire/wire.h"

#define LIMIT SYNFIN_SEC(600)

/* A network, then a connected pair on port 80; false (failed) if not. */
static bool pair(struct lab *lab, const struct synfin_config *cfg, int *l, int *c, int *s)
{
	lab_setup(lab, 2, cfg);
	*l = -1;
	return lab_pair(lab, 80, 0, l, c, s);
}

void scen_close(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	struct synfin_stack *cs = lab_st(lab, CLIENT), *ss = lab_st(lab, SERVER);
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	lab_note(lab, "the client closes (active close)");
	CHECK(lab, synfin_close(cs, c) == 0, "close failed");
	CHECK(lab, lab_tuple_state(lab, CLIENT, cport, LAB_SERVER_IP, 80) == TCPS_FIN_WAIT_1,
	      "client not in FIN_WAIT_1 after close");
	CHECK(lab, lab_wait_state(lab, SERVER, s, TCPS_CLOSE_WAIT, LIMIT), "server never CLOSE_WAIT");
	CHECK(lab, lab_wait_eof(lab, SERVER, s, LIMIT) == 0, "server's recv did not return 0 (EOF)");
	lab_run_for(lab, SYNFIN_SEC(1));
	CHECK(lab, lab_tuple_state(lab, CLIENT, cport, LAB_SERVER_IP, 80) == TCPS_FIN_WAIT_2 ||
		       !lab_clean(lab),
	      "client not in FIN_WAIT_2 while the server has not closed");
	lab_netstat(lab, CLIENT);
	lab_netstat(lab, SERVER);
	lab_note(lab, "one second later the server closes too");
	CHECK(lab, synfin_close(ss, s) == 0, "server close failed");
	CHECK(lab, lab_tuple_state(lab, SERVER, 80, LAB_CLIENT_IP, cport) == TCPS_LAST_ACK, "server not LAST_ACK");
	CHECK(lab, lab_wait_gone(lab, SERVER, 80, LAB_CLIENT_IP, cport, LIMIT), "server never CLOSED");
	CHECK(lab, lab_tuple_state(lab, CLIENT, cport, LAB_SERVER_IP, 80) == TCPS_TIME_WAIT,
	      "client not in TIME_WAIT");
	/* when did the client enter TIME_WAIT? at its last ACK */
	int fin = lab_find(lab, SERVER, TH_FIN, 0, 0);
	int last = lab_find(lab, CLIENT, TH_ACK, TH_FIN | TH_SYN, fin);
	CHECK(lab, fin >= 0 && last >= 0, "no FIN from the server or no final ACK");
	synfin_time_t entered = lab->segs[last].t;
	lab_netstat(lab, CLIENT);
	lab_run_for(lab, SYNFIN_SEC(30));
	lab_netstat(lab, CLIENT);
	if (synfin_get_stats(cs)->tw_killed_by_rst) {
		/* A duplicated last ACK reached the server after it had
		 * closed; its RST ended our TIME_WAIT: the hazard of RFC
		 * 1337, allowed by the Linux-compatible default (rfc1337 off). */
		CHECK(lab, !lab_clean(lab), "TIME_WAIT killed by an RST on a clean link");
		lab_note(lab, "an RST (drawn by a duplicated ACK) ended TIME_WAIT early: RFC 1337's hazard");
		synfin_close(cs, l);
		return;
	}
	CHECK(lab, lab_tuple_state(lab, CLIENT, cport, LAB_SERVER_IP, 80) == TCPS_TIME_WAIT,
	      "TIME_WAIT ended before 2MSL");
	CHECK(lab, lab_wait_gone(lab, CLIENT, cport, LAB_SERVER_IP, 80, SYNFIN_SEC(600)), "TIME_WAIT never ended");
	synfin_time_t dur = lab_now(lab) - entered;
	lab_note(lab, "TIME_WAIT lasted %.3f s (2MSL = 60 s)", (double)dur / 1e6);
	if (lab_clean(lab)) {
		CHECK(lab, dur == SYNFIN_SEC(60), "TIME_WAIT lasted %llu us, want exactly 2MSL", (unsigned long long)dur);
		CHECK(lab, lab_count(lab, -1, TH_FIN, 0, 0) == 2, "want exactly two FINs");
	} else {
		CHECK(lab, dur >= SYNFIN_SEC(60), "TIME_WAIT shorter than 2MSL");
	}
	lab_netstat(lab, CLIENT);
	synfin_close(cs, l);
}

void scen_close_combined(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	struct synfin_stack *cs = lab_st(lab, CLIENT), *ss = lab_st(lab, SERVER);
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	int first = lab->nsegs;
	lab_note(lab, "the client closes; the server closes as soon as it reads EOF");
	CHECK(lab, synfin_close(cs, c) == 0, "close failed");
	CHECK(lab, lab_wait_eof(lab, SERVER, s, LIMIT) == 0, "server never saw EOF");
	CHECK(lab, synfin_close(ss, s) == 0, "server close failed");
	CHECK(lab, lab_wait_gone(lab, SERVER, 80, LAB_CLIENT_IP, cport, LIMIT), "server never CLOSED");
	CHECK(lab, lab_tuple_state(lab, CLIENT, cport, LAB_SERVER_IP, 80) == TCPS_TIME_WAIT,
	      "client not in TIME_WAIT");
	if (lab_clean(lab)) {
		/* the delayed ACK of the FIN rides on the server's own FIN */
		CHECK(lab, lab->nsegs - first == 3, "want 3 segments (F, F+ack, ack), saw %d", lab->nsegs - first);
		CHECK(lab, (lab->segs[first].flags & TH_FIN) && lab->segs[first].from == CLIENT, "1st is not the client's FIN");
		CHECK(lab, (lab->segs[first + 1].flags & (TH_FIN | TH_ACK)) == (TH_FIN | TH_ACK) &&
			       lab->segs[first + 1].ack == lab->segs[first].seq + 1,
		      "2nd is not the server's FIN acking the client's FIN");
		CHECK(lab, !(lab->segs[first + 2].flags & TH_FIN) && lab->segs[first + 2].ack == lab->segs[first + 1].seq + 1,
		      "3rd is not the client's last ACK");
	}
	CHECK(lab, lab_wait_gone(lab, CLIENT, cport, LAB_SERVER_IP, 80, LIMIT), "TIME_WAIT never ended");
	synfin_close(ss, l);
}

void scen_close_by_server(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	lab_note(lab, "the server closes first (active close), e.g. after sending a reply");
	CHECK(lab, lab_send_str(lab, SERVER, s, "bye\n"), "send");
	CHECK(lab, synfin_close(lab_st(lab, SERVER), s) == 0, "close");
	char buf[8];
	CHECK(lab, lab_read_n(lab, CLIENT, c, buf, 4, LIMIT) == 4 && !memcmp(buf, "bye\n", 4), "reply lost");
	CHECK(lab, lab_wait_eof(lab, CLIENT, c, LIMIT) == 0, "client never saw EOF");
	CHECK(lab, synfin_state(lab_st(lab, CLIENT), c) == TCPS_CLOSE_WAIT, "client not in CLOSE_WAIT");
	CHECK(lab, synfin_close(lab_st(lab, CLIENT), c) == 0, "client close");
	CHECK(lab, lab_wait_gone(lab, CLIENT, cport, LAB_SERVER_IP, 80, LIMIT), "client never CLOSED (LAST_ACK stuck?)");
	CHECK(lab, lab_tuple_state(lab, SERVER, 80, LAB_CLIENT_IP, cport) == TCPS_TIME_WAIT,
	      "the server, which closed first, should hold TIME_WAIT");
	lab_netstat(lab, SERVER);
	lab_netstat(lab, CLIENT);
	CHECK(lab, lab_wait_gone(lab, SERVER, 80, LAB_CLIENT_IP, cport, SYNFIN_SEC(120)), "TIME_WAIT never ended");
	synfin_close(lab_st(lab, SERVER), l);
}

void scen_half_close(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	struct synfin_stack *cs = lab_st(lab, CLIENT), *ss = lab_st(lab, SERVER);
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	lab_note(lab, "the client sends a request, then shutdown(SHUT_WR): 'no more from me'");
	CHECK(lab, lab_send_str(lab, CLIENT, c, "sort these lines\n"), "send");
	CHECK(lab, synfin_shutdown(cs, c, SYNFIN_SHUT_WR) == 0, "shutdown");
	CHECK(lab, synfin_send(cs, c, "x", 1) == -EPIPE, "send after SHUT_WR must fail with EPIPE");
	char req[32];
	CHECK(lab, lab_read_n(lab, SERVER, s, req, 17, LIMIT) == 17, "request lost");
	CHECK(lab, lab_wait_eof(lab, SERVER, s, LIMIT) == 0, "server never saw EOF");
	CHECK(lab, lab_wait_state(lab, CLIENT, c, TCPS_FIN_WAIT_2, LIMIT), "client not in FIN_WAIT_2");
	lab_note(lab, "half-closed: the server keeps sending for a long time (10 minutes)");
	lab_netstat(lab, CLIENT);
	lab_netstat(lab, SERVER);
	char big[4000], got[4000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	for (int round = 0; round < 10; round++) {
		CHECK(lab, synfin_send(ss, s, big, sizeof big) == (long)sizeof big, "server send in CLOSE_WAIT failed");
		CHECK(lab, lab_read_n(lab, CLIENT, c, got, sizeof got, LIMIT) == (long)sizeof got &&
			       !memcmp(big, got, sizeof big),
		      "data lost on the half-closed connection");
		lab_run_for(lab, SYNFIN_SEC(60));
		CHECK(lab, synfin_state(cs, c) == TCPS_FIN_WAIT_2, "FIN_WAIT_2 ended during a half-close");
	}
	lab_note(lab, "the server is done and closes; the client reads EOF");
	CHECK(lab, synfin_close(ss, s) == 0, "server close");
	CHECK(lab, lab_wait_eof(lab, CLIENT, c, LIMIT) == 0, "client never saw EOF");
	CHECK(lab, lab_tuple_state(lab, CLIENT, cport, LAB_SERVER_IP, 80) == TCPS_TIME_WAIT, "client not in TIME_WAIT");
	CHECK(lab, synfin_state(cs, c) == TCPS_TIME_WAIT, "socket state should read TIME_WAIT");
	CHECK(lab, synfin_close(cs, c) == 0, "client close");
	CHECK(lab, lab_wait_gone(lab, SERVER, 80, LAB_CLIENT_IP, cport, LIMIT), "server stuck in LAST_ACK");
	synfin_close(ss, l);
}

void scen_simultaneous_close(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	lab_note(lab, "both applications close at the same instant: the FINs cross");
	CHECK(lab, synfin_close(lab_st(lab, CLIENT), c) == 0, "close");
	CHECK(lab, synfin_close(lab_st(lab, SERVER), s) == 0, "close");
	int since = lab->nsegs;
	lab_run_for(lab, SYNFIN_SEC(1));
	lab_netstat(lab, CLIENT);
	lab_netstat(lab, SERVER);
	struct {
		int host;
		uint16_t lp;
		uint32_t fa;
		uint16_t fp;
	} ends[2] = {{CLIENT, cport, LAB_SERVER_IP, 80}, {SERVER, 80, LAB_CLIENT_IP, cport}};
	for (int i = 0; i < 2; i++) {
		int st = lab_tuple_state(lab, ends[i].host, ends[i].lp, ends[i].fa, ends[i].fp);
		CHECK(lab, st == TCPS_TIME_WAIT || (!lab_clean(lab) && st != TCPS_ESTABLISHED),
		      "end %d is in %s, want TIME_WAIT", i, synfin_state_name(st));
	}
	if (lab_clean(lab)) {
		/* FIN, FIN, ACK, ACK: both ends went through CLOSING */
		CHECK(lab, lab->nsegs - since == 2 && lab_count(lab, -1, TH_FIN, 0, 0) == 2,
		      "want two FINs and two ACKs, saw %d more segments", lab->nsegs - since);
	}
	for (int i = 0; i < 2; i++)
		CHECK(lab, lab_wait_gone(lab, ends[i].host, ends[i].lp, ends[i].fa, ends[i].fp, LIMIT),
		      "end %d never left TIME_WAIT", i);
	synfin_close(lab_st(lab, SERVER), l);
}

void scen_fin_wait_2_timeout(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	lab_note(lab, "the client closes; the server application never does");
	CHECK(lab, synfin_close(lab_st(lab, CLIENT), c) == 0, "close");
	CHECK(lab, lab_wait_state(lab, SERVER, s, TCPS_CLOSE_WAIT, LIMIT), "server never CLOSE_WAIT");
	synfin_time_t t0 = lab_now(lab);
	bool reached = false;
	for (int i = 0; i < 600 && !reached; i++) {
		reached = lab_tuple_state(lab, CLIENT, cport, LAB_SERVER_IP, 80) == TCPS_FIN_WAIT_2;
		if (!reached)
			lab_run_for(lab, SYNFIN_MS(100));
	}
	CHECK(lab, reached, "client never FIN_WAIT_2");
	lab_netstat(lab, CLIENT);
	CHECK(lab, lab_wait_gone(lab, CLIENT, cport, LAB_SERVER_IP, 80, SYNFIN_SEC(120)), "FIN_WAIT_2 never timed out");
	synfin_time_t took = lab_now(lab) - t0;
	lab_note(lab, "closed %.3f s after close(): the FIN_WAIT_2 timer (60 s)", (double)took / 1e6);
	CHECK(lab, took >= SYNFIN_SEC(60) && took <= SYNFIN_SEC(61) + (lab_clean(lab) ? 0 : LIMIT),
	      "FIN_WAIT_2 lasted %llu us", (unsigned long long)took);
	CHECK(lab, synfin_state(lab_st(lab, SERVER), s) == TCPS_CLOSE_WAIT, "the server stays in CLOSE_WAIT");
	lab_netstat(lab, SERVER);
	lab_note(lab, "when the server finally closes, its FIN meets a connection that is gone: RST");
	int since = lab->nsegs;
	synfin_close(lab_st(lab, SERVER), s);
	CHECK(lab, lab_wait_gone(lab, SERVER, 80, LAB_CLIENT_IP, cport, LIMIT), "server never CLOSED");
	CHECK(lab, lab_find(lab, CLIENT, TH_RST, 0, since) >= 0, "the client did not answer with RST");
	synfin_close(lab_st(lab, SERVER), l);
}

void scen_close_wait_forever(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	lab_note(lab, "the client shuts down its sending side but keeps the socket (half-close);");
	lab_note(lab, "the server application never calls close()");
	CHECK(lab, synfin_shutdown(lab_st(lab, CLIENT), c, SYNFIN_SHUT_WR) == 0, "shutdown");
	CHECK(lab, lab_wait_eof(lab, SERVER, s, LIMIT) == 0, "server never saw EOF");
	lab_run_for(lab, SYNFIN_SEC(3600));
	lab_note(lab, "an hour later:");
	lab_netstat(lab, CLIENT);
	lab_netstat(lab, SERVER);
	CHECK(lab, synfin_state(lab_st(lab, CLIENT), c) == TCPS_FIN_WAIT_2, "client left FIN_WAIT_2");
	CHECK(lab, synfin_state(lab_st(lab, SERVER), s) == TCPS_CLOSE_WAIT, "server left CLOSE_WAIT");
	lab_run_for(lab, SYNFIN_SEC(24 * 3600));
	lab_note(lab, "a day later, still:");
	CHECK(lab, synfin_state(lab_st(lab, CLIENT), c) == TCPS_FIN_WAIT_2, "client left FIN_WAIT_2");
	CHECK(lab, synfin_state(lab_st(lab, SERVER), s) == TCPS_CLOSE_WAIT, "server left CLOSE_WAIT");
	lab_netstat(lab, CLIENT);
}

void scen_ctrl_c(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	struct synfin_stack *cs = lab_st(lab, CLIENT);
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	synfin_set_owner(cs, c, 42);
	CHECK(lab, lab_send_str(lab, CLIENT, c, "last words\n"), "send");
	lab_note(lab, "the client process (owner 42) is killed with Ctrl+C with data still unsent");
	synfin_exit(cs, 42);
	CHECK(lab, synfin_state(cs, c) == -EBADF, "the descriptor survived the process");
	char buf[16];
	CHECK(lab, lab_read_n(lab, SERVER, s, buf, 11, LIMIT) == 11 && !memcmp(buf, "last words\n", 11),
	      "queued data was not delivered");
	CHECK(lab, lab_wait_eof(lab, SERVER, s, LIMIT) == 0, "the server did not get an orderly EOF");
	CHECK(lab, lab_find(lab, CLIENT, TH_RST, 0, 0) < 0, "the kernel-side close sent an RST");
	CHECK(lab, lab_find(lab, CLIENT, TH_FIN, 0, 0) >= 0, "no FIN from the exiting process");
	synfin_close(lab_st(lab, SERVER), s);
	CHECK(lab, lab_wait_gone(lab, SERVER, 80, LAB_CLIENT_IP, cport, LIMIT), "server stuck");
	CHECK(lab, lab_tuple_state(lab, CLIENT, cport, LAB_SERVER_IP, 80) == TCPS_TIME_WAIT,
	      "the exited client should hold TIME_WAIT like any active closer");
	lab_netstat(lab, CLIENT);
}

void scen_linger_abort(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	struct synfin_stack *cs = lab_st(lab, CLIENT);
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	lab_set_linger(lab, CLIENT, c, 1, 0);
	CHECK(lab, lab_send_str(lab, CLIENT, c, "1, 2, 3\n"), "send");
	char buf[16];
	CHECK(lab, lab_read_n(lab, SERVER, s, buf, 8, LIMIT) == 8, "line lost");
	lab_note(lab, "SO_LINGER {1, 0}: close() aborts the connection");
	int since = lab->nsegs;
	CHECK(lab, synfin_close(cs, c) == 0, "close");
	int rst = lab_find(lab, CLIENT, TH_RST, 0, since);
	CHECK(lab, rst >= 0 && rst == since, "close did not send an RST at once");
	CHECK(lab, lab_find(lab, CLIENT, TH_FIN, 0, since) < 0, "a FIN was sent");
	CHECK(lab, lab_tuple_state(lab, CLIENT, cport, LAB_SERVER_IP, 80) == TCPS_CLOSED, "TIME_WAIT or other state left behind");
	long r = lab_wait_eof(lab, SERVER, s, LIMIT);
	CHECK(lab, r == -ECONNRESET, "server's recv returned %ld (%s), want ECONNRESET", r, lab_errname((int)r));
	CHECK(lab, synfin_state(lab_st(lab, SERVER), s) == TCPS_CLOSED, "server not CLOSED");
	/* the RST was answered by nothing (RFC 9293 3.5.2) */
	CHECK(lab, lab_find(lab, SERVER, 0, 0, rst + 1) < 0 || !lab_clean(lab), "the RST drew an answer");
	lab_netstat(lab, CLIENT);
	lab_netstat(lab, SERVER);
}

void scen_linger_wait(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	struct synfin_stack *cs = lab_st(lab, CLIENT);
	lab_set_linger(lab, CLIENT, c, 1, 10);
	lab_note(lab, "SO_LINGER {1, 10}: close() waits until the data and FIN are acknowledged");
	CHECK(lab, lab_send_str(lab, CLIENT, c, "please acknowledge\n"), "send");
	int r = synfin_close(cs, c);
	CHECK(lab, r == -EINPROGRESS, "lingering close returned %s, want EINPROGRESS", lab_errname(r));
	CHECK(lab, lab_wait_events(lab, CLIENT, c, SYNFIN_EV_CLOSED, LIMIT) & SYNFIN_EV_CLOSED, "linger never ended");
	r = synfin_close(cs, c);
	CHECK(lab, r == 0, "second close returned %s, want 0: everything was acknowledged", lab_errname(r));
	char buf[32];
	CHECK(lab, lab_read_n(lab, SERVER, s, buf, 19, LIMIT) == 19, "data lost");

	lab_note(lab, "second connection: the server stops reading, so the window closes and the data cannot all be sent");
	int c2 = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 80);
	CHECK(lab, c2 >= 0, "connect");
	int s2 = lab_accept(lab, SERVER, l, LIMIT);
	CHECK(lab, s2 >= 0, "accept");
	CHECK(lab, lab_wait_state(lab, CLIENT, c2, TCPS_ESTABLISHED, LIMIT), "not established");
	static char big[65536];
	memset(big, 'z', sizeof big);
	long sent = 0;
	for (int i = 0; i < 64 && sent < 150000; i++) {
		long n = synfin_send(cs, c2, big, sizeof big);
		if (n > 0)
			sent += n;
		lab_run_for(lab, SYNFIN_MS(200));
	}
	lab_set_linger(lab, CLIENT, c2, 1, 5);
	synfin_time_t t0 = lab_now(lab);
	r = synfin_close(cs, c2);
	CHECK(lab, r == -EINPROGRESS, "close returned %s, want EINPROGRESS", lab_errname(r));
	CHECK(lab, lab_wait_events(lab, CLIENT, c2, SYNFIN_EV_CLOSED, LIMIT) & SYNFIN_EV_CLOSED, "linger never ended");
	synfin_time_t waited = lab_now(lab) - t0;
	r = synfin_close(cs, c2);
	CHECK(lab, r == -EWOULDBLOCK, "close after the linger time returned %s, want EWOULDBLOCK", lab_errname(r));
	lab_note(lab, "close gave up after %.3f s; the connection goes on in the background", (double)waited / 1e6);
	CHECK(lab, waited == SYNFIN_SEC(5), "lingered %llu us, want 5 s", (unsigned long long)waited);
	lab_netstat(lab, CLIENT);
}

void scen_unread_close(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	lab_note(lab, "the client sends a line the server never reads; the server closes");
	CHECK(lab, lab_send_str(lab, CLIENT, c, "you will not read this\n"), "send");
	struct synfin_stack *ss = lab_st(lab, SERVER);
	bool arrived = false;
	for (int i = 0; i < 6000 && !arrived; i++) {
		arrived = synfin_events(ss, s) & SYNFIN_EV_IN;
		if (!arrived)
			lab_run_for(lab, SYNFIN_MS(100));
	}
	CHECK(lab, arrived, "data never arrived");
	int since = lab->nsegs;
	CHECK(lab, synfin_close(ss, s) == 0, "close");
	int rst = lab_find(lab, SERVER, TH_RST, 0, since);
	CHECK(lab, rst == since, "closing with unread data must send RST at once");
	CHECK(lab, lab_find(lab, SERVER, TH_FIN, 0, since) < 0, "a FIN was sent");
	CHECK(lab, lab_tuple_state(lab, SERVER, 80, LAB_CLIENT_IP, cport) == TCPS_CLOSED, "server kept state");
	long r = lab_wait_eof(lab, CLIENT, c, SYNFIN_SEC(5));
	if (r == -EAGAIN && !lab_clean(lab)) {
		/* the RST was lost (an RST is never retransmitted): the
		 * client learns when its next segment meets no connection */
		lab_note(lab, "the RST was lost; the client's next data draws another");
		CHECK(lab, lab_send_str(lab, CLIENT, c, "hello?\n"), "send");
		r = lab_wait_eof(lab, CLIENT, c, LIMIT);
	}
	CHECK(lab, r == -ECONNRESET, "client's recv returned %s, want ECONNRESET", lab_errname((int)r));
	lab_netstat(lab, SERVER);
}
