/* TIME_WAIT (TCP/IP Illustrated vol. 1, 18.6, as the seeds retell it): what
 * the 2MSL wait keeps busy, what SO_REUSEADDR and a newer SYN get around,
 * and the reason it exists, the lost last ACK. The seed's hosts are sun
 * (here the server, 198.18.0.1) and bsdi (here the client, 198.18.0.2). */
#include <errno.h>
#include <string.h>

#include "scenarios.h"
#include "tcp/seq.h"
#include "wire/wire.h"

#define LIMIT SYNFIN_SEC(600)
#define SUN_PORT 6666  /* the seed's server port */
#define BSDI_PORT 1098 /* the seed's client port */


struct tuple_ctx {
	int host, state;
	uint16_t lport, fport;
	uint32_t faddr;
};

static bool tuple_in_state(struct lab *lab, void *p)
{
	struct tuple_ctx *t = p;
	return lab_tuple_state(lab, t->host, t->lport, t->faddr, t->fport) == t->state;
}

/* Run until the 4-tuple of `host` is in `state` (or the limit passes). */
static bool wait_tuple(struct lab *lab, int host, uint16_t lport, uint32_t faddr, uint16_t fport,
		       int state, synfin_time_t limit)
{
	struct tuple_ctx t = {host, state, lport, fport, faddr};
	return lab_wait(lab, tuple_in_state, &t, limit);
}

/* A fresh socket of `host` bound to `port` (SO_REUSEADDR if `reuse`):
 * returns bind's result; the socket is left in *fd if it succeeded and
 * closed otherwise. */
static int try_bind(struct lab *lab, int host, uint16_t port, bool reuse, int *fd)
{
	struct synfin_stack *st = lab_st(lab, host);
	*fd = synfin_socket(st);
	if (*fd < 0)
		return *fd;
	if (reuse)
		lab_set_int(lab, host, *fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_REUSEADDR, 1);
	int r = synfin_bind(st, *fd, &(struct synfin_addr){0, port});
	if (r < 0) {
		synfin_close(st, *fd);
		*fd = -1;
	}
	return r;
}

static double secs(synfin_time_t t)
{
	return (double)t / 1e6;
}

/* The network for the TIME_WAIT scenarios: the default config with RFC
 * 1337's protection on. With --dup a host that has already closed answers
 * a duplicated last ACK with an RST, and the default (RFC 9293, like
 * Linux) lets an RST end TIME_WAIT: "TIME-WAIT assassination", which would
 * cut the 2MSL wait these scenarios measure short. */
static void tw_setup(struct lab *lab)
{
	struct synfin_config cfg;
	synfin_config_default(&cfg);
	cfg.rfc1337 = true;
	lab_setup(lab, 2, &cfg);
	lab_note(lab, "(these hosts set rfc1337: TIME_WAIT ignores RSTs, so that on a faulty link an RST "
		      "answering a duplicated ACK cannot end it early; on a clean link none comes)");
}

/* Say so if RFC 1337 turned an RST away during the run. */
static void tw_rst_note(struct lab *lab)
{
	for (int h = SERVER; h <= CLIENT; h++) {
		struct synfin_stack *st = lab_st(lab, h);
		if (st && synfin_get_stats(st)->tw_rst_ignored)
			lab_note(lab, "%s's TIME_WAIT ignored %llu RST(s) (RFC 1337)", h == SERVER ? "the server" : "the client",
				 (unsigned long long)synfin_get_stats(st)->tw_rst_ignored);
	}
}

/* The seed's first connection: a server on 6666, a client from `lport`, a
 * line each way; then the server program ends (its sockets close, so the
 * server does the active close) and the client closes when it reads EOF.
 * Returns with the server's end of the 4-tuple in TIME_WAIT and the
 * client's end gone; *cport is the client's port, *entered the time the
 * server entered TIME_WAIT. */
static bool server_closes_first(struct lab *lab, uint16_t lport, uint16_t *cport, synfin_time_t *entered)
{
	int l = -1, c, s;
	if (!lab_pair(lab, SUN_PORT, lport, &l, &c, &s))
		return false;
	*cport = lab_local_port(lab, CLIENT, c);
	if (!lab_line(lab, CLIENT, c, SERVER, s, "hello, sun\n") || !lab_line(lab, SERVER, s, CLIENT, c, "hello, bsdi\n"))
		return false;
	lab_netstat(lab, SERVER);
	lab_note(lab, "the server program is terminated: its sockets close, so this time the server "
		      "end does the active close (FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT)");
	synfin_exit(lab_st(lab, SERVER), 0);
	if (lab_wait_eof(lab, CLIENT, c, LIMIT) != 0) {
		lab_fail(lab, __FILE__, __LINE__, "the client never read EOF");
		return false;
	}
	lab_note(lab, "the client reads EOF and closes: the passive close, CLOSE_WAIT -> LAST_ACK");
	synfin_close(lab_st(lab, CLIENT), c);
	if (!wait_tuple(lab, SERVER, SUN_PORT, LAB_CLIENT_IP, *cport, TCPS_TIME_WAIT, LIMIT)) {
		lab_fail(lab, __FILE__, __LINE__, "the server's end never reached TIME_WAIT");
		return false;
	}
	*entered = lab_now(lab);
	if (!lab_wait_gone(lab, CLIENT, *cport, LAB_SERVER_IP, SUN_PORT, LIMIT)) {
		lab_fail(lab, __FILE__, __LINE__, "the client's end never left LAST_ACK");
		return false;
	}
	if (lab_tuple_state(lab, SERVER, SUN_PORT, LAB_CLIENT_IP, *cport) != TCPS_TIME_WAIT) {
		lab_fail(lab, __FILE__, __LINE__, "the server's TIME_WAIT ended at once");
		return false;
	}
	return true;
}

void scen_time_wait_bind(struct lab *lab)
{
	tw_setup(lab);
	struct synfin_stack *ss = lab_st(lab, SERVER);
	uint16_t cport;
	synfin_time_t entered;
	int fd, r;

	lab_note(lab, "sun %% sock -s 6666, and a client connects to it from an ephemeral port");
	if (!server_closes_first(lab, 0, &cport, &entered))
		return;
	lab_note(lab, "the server's end 198.18.0.1.6666 is in the 2MSL wait; netstat shows it:");
	lab_netstat(lab, SERVER);

	lab_note(lab, "sun %% sock -s 6666   (restart the server at once)");
	r = try_bind(lab, SERVER, SUN_PORT, false, &fd);
	CHECK(lab, r == -EADDRINUSE, "bind(6666) during TIME_WAIT returned %s, want EADDRINUSE", lab_errname(r));
	lab_note(lab, "-> can't bind local address: Address already in use (bind returned -%s): the "
		      "local port is part of a connection in TIME_WAIT",
		 lab_errname(r));

	lab_note(lab, "sun %% sock -A -s 6666   (-A sets SO_REUSEADDR before bind)");
	int a = lab_listen(lab, SERVER, SUN_PORT, 5, true);
	CHECK(lab, a >= 0, "with SO_REUSEADDR bind and listen should succeed during TIME_WAIT");
	CHECK(lab, synfin_state(ss, a) == TCPS_LISTEN, "the restarted server is not in LISTEN");
	CHECK(lab, lab_tuple_state(lab, SERVER, SUN_PORT, LAB_CLIENT_IP, cport) == TCPS_TIME_WAIT,
	      "the old connection left TIME_WAIT when the port was reused");
	lab_note(lab, "-> it listens: SO_REUSEADDR lets a socket take a port whose connection is in "
		      "the 2MSL wait; the old 4-tuple itself stays in TIME_WAIT:");
	lab_netstat(lab, SERVER);
	synfin_close(ss, a);

	lab_note(lab, "the -A server is stopped again; now we restart without -A once a second until "
		      "bind succeeds, as the book does to measure 2MSL");
	int tries = 0;
	for (;;) {
		bool tw = lab_tuple_state(lab, SERVER, SUN_PORT, LAB_CLIENT_IP, cport) == TCPS_TIME_WAIT;
		r = try_bind(lab, SERVER, SUN_PORT, false, &fd);
		if (r == 0) {
			CHECK(lab, !tw, "bind without SO_REUSEADDR succeeded while the port is in TIME_WAIT");
			break;
		}
		CHECK(lab, r == -EADDRINUSE, "bind returned %s, want EADDRINUSE", lab_errname(r));
		CHECK(lab, tw, "bind refused (%s) although no connection on port 6666 is left", lab_errname(r));
		CHECK(lab, ++tries < 600, "bind still refused after %d tries", tries);
		if (tries % 15 == 0)
			lab_note(lab, "bind(6666) refused again (%s); %.0f s since TIME_WAIT began",
				 lab_errname(r), secs(lab_now(lab) - entered));
		lab_run_for(lab, SYNFIN_SEC(1));
	}
	synfin_time_t waited = lab_now(lab) - entered;
	lab_note(lab, "bind succeeds %.3f s after the server entered TIME_WAIT (polled once a second): "
		      "2MSL = 60 s, so MSL = 30 s, as on SunOS 4.1.3, SVR4, BSD/386 and AIX 3.2.2",
		 secs(waited));
	if (lab_clean(lab))
		CHECK(lab, waited >= SYNFIN_SEC(60) && waited < SYNFIN_SEC(61),
		      "bind succeeded %.3f s after TIME_WAIT began, want within a second after 2MSL (60 s)",
		      secs(waited));
	else
		CHECK(lab, waited >= SYNFIN_SEC(60), "bind succeeded after %.3f s, before 2MSL", secs(waited));
	r = synfin_listen(ss, fd, 5);
	CHECK(lab, r == 0, "listen after 2MSL: %s", lab_errname(r));
	lab_note(lab, "the server is back on port 6666 without SO_REUSEADDR:");
	lab_netstat(lab, SERVER);
	synfin_close(ss, fd);
	tw_rst_note(lab);
}

void scen_time_wait_connect(struct lab *lab)
{
	tw_setup(lab);
	struct synfin_stack *ss = lab_st(lab, SERVER), *cs = lab_st(lab, CLIENT);
	uint16_t cport;
	synfin_time_t entered;
	int fd, r;

	lab_note(lab, "sun %% sock -v -s 6666; bsdi %% sock -b1098 sun 6666 (the client binds port 1098)");
	if (!server_closes_first(lab, BSDI_PORT, &cport, &entered))
		return;
	CHECK(lab, cport == BSDI_PORT, "the client used port %u, not 1098", cport);
	lab_note(lab, "the 4-tuple (198.18.0.1.6666, 198.18.0.2.1098) is in the 2MSL wait on sun:");
	lab_netstat(lab, SERVER);

	lab_note(lab, "bsdi starts a server on port 1098, so that a connection to it could succeed");
	int bl = lab_listen(lab, CLIENT, BSDI_PORT, 5, false);
	CHECK(lab, bl >= 0, "listen on bsdi's port 1098 failed");

	lab_note(lab, "sun %% sock -b6666 bsdi 1098   (sun as the client, from local port 6666)");
	r = try_bind(lab, SERVER, SUN_PORT, false, &fd);
	CHECK(lab, r == -EADDRINUSE, "bind(6666) without SO_REUSEADDR returned %s, want EADDRINUSE", lab_errname(r));
	lab_note(lab, "-> can't bind local address: Address already in use (-%s)", lab_errname(r));

	lab_note(lab, "sun %% sock -A -b6666 bsdi 1098   (-A: SO_REUSEADDR)");
	r = try_bind(lab, SERVER, SUN_PORT, true, &fd);
	CHECK(lab, r == 0, "bind(6666) with SO_REUSEADDR returned %s, want success", lab_errname(r));
	lab_note(lab, "-> the bind succeeds; now the active open:");
	int before = lab->nsegs;
	struct synfin_addr bsdi = {LAB_CLIENT_IP, BSDI_PORT};
	r = synfin_connect(ss, fd, &bsdi);
	CHECK(lab, r == -EADDRINUSE, "connect to the 4-tuple in TIME_WAIT returned %s, want EADDRINUSE",
	      lab_errname(r));
	CHECK(lab, lab->nsegs == before, "a segment left although connect failed");
	lab_note(lab, "-> connect: Address already in use (-%s), and no SYN leaves: the socket pair "
		      "(198.18.0.1.6666, 198.18.0.2.1098) is what TIME_WAIT reserves, and SO_REUSEADDR "
		      "does not free it",
		 lab_errname(r));

	lab_run_for(lab, SYNFIN_SEC(30));
	CHECK(lab, lab_tuple_state(lab, SERVER, SUN_PORT, LAB_CLIENT_IP, BSDI_PORT) == TCPS_TIME_WAIT,
	      "TIME_WAIT ended within 30 s");
	r = synfin_connect(ss, fd, &bsdi);
	CHECK(lab, r == -EADDRINUSE, "connect 30 s into TIME_WAIT returned %s, want EADDRINUSE", lab_errname(r));
	lab_note(lab, "30 s later the same connect still fails (-%s):", lab_errname(r));
	lab_netstat(lab, SERVER);

	CHECK(lab, lab_wait_gone(lab, SERVER, SUN_PORT, LAB_CLIENT_IP, BSDI_PORT, LIMIT), "TIME_WAIT never ended");
	synfin_time_t dur = lab_now(lab) - entered;
	lab_note(lab, "the 2MSL wait is over after %.3f s", secs(dur));
	if (lab_clean(lab))
		CHECK(lab, dur == SYNFIN_SEC(60), "TIME_WAIT lasted %.6f s, want exactly 2MSL = 60 s", secs(dur));
	else
		CHECK(lab, dur >= SYNFIN_SEC(60), "TIME_WAIT lasted %.6f s, less than 2MSL", secs(dur));

	lab_note(lab, "the same connect on the same socket now sends its SYN:");
	r = synfin_connect(ss, fd, &bsdi);
	CHECK(lab, r == -EINPROGRESS, "connect after 2MSL returned %s, want EINPROGRESS", lab_errname(r));
	CHECK(lab, lab_wait_state(lab, SERVER, fd, TCPS_ESTABLISHED, LIMIT), "sun's connect never ESTABLISHED");
	struct synfin_addr peer;
	int bs = lab_accept(lab, CLIENT, bl, LIMIT);
	CHECK(lab, bs >= 0, "bsdi accepted nothing");
	CHECK(lab, lab_wait_state(lab, CLIENT, bs, TCPS_ESTABLISHED, LIMIT), "bsdi's side never ESTABLISHED");
	CHECK(lab, synfin_getpeername(cs, bs, &peer) == 0 && peer.ip == LAB_SERVER_IP && peer.port == SUN_PORT,
	      "bsdi's connection is not from 198.18.0.1.6666");
	if (!lab_line(lab, SERVER, fd, CLIENT, bs, "the same socket pair, a new incarnation\n"))
		return;
	lab_note(lab, "connected on 198.18.0.1.6666 to 198.18.0.2.1098: a new incarnation of the pair");
	lab_netstat(lab, SERVER);
	lab_netstat(lab, CLIENT);
	tw_rst_note(lab);
}


void scen_time_wait_reopen(struct lab *lab)
{
	tw_setup(lab);
	struct synfin_stack *ss = lab_st(lab, SERVER);
	uint16_t cport;
	synfin_time_t entered;
	int fd, r;

	lab_note(lab, "sun %% sock -s 6666; bsdi %% sock -b1098 sun 6666");
	if (!server_closes_first(lab, BSDI_PORT, &cport, &entered))
		return;
	CHECK(lab, cport == BSDI_PORT, "the client used port %u, not 1098", cport);

	/* what the TIME_WAIT record remembers of the old incarnation */
	int syn0 = lab_find(lab, CLIENT, TH_SYN, TH_ACK, 0);
	int synack0 = lab_find(lab, SERVER, TH_SYN | TH_ACK, 0, 0);
	int cfin = lab_find(lab, CLIENT, TH_FIN, 0, 0);
	int sfin = lab_find(lab, SERVER, TH_FIN, 0, 0);
	CHECK(lab, syn0 >= 0 && synack0 >= 0 && cfin >= 0 && sfin >= 0, "the old connection's SYNs or FINs are missing");
	CHECK(lab, lab->segs[syn0].has_ts && lab->segs[synack0].has_ts, "timestamps were not negotiated on the old connection");
	uint32_t old_rcv_nxt = lab->segs[cfin].seq + lab->segs[cfin].len + 1;
	uint32_t old_snd_nxt = lab->segs[sfin].seq + lab->segs[sfin].len + 1;
	int old_end = lab->nsegs;
	uint32_t old_ts = lab->segs[syn0].tsval;
	for (int i = 0; i < old_end; i++)
		if (lab->segs[i].from == CLIENT && lab->segs[i].has_ts && seq_gt(lab->segs[i].tsval, old_ts))
			old_ts = lab->segs[i].tsval;
	lab_note(lab, "sun holds (198.18.0.1.6666, 198.18.0.2.1098) in TIME_WAIT with RCV.NXT %u (just past "
		      "bsdi's FIN) and TS.Recent from bsdi's timestamps (the newest bsdi sent: %u); bsdi did "
		      "the passive close, so its end is gone and port 1098 is free there:",
		 old_rcv_nxt, old_ts);
	lab_netstat(lab, SERVER);
	lab_netstat(lab, CLIENT);

	lab_note(lab, "sun %% sock -A -s 6666   (the server restarts; without -A its bind would fail)");
	r = try_bind(lab, SERVER, SUN_PORT, false, &fd);
	CHECK(lab, r == -EADDRINUSE, "bind(6666) without SO_REUSEADDR returned %s, want EADDRINUSE", lab_errname(r));
	int l = lab_listen(lab, SERVER, SUN_PORT, 5, true);
	CHECK(lab, l >= 0, "listen with SO_REUSEADDR failed");

	/* Let the clocks run: the ISN clock (RFC 6528, one tick per 4 us) and
	 * the timestamp clock (1 ms) of bsdi both move on. */
	if (lab_now(lab) < entered + SYNFIN_SEC(5))
		lab_run_for(lab, entered + SYNFIN_SEC(5) - lab_now(lab));
	CHECK(lab, lab_tuple_state(lab, SERVER, SUN_PORT, LAB_CLIENT_IP, BSDI_PORT) == TCPS_TIME_WAIT,
	      "TIME_WAIT ended too early");
	lab_note(lab, "%.3f s into the 2MSL wait: bsdi %% sock -b1098 sun 6666 (bsdi needs no -A: it holds "
		      "no TIME_WAIT)",
		 secs(lab_now(lab) - entered));
	uint64_t reopened = synfin_get_stats(ss)->tw_reopened;
	int from = lab->nsegs;
	int c = lab_connect(lab, CLIENT, BSDI_PORT, LAB_SERVER_IP, SUN_PORT);
	CHECK(lab, c >= 0, "bind 1098 / connect failed on bsdi");
	CHECK(lab, lab_wait_state(lab, CLIENT, c, TCPS_ESTABLISHED, LIMIT),
	      "the new connection never ESTABLISHED on bsdi: the SYN did not reopen TIME_WAIT");
	int s = lab_accept(lab, SERVER, l, LIMIT);
	CHECK(lab, s >= 0, "sun accepted nothing");
	CHECK(lab, lab_wait_state(lab, SERVER, s, TCPS_ESTABLISHED, LIMIT), "sun's side never ESTABLISHED");
	CHECK(lab, synfin_get_stats(ss)->tw_reopened == reopened + 1, "tw_reopened went from %llu to %llu, want +1",
	      (unsigned long long)reopened, (unsigned long long)synfin_get_stats(ss)->tw_reopened);
	CHECK(lab, lab_tuple_state(lab, SERVER, SUN_PORT, LAB_CLIENT_IP, BSDI_PORT) == TCPS_ESTABLISHED,
	      "the 4-tuple is not ESTABLISHED on sun");
	lab_note(lab, "connected on 198.18.0.2.1098 to 198.18.0.1.6666: it succeeded, before 2MSL ended");

	/* why the SYN was taken */
	int syn = lab_find(lab, CLIENT, TH_SYN, TH_ACK, from);
	int synack = lab_find(lab, SERVER, TH_SYN | TH_ACK, 0, from);
	CHECK(lab, syn >= 0 && synack >= 0, "the new SYN or SYN,ACK is missing");
	uint32_t iss = lab->segs[syn].seq;
	CHECK(lab, lab->segs[syn].has_ts, "the new SYN carries no timestamp");
	CHECK(lab, seq_gt(lab->segs[syn].tsval, old_ts),
	      "the new SYN's TSval %u is not newer than TS.Recent %u, yet TIME_WAIT was reopened",
	      lab->segs[syn].tsval, old_ts);
	CHECK(lab, seq_gt(iss, old_rcv_nxt), "the new ISN %u is not above the old RCV.NXT %u", iss, old_rcv_nxt);
	lab_note(lab, "the new SYN: ISN %u is %u above the old RCV.NXT %u (the RFC 6528 ISN grows by one "
		      "every 4 us, %u in %.3f s, and the old connection used only a few bytes); TSval %u is %u "
		      "ms newer than bsdi's newest old TSval %u",
		 iss, iss - old_rcv_nxt, old_rcv_nxt, iss - lab->segs[syn0].seq,
		 secs(lab->segs[syn].t - lab->segs[syn0].t), lab->segs[syn].tsval, lab->segs[syn].tsval - old_ts, old_ts);
	lab_note(lab, "rule applied: both ends used timestamps, so RFC 6191 decides: a SYN with a newer "
		      "TSval ends TIME_WAIT; the Berkeley rule of the book (RFC 1122 4.2.2.13: an ISN above "
		      "the old RCV.NXT) would have agreed");
	lab_note(lab, "sun's SYN,ACK starts the new incarnation at ISN %u = the old SND.NXT %u + %u, past "
		      "anything the old one can have in flight (the book's BSD added 128000)",
		 lab->segs[synack].seq, old_snd_nxt, lab->segs[synack].seq - old_snd_nxt);

	if (!lab_line(lab, CLIENT, c, SERVER, s, "a new incarnation\n") || !lab_line(lab, SERVER, s, CLIENT, c, "it works\n"))
		return;
	lab_note(lab, "the new connection carries data both ways; the TIME_WAIT row is gone:");
	lab_netstat(lab, SERVER);
	lab_netstat(lab, CLIENT);
	tw_rst_note(lab);
}

/* Drop the client's last ACK, the ACK of the server's FIN: the first one,
 * and on a faulty link any other sent before the server retransmits its
 * FIN (a duplicated FIN draws a second ACK at once); on a clean link that
 * is exactly one. `first` is the log index of the first one dropped. */
static bool drop_last_ack(struct lab *lab, int from, const struct lab_seg *s)
{
	int *first = lab->drop_ctx;
	if (from != CLIENT || !(s->flags & TH_ACK) || (s->flags & (TH_SYN | TH_FIN | TH_RST)) || s->len)
		return false;
	int fin = -1;
	for (int i = lab->nsegs - 1; i >= 0 && fin < 0; i--)
		if (lab->segs[i].from == SERVER && (lab->segs[i].flags & TH_FIN))
			fin = i;
	if (fin < 0 || s->ack != lab->segs[fin].seq + lab->segs[fin].len + 1)
		return false;
	if (*first < 0) {
		*first = lab->nsegs;
		return true;
	}
	return fin < *first; /* the server has not sent its FIN again yet */
}

static bool drop_done(struct lab *lab, void *ctx)
{
	(void)ctx;
	return lab->drop_count > 0;
}

void scen_time_wait_lost_ack(struct lab *lab)
{
	static int first;
	tw_setup(lab);
	struct synfin_stack *cs = lab_st(lab, CLIENT), *ss = lab_st(lab, SERVER);
	int l = -1, c, s;
	if (!lab_pair(lab, 80, 0, &l, &c, &s))
		return;
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	if (!lab_line(lab, CLIENT, c, SERVER, s, "GET /\n"))
		return;

	first = -1;
	lab->drop = drop_last_ack;
	lab->drop_ctx = &first;
	lab_note(lab, "the client closes; the server closes as soon as it reads EOF; the client's "
		      "last ACK (of the server's FIN) will be lost");
	CHECK(lab, synfin_close(cs, c) == 0, "close failed");
	CHECK(lab, lab_wait_eof(lab, SERVER, s, LIMIT) == 0, "server never saw EOF");
	CHECK(lab, synfin_close(ss, s) == 0, "server close failed");
	CHECK(lab, lab_wait(lab, drop_done, NULL, LIMIT), "the client never sent its last ACK");
	CHECK(lab, first >= 0 && first < lab->nsegs && lab->segs[first].dropped, "no dropped segment in the log");
	uint32_t finack = lab->segs[first].ack;
	CHECK(lab, lab_tuple_state(lab, CLIENT, cport, LAB_SERVER_IP, 80) == TCPS_TIME_WAIT,
	      "client not in TIME_WAIT after its last ACK");
	CHECK(lab, lab_tuple_state(lab, SERVER, 80, LAB_CLIENT_IP, cport) == TCPS_LAST_ACK,
	      "server not in LAST_ACK while the last ACK is lost");
	lab_note(lab, "the client is in TIME_WAIT since it sent that ACK; the server, in LAST_ACK, heard "
		      "nothing:");
	lab_netstat(lab, CLIENT);
	lab_netstat(lab, SERVER);

	uint64_t reacked = synfin_get_stats(cs)->tw_fin_reacked;
	lab_note(lab, "the server's retransmission timer will send its FIN again");
	CHECK(lab, lab_wait_gone(lab, SERVER, 80, LAB_CLIENT_IP, cport, LIMIT),
	      "the server never left LAST_ACK");
	int fin2 = lab_find(lab, SERVER, TH_FIN, 0, first);
	int ack2 = -1;
	for (int i = first + 1; i < lab->nsegs && ack2 < 0; i++)
		if (lab->segs[i].from == CLIENT && lab->segs[i].ack == finack && !lab->segs[i].dropped &&
		    !(lab->segs[i].flags & (TH_SYN | TH_FIN | TH_RST)))
			ack2 = i;
	CHECK(lab, fin2 >= 0, "the server never retransmitted its FIN");
	CHECK(lab, ack2 > fin2, "the client in TIME_WAIT never ACKed the retransmitted FIN again");
	CHECK(lab, lab->segs[fin2].seq + lab->segs[fin2].len + 1 == finack, "the retransmitted FIN is not the same FIN");
	CHECK(lab, synfin_get_stats(cs)->tw_fin_reacked >= reacked + 1, "tw_fin_reacked did not count the re-ACK");
	lab_note(lab, "the FIN came again %.3f s after the first (the server's RTO); the client ACKed it "
		      "again and restarted 2MSL; the server is CLOSED",
		 secs(lab->segs[fin2].t - lab->segs[lab_find(lab, SERVER, TH_FIN, 0, 0)].t));
	CHECK(lab, lab_tuple_state(lab, CLIENT, cport, LAB_SERVER_IP, 80) == TCPS_TIME_WAIT,
	      "client no longer in TIME_WAIT");
	lab_netstat(lab, CLIENT);

	CHECK(lab, lab_wait_gone(lab, CLIENT, cport, LAB_SERVER_IP, 80, LIMIT), "TIME_WAIT never ended");
	synfin_time_t end = lab_now(lab);
	synfin_time_t t1 = lab->segs[first].t, t2 = lab->segs[ack2].t;
	lab_note(lab, "TIME_WAIT lasted %.6f s from the first (lost) ACK and %.6f s from the second: 2MSL "
		      "counts from the last ACK",
		 secs(end - t1), secs(end - t2));
	if (lab_clean(lab)) {
		CHECK(lab, end == t2 + SYNFIN_SEC(60), "TIME_WAIT ended %.6f s after the second ACK, want exactly 2MSL",
		      secs(end - t2));
		CHECK(lab, lab->drop_count == 1, "want exactly one dropped ACK, saw %d", lab->drop_count);
		CHECK(lab, lab_count(lab, SERVER, TH_FIN, 0, 0) == 2, "want exactly two FINs from the server");
		CHECK(lab, synfin_get_stats(cs)->tw_fin_reacked == reacked + 1, "want exactly one re-ACK");
	} else {
		CHECK(lab, end >= t2 + SYNFIN_SEC(60), "TIME_WAIT ended %.6f s after the second ACK, before 2MSL",
		      secs(end - t2));
	}
	CHECK(lab, end > t1 + SYNFIN_SEC(60), "TIME_WAIT ended 2MSL after the first ACK: the re-ACK did not restart it");
	lab->drop = NULL;
	lab_netstat(lab, CLIENT);
	synfin_close(ss, l);
	tw_rst_note(lab);
}
