/* Closing a connection: the four-way close, its variants, SO_LINGER. */
#include <errno.h>
#include <string.h>

#include "scenarios.h"
#include "wire/wire.h"

#define LIMIT SYNFIN_SEC(600)

/* A connected pair on port 80; returns false (scenario failed) if not. */
static bool pair(struct lab *lab, const struct synfin_config *cfg, int *l, int *c, int *s)
{
	lab_setup(lab, 2, cfg);
	*l = lab_listen(lab, SERVER, 80, 5, false);
	if (*l < 0)
		return false;
	*c = lab_connect(lab, CLIENT, 0, LAB_SERVER_IP, 80);
	if (*c < 0)
		return false;
	if (!lab_wait_state(lab, CLIENT, *c, TCPS_ESTABLISHED, LIMIT)) {
		lab_fail(lab, __FILE__, __LINE__, "client never ESTABLISHED");
		return false;
	}
	*s = lab_accept(lab, SERVER, *l, LIMIT);
	if (*s < 0)
		return false;
	if (!lab_wait_state(lab, SERVER, *s, TCPS_ESTABLISHED, LIMIT)) {
		lab_fail(lab, __FILE__, __LINE__, "server side never ESTABLISHED");
		return false;
	}
	return true;
}

static uint16_t local_port(struct lab *lab, int host, int fd)
{
	struct synfin_addr a = {0, 0};
	synfin_getsockname(lab_st(lab, host), fd, &a);
	return a.port;
}

void scen_close(struct lab *lab)
{
	int l, c, s;
	if (!pair(lab, NULL, &l, &c, &s))
		return;
	struct synfin_stack *cs = lab_st(lab, CLIENT), *ss = lab_st(lab, SERVER);
	uint16_t cport = local_port(lab, CLIENT, c);
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
	uint16_t cport = local_port(lab, CLIENT, c);
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
