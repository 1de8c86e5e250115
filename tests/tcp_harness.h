/*
 * A harness for driving one connection of a real stack segment by segment
 * with an explicit clock, in the style of smoltcp's socket tests: fixtures
 * reach each state through the public API and real segments, SEND() feeds
 * one segment from the peer at a given time, EXPECT_SEG() pops exactly the
 * next segment the stack sent and checks it, EXPECT_NONE() says nothing more
 * went out. Sequence numbers start just below 2^32 on both sides so that
 * every test with a few bytes of data crosses the wrap.
 *
 * The peer is 198.18.0.2; we are 198.18.0.1 (RFC 2544 benchmarking space).
 */
#ifndef SYNFIN_TESTS_TCP_HARNESS_H
#define SYNFIN_TESTS_TCP_HARNESS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "synfin/synfin.h"
#include "tcp/tcp_priv.h"
#include "test.h"
#include "wire/wire.h"

#define LOCAL_IP 0xc6120001u  /* 198.18.0.1: the stack under test */
#define REMOTE_IP 0xc6120002u /* 198.18.0.2: the peer the tests play */
#define SRV_PORT 80           /* our listener (passive opens) */
#define CLI_PORT 40000        /* our port on active opens (bound explicitly) */
#define PEER_PORT 49152       /* the peer's port on passive opens */
#define PEER_SRV_PORT 80      /* the peer's port on active opens */

/* Initial sequence numbers close to the wrap: our SYN is at 2^32-16, data
 * from 2^32-15 on; the peer's data starts 100 bytes before 2^32. */
#define ISS 0xfffffff0u
#define IRS ((uint32_t)-101)
#define PEER_WND 65535u
#define MSS 1460u /* cfg.mtu 1500 - 40 */

#define T0 SYNFIN_SEC(1000) /* the stack is created at this time */
#define MS(x) SYNFIN_MS(x)
#define SEC(x) SYNFIN_SEC(x)

/* One segment from the peer. Zero fields take defaults: addresses and ports
 * of the harness's connection, window PEER_WND (WND_ZERO for a zero
 * window). `data` with len 0 sends strlen(data) bytes; len without data
 * sends the pattern bytes of h_byte() for those sequence numbers. */
#define WND_ZERO (-1)
struct seg_spec {
	uint8_t flags;
	uint32_t seq, ack;
	int32_t wnd;
	const char *data;
	uint32_t len;
	uint16_t mss;       /* MSS option when non-zero */
	bool ws;            /* window-scale option */
	uint8_t wscale;
	bool ts;            /* timestamp option (also automatic when h->ts) */
	bool no_ts;         /* suppress the automatic timestamp */
	uint32_t tsval, tsecr; /* 0: h->peer_tsval / h->peer_tsecr */
	uint16_t sport, dport;
};

#define H_QCAP 256
#define H_EVCAP 64
struct h_pkt {
	uint8_t *buf;
	size_t len;
	synfin_time_t t;
};
struct h_event {
	int fd;
	uint16_t lport, fport;
	int old_state, new_state;
	char cause[64];
	synfin_time_t now;
};

struct harness {
	struct synfin_stack *st;
	synfin_time_t now;
	struct h_pkt out[H_QCAP];
	unsigned out_head, nout;
	bool overflow;
	struct h_pkt last; /* the segment EXPECT_SEG/h_pop returned last */
	struct h_event ev[H_EVCAP];
	unsigned ev_head, nev;
	int lfd;           /* the listener, or -1 */
	int fd;            /* the connection's socket, or -1 once closed */
	uint16_t lport, rport; /* the connection's ports */
	bool ts;           /* add a timestamp option to every segment sent */
	uint32_t peer_tsval, peer_tsecr;
	uint8_t *sendbuf;
};

/* The configuration every test starts from: synfin_config_default() with
 * the values the fixtures depend on written out. */
void h_config(struct synfin_config *cfg);
/* A new stack at T0 with ISN forced to ISS. A harness left behind by a
 * failed test is freed by the next h_new() (and at exit), so the leak
 * checker stays quiet. */
struct harness *h_new(const struct synfin_config *cfg);
void h_free(struct harness *h);

/* the pattern byte at sequence number `seq` of either direction */
uint8_t h_byte(uint32_t seq);
void h_pattern(uint32_t seq, uint8_t *buf, uint32_t n);

void h_send(struct harness *h, const char *file, int line, synfin_time_t t,
	    const struct seg_spec *s);
#define SEND(h, t, ...) h_send((h), __FILE__, __LINE__, (t), &(struct seg_spec){__VA_ARGS__})

/* Pop the next segment sent; fails if there is none. seg->data stays valid
 * until the next pop. Checks the addresses; ports are the caller's. */
void h_pop(struct harness *h, const char *file, int line, struct tcp_seg *seg);
#define POP(h, segp) h_pop((h), __FILE__, __LINE__, (segp))
/* Pop and check flags (PSH ignored), SEG.SEQ, SEG.ACK (when ACK is set),
 * payload length and the harness's ports. */
void h_expect(struct harness *h, const char *file, int line, uint8_t flags, uint32_t seq,
	      uint32_t ack, uint32_t len, int64_t wnd, struct tcp_seg *out);
#define EXPECT_SEG(h, flags, seq, ack, len) \
	h_expect((h), __FILE__, __LINE__, (flags), (seq), (ack), (len), -1, NULL)
#define EXPECT_SEG_WND(h, flags, seq, ack, len, wnd) \
	h_expect((h), __FILE__, __LINE__, (flags), (seq), (ack), (len), (wnd), NULL)
#define EXPECT_SEG_OUT(h, flags, seq, ack, len, segp) \
	h_expect((h), __FILE__, __LINE__, (flags), (seq), (ack), (len), -1, (segp))
void h_expect_none(struct harness *h, const char *file, int line);
#define EXPECT_NONE(h) h_expect_none((h), __FILE__, __LINE__)
/* Drop whatever was sent (only for setup that has already been checked). */
void h_discard(struct harness *h);
unsigned h_pending(const struct harness *h);

/* State events */
void h_expect_event(struct harness *h, const char *file, int line, int old_state,
		    int new_state);
#define EXPECT_EV(h, o, n) h_expect_event((h), __FILE__, __LINE__, (o), (n))
void h_expect_no_event(struct harness *h, const char *file, int line);
#define EXPECT_NO_EV(h) h_expect_no_event((h), __FILE__, __LINE__)
/* Remove the first event old -> new wherever it is in the queue; returns
 * whether there was one (for events whose moment is not the point). */
bool h_take_event(struct harness *h, int old_state, int new_state);
/* the cause of the last event popped by EXPECT_EV */
extern const char *h_last_cause;

/* Time */
void h_poll(struct harness *h, synfin_time_t t);
#define EXPECT_DEADLINE(h, t) ASSERT_EQ(synfin_next_deadline((h)->st), (t))
/* Poll at the next deadline, which must be `t`. */
#define STEP_TO(h, t)                  \
	do {                           \
		EXPECT_DEADLINE(h, t); \
		h_poll((h), (t));      \
	} while (0)

/* The connection's state: through its socket while the application holds
 * it, else from the connection block or TIME_WAIT record of the harness's
 * 4-tuple; TCPS_CLOSED when none is left. */
int h_state(struct harness *h);
struct tcb *h_tcb(struct harness *h);
struct tw *h_tw(struct harness *h);

/* Application data: send n pattern bytes numbered from `seq` (our
 * sequence numbers), or receive exactly n bytes and check them against the
 * peer's pattern from `seq`. */
void h_app_send(struct harness *h, const char *file, int line, int fd, uint32_t seq, uint32_t n);
#define APP_SEND(h, seq, n) h_app_send((h), __FILE__, __LINE__, (h)->fd, (seq), (n))
void h_app_recv(struct harness *h, const char *file, int line, int fd, uint32_t seq, uint32_t n,
		 bool partial);
#define APP_RECV(h, seq, n) h_app_recv((h), __FILE__, __LINE__, (h)->fd, (seq), (n), false)
/* read only n bytes, whatever else is there */
#define APP_READ(h, seq, n) h_app_recv((h), __FILE__, __LINE__, (h)->fd, (seq), (n), true)
/* check that a popped segment carries our pattern bytes from its SEG.SEQ */
void h_check_payload(const char *file, int line, const struct tcp_seg *seg);
#define CHECK_PAYLOAD(segp) h_check_payload(__FILE__, __LINE__, (segp))

/* ---- fixtures: each asserts every segment and event on the way ---- */
/* LISTEN on SRV_PORT with the given backlog; h->lfd. Ports set for a
 * passive connection (SRV_PORT <- PEER_PORT). */
void h_listen(struct harness *h, int backlog);
/* a passive child in SYN_RCVD: the peer's SYN (IRS) answered with our
 * SYN,ACK (ISS) */
void h_syn_rcvd(struct harness *h);
/* SYN_SENT: bind CLI_PORT, connect to REMOTE_IP:PEER_SRV_PORT, our SYN */
void h_syn_sent(struct harness *h);
enum { ACTIVE = 0, PASSIVE = 1 };
/* ESTABLISHED, from either side; h->fd is the connection. Both ends then
 * have SND.NXT = ISS + 1, RCV.NXT = IRS + 1, the peer's window PEER_WND and
 * MSS 1460. */
void h_established(struct harness *h, int how);
/* close() (or shutdown(SHUT_WR)) in ESTABLISHED: our FIN at ISS+1 */
void h_fin_wait_1(struct harness *h, int how, bool use_shutdown);
/* + the peer ACKs our FIN */
void h_fin_wait_2(struct harness *h, int how, bool use_shutdown);
/* FIN_WAIT_1 + the peer's FIN (not acking ours): our ACK */
void h_closing(struct harness *h, int how);
/* FIN_WAIT_2 + the peer's FIN: our ACK */
void h_time_wait(struct harness *h, int how);
/* ESTABLISHED + the peer's FIN, and our delayed ACK of it */
void h_close_wait(struct harness *h, int how);
/* CLOSE_WAIT + close(): our FIN */
void h_last_ack(struct harness *h, int how);

#endif
