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
