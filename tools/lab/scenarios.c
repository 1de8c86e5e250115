/* The scenario list, in the order `synfin-lab run all` runs them. */
#include "scenarios.h"

const struct scenario lab_scenarios[] = {
	{"handshake", "three-way handshake: SYN, SYN,ACK, ACK; both sides ESTABLISHED", scen_handshake},
	{"close", "active close by the client: FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT for 2MSL, then CLOSED; the server CLOSE_WAIT, LAST_ACK", scen_close},
	{"close-combined", "the server closes at once, so its ACK and FIN travel in one segment: three segments in all", scen_close_combined},
	{"close-by-server", "the server closes first and is the side left in TIME_WAIT", scen_close_by_server},
	{"half-close", "the client shuts down its sending side and still receives data until the server closes", scen_half_close},
	{"simultaneous-open", "both ends connect to each other at once: SYN_SENT -> SYN_RCVD -> ESTABLISHED on both, four segments", scen_simultaneous_open},
	{"simultaneous-close", "both ends close at once: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both", scen_simultaneous_close},
	{"time-wait-bind", "a restarted server cannot bind its port during 2MSL; with SO_REUSEADDR it can; after 2MSL it can without", scen_time_wait_bind},
	{"time-wait-connect", "SO_REUSEADDR lets the bind succeed, but connecting to the same peer 4-tuple fails during 2MSL", scen_time_wait_connect},
	{"time-wait-reopen", "a new SYN with a higher sequence number reopens a 4-tuple in TIME_WAIT (Berkeley behaviour)", scen_time_wait_reopen},
	{"time-wait-lost-ack", "the last ACK is lost: the peer retransmits its FIN, it is ACKed again and 2MSL restarts", scen_time_wait_lost_ack},
	{"refused", "SYN to a port with no listener: RST with SEQ 0 and ACK ISN+1, connect fails with ECONNREFUSED", scen_refused},
	{"linger-abort", "SO_LINGER {1,0}: close sends RST, the peer's recv fails with ECONNRESET, no TIME_WAIT", scen_linger_abort},
	{"linger-wait", "SO_LINGER {1,N}: close waits until the data and FIN are acknowledged, or N seconds", scen_linger_wait},
	{"unread-close", "closing a socket with unread received data sends RST instead of FIN", scen_unread_close},
	{"half-open", "the server host reboots; the client's next data segment draws an RST and the client sees ECONNRESET", scen_half_open},
	{"syn-timeout", "nobody answers: the SYN backoff schedule, then ETIMEDOUT", scen_syn_timeout},
	{"syn-rcvd-reset", "an RST in SYN_RCVD returns a passive connection to LISTEN; the listener accepts the next SYN", scen_syn_rcvd_reset},
	{"fin-wait-2-timeout", "a closed socket stuck in FIN_WAIT_2 goes to CLOSED after the FIN_WAIT_2 timer", scen_fin_wait_2_timeout},
	{"close-wait-forever", "an application that never closes leaves its peer in FIN_WAIT_2 and itself in CLOSE_WAIT (half-close: no timer)", scen_close_wait_forever},
	{"keepalive", "a vanished peer is found by keepalive probes (ETIMEDOUT); a live idle peer keeps the connection", scen_keepalive},
	{"quiet-time", "after a reboot with quiet time on, no SYN leaves and none is answered for MSL", scen_quiet_time},
	{"ctrl-c", "a process that exits still closes its connections with FIN", scen_ctrl_c},
	{"backlog-full", "a full accept queue drops new SYNs; clients get in once the application accepts", scen_backlog_full},
	{"challenge-ack", "a blind in-window RST or SYN draws a challenge ACK and does not tear the connection down", scen_challenge_ack},
};
const int lab_nscenarios = (int)(sizeof lab_scenarios / sizeof lab_scenarios[0]);
