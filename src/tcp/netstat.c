/*
 * The netstat -tan table of one stack, with each connection's pending
 * timer, as the seeds read it: listeners, connections, TIME_WAIT records.
 * Formatting only; the caller prints.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp_priv.h"

struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->len < o->cap ? o->cap - o->len : 0;
	int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void endpoint(char *buf, size_t cap, uint32_t ip, uint16_t port)
{
	char a[16];
	if (ip == 0 && port == 0)
		snprintf(buf, cap, "*.*");
	else if (port == 0)
		snprintf(buf, cap, "%s.*", synfin_ip_str(ip, a));
	else
		snprintf(buf, cap, "%s.%u", synfin_ip_str(ip, a), (unsigned)port);
}

static void timer_text(char *buf, size_t cap, const char *name, synfin_time_t when, synfin_time_t now)
{
	synfin_time_t left = when > now ? when - now : 0;
	snprintf(buf, cap, "%s %llu.%01llus", name, (unsigned long long)(left / SYNFIN_US_PER_S),
		 (unsigned long long)(left % SYNFIN_US_PER_S / 100000));
}

/* Which timer a connection waits on, named as netstat -o names them. */
static void tcb_timer(const struct synfin_stack *st, const struct tcb *tp, char *buf, size_t cap)
{
	synfin_time_t t = tp->t_rexmt;
	const char *name = (tp->t_flags & TF_PERSIST) ? "probe" : "on";
	if (tp->t_keep < t) {
		t = tp->t_keep;
		name = (tp->t_flags & TF_LINGERING)                                 ? "linger"
		       : tp->state == TCPS_FIN_WAIT_2                               ? "fin_wait_2"
		       : (tp->state == TCPS_SYN_SENT || tp->state == TCPS_SYN_RCVD) ? "conn-est"
										    : "keepalive";
	}
	if (tp->t_delack < t) {
		t = tp->t_delack;
		name = "delack";
	}
	if (t == SYNFIN_TIME_NEVER)
		snprintf(buf, cap, "off");
	else
		timer_text(buf, cap, name, t, st->now);
}

static void row(struct out *o, uint32_t rq, uint32_t sq, const char *l, const char *f, int state,
		const char *timer)
{
	put(o, "tcp   %6u %6u %-22s %-22s %-11s %s\n", rq, sq, l, f, synfin_state_name(state), timer);
}

static void tcb_row(const struct synfin_stack *st, struct out *o, const struct tcb *tp)
{
	char l[32], f[32], t[48];
	endpoint(l, sizeof l, tp->laddr, tp->lport);
	endpoint(f, sizeof f, tp->faddr, tp->fport);
	tcb_timer(st, tp, t, sizeof t);
	uint32_t rq = tp->state == TCPS_LISTEN ? tp->u.lq->qlen : (tp->u.b.rcv ? tp->u.b.rcv->len : 0);
	row(o, rq, tcp_snd_pending(tp), l, f, tp->state, t);
}

size_t synfin_netstat(const struct synfin_stack *st, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0};
	if (cap)
		buf[0] = 0;
	put(&o, "Proto Recv-Q Send-Q %-22s %-22s %-11s %s\n", "Local Address", "Foreign Address",
	    "State", "Timer");
	for (const struct tcb *tp = st->listeners; tp; tp = tp->hnext)
		tcb_row(st, &o, tp);
	for (uint32_t i = 0; i <= st->conn_mask; i++)
		for (const struct tcb *tp = st->conn_hash[i]; tp; tp = tp->hnext)
			tcb_row(st, &o, tp);
	for (uint32_t i = 0; i <= st->tw_mask; i++) {
		for (const struct tw *tw = tw_chain_next(st, i, NULL); tw; tw = tw_chain_next(st, i, tw)) {
			char l[32], f[32], t[48];
			endpoint(l, sizeof l, st->ip, tw->lport);
			endpoint(f, sizeof f, tw->faddr, tw->fport);
			timer_text(t, sizeof t, "timewait", tw->expire, st->now);
			row(&o, 0, 0, l, f, TCPS_TIME_WAIT, t);
		}
	}
	return o.len;
}
