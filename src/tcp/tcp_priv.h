/*
 * The TCP engine's private view: the connection block (struct tcb), the
 * compact TIME_WAIT record (struct tw), the stack object, and the internal
 * calls between input, output, timers, user calls and the control-block
 * lifecycle. Field names follow RFC 9293.
 */
#ifndef SYNFIN_TCP_PRIV_H
#define SYNFIN_TCP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synfin/synfin.h"
#include "base/compiler.h"
#include "tcp/cc.h"
#include "tcp/seq.h"
#include "wire/wire.h"

/* predicates on states, as 4.4BSD has them */
#define TCPS_HAVERCVDSYN(s) ((s) >= TCPS_SYN_RCVD)
#define TCPS_HAVEESTABLISHED(s) ((s) >= TCPS_ESTABLISHED)
#define TCPS_HAVERCVDFIN(s) ((s) == TCPS_CLOSE_WAIT || (s) == TCPS_CLOSING || (s) == TCPS_LAST_ACK || (s) == TCPS_TIME_WAIT)

/* A connection's place in the stack's timer heap (UINT32_MAX: none). The
 * deadline itself lives in the heap's array, beside the pointer back, so
 * that ordering the heap never reads a (cold) connection block. */
struct tmr {
	uint32_t idx;
};
#define TMR_NONE UINT32_MAX

struct heap_ent {
	synfin_time_t when;
	struct tmr *t;
};
/* ops.output_ref takes payloads from this size on; a smaller one is
 * copied, which costs less than pinning the ring for it */
#define TX_REF_MIN 512
#define RPROBE_MAX 6 /* recovery probes before the RTO takes over */
#define OC_SLOTS 6 /* object cache: tcb, extension, TIME_WAIT, three ring sizes */
#define HEAP_D 8 /* children per node: a shallow heap moves few (cold) entries */

/* Send buffer: bytes from SND.UNA on (once the SYN is acknowledged).
 * Receive buffer: readable bytes, then room where out-of-order data is
 * placed at its offset from RCV.NXT. Both are rings allocated on first use. */
#define RB_MAX_HOLES 1024 /* out-of-order ranges a receive ring remembers */
struct ooo_range {
	uint32_t off, len; /* offset from RCV.NXT */
};
struct ring {
	uint32_t cap, head, len;
	uint16_t nooo, ooo_cap;    /* receive side: out-of-order ranges, */
	struct ooo_range *ooo;     /* in an array grown as needed */
	/* send side, with ops.output_ref: `hold` bytes before head are
	 * acknowledged but may still be read by the driver (handed over in
	 * transmit epoch hold_epoch); not writable until that epoch ends */
	uint32_t hold, hold_epoch;
	struct ring *znext;        /* freed while held: the stack's zombie list */
	uint8_t data[];
};

/* A listening socket's queues. */
struct listenq {
	struct tcb *syn_head;   /* SYN_RCVD children (the SYN queue) */
	struct tcb *acc_head, *acc_tail; /* ESTABLISHED children not yet accepted */
	uint32_t q0len, qlen, backlog;
};

/* t_flags */
#define TF_ACKNOW 0x00000001u    /* send an ACK at the next output */
#define TF_DELACK 0x00000002u    /* an ACK is being delayed */
#define TF_NODELAY 0x00000004u   /* TCP_NODELAY: no Nagle */
#define TF_SENTFIN 0x00000008u   /* our FIN has been sent at least once */
#define TF_FIN_QUEUED 0x00000010u /* the user closed the send side */
#define TF_RCVD_TSTMP 0x00000020u /* timestamps negotiated */
#define TF_RCVD_SCALE 0x00000040u /* window scaling negotiated */
#define TF_REQ_TSTMP 0x00000080u
#define TF_REQ_SCALE 0x00000100u
#define TF_PASSIVE 0x00000200u   /* opened from LISTEN */
#define TF_PERSIST 0x00000400u   /* t_rexmt is the persist timer */
#define TF_FORCE 0x00000800u     /* send one byte into a closed window */
#define TF_RCV_SHUT 0x00001000u  /* the user will read no more */
#define TF_REUSEADDR 0x00002000u
#define TF_KEEPALIVE 0x00004000u
#define TF_LINGER 0x00008000u    /* SO_LINGER on */
#define TF_LINGERING 0x00010000u /* close() is waiting (SO_LINGER N>0) */
#define TF_LINGER_EXPIRED 0x00020000u
#define TF_BOUND 0x00040000u     /* has a local port (in the bind table) */
#define TF_IN_HASH 0x00080000u   /* in the 4-tuple table */
#define TF_WENT_TW 0x00100000u   /* handed over to a TIME_WAIT record */
#define TF_CLOSE_PENDING 0x00200000u /* close() in SYN_RCVD: FIN once established */
#define TF_EOF 0x00400000u       /* the peer's FIN has been received */
#define TF_CONNECTING 0x00800000u /* connect() called and not yet reported */
#define TF_QUIET 0x01000000u     /* SYN held back by the quiet time */
#define TF_COOKIE 0x02000000u    /* created from a SYN cookie */
#define TF_TIMING 0x04000000u    /* an RTT sample is being taken */
#define TF_USER_CLOSED 0x08000000u /* close() was called (descriptor may linger) */
#define TF_SACK_PERMIT 0x10000000u /* SACK negotiated (RFC 2018) */
#define TF_REQ_SACK 0x20000000u
#define TF_CC_SET 0x40000000u     /* TCP_CONGESTION chosen by the application */
#define TF_TLP 0x80000000u        /* t_rexmt is the tail loss probe timer (RFC 8985 7) */

/* What a connection needs only once data flows, allocated with its first
 * buffer: congestion control state, the SACK scoreboard, loss recovery and
 * counters. An idle connection does without it (and its bytes). */
#define SACK_MAX 1024 /* SACKed ranges the scoreboard remembers */
struct sack_range {
	uint32_t left, right;
};
struct tcb_ext {
	union {
		struct cc_cubic cubic;
	} cc;
	/* the scoreboard (RFC 6675): ranges above SND.UNA the receiver has
	 * SACKed, sorted, disjoint */
	struct sack_range *sacked; /* grown as needed */
	uint16_t nsacked, sacked_cap;
	uint8_t ca_state;      /* as synfin_tcp_info.ca_state */
	uint32_t recover;      /* RFC 6582 / 6675: SND.MAX when recovery began */
	uint32_t high_rxt;     /* RFC 6675 HighRxt */
	uint32_t sacked_bytes; /* bytes covered by sacked[] */
	uint32_t last_ooo;     /* receiver: start of the latest out-of-order segment (first SACK block) */
	uint32_t last_send_ms; /* when data last went out, for the restart after idle */
	uint8_t limited;       /* RFC 3042: segments limited transmit may add */
	uint8_t tlp_out;       /* a tail loss probe is out, not yet answered */
	uint8_t rprobes;       /* recovery probes since SND.UNA last advanced */
	uint32_t oow_ack_ms;   /* when we last answered an out-of-window bare ACK */
	uint32_t una_rxt_ms;   /* when the segment at SND.UNA was last resent, 0: not known */
	uint32_t last_rxt_ms;  /* when anything was last resent in this recovery */
	/* HyStart++ (RFC 9406): the minimum RTT of this round and the last */
	uint32_t hs_round_end, hs_last_min_us, hs_cur_min_us;
	uint16_t hs_samples;
	uint64_t bytes_acked, bytes_received;
	uint64_t segs_out, retrans_segs, fast_retrans, rto_count;
};

struct tcb {
	/* what a hash-chain walk reads, in the block's first 24 bytes: a
	 * lookup passing a cold block touches one cache line, not two */
	struct tcb *hnext;     /* 4-tuple hash chain */
	uint32_t laddr, faddr;
	uint16_t lport, fport;
	uint32_t t_flags;
	struct tcb *bnext;     /* bind-port chain */
	struct tcb *qnext;     /* listener's SYN or accept queue */
	struct tcb *parent;    /* listener of a passive child not yet accepted */
	synfin_time_t t_rexmt; /* retransmission or persist */
	synfin_time_t t_keep;  /* connection-establishment, keepalive, FIN_WAIT_2, linger */
	synfin_time_t t_delack;
	union {
		struct {
			struct ring *snd, *rcv;
		} b;
		struct listenq *lq; /* LISTEN only */
	} u;
	struct tcb_ext *x;     /* once data flows (tcp_ext_get) */

	uint8_t state;
	uint8_t rxtshift;     /* retransmissions (or probes) of the current segment */
	uint8_t dupacks;
	uint8_t keep_probes;  /* unanswered keepalive probes */
	uint8_t snd_scale, rcv_scale;
	uint8_t so_error;     /* pending errno, reported once */
	uint8_t t_softerror;  /* errno of the last ICMP soft error (RFC 1122 4.2.3.9) */
	uint8_t keepcnt;      /* 0: the stack's */
	uint8_t cc;           /* SYNFIN_CC_*: the congestion control algorithm */
	uint16_t owner;

	int32_t fd;           /* -1 once the application has closed it */
	struct tmr tmr;       /* the earliest of t_rexmt, t_keep, t_delack */

	/* send sequence space */
	uint32_t snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, iss;
	uint32_t max_sndwnd;
	/* receive sequence space */
	uint32_t rcv_nxt, rcv_adv, irs;
	uint16_t t_maxseg;    /* MSS we send with (options excluded) */
	uint16_t linger_s;    /* SO_LINGER seconds */
	/* congestion control: the window in bytes; the algorithm's own state
	 * is in x->cc */
	uint32_t cwnd, ssthresh;
	/* RTT (RFC 6298), microseconds */
	uint32_t srtt, rttvar, rto;
	uint32_t rtseq;
	uint32_t t_rtttime_ms; /* when the timed segment left, ms since stack start */
	/* timestamps (RFC 7323) */
	uint32_t ts_recent, ts_offset;
	uint32_t ts_recent_age_s;
	/* per-socket overrides, seconds (0: the stack's) */
	uint32_t keepidle_s, keepintvl_s;
	uint32_t sndbuf, rcvbuf;
	uint16_t hunder;      /* the conn_tag word of hnext (0: none): see tcp_subr.c */
	uint16_t t_mss;       /* payload per segment: t_maxseg less the timestamp option (tcp_set_maxseg) */
};

/* TIME_WAIT as a compact record: what is needed to re-ACK a FIN, judge a
 * reopening SYN, an RST, and to keep the 4-tuple busy for 2MSL. The local
 * address is the stack's; the timestamp offset is recomputed from the
 * 4-tuple when needed.
 *
 * Its 2MSL is not in the timer heap: every record is armed for the same
 * duration from a clock that only moves forward, so records expire in the
 * order they were armed, and a FIFO list is the timer. A restart (the
 * peer's FIN came again) moves the record to the tail by replacing it with
 * a fresh copy; a record that leaves early (RST, reopen) is marked dead and
 * freed when the FIFO reaches it. */
struct tw {
	struct tw *hnext;     /* 4-tuple hash chain, a circle per bucket (live records only) */
	struct tw *qnext;     /* the expiry FIFO */
	synfin_time_t expire;
	uint32_t faddr;
	uint16_t lport, fport;
	uint32_t snd_nxt, rcv_nxt;
	uint32_t ts_recent;
	uint8_t flags;        /* TWF_* */
	uint8_t rcv_scale;    /* to advertise the receive window as it was scaled */
};
#define TWF_TS 0x01     /* timestamps were in use */
#define TWF_HIDDEN 0x02 /* behind a SYN_RCVD block that reopened the 4-tuple */
#define TWF_DEAD 0x04   /* gone; waits in the FIFO to be freed */

/* The memory budget the design promises (README): a connection block of
 * at most 256 bytes without buffers, a TIME_WAIT record of at most 64. */
_Static_assert(sizeof(struct tcb) <= 256, "struct tcb grew past 256 bytes");
_Static_assert(sizeof(struct tw) <= 48, "struct tw grew past 48 bytes");

/* Local ports in use: every bound block is on its port's chain, and
 * TIME_WAIT records are counted, so bind() and the ephemeral search are
 * O(1) in the number of connections. A two-level table indexed by the port
 * (256 chunks of 256) finds a port's entry without hashing; a chunk exists
 * only while one of its ports is in use. */
struct bindb {
	struct tcb *owners;
	uint32_t ntw;
	uint16_t nopen;  /* owners without a peer: bound-only sockets and listeners */
	uint16_t port;
};
#define PORT_CHUNK 256
struct synfin_stack {
	struct synfin_config cfg;
	struct synfin_ops ops;
	uint32_t ip;
	synfin_time_t now, start, quiet_until;
	uint32_t now_ms; /* (now - start) in ms, kept by st_advance: st_ms() */
	uint64_t rng_state;
	uint64_t key[2];      /* SipHash key: ISNs, ports, cookies, TS offsets */
	uint64_t hkey[2];     /* the 4-tuple tables' hash key */
	struct synfin_stats stats;

	struct tcb *last_in;  /* the block the last segment went to (one-behind cache, 4.4BSD) */
	struct tcb **conn_hash;
	uint16_t *conn_tag;   /* per bucket: the head's hash tag, bit 0 set if it may have a successor */
	uint32_t conn_mask, nconn;
	struct tw **tw_hash;
	uint32_t tw_mask, ntw;   /* ntw: live records */
	struct tw *tw_head, *tw_tail; /* the expiry FIFO, live and dead */
	struct tcb *listeners; /* chained by hnext */
	struct bindb **ports[65536 / PORT_CHUNK];
	uint16_t port_chunk_used[65536 / PORT_CHUNK];

	struct tcb **fds;
	uint32_t nfds, fd_hint;

	struct heap_ent *heap;
	uint32_t heap_len, heap_cap;

	struct objcache {
		size_t size; /* 0: slot free */
		void *head;
		uint32_t n;
	} oc[OC_SLOTS];

	synfin_time_t chack_second;
	uint32_t chack_count;
	uint32_t ephemeral_next;
	uint32_t eph_faddr;   /* RFC 6056 offset of the last remote end asked */
	uint16_t eph_fport;
	uint32_t eph_offset;
	uint16_t ip_id;
	uint32_t outcap;
	uint8_t *outbuf;
	/* transmit by reference (ops.output_ref): payload handed over since
	 * the last synfin_tx_release() pins the send rings it came from */
	uint32_t tx_epoch;
	bool tx_pinned;
	struct ring *zombies; /* rings freed while pinned */
	uint32_t test_iss;    /* tests only: when non-zero, the next ISN chosen */
};

/* ---- stack.c: memory, hashing, randomness ---- */
void *st_alloc(struct synfin_stack *st, size_t size);     /* zeroed */
void *st_alloc_raw(struct synfin_stack *st, size_t size); /* not zeroed: buffers */
void st_free(struct synfin_stack *st, void *p, size_t size);
void *st_regrow(struct synfin_stack *st, void *old, size_t old_bytes, size_t used, size_t new_bytes);
/* blocks that connections come and go with (tcb, extension, TIME_WAIT
 * record, ring): through the object cache (cfg.obj_cache) */
void *st_obj_get(struct synfin_stack *st, size_t size, bool zero);
void st_obj_put(struct synfin_stack *st, void *p, size_t size);
/* where the next datagram is built: the driver's buffer (ops.tx_buf) or
 * the stack's own, st->cfg.mtu bytes either way */
uint8_t *st_txbuf(struct synfin_stack *st);
uint64_t st_siphash(const struct synfin_stack *st, const void *data, size_t len);
uint64_t st_rand(struct synfin_stack *st);
/* ms since start, for timestamps */
static inline uint32_t st_ms(const struct synfin_stack *st)
{
	return st->now_ms;
}
void st_advance(struct synfin_stack *st, synfin_time_t now); /* the clock never steps back */

/* ---- tcp_timer.c ---- */
void timer_set(struct synfin_stack *st, struct tmr *t, synfin_time_t when);
void timer_cancel(struct synfin_stack *st, struct tmr *t);
struct tmr *timer_peek(const struct synfin_stack *st, synfin_time_t *when);
void tcp_timer_update(struct synfin_stack *st, struct tcb *tp); /* after t_* changed */
synfin_time_t tcp_timer_next(const struct tcb *tp); /* the earliest of t_rexmt, t_keep, t_delack */
struct tcb *tcp_timer_settle(struct synfin_stack *st, synfin_time_t *when);
void tcp_timer_fire(struct synfin_stack *st, struct tcb *tp);
void tcp_rto_sample(struct synfin_stack *st, struct tcb *tp, uint32_t rtt_us);
void tcp_setpersist(struct synfin_stack *st, struct tcb *tp);
void tcp_rto_after_syn(struct synfin_stack *st, struct tcb *tp);
void tcp_keep_reset(struct synfin_stack *st, struct tcb *tp);
synfin_time_t tcp_keepidle(const struct synfin_stack *st, const struct tcb *tp);
synfin_time_t tcp_keepintvl(const struct synfin_stack *st, const struct tcb *tp);
uint32_t tcp_keepcnt(const struct synfin_stack *st, const struct tcb *tp);

/* ---- tcp_subr.c: control-block lifecycle ---- */
struct tcb *tcp_newtcb(struct synfin_stack *st);
void tcp_set_state(struct synfin_stack *st, struct tcb *tp, int state, const char *cause);
/* The keyed hash of a 4-tuple, for the connection and TIME_WAIT tables:
 * keyed so that a peer cannot choose ports that collide. */
uint32_t tcp_tuple_hash(const struct synfin_stack *st, uint32_t laddr, uint16_t lport,
			uint32_t faddr, uint16_t fport);
void tcp_hash_insert(struct synfin_stack *st, struct tcb *tp);
void tcp_hash_remove(struct synfin_stack *st, struct tcb *tp);
/* the cache lines tcp_lookup of this 4-tuple will read first */
void tcp_lookup_prefetch(const struct synfin_stack *st, uint32_t laddr, uint16_t lport,
			 uint32_t faddr, uint16_t fport);
struct tcb *tcp_lookup(const struct synfin_stack *st, uint32_t laddr, uint16_t lport,
		       uint32_t faddr, uint16_t fport);
struct tcb *tcp_lookup_listener(const struct synfin_stack *st, uint16_t lport);
void tcp_bind_add(struct synfin_stack *st, struct tcb *tp, uint16_t port);
/* a new listener goes to the head of its port's owners */
void tcp_bind_lead(struct synfin_stack *st, struct tcb *tp);
void tcp_bind_remove(struct synfin_stack *st, struct tcb *tp);
struct bindb *tcp_bind_find(const struct synfin_stack *st, uint16_t port);
struct bindb *tcp_bind_get(struct synfin_stack *st, uint16_t port);
void tcp_bind_put(struct synfin_stack *st, struct bindb *b);
/* RFC 6528's F(4-tuple, secret): the low half feeds the ISN, the high half
 * is the connection's timestamp offset (RFC 7323 5.4). */
uint64_t tcp_tuple_secret(const struct synfin_stack *st, uint32_t laddr, uint16_t lport,
			  uint32_t faddr, uint16_t fport);
/* RTO, cwnd and MSS defaults, the ISS (RFC 6528: F + a 4 microsecond clock)
 * and the timestamp offset, for a block whose 4-tuple is set. */
void tcp_init_conn(struct synfin_stack *st, struct tcb *tp);
/* The extension, allocated on first use; NULL only when memory is out. */
struct tcb_ext *tcp_ext_get(struct synfin_stack *st, struct tcb *tp);
/* Bytes in flight as RFC 6675's pipe estimates them, without a scoreboard
 * walk: sent and unacknowledged, less what the receiver has SACKed. */
uint32_t tcp_flight(const struct tcb *tp);
const struct cc_ops *tcp_cc(const struct tcb *tp);

/* ---- tcp_sack.c: the scoreboard and loss recovery ---- */
enum { CA_OPEN = 0, CA_DISORDER = 1, CA_RECOVERY = 2, CA_LOSS = 3 };
/* Merge the SACK blocks of an ACK into the scoreboard (after SND.UNA moved).
 * Most ACKs carry no block and find the scoreboard empty: that test is
 * inline, the work is not. */
void tcp_sack_merge(struct synfin_stack *st, struct tcb *tp, const struct tcp_seg *seg);
static inline void tcp_sack_update(struct synfin_stack *st, struct tcb *tp, const struct tcp_seg *seg)
{
	if ((tp->t_flags & TF_SACK_PERMIT) && tp->x && ((seg->opt.has & TOF_SACK) || tp->x->nsacked))
		tcp_sack_merge(st, tp, seg);
}
/* RFC 6675's pipe: bytes believed in the network. */
uint32_t tcp_pipe(const struct tcb *tp);
/* The next lost, not yet retransmitted range during SACK recovery. */
bool tcp_sack_next_hole(const struct tcb *tp, uint32_t *seq, uint32_t *len);
/* New data acknowledged / a duplicate ACK / a retransmission timeout. */
void tcp_recovery_ack(struct synfin_stack *st, struct tcb *tp, uint32_t acked, uint32_t rtt_us);
void tcp_recovery_dupack(struct synfin_stack *st, struct tcb *tp);
void tcp_recovery_timeout(struct synfin_stack *st, struct tcb *tp);
/* After a timeout, resending from SND.UNA jumps over SACKed ranges:
 * where SND.NXT should go from `seq`. */
uint32_t tcp_sack_skip(const struct tcb *tp, uint32_t seq);
/* Receiver: the SACK blocks to put in our next segment (RFC 2018 4); none
 * (tested inline) unless out-of-order data waits. tcp_sack_fill() does the
 * work and relies on that test. */
int tcp_sack_fill(const struct tcb *tp, struct tcp_sack_block *out, int max);
/* Whether there are SACK blocks to send: out-of-order data is held. */
static inline bool tcp_sack_blocks_held(const struct tcb *tp)
{
	const struct ring *r = tp->u.b.rcv;
	return (tp->t_flags & TF_SACK_PERMIT) && r && r->nooo != 0;
}
static inline int tcp_sack_blocks(const struct tcb *tp, struct tcp_sack_block *out, int max)
{
	if (!tcp_sack_blocks_held(tp) || max <= 0)
		return 0;
	return tcp_sack_fill(tp, out, max);
}
/* Send `len` bytes from `seq` again (output's helper for recovery). */
void tcp_retransmit(struct synfin_stack *st, struct tcb *tp, uint32_t seq, uint32_t len);
/* Arm the retransmission timer for what is outstanding: the tail loss
 * probe's timeout when one may go, else the RTO. */
void tcp_arm_rexmt(struct synfin_stack *st, struct tcb *tp);
/* The probe timer expired: send one segment to draw an ACK with SACK
 * blocks, then wait for the RTO. */
void tcp_tlp_fire(struct synfin_stack *st, struct tcb *tp);
uint8_t tcp_rcv_scale_for(uint32_t rcvbuf);
/* The connection is over: enter CLOSED, report `err` (0: none), free the
 * block unless the application still holds it. */
void tcp_close(struct synfin_stack *st, struct tcb *tp, int err, const char *cause);
/* tcp_close after sending an RST if the state calls for one. */
void tcp_drop(struct synfin_stack *st, struct tcb *tp, int err, const char *cause);
void tcp_free(struct synfin_stack *st, struct tcb *tp);
void tcp_maybe_free(struct synfin_stack *st, struct tcb *tp);
void tcp_listen_unlink(struct synfin_stack *st, struct tcb *child);
void tcp_state_event(struct synfin_stack *st, int fd, uint32_t laddr, uint16_t lport,
		     uint32_t faddr, uint16_t fport, int from, int to, const char *cause);
bool tcp_challenge_ack_allowed(struct synfin_stack *st);

/* ---- tcp_output.c: the one place that decides what to send ---- */
void tcp_output(struct synfin_stack *st, struct tcb *tp);
/* tcp_output() would send nothing and arm nothing (it would only re-key
 * the timers, which only a change of t_rexmt/t_keep/t_delack needs) */
bool tcp_nothing_to_send(const struct tcb *tp);
/* A reply that belongs to no connection (RST, or an ACK from TIME_WAIT). */
void tcp_respond(struct synfin_stack *st, uint32_t laddr, uint16_t lport, uint32_t faddr,
		 uint16_t fport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
		 const struct tcp_opts *opt);
/* RST answering `seg` per RFC 9293 3.10.7.1 (unless seg is an RST). */
void tcp_reset_reply(struct synfin_stack *st, const struct tcp_seg *seg);
void tcp_send_rst(struct synfin_stack *st, struct tcb *tp);
/* Inline: output and input ask for these several times per segment. */
/* bytes in the send buffer */
static inline uint32_t tcp_snd_pending(const struct tcb *tp)
{
	return (tp->state != TCPS_LISTEN && tp->u.b.snd) ? tp->u.b.snd->len : 0;
}

/* room in the receive buffer (all of it before the ring exists) */
static inline uint32_t tcp_rcv_space(const struct tcb *tp)
{
	if (SF_UNLIKELY(tp->state == TCPS_LISTEN))
		return 0;
	const struct ring *r = tp->u.b.rcv;
	return r ? r->cap - r->len : tp->rcvbuf;
}

/* the payload a segment may carry: the MSS less the timestamp option
 * (kept by tcp_set_maxseg: output and input ask for it several times per
 * segment) */
static inline uint16_t tcp_effective_mss(const struct tcb *tp)
{
	return tp->t_mss;
}

/* Set t_maxseg from the peer's MSS, once TF_RCVD_TSTMP has its final
 * value: at least 64 (a tiny MSS would make every byte a segment), but
 * never more than our own MTU allows (`ours`: the MTU less 40; at IPv4's
 * smallest MTU of 68 that is 28). */
static inline void tcp_set_maxseg(struct tcb *tp, uint16_t peer, uint16_t ours)
{
	uint16_t maxseg = peer < 64 ? 64 : peer;
	if (maxseg > ours)
		maxseg = ours;
	tp->t_maxseg = maxseg;
	tp->t_mss = (uint16_t)((tp->t_flags & TF_RCVD_TSTMP) ? maxseg - 12 : maxseg);
}

/* The SACK blocks a segment may carry: 3 beside a timestamp, else 4, and
 * no more than leave a byte of payload within the MSS (one or two at the
 * smallest MTUs). */
static inline int tcp_sack_max(const struct tcb *tp)
{
	int n = (tp->t_flags & TF_RCVD_TSTMP) ? 3 : 4;
	int fit = (tp->t_mss - 4 - 1) / 8;
	return fit < n ? fit : n;
}

/* ---- tcp_input.c ---- */
void tcp_input(struct synfin_stack *st, const struct tcp_seg *seg);

/* ---- tcp_timewait.c ---- */
void tw_enter(struct synfin_stack *st, struct tcb *tp, const char *cause);
struct tw *tw_lookup(const struct synfin_stack *st, uint32_t laddr, uint16_t lport,
		     uint32_t faddr, uint16_t fport);
/* the records of a hash bucket, oldest first: NULL gives the first, and
 * NULL comes after the last */
const struct tw *tw_chain_next(const struct synfin_stack *st, uint32_t bucket, const struct tw *tw);
/* Returns true if the segment was consumed; false if a SYN reopened the
 * 4-tuple and should now be processed by the listener (iss filled). */
bool tw_input(struct synfin_stack *st, struct tw *tw, const struct tcp_seg *seg,
	      uint32_t *reopen_iss);
/* Expire the records due by now; the next expiry, or SYNFIN_TIME_NEVER. */
void tw_run(struct synfin_stack *st);
synfin_time_t tw_next_deadline(const struct synfin_stack *st);
void tw_destroy_all(struct synfin_stack *st);
/* A SYN_RCVD block reopened over a TIME_WAIT record is established: the
 * record, kept in case the SYN was an old duplicate, goes. */
void tw_reopen_confirmed(struct synfin_stack *st, struct tcb *tp);
/* ... or the reopening block died in SYN_RCVD: the SYN was an old
 * duplicate, and TIME_WAIT is back (RFC 1122 4.2.2.13). */
void tw_restore(struct synfin_stack *st, struct tcb *tp);
/* The record leaves the table (with a trace line unless hidden); its memory
 * goes when the FIFO reaches it. */
void tw_remove(struct synfin_stack *st, struct tw *tw, const char *cause);

/* ---- tcp_syncookie.c ---- */
uint32_t syncookie_make(const struct synfin_stack *st, const struct tcp_seg *syn, uint16_t mss);
/* 0 if the ACK's cookie is not valid, else the MSS it encodes. */
uint16_t syncookie_check(const struct synfin_stack *st, const struct tcp_seg *ack);

/* ---- ring.c ---- */
struct ring *ring_new(struct synfin_stack *st, uint32_t cap);
void ring_free(struct synfin_stack *st, struct ring *r);
uint32_t ring_write(struct ring *r, const uint8_t *p, uint32_t n, uint32_t hold);
/* the bytes contiguous in memory from logical offset off, and where */
uint32_t ring_contig(const struct ring *r, uint32_t off);
const uint8_t *ring_at(const struct ring *r, uint32_t off);
/* the send ring's acknowledged bytes still held for the driver (0 unless
 * ops.output_ref handed some over in the current epoch) */
uint32_t tcp_snd_hold(const struct synfin_stack *st, const struct ring *r);
void tcp_snd_drop(struct synfin_stack *st, struct ring *r, uint32_t n);
uint32_t ring_read(struct ring *r, uint8_t *p, uint32_t n);
void ring_peek(const struct ring *r, uint32_t off, uint8_t *p, uint32_t n);
void ring_drop(struct ring *r, uint32_t n);
/* Place received bytes at `off` from the end of the readable data; returns
 * how many bytes became readable (in-order advance). */
uint32_t ring_reass(struct synfin_stack *st, struct ring *r, uint32_t off, const uint8_t *p, uint32_t n,
		    bool *stored);

/* ---- user-call helpers shared with input ---- */
void tcp_user_closed_check(struct synfin_stack *st, struct tcb *tp); /* linger done? */
const char *tcp_flags_text(uint8_t flags, char *buf); /* "rcv SYN,ACK" */
/* The cause of a transition a segment made, for the state_change hook:
 * built only when there is a hook to read it. */
static inline const char *tcp_flags_cause(const struct synfin_stack *st, uint8_t flags, char *buf)
{
	return st->ops.state_change ? tcp_flags_text(flags, buf) : "";
}

#endif
