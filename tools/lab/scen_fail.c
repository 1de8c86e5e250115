/* When one end fails or lies: a host that reboots (half-open connections,
 * TCP/IP Illustrated vol. 1, 18.7.3), a peer that vanishes (keepalive,
 * RFC 1122 4.2.3.6) and an off-path attacker's forged RST and SYN (RFC 5961
 * challenge ACKs). */
#include <errno.h>
#include <string.h>

#include "scenarios.h"
#include "wire/wire.h"

#define LIMIT SYNFIN_SEC(600)

static double secs(synfin_time_t t)
{
	return (double)t / 1e6;
}

void scen_half_open(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	struct synfin_stack *cs = lab_st(lab, CLIENT);
	struct sim_host *svr4 = lab->h[SERVER];
	int l = -1, c, s;

	lab_note(lab, "bsdi %% telnet svr4 discard: the client connects to the server's discard service (port 9)");
	if (!lab_pair(lab, 9, 0, &l, &c, &s))
		return;
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	if (!lab_line(lab, CLIENT, c, SERVER, s, "hi there\n"))
		return;
	lab_run_for(lab, SYNFIN_SEC(1));
	lab_netstat(lab, SERVER);
	lab_netstat(lab, CLIENT);

	lab_note(lab, "svr4's Ethernet cable is pulled (so that it cannot send a FIN or RST on the way "
		      "down), svr4 reboots, and the cable goes back in: about 190 s");
	sim_unplug(svr4);
	lab_run_for(lab, SYNFIN_SEC(10));
	sim_crash(svr4);
	lab_run_for(lab, SYNFIN_SEC(170));
	sim_reboot(svr4);
	lab_run_for(lab, SYNFIN_SEC(10));
	sim_plug(svr4);
	CHECK(lab, sim_host_up(svr4) && lab_st(lab, SERVER), "the server did not come back up");
	struct synfin_stack *ss = lab_st(lab, SERVER);
	CHECK(lab, lab_tuple_state(lab, SERVER, 9, LAB_CLIENT_IP, cport) == TCPS_CLOSED,
	      "the rebooted server still knows the connection");
	CHECK(lab, synfin_state(cs, c) == TCPS_ESTABLISHED, "the client noticed something without sending");
	lab_note(lab, "(no ARP here: the book's lines 7 and 8, the rebooted host's ARP request and reply, "
		      "have no counterpart on the simulated link)");
	lab_note(lab, "the rebooted server knows nothing of the connection (not even a listener on port 9); "
		      "the client still believes in it: a half-open connection");
	lab_netstat(lab, SERVER);
	lab_netstat(lab, CLIENT);

	lab_note(lab, "the client types \"another line\"");
	int from = lab->nsegs;
	uint64_t rst0 = synfin_get_stats(ss)->rst_no_socket;
	CHECK(lab, lab_send_str(lab, CLIENT, c, "another line\n"), "send failed");
	unsigned ev = lab_wait_events(lab, CLIENT, c, SYNFIN_EV_ERR, LIMIT);
	CHECK(lab, ev & SYNFIN_EV_ERR, "the client never learned that the connection is gone");
	int rst = lab_find(lab, SERVER, TH_RST, 0, from);
	CHECK(lab, rst >= 0, "no RST from the server");
	int data = -1;
	for (int i = from; i < rst; i++)
		if (lab->segs[i].from == CLIENT && lab->segs[i].len > 0)
			data = i;
	CHECK(lab, data >= 0, "no data segment before the RST");
	CHECK(lab, lab->segs[data].flags & TH_ACK, "the data segment has no ACK bit");
	/* RFC 9293 3.10.7.1: the segment had ACK set, so <SEQ=SEG.ACK><CTL=RST> */
	CHECK(lab, lab->segs[rst].seq == lab->segs[data].ack, "the RST's seq %u is not the data segment's ack %u",
	      lab->segs[rst].seq, lab->segs[data].ack);
	CHECK(lab, !(lab->segs[rst].flags & TH_ACK), "the RST should carry no ACK (the segment had one)");
	CHECK(lab, synfin_get_stats(ss)->rst_no_socket > rst0, "the server did not count an RST for no socket");
	lab_note(lab, "the server's TCP answers the data with an RST: the segment had ACK on, so per RFC 9293 "
		      "3.10.7.1 the RST is <SEQ=SEG.ACK><CTL=RST> (seq %u = the data's ack), which the client "
		      "finds exactly at RCV.NXT",
		 lab->segs[rst].seq);
	char buf[64];
	long r = lab_recv_str(lab, CLIENT, c, buf, sizeof buf);
	CHECK(lab, r == -ECONNRESET, "the client's recv returned %ld (%s), want ECONNRESET", r,
	      r < 0 ? lab_errname((int)r) : "data");
	CHECK(lab, synfin_state(cs, c) == TCPS_CLOSED, "the client is not CLOSED");
	lab_note(lab, "telnet: Connection closed by foreign host (recv: -%s); the client is CLOSED", lab_errname((int)r));
	lab_netstat(lab, CLIENT);
	synfin_close(cs, c);
}

/* Keepalive probes in the segment log: an ACK without data from `host`
 * whose seq is one below what the peer had acknowledged (SND.UNA - 1). */
static bool is_probe(struct lab *lab, int i, int host)
{
	const struct lab_seg *p = &lab->segs[i];
	if (p->from != host || p->len || (p->flags & (TH_SYN | TH_FIN | TH_RST)) || !(p->flags & TH_ACK))
		return false;
	for (int j = i - 1; j >= 0; j--)
		if (lab->segs[j].from == 1 - host && (lab->segs[j].flags & TH_ACK))
			return lab->segs[j].ack == p->seq + 1;
	return false;
}

/* Was the probe at index i answered: did the peer send an ACK up to the
 * probe's seq + 1 before `host` sent anything else? (On a faulty link the
 * answer may still be lost on its way back.) */
static bool answered(struct lab *lab, int i, int host)
{
	for (int j = i + 1; j < lab->nsegs && lab->segs[j].from != host; j++)
		if (lab->segs[j].from == 1 - host && (lab->segs[j].flags & TH_ACK) &&
		    lab->segs[j].ack == lab->segs[i].seq + 1)
			return true;
	return false;
}

static int get_int(struct lab *lab, int host, int fd, int level, int name)
{
	int v = -1;
	size_t len = sizeof v;
	synfin_getsockopt(lab_st(lab, host), fd, level, name, &v, &len);
	return v;
}

void scen_keepalive(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	struct synfin_stack *cs = lab_st(lab, CLIENT), *ss = lab_st(lab, SERVER);
	int l = -1, c, s;

	/* ---- (a) the peer vanishes: the defaults, 7200 s + 9 x 75 s ---- */
	lab_note(lab, "(a) a client with SO_KEEPALIVE and the default timers; then the server vanishes");
	if (!lab_pair(lab, 23, 0, &l, &c, &s))
		return;
	lab_set_int(lab, CLIENT, c, SYNFIN_SOL_SOCKET, SYNFIN_SO_KEEPALIVE, 1);
	int idle = get_int(lab, CLIENT, c, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE);
	int intvl = get_int(lab, CLIENT, c, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPINTVL);
	int cnt = get_int(lab, CLIENT, c, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPCNT);
	CHECK(lab, idle == 7200 && intvl == 75 && cnt == 9, "default keepalive %d/%d/%d, want 7200/75/9", idle, intvl, cnt);
	lab_note(lab, "keepalive: idle %d s, then a probe every %d s, %d unanswered probes and the "
		      "connection is dropped (the seed says 10 probes; BSD and Linux send 9)",
		 idle, intvl, cnt);
	if (!lab_line(lab, CLIENT, c, SERVER, s, "login: guest\n") || !lab_line(lab, SERVER, s, CLIENT, c, "welcome\n"))
		return;
	synfin_time_t welcomed = lab_now(lab);
	lab_run_for(lab, SYNFIN_SEC(60));
	lab_netstat(lab, CLIENT);
	/* the last segment the client received from the server */
	int last = -1;
	for (int i = 0; i < lab->nsegs; i++)
		if (lab->segs[i].from == SERVER && !lab->segs[i].dropped)
			last = i;
	CHECK(lab, last >= 0, "nothing from the server");
	synfin_time_t last_rx = lab->segs[last].t + lab->o->delay;
	int from = lab->nsegs;
	uint64_t probes0 = synfin_get_stats(cs)->keep_probes, drops0 = synfin_get_stats(cs)->keep_drops;
	lab_note(lab, "the server's cable is pulled: it vanishes without a word; the client last heard "
		      "from it at %.6f s",
		 secs(last_rx));
	sim_unplug(lab->h[SERVER]);
	synfin_time_t unplugged = lab_now(lab);
	int syn = lab_find(lab, CLIENT, TH_SYN, TH_ACK, 0);
	CHECK(lab, syn >= 0, "no SYN from the client in the log");
	uint32_t una = lab->segs[syn].seq + 1 + (uint32_t)strlen("login: guest\n");
	lab_note(lab, "a probe is a bare ACK with SEQ = SND.UNA - 1 = %u, a byte the peer already has, "
		      "so a live peer must answer it with an ACK (tcpdump shows only \". ack\")",
		 una - 1);
	unsigned ev = lab_wait_events(lab, CLIENT, c, SYNFIN_EV_ERR, SYNFIN_SEC(3 * 3600));
	CHECK(lab, ev & SYNFIN_EV_ERR, "the connection was never given up");
	synfin_time_t gone = lab_now(lab) - last_rx;
	uint64_t probes = synfin_get_stats(cs)->keep_probes - probes0;
	int wire = 0;
	for (int i = from; i < lab->nsegs; i++) {
		if (!is_probe(lab, i, CLIENT))
			continue;
		wire++;
		CHECK(lab, lab->segs[i].seq == una - 1, "probe %d has seq %u, want SND.UNA - 1 = %u", wire,
		      lab->segs[i].seq, una - 1);
		if (lab_clean(lab))
			CHECK(lab, lab->segs[i].t == last_rx + SYNFIN_SEC(7200) + (synfin_time_t)(wire - 1) * SYNFIN_SEC(75),
			      "probe %d at %.6f s, want idle + %d x 75 s", wire, secs(lab->segs[i].t), wire - 1);
	}
	char buf[64];
	long r = lab_recv_str(lab, CLIENT, c, buf, sizeof buf);
	lab_note(lab, "after %.3f s of silence (7200 + 9 x 75 = 7875 s) the client gives up: %llu probes "
		      "sent, recv returns -%s",
		 secs(gone), (unsigned long long)probes, r < 0 ? lab_errname((int)r) : "?");
	CHECK(lab, r == -ETIMEDOUT, "recv returned %ld (%s), want ETIMEDOUT", r, r < 0 ? lab_errname((int)r) : "data");
	CHECK(lab, synfin_state(cs, c) == TCPS_CLOSED, "the client is not CLOSED");
	CHECK(lab, synfin_get_stats(cs)->keep_drops == drops0 + 1, "keep_drops did not count the drop");
	CHECK(lab, wire == (int)probes, "%d probes on the wire, %llu counted", wire, (unsigned long long)probes);
	/* nothing can answer an unplugged host, whatever the link's faults */
	CHECK(lab, probes == 9, "%llu probes, want 9", (unsigned long long)probes);
	if (lab_clean(lab)) {
		CHECK(lab, gone == SYNFIN_SEC(7875), "given up %.6f s after the last segment, want 7875 s", secs(gone));
	} else {
		/* the last segment the client took in arrived between the
		 * welcome line and the unplugging (retransmissions, duplicates) */
		CHECK(lab, lab_now(lab) >= welcomed + SYNFIN_SEC(7875) && lab_now(lab) <= unplugged + SYNFIN_SEC(7876),
		      "given up at %.6f s, want 7875 s after the last segment received (%.6f .. %.6f s)",
		      secs(lab_now(lab)), secs(welcomed), secs(unplugged));
	}
	lab_netstat(lab, CLIENT);
	lab_note(lab, "the server still lists its end ESTABLISHED: it has no keepalive and will never know");
	lab_netstat(lab, SERVER);
	synfin_close(cs, c);

	/* ---- (b) a live peer: probes answered, the connection stays ---- */
	sim_plug(lab->h[SERVER]);
	lab_note(lab, "(b) the cable is back; a new connection, idle for 3 hours, keepalive on both ends: "
		      "the client's own timers (TCP_KEEPIDLE 600, TCP_KEEPINTVL 60, TCP_KEEPCNT 5), the "
		      "server's the defaults");
	int c2, s2;
	if (!lab_pair(lab, 23, 0, &l, &c2, &s2))
		return;
	lab_set_int(lab, CLIENT, c2, SYNFIN_SOL_SOCKET, SYNFIN_SO_KEEPALIVE, 1);
	lab_set_int(lab, CLIENT, c2, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE, 600);
	lab_set_int(lab, CLIENT, c2, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPINTVL, 60);
	lab_set_int(lab, CLIENT, c2, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPCNT, 5);
	lab_set_int(lab, SERVER, s2, SYNFIN_SOL_SOCKET, SYNFIN_SO_KEEPALIVE, 1);
	idle = get_int(lab, CLIENT, c2, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE);
	intvl = get_int(lab, CLIENT, c2, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPINTVL);
	cnt = get_int(lab, CLIENT, c2, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPCNT);
	CHECK(lab, idle == 600 && intvl == 60 && cnt == 5, "the client's keepalive reads %d/%d/%d, want 600/60/5", idle,
	      intvl, cnt);
	CHECK(lab, get_int(lab, SERVER, s2, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE) == 7200,
	      "the server's socket does not have the default idle time");
	if (!lab_line(lab, CLIENT, c2, SERVER, s2, "login: guest\n") || !lab_line(lab, SERVER, s2, CLIENT, c2, "welcome\n"))
		return;
	from = lab->nsegs;
	synfin_time_t t0 = lab_now(lab);
	uint64_t cprobes0 = synfin_get_stats(cs)->keep_probes, cdrops0 = synfin_get_stats(cs)->keep_drops;
	uint64_t sprobes0 = synfin_get_stats(ss)->keep_probes, sdrops0 = synfin_get_stats(ss)->keep_drops;
	lab_run_for(lab, SYNFIN_SEC(3 * 3600));
	lab_note(lab, "%.0f s (3 hours) later:", secs(lab_now(lab) - t0));
	lab_netstat(lab, CLIENT);
	lab_netstat(lab, SERVER);
	CHECK(lab, synfin_state(cs, c2) == TCPS_ESTABLISHED, "the client's connection did not survive");
	CHECK(lab, synfin_state(ss, s2) == TCPS_ESTABLISHED, "the server's connection did not survive");
	CHECK(lab, synfin_get_stats(cs)->keep_drops == cdrops0 && synfin_get_stats(ss)->keep_drops == sdrops0,
	      "a keepalive drop happened with a live peer");
	int cw = 0, sw = 0, cans = 0, sans = 0;
	synfin_time_t prev = 0, first_probe = 0;
	/* on a clean link an answer comes back one round trip after its probe,
	 * and the idle time starts again from there */
	synfin_time_t cycle = SYNFIN_SEC(600) + 2 * lab->o->delay;
	for (int i = from; i < lab->nsegs; i++) {
		int h = is_probe(lab, i, CLIENT) ? CLIENT : is_probe(lab, i, SERVER) ? SERVER : -1;
		if (h < 0)
			continue;
		/* on a faulty link a probe or its answer is lost now and then:
		 * the next probe follows KEEPINTVL later */
		bool ans = answered(lab, i, h);
		CHECK(lab, ans || !lab_clean(lab), "the %s's probe at %.6f s went unanswered",
		      h == CLIENT ? "client" : "server", secs(lab->segs[i].t));
		if (h == CLIENT) {
			cans += ans;
			if (lab_clean(lab) && cw > 0)
				CHECK(lab, lab->segs[i].t - prev == cycle,
				      "client probes %.6f s apart, want TCP_KEEPIDLE 600 s plus a round trip",
				      secs(lab->segs[i].t - prev));
			if (cw == 0)
				first_probe = lab->segs[i].t;
			prev = lab->segs[i].t;
			cw++;
		} else {
			sans += ans;
			sw++;
		}
	}
	uint64_t cp = synfin_get_stats(cs)->keep_probes - cprobes0, sp = synfin_get_stats(ss)->keep_probes - sprobes0;
	lab_note(lab, "the client sent %llu probes (one per 600 s of silence), the server answered %d; the "
		      "server sent %llu (after 7200 s: the client's probes do not count as activity for it, "
		      "being below its window), the client answered %d. An answered probe restarts the idle "
		      "time, an unanswered one is repeated after KEEPINTVL, and only KEEPCNT unanswered in a "
		      "row drop the connection: both ends are still ESTABLISHED",
		 (unsigned long long)cp, cans, (unsigned long long)sp, sans);
	CHECK(lab, cw == (int)cp && sw == (int)sp, "probes on the wire (%d, %d) differ from the counters (%llu, %llu)", cw,
	      sw, (unsigned long long)cp, (unsigned long long)sp);
	CHECK(lab, cans >= 1 && sans >= 1, "no probe was answered: client %d, server %d", cans, sans);
	CHECK(lab, cp >= 10 && sp >= 1, "too few probes: client %llu, server %llu", (unsigned long long)cp,
	      (unsigned long long)sp);
	if (lab_clean(lab)) {
		/* the first probe 600 s after the last segment the client got,
		 * then one per cycle until the 3 hours are over; the server's
		 * one probe comes 7200 s after the client's last real segment */
		uint64_t want = 1 + (uint64_t)((t0 + SYNFIN_SEC(3 * 3600) - first_probe) / cycle);
		CHECK(lab, first_probe == t0 + SYNFIN_SEC(600),
		      "the client's first probe came at %.6f s, want 600 s after the welcome line", secs(first_probe));
		CHECK(lab, cp == want && sp == 1, "client %llu, server %llu probes, want %llu and 1", (unsigned long long)cp,
		      (unsigned long long)sp, (unsigned long long)want);
	}
	if (!lab_line(lab, CLIENT, c2, SERVER, s2, "still there?\n") || !lab_line(lab, SERVER, s2, CLIENT, c2, "yes\n"))
		return;
	lab_note(lab, "and the connection still carries data");
	synfin_close(cs, c2);
	synfin_close(ss, s2);
}

/* A segment an off-path attacker forges with the server's address as its
 * source, handed straight to the client's stack (it is not on the wire
 * the lab watches). */
static void forge(struct lab *lab, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, const char *what)
{
	struct tcp_seg seg;
	uint8_t pkt[128];
	char text[256];
	struct wire_printer pr;
	memset(&seg, 0, sizeof seg);
	seg.saddr = LAB_SERVER_IP;
	seg.daddr = LAB_CLIENT_IP;
	seg.sport = sport;
	seg.dport = dport;
	seg.seq = seq;
	seg.flags = flags;
	seg.wnd = (flags & TH_RST) ? 0 : 65535;
	size_t n = tcp_emit(pkt, sizeof pkt, &seg, (uint16_t)sim_rand(lab->sim));
	if (n == 0) {
		lab_fail(lab, __FILE__, __LINE__, "tcp_emit failed");
		return;
	}
	wire_printer_init(&pr);
	wire_print(text, sizeof text, &pr, pkt, n, lab_now(lab));
	const char *ip = strstr(text, "IP ");
	lab_note(lab, "forged, %s: %s", what, ip ? ip : text);
	synfin_input(lab_st(lab, CLIENT), pkt, n, lab_now(lab));
}

void scen_challenge_ack(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	struct synfin_stack *cs = lab_st(lab, CLIENT), *ss = lab_st(lab, SERVER);
	const struct synfin_stats *st = synfin_get_stats(cs);
	int l = -1, c, s;

	if (!lab_pair(lab, 80, 0, &l, &c, &s))
		return;
	uint16_t cport = lab_local_port(lab, CLIENT, c);
	const char *req = "GET / HTTP/1.0\n", *resp = "HTTP/1.0 200 OK\n";
	uint32_t sent_by_server = 0, sent_by_client = 0;
	if (!lab_line(lab, CLIENT, c, SERVER, s, req) || !lab_line(lab, SERVER, s, CLIENT, c, resp))
		return;
	sent_by_client += (uint32_t)strlen(req);
	sent_by_server += (uint32_t)strlen(resp);
	lab_run_for(lab, SYNFIN_SEC(5));
	int syn = lab_find(lab, CLIENT, TH_SYN, TH_ACK, 0), synack = lab_find(lab, SERVER, TH_SYN | TH_ACK, 0, 0);
	CHECK(lab, syn >= 0 && synack >= 0, "no handshake in the log");
	/* what the client has received and sent: RCV.NXT and SND.NXT */
	uint32_t rcv_nxt = lab->segs[synack].seq + 1 + sent_by_server;
	uint32_t snd_nxt = lab->segs[syn].seq + 1 + sent_by_client;
	lab_note(lab, "an established connection: the client's RCV.NXT is %u, its window about 64 KB; an "
		      "off-path attacker who knows the 4-tuple guesses sequence numbers",
		 rcv_nxt);
	lab_netstat(lab, CLIENT);

	/* 1: an RST in the window but not at RCV.NXT (RFC 5961 3.2) */
	uint64_t chack = st->challenge_acks, rstin = st->rst_in;
	int before = lab->nsegs;
	forge(lab, 80, cport, TH_RST, rcv_nxt + 1000, "RST, seq = RCV.NXT + 1000: in the window, not exact");
	CHECK(lab, st->rst_in == rstin + 1, "the client did not take in the forged RST");
	CHECK(lab, st->challenge_acks == chack + 1, "challenge_acks %llu -> %llu, want +1",
	      (unsigned long long)chack, (unsigned long long)st->challenge_acks);
	int ca = lab_find(lab, CLIENT, TH_ACK, TH_RST | TH_SYN | TH_FIN, before);
	CHECK(lab, ca >= 0, "no challenge ACK from the client on the wire");
	CHECK(lab, lab->segs[ca].seq == snd_nxt && lab->segs[ca].ack == rcv_nxt && lab->segs[ca].len == 0,
	      "the challenge ACK is seq %u ack %u, want <SEQ=SND.NXT %u><ACK=RCV.NXT %u>", lab->segs[ca].seq,
	      lab->segs[ca].ack, snd_nxt, rcv_nxt);
	CHECK(lab, synfin_state(cs, c) == TCPS_ESTABLISHED, "the forged RST tore the connection down");
	lab_note(lab, "RFC 5961 3.2: the client does not reset; it sends a challenge ACK "
		      "<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. The real server, had it sent an RST, would now "
		      "send one at exactly RCV.NXT; this one just sees a duplicate ACK");

	/* 2: an RST outside the window: dropped without a word */
	chack = st->challenge_acks;
	before = lab->nsegs;
	forge(lab, 80, cport, TH_RST, rcv_nxt + 0x40000000u, "RST, seq = RCV.NXT + 2^30: outside the window");
	CHECK(lab, st->challenge_acks == chack && lab->nsegs == before, "an RST outside the window drew a reply");
	CHECK(lab, synfin_state(cs, c) == TCPS_ESTABLISHED, "an RST outside the window tore the connection down");
	lab_note(lab, "RFC 5961 3.2: an RST outside the window is dropped silently");

	/* 3: a SYN in the window (RFC 5961 4.2) */
	chack = st->challenge_acks;
	before = lab->nsegs;
	forge(lab, 80, cport, TH_SYN, rcv_nxt + 5000, "SYN, seq = RCV.NXT + 5000, in the window");
	CHECK(lab, st->challenge_acks == chack + 1, "the SYN drew no challenge ACK (challenge_acks %llu -> %llu)",
	      (unsigned long long)chack, (unsigned long long)st->challenge_acks);
	ca = lab_find(lab, CLIENT, TH_ACK, TH_RST | TH_SYN | TH_FIN, before);
	CHECK(lab, ca >= 0, "no challenge ACK for the SYN on the wire");
	CHECK(lab, lab->segs[ca].seq == snd_nxt && lab->segs[ca].ack == rcv_nxt,
	      "the challenge ACK is seq %u ack %u, want %u %u", lab->segs[ca].seq, lab->segs[ca].ack, snd_nxt, rcv_nxt);
	CHECK(lab, lab_count(lab, CLIENT, TH_RST, 0, before) == 0, "the client sent an RST for the SYN");
	CHECK(lab, synfin_state(cs, c) == TCPS_ESTABLISHED, "the forged SYN tore the connection down");
	lab_note(lab, "RFC 5961 4.2: a SYN in a synchronized state, whatever its number, draws a challenge "
		      "ACK (RFC 793 would have reset the connection); the forged segments carry no timestamps, "
		      "which an off-path attacker cannot know, and this stack, like Linux, does not drop them "
		      "for that");

	lab_run_for(lab, SYNFIN_SEC(2));
	CHECK(lab, synfin_state(cs, c) == TCPS_ESTABLISHED && synfin_state(ss, s) == TCPS_ESTABLISHED,
	      "not ESTABLISHED on both sides after the attack");
	lab_netstat(lab, CLIENT);
	lab_netstat(lab, SERVER);
	const char *q = "still there?\n", *a = "yes\n";
	if (!lab_line(lab, CLIENT, c, SERVER, s, q) || !lab_line(lab, SERVER, s, CLIENT, c, a))
		return;
	sent_by_client += (uint32_t)strlen(q);
	sent_by_server += (uint32_t)strlen(a);
	lab_note(lab, "the connection still carries data both ways");
	lab_run_for(lab, SYNFIN_SEC(2));

	/* 4: an RST exactly at RCV.NXT is believed */
	rcv_nxt = lab->segs[synack].seq + 1 + sent_by_server;
	chack = st->challenge_acks;
	rstin = st->rst_in;
	forge(lab, 80, cport, TH_RST, rcv_nxt, "RST, seq = RCV.NXT exactly");
	CHECK(lab, st->rst_in == rstin + 1 && st->challenge_acks == chack, "the exact RST was not taken as such");
	CHECK(lab, synfin_state(cs, c) == TCPS_CLOSED, "an RST at exactly RCV.NXT did not reset the connection");
	char buf[64];
	long r = lab_recv_str(lab, CLIENT, c, buf, sizeof buf);
	CHECK(lab, r == -ECONNRESET, "recv after the exact RST returned %ld (%s), want ECONNRESET", r,
	      r < 0 ? lab_errname((int)r) : "data");
	lab_note(lab, "an RST at exactly RCV.NXT resets the connection (recv: -%s): a blind attacker must "
		      "now hit that one number, a chance of 1 in 2^32 per try, where before RFC 5961 any "
		      "of the ~64K numbers in the window would do",
		 lab_errname((int)r));
	lab_netstat(lab, CLIENT);

	lab_note(lab, "the server has not heard of it; its next segment meets the client's RST");
	CHECK(lab, lab_send_str(lab, SERVER, s, "anyone?\n"), "server send failed");
	unsigned ev = lab_wait_events(lab, SERVER, s, SYNFIN_EV_ERR, LIMIT);
	CHECK(lab, ev & SYNFIN_EV_ERR, "the server never learned of the reset");
	r = lab_recv_str(lab, SERVER, s, buf, sizeof buf);
	CHECK(lab, r == -ECONNRESET, "the server's recv returned %ld, want ECONNRESET", r);
	lab_netstat(lab, SERVER);
	synfin_close(cs, c);
	synfin_close(ss, s);
}
