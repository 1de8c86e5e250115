/* The scenario functions, one file per theme. */
#ifndef SYNFIN_SCENARIOS_H
#define SYNFIN_SCENARIOS_H
#include "lab.h"

/* scen_open.c */
void scen_handshake(struct lab *lab);
void scen_simultaneous_open(struct lab *lab);
void scen_refused(struct lab *lab);
void scen_syn_timeout(struct lab *lab);
void scen_syn_rcvd_reset(struct lab *lab);
void scen_backlog_full(struct lab *lab);
void scen_quiet_time(struct lab *lab);
/* scen_close.c */
void scen_close(struct lab *lab);
void scen_close_combined(struct lab *lab);
void scen_close_by_server(struct lab *lab);
void scen_half_close(struct lab *lab);
void scen_simultaneous_close(struct lab *lab);
void scen_fin_wait_2_timeout(struct lab *lab);
void scen_close_wait_forever(struct lab *lab);
void scen_ctrl_c(struct lab *lab);
void scen_linger_abort(struct lab *lab);
void scen_linger_wait(struct lab *lab);
void scen_unread_close(struct lab *lab);
/* scen_timewait.c */
void scen_time_wait_bind(struct lab *lab);
void scen_time_wait_connect(struct lab *lab);
void scen_time_wait_reopen(struct lab *lab);
void scen_time_wait_lost_ack(struct lab *lab);
/* scen_fail.c */
void scen_half_open(struct lab *lab);
void scen_keepalive(struct lab *lab);
void scen_challenge_ack(struct lab *lab);

#endif
