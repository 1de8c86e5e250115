/*
 * The single-connection harness (see tcp_harness.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "tcp_harness.h"

#define SENDBUF_CAP (70u * 1024u)

const char *h_last_cause = "";
static struct harness *leftover;
static bool atexit_done;

void h_config(struct synfin_config *cfg)
{
	synfin_config_default(cfg);
	cfg->mtu = 1500;
	cfg->msl = SEC(30);
	cfg->rto_initial = SEC(1);
	cfg->rto_min = SEC(1);
	cfg->rto_max = SEC(120);
	cfg->delack = MS(40);
	cfg->rcvbuf = 65535;
	cfg->sndbuf = 65536;
	cfg->quiet_time = false;
	cfg->rfc1337 = false;
}

static void out_cb(void *ctx, const uint8_t *pkt, size_t len)
{
	struct harness *h = ctx;
	if (h->nout == H_QCAP) {
		h->overflow = true;
		return;
	}
	struct h_pkt *p = &h->out[(h->out_head + h->nout) % H_QCAP];
	p->buf = malloc(len);
	if (!p->buf) {
		h->overflow = true;
		return;
	}
	memcpy(p->buf, pkt, len);
	p->len = len;
	p->t = synfin_now(h->st);
	h->nout++;
}

static void state_cb(void *ctx, const struct synfin_state_event *ev)
{
	struct harness *h = ctx;
	if (h->nev == H_EVCAP) {
		h->overflow = true;
		return;
	}
	struct h_event *e = &h->ev[(h->ev_head + h->nev) % H_EVCAP];
	e->fd = ev->fd;
	e->lport = ev->local.port;
	e->fport = ev->remote.port;
	e->old_state = ev->old_state;
	e->new_state = ev->new_state;
	snprintf(e->cause, sizeof e->cause, "%s", ev->cause ? ev->cause : "");
	e->now = ev->now;
	h->nev++;
}

static void free_all(struct harness *h)
{
	if (h->st)
		synfin_stack_destroy(h->st);
	for (unsigned i = 0; i < h->nout; i++)
		free(h->out[(h->out_head + i) % H_QCAP].buf);
	free(h->last.buf);
	free(h->sendbuf);
	free(h);
}

static void free_leftover(void)
{
	if (leftover)
		free_all(leftover);
	leftover = NULL;
}

struct harness *h_new(const struct synfin_config *cfg)
{
	struct synfin_config def;
	struct synfin_ops ops;

	free_leftover();
	if (!atexit_done) {
		atexit(free_leftover);
		atexit_done = true;
	}
	if (!cfg) {
		h_config(&def);
		cfg = &def;
	}
	struct harness *h = calloc(1, sizeof *h);
	ASSERT(h);
	leftover = h;
	h->sendbuf = malloc(SENDBUF_CAP);
	ASSERT(h->sendbuf);
	memset(&ops, 0, sizeof ops);
	ops.ctx = h;
	ops.output = out_cb;
	ops.state_change = state_cb;
	h->now = T0;
	h->st = synfin_stack_create(cfg, &ops, LOCAL_IP, 42, T0);
	ASSERT(h->st);
	h->st->test_iss = ISS;
	h->lfd = h->fd = -1;
	h->peer_tsval = 1000;
	return h;
}

void h_free(struct harness *h)
{
	if (h == leftover)
		leftover = NULL;
	free_all(h);
}

uint8_t h_byte(uint32_t seq)
{
	return (uint8_t)((seq * 2654435761u) >> 24);
}

void h_pattern(uint32_t seq, uint8_t *buf, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		buf[i] = h_byte(seq + i);
}

void h_send(struct harness *h, const char *file, int line, synfin_time_t t,
	    const struct seg_spec *sp)
{
	struct tcp_seg s;
	static uint8_t payload[65536];

	if (t < h->now)
		test_fail(file, line, "SEND at %llu before the harness clock %llu",
			  (unsigned long long)t, (unsigned long long)h->now);
	memset(&s, 0, sizeof s);
	s.saddr = REMOTE_IP;
	s.daddr = LOCAL_IP;
	s.sport = sp->sport ? sp->sport : h->rport;
	s.dport = sp->dport ? sp->dport : h->lport;
	s.seq = sp->seq;
	s.ack = sp->ack;
	s.flags = sp->flags;
	s.wnd = sp->wnd == WND_ZERO ? 0 : sp->wnd ? (uint16_t)sp->wnd : (uint16_t)PEER_WND;
	if (sp->mss) {
		s.opt.has |= TOF_MSS;
		s.opt.mss = sp->mss;
	}
	if (sp->ws) {
		s.opt.has |= TOF_WSCALE;
		s.opt.wscale = sp->wscale;
	}
	if (sp->ts || (h->ts && !sp->no_ts)) {
		s.opt.has |= TOF_TS;
		s.opt.tsval = sp->tsval ? sp->tsval : h->peer_tsval;
		s.opt.tsecr = sp->tsecr ? sp->tsecr : h->peer_tsecr;
	}
	if (sp->data) {
		s.len = sp->len ? sp->len : (uint32_t)strlen(sp->data);
		s.data = (const uint8_t *)sp->data;
	} else if (sp->len) {
		if (sp->len > sizeof payload)
			test_fail(file, line, "SEND: %u bytes is too much", sp->len);
		h_pattern(sp->seq + ((sp->flags & TH_SYN) ? 1u : 0u), payload, sp->len);
		s.len = sp->len;
		s.data = payload;
	}
	size_t n = tcp_emit(h->sendbuf, SENDBUF_CAP, &s, 1);
	if (n == 0)
		test_fail(file, line, "SEND: tcp_emit failed");
	h->now = t;
	synfin_input(h->st, h->sendbuf, n, t);
}

static const char *flags_str(uint8_t f, char *buf)
{
	size_t n = 0;
	static const struct {
		uint8_t bit;
		const char *name;
	} names[] = {{TH_SYN, "SYN"}, {TH_FIN, "FIN"}, {TH_RST, "RST"}, {TH_PSH, "PSH"}, {TH_ACK, "ACK"}};
	buf[0] = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!(f & names[i].bit))
			continue;
		n += (size_t)sprintf(buf + n, "%s%s", n ? "," : "", names[i].name);
	}
	if (!n)
		strcpy(buf, "none");
	return buf;
}

static void describe(const struct h_pkt *p, char *buf, size_t cap)
{
	struct wire_printer pr;
	wire_printer_init(&pr);
	wire_print(buf, cap, &pr, p->buf, p->len, p->t);
}

void h_pop(struct harness *h, const char *file, int line, struct tcp_seg *seg)
{
	struct ip4_view ip;
	if (h->overflow)
		test_fail(file, line, "the harness's queues overflowed");
	if (h->nout == 0)
		test_fail(file, line, "expected a segment, none was sent");
	free(h->last.buf);
	h->last = h->out[h->out_head];
	h->out[h->out_head].buf = NULL;
	h->out_head = (h->out_head + 1) % H_QCAP;
	h->nout--;
	enum wire_err e = ip4_parse(h->last.buf, h->last.len, &ip);
	if (e != WIRE_OK)
		test_fail(file, line, "sent datagram does not parse: %s", wire_err_str(e));
	if (ip.src != LOCAL_IP || ip.dst != REMOTE_IP || ip.proto != IPPROTO_TCP_)
		test_fail(file, line, "sent datagram %08x > %08x proto %u", ip.src, ip.dst, ip.proto);
	e = tcp_parse(&ip, seg);
	if (e != WIRE_OK)
		test_fail(file, line, "sent segment does not parse: %s", wire_err_str(e));
}

void h_expect(struct harness *h, const char *file, int line, uint8_t flags, uint32_t seq,
	      uint32_t ack, uint32_t len, int64_t wnd, struct tcp_seg *out)
{
	struct tcp_seg s;
	char want[64], gotf[64], desc[512];
	if (h->nout == 0 && !h->overflow)
		test_fail(file, line, "expected %s seq %" PRIu32 " ack %" PRIu32 " len %" PRIu32
			  ", nothing was sent", flags_str(flags, want), seq, ack, len);
	h_pop(h, file, line, &s);
	describe(&h->last, desc, sizeof desc);
	bool ok = (uint8_t)(s.flags & ~TH_PSH) == (uint8_t)(flags & ~TH_PSH) && s.seq == seq &&
		  (!(flags & TH_ACK) || s.ack == ack) && s.len == len;
	if (!ok)
		test_fail(file, line, "expected %s seq %" PRIu32 " ack %" PRIu32 " len %" PRIu32
			  "\n     got      %s seq %" PRIu32 " ack %" PRIu32 " len %" PRIu32 "\n     (%s)",
			  flags_str(flags, want), seq, ack, len, flags_str(s.flags, gotf), s.seq, s.ack,
			  s.len, desc);
	if (s.sport != h->lport || s.dport != h->rport)
		test_fail(file, line, "segment on ports %u > %u, expected %u > %u (%s)", s.sport, s.dport,
			  h->lport, h->rport, desc);
	if (wnd >= 0 && s.wnd != wnd)
		test_fail(file, line, "window %u, expected %lld (%s)", s.wnd, (long long)wnd, desc);
	if (out)
		*out = s;
}

void h_expect_none(struct harness *h, const char *file, int line)
{
	char desc[512];
	if (h->overflow)
		test_fail(file, line, "the harness's queues overflowed");
	if (h->nout) {
		describe(&h->out[h->out_head], desc, sizeof desc);
		test_fail(file, line, "expected nothing, %u segment(s) sent, first: %s", h->nout, desc);
	}
}

void h_discard(struct harness *h)
{
	while (h->nout) {
		free(h->out[h->out_head].buf);
		h->out[h->out_head].buf = NULL;
		h->out_head = (h->out_head + 1) % H_QCAP;
		h->nout--;
	}
}

unsigned h_pending(const struct harness *h)
{
	return h->nout;
}

void h_expect_event(struct harness *h, const char *file, int line, int old_state, int new_state)
{
	if (h->nev == 0)
		test_fail(file, line, "expected state change %s -> %s, none", synfin_state_name(old_state),
			  synfin_state_name(new_state));
	struct h_event *e = &h->ev[h->ev_head];
	h->ev_head = (h->ev_head + 1) % H_EVCAP;
	h->nev--;
	h_last_cause = e->cause;
	if (e->old_state != old_state || e->new_state != new_state)
		test_fail(file, line, "expected state change %s -> %s, got %s -> %s (%s)",
			  synfin_state_name(old_state), synfin_state_name(new_state),
			  synfin_state_name(e->old_state), synfin_state_name(e->new_state), e->cause);
}

bool h_take_event(struct harness *h, int old_state, int new_state)
{
	for (unsigned i = 0; i < h->nev; i++) {
		struct h_event *e = &h->ev[(h->ev_head + i) % H_EVCAP];
		if (e->old_state != old_state || e->new_state != new_state)
			continue;
		for (unsigned j = i; j + 1 < h->nev; j++)
			h->ev[(h->ev_head + j) % H_EVCAP] = h->ev[(h->ev_head + j + 1) % H_EVCAP];
		h->nev--;
		return true;
	}
	return false;
}

void h_expect_no_event(struct harness *h, const char *file, int line)
{
	if (h->nev) {
		struct h_event *e = &h->ev[h->ev_head];
		test_fail(file, line, "expected no state change, got %s -> %s (%s)",
			  synfin_state_name(e->old_state), synfin_state_name(e->new_state), e->cause);
	}
}

void h_poll(struct harness *h, synfin_time_t t)
{
	if (t > h->now)
		h->now = t;
	synfin_poll(h->st, t);
}

struct tcb *h_tcb(struct harness *h)
{
	return tcp_lookup(h->st, LOCAL_IP, h->lport, REMOTE_IP, h->rport);
}

struct tw *h_tw(struct harness *h)
{
	return tw_lookup(h->st, LOCAL_IP, h->lport, REMOTE_IP, h->rport);
}

int h_state(struct harness *h)
{
	if (h->fd >= 0)
		return synfin_state(h->st, h->fd);
	struct tcb *tp = h_tcb(h);
	if (tp)
		return tp->state;
	if (h_tw(h))
		return TCPS_TIME_WAIT;
	return TCPS_CLOSED;
}

void h_app_send(struct harness *h, const char *file, int line, int fd, uint32_t seq, uint32_t n)
{
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		test_fail(file, line, "malloc");
	h_pattern(seq, buf, n);
	long r = synfin_send(h->st, fd, buf, n);
	free(buf);
	if (r != (long)n)
		test_fail(file, line, "send(%u) returned %ld", n, r);
}

void h_app_recv(struct harness *h, const char *file, int line, int fd, uint32_t seq, uint32_t n,
		bool partial)
{
	uint8_t *buf = malloc(n + 1);
	if (!buf)
		test_fail(file, line, "malloc");
	long r = synfin_recv(h->st, fd, buf, partial ? n : n + 1);
	if (r != (long)n) {
		free(buf);
		test_fail(file, line, "recv returned %ld, expected %u bytes", r, n);
	}
	for (uint32_t i = 0; i < n; i++) {
		if (buf[i] != h_byte(seq + i)) {
			uint8_t b = buf[i];
			free(buf);
			test_fail(file, line, "received byte %u (seq %" PRIu32 ") is %u, expected %u", i,
				  seq + i, b, h_byte(seq + i));
		}
	}
	free(buf);
}

void h_check_payload(const char *file, int line, const struct tcp_seg *seg)
{
	for (uint32_t i = 0; i < seg->len; i++)
		if (seg->data[i] != h_byte(seg->seq + i))
			test_fail(file, line, "payload byte %u (seq %" PRIu32 ") is %u, expected %u", i,
				  seg->seq + i, seg->data[i], h_byte(seg->seq + i));
}

/* ---- fixtures ---- */
void h_listen(struct harness *h, int backlog)
{
	struct synfin_addr a = {LOCAL_IP, SRV_PORT};
	h->lfd = synfin_socket(h->st);
	ASSERT(h->lfd >= 0);
	ASSERT_EQ(synfin_bind(h->st, h->lfd, &a), 0);
	ASSERT_EQ(synfin_listen(h->st, h->lfd, backlog), 0);
	EXPECT_EV(h, TCPS_CLOSED, TCPS_LISTEN);
	ASSERT_EQ(synfin_state(h->st, h->lfd), TCPS_LISTEN);
	EXPECT_NONE(h);
	h->lport = SRV_PORT;
	h->rport = PEER_PORT;
}

void h_syn_rcvd(struct harness *h)
{
	struct tcp_seg s;
	h_listen(h, 16);
	SEND(h, h->now, .flags = TH_SYN, .seq = IRS, .mss = MSS);
	/* <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> (RFC 9293 3.10.7.2) */
	EXPECT_SEG_OUT(h, TH_SYN | TH_ACK, ISS, IRS + 1, 0, &s);
	ASSERT(s.opt.has & TOF_MSS);
	ASSERT_EQ(s.opt.mss, MSS);
	EXPECT_EV(h, TCPS_LISTEN, TCPS_SYN_RCVD);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_SYN_RCVD);
}

void h_syn_sent(struct harness *h)
{
	struct synfin_addr me = {LOCAL_IP, CLI_PORT}, peer = {REMOTE_IP, PEER_SRV_PORT};
	struct tcp_seg s;
	h->fd = synfin_socket(h->st);
	ASSERT(h->fd >= 0);
	ASSERT_EQ(synfin_bind(h->st, h->fd, &me), 0);
	h->lport = CLI_PORT;
	h->rport = PEER_SRV_PORT;
	ASSERT_EQ(synfin_connect(h->st, h->fd, &peer), -EINPROGRESS);
	/* <SEQ=ISS><CTL=SYN> with our MSS (RFC 9293 3.10.1) */
	EXPECT_SEG_OUT(h, TH_SYN, ISS, 0, 0, &s);
	ASSERT(s.opt.has & TOF_MSS);
	ASSERT_EQ(s.opt.mss, MSS);
	EXPECT_EV(h, TCPS_CLOSED, TCPS_SYN_SENT);
	EXPECT_NONE(h);
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_SYN_SENT);
}

void h_established(struct harness *h, int how)
{
	if (how == PASSIVE) {
		h_syn_rcvd(h);
		SEND(h, h->now, .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
		EXPECT_EV(h, TCPS_SYN_RCVD, TCPS_ESTABLISHED);
		EXPECT_NONE(h);
		struct synfin_addr peer;
		h->fd = synfin_accept(h->st, h->lfd, &peer);
		ASSERT(h->fd >= 0);
		ASSERT_EQ(peer.ip, REMOTE_IP);
		ASSERT_EQ(peer.port, PEER_PORT);
	} else {
		h_syn_sent(h);
		SEND(h, h->now, .flags = TH_SYN | TH_ACK, .seq = IRS, .ack = ISS + 1, .mss = MSS);
		/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
		EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 1, 0);
		EXPECT_EV(h, TCPS_SYN_SENT, TCPS_ESTABLISHED);
		EXPECT_NONE(h);
	}
	ASSERT_EQ(synfin_state(h->st, h->fd), TCPS_ESTABLISHED);
}

void h_fin_wait_1(struct harness *h, int how, bool use_shutdown)
{
	h_established(h, how);
	if (use_shutdown) {
		ASSERT_EQ(synfin_shutdown(h->st, h->fd, SYNFIN_SHUT_WR), 0);
	} else {
		ASSERT_EQ(synfin_close(h->st, h->fd), 0);
		h->fd = -1;
	}
	/* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK> */
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 1, 0);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_FIN_WAIT_1);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_FIN_WAIT_1);
}

void h_fin_wait_2(struct harness *h, int how, bool use_shutdown)
{
	h_fin_wait_1(h, how, use_shutdown);
	SEND(h, h->now, .flags = TH_ACK, .seq = IRS + 1, .ack = ISS + 2);
	EXPECT_EV(h, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_FIN_WAIT_2);
}

void h_closing(struct harness *h, int how)
{
	h_fin_wait_1(h, how, false);
	SEND(h, h->now, .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 2, 0);
	EXPECT_EV(h, TCPS_FIN_WAIT_1, TCPS_CLOSING);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_CLOSING);
}

void h_time_wait(struct harness *h, int how)
{
	h_fin_wait_2(h, how, false);
	SEND(h, h->now, .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 2);
	EXPECT_SEG(h, TH_ACK, ISS + 2, IRS + 2, 0);
	EXPECT_EV(h, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_TIME_WAIT);
}

void h_close_wait(struct harness *h, int how)
{
	h_established(h, how);
	synfin_time_t t = h->now;
	SEND(h, t, .flags = TH_FIN | TH_ACK, .seq = IRS + 1, .ack = ISS + 1);
	EXPECT_EV(h, TCPS_ESTABLISHED, TCPS_CLOSE_WAIT);
	EXPECT_NONE(h);
	const struct synfin_config *cfg = synfin_stack_config(h->st);
	STEP_TO(h, t + cfg->delack);
	EXPECT_SEG(h, TH_ACK, ISS + 1, IRS + 2, 0);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_CLOSE_WAIT);
}

void h_last_ack(struct harness *h, int how)
{
	h_close_wait(h, how);
	ASSERT_EQ(synfin_close(h->st, h->fd), 0);
	h->fd = -1;
	EXPECT_SEG(h, TH_FIN | TH_ACK, ISS + 1, IRS + 2, 0);
	EXPECT_EV(h, TCPS_CLOSE_WAIT, TCPS_LAST_ACK);
	EXPECT_NONE(h);
	ASSERT_EQ(h_state(h), TCPS_LAST_ACK);
}
