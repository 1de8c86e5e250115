/* TEMPORARY: scenarios not yet written */
#include "scenarios.h"
__attribute__((weak)) void scen_simultaneous_open(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_syn_timeout(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_syn_rcvd_reset(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_backlog_full(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_quiet_time(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_close_by_server(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_half_close(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_simultaneous_close(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_fin_wait_2_timeout(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_close_wait_forever(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_ctrl_c(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_linger_abort(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_linger_wait(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_unread_close(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_time_wait_bind(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_time_wait_connect(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_time_wait_reopen(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_time_wait_lost_ack(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_half_open(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_keepalive(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
__attribute__((weak)) void scen_challenge_ack(struct lab *lab)
{
	lab_setup(lab, 2, NULL);
	CHECK(lab, 0, "not written yet");
}
