/*
 * synfin: a user-space TCP/IP stack, public API.
 *
 * The core is sans-IO. It never reads a clock and never does I/O:
 *  - time comes in as an argument (microseconds of the caller's monotonic
 *    clock) to synfin_stack_create(), synfin_input() and synfin_poll(); the
 *    socket calls use the time of the latest of those calls;
 *  - IPv4 datagrams come in through synfin_input() and leave through
 *    ops->output();
 *  - synfin_next_deadline() says when the stack next needs synfin_poll().
 *
 * Errors are returned as negative errno values (-ECONNREFUSED, ...), never
 * through the global errno, so several stacks can live in one process.
 */
#ifndef SYNFIN_SYNFIN_H
#define SYNFIN_SYNFIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t synfin_time_t; /* microseconds */
#define SYNFIN_TIME_NEVER UINT64_MAX
#define SYNFIN_US_PER_MS 1000ull
#define SYNFIN_US_PER_S 1000000ull
#define SYNFIN_MS(x) ((synfin_time_t)(x) * SYNFIN_US_PER_MS)
#define SYNFIN_SEC(x) ((synfin_time_t)(x) * SYNFIN_US_PER_S)

/* TCP states, numbered as 4.4BSD numbers them so that predicates are
 * comparisons; printed with their netstat names by synfin_state_name(). */
enum synfin_tcp_state {
	TCPS_CLOSED = 0,
	TCPS_LISTEN,
	TCPS_SYN_SENT,
	TCPS_SYN_RCVD,
	TCPS_ESTABLISHED,
	TCPS_CLOSE_WAIT,
	TCPS_FIN_WAIT_1,
	TCPS_CLOSING,
	TCPS_LAST_ACK,
	TCPS_FIN_WAIT_2,
	TCPS_TIME_WAIT,
	TCPS_NSTATES
};
const char *synfin_state_name(int state);

/* An IPv4 address and port, both in host byte order. */
struct synfin_addr {
	uint32_t ip;
	uint16_t port;
};

struct synfin_stack;

/* Reported for every state transition of every connection. */
struct synfin_state_event {
	int fd;                    /* socket, or -1 once the application closed it */
	struct synfin_addr local;
	struct synfin_addr remote; /* ip 0 while not connected */
	int old_state;
	int new_state;
	const char *cause;         /* e.g. "rcv SYN,ACK", "close", "2MSL timer" */
	synfin_time_t now;
};

struct synfin_ops {
	void *ctx;
	/* One IPv4 datagram to send. The buffer is only valid during the call. */
	void (*output)(void *ctx, const uint8_t *pkt, size_t len);
	/* Optional: a buffer of at least `size` bytes (the MTU) owned by the
	 * driver, in which the stack builds its next datagram; output() then
	 * receives this same pointer, so a driver that queues datagrams or
	 * frames them needs no copy. The stack asks once per datagram and
	 * calls nothing else in between; a buffer may go unused (a datagram
	 * that could not be built). NULL from it: the stack uses its own. */
	uint8_t *(*tx_buf)(void *ctx, size_t size);
	/* Optional: transmit by reference, as a NIC with scatter-gather DMA
	 * does. A TCP segment with payload is then handed over as its IPv4
	 * and TCP headers (hdr, hdr_len: valid only during the call,
	 * checksums filled) and its payload in place in the connection's
	 * send buffer, not copied. The payload stays valid and unchanged
	 * until the driver calls synfin_tx_release(); until then the stack
	 * neither reuses nor frees those bytes (a sender whose buffer is full
	 * of acknowledged but held bytes waits). Segments without payload,
	 * and payload that wraps around the end of the send buffer, still go
	 * through output(). */
	void (*output_ref)(void *ctx, const uint8_t *hdr, size_t hdr_len, const uint8_t *payload,
			   size_t len);
	/* Optional: every state transition. */
	void (*state_change)(void *ctx, const struct synfin_state_event *ev);
	/* Optional allocator; both or neither. free gets the size asked for. */
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *ptr, size_t size);
};

/* Every timer and limit; synfin_config_default() fills the defaults that the
 * README's timer table documents. Times in microseconds. */
struct synfin_config {
	uint32_t mtu;                  /* IPv4 MTU of the interface: 1500 */
	synfin_time_t msl;             /* maximum segment lifetime: 30 s (2MSL 60 s) */
	synfin_time_t rto_initial;     /* RFC 6298 initial RTO: 1 s */
	synfin_time_t rto_min;         /* RFC 6298 lower bound: 1 s */
	synfin_time_t rto_max;         /* upper bound: 120 s */
	uint32_t retries;              /* data retransmissions before ETIMEDOUT: 15 */
	uint32_t syn_retries;          /* SYN retransmissions before ETIMEDOUT: 6 */
	uint32_t synack_retries;       /* SYN,ACK retransmissions: 5 */
	synfin_time_t conn_timeout;    /* connection-establishment limit: 75 s */
	synfin_time_t fin_wait_2_timeout; /* FIN_WAIT_2 after close(): 60 s */
	synfin_time_t keep_idle;       /* keepalive idle: 7200 s */
	synfin_time_t keep_intvl;      /* keepalive probe interval: 75 s */
	uint32_t keep_cnt;             /* unanswered probes before ETIMEDOUT: 9 */
	synfin_time_t delack;          /* delayed ACK: 40 ms */
	synfin_time_t persist_min;     /* zero-window probe bounds: 5 s .. 60 s */
	synfin_time_t persist_max;
	bool quiet_time;               /* RFC 9293 3.4.3: stay quiet MSL after start: off */
	bool rfc1337;                  /* ignore RST in TIME_WAIT: off, like Linux */
	uint8_t syncookies;            /* SYNFIN_SYNCOOKIES_*: on overflow */
	uint32_t challenge_ack_limit;  /* RFC 5961 challenge ACKs per second: 1000 */
	uint32_t sndbuf;               /* default send buffer: 65536 */
	uint32_t rcvbuf;               /* default receive buffer: 65536 */
	uint32_t max_syn_backlog;      /* SYN_RCVD connections per listener: 128 */
	uint16_t ephemeral_lo;         /* RFC 6056 range: 32768 .. 60999 */
	uint16_t ephemeral_hi;
	/* The link guarantees integrity (an in-process link, a loopback): the
	 * TCP checksum is neither computed nor verified, as a kernel does on
	 * loopback. Never set it on a link that can corrupt: off. */
	bool checksum_offload;
	bool sack;                     /* offer and use SACK (RFC 2018, 6675): on */
	uint8_t congestion;            /* SYNFIN_CC_*: CUBIC */
	synfin_time_t delack_max;      /* delayed ACK never longer than this: 500 ms cap (RFC 9293) */
	/* Freed connection blocks, extensions, TIME_WAIT records (up to this
	 * many of each) and buffers (up to 2 of each size) are kept for the
	 * next connection instead of going back to ops.free: 32 (0: none) */
	uint16_t obj_cache;
};

/* congestion control algorithms (cfg.congestion, SYNFIN_TCP_CONGESTION) */
#define SYNFIN_CC_CUBIC 0   /* RFC 9438 */
#define SYNFIN_CC_NEWRENO 1 /* RFC 5681 + RFC 6582 */
void synfin_config_default(struct synfin_config *cfg);

/* cfg.syncookies: never; when a listener's SYN queue is full (default);
 * always (no state at all for a handshake in progress: SYN_RCVD costs no
 * memory, but a lost SYN,ACK is not retransmitted, the client's SYN is) */
#define SYNFIN_SYNCOOKIES_OFF 0
#define SYNFIN_SYNCOOKIES_ON_OVERFLOW 1
#define SYNFIN_SYNCOOKIES_ALWAYS 2

/* Counters, for tests and the netstat -s like summary. */
struct synfin_stats {
	uint64_t ip_in, ip_out, ip_bad, ip_not_ours, ip_frag_dropped, ip_other_proto;
	uint64_t tcp_in, tcp_out, tcp_bad, tcp_bad_csum;
	uint64_t rst_out, rst_no_socket, rst_in;
	uint64_t challenge_acks, challenge_acks_limited;
	uint64_t rexmits, syn_rexmits, timeouts, keep_probes, keep_drops;
	uint64_t persist_probes, delayed_acks;
	uint64_t tw_created, tw_reopened, tw_killed_by_rst, tw_rst_ignored, tw_fin_reacked;
	uint64_t listen_overflows, syn_queue_overflows, syncookies_sent, syncookies_ok, syncookies_bad;
	uint64_t paws_drops, bad_ack_drops, ooo_segs, dup_segs;
	/* segments header prediction took (in order, ACK only, ESTABLISHED):
	 * an ACK of new data alone, or text (with or without a new ACK) */
	uint64_t predicted_acks, predicted_data;
	uint64_t quiet_drops;
	uint64_t active_opens, passive_opens, established, conn_drops;
	/* ICMP (src/ip/icmp.c): every message to us, malformed ones, echo
	 * replies sent, errors recorded on a connection as its soft error,
	 * errors that matched no connection or failed the RFC 5927 checks */
	uint64_t icmp_in, icmp_bad, icmp_echo_replies, icmp_unreach, icmp_unreach_ignored;
};
const struct synfin_stats *synfin_get_stats(const struct synfin_stack *st);

/* Stack lifecycle. The stack owns one IPv4 address. `seed` feeds its keyed
 * hash (RFC 6528 ISNs, RFC 6056 ports, SYN cookies) and its random choices:
 * give a secret random value on a real network, a fixed one to replay. */
struct synfin_stack *synfin_stack_create(const struct synfin_config *cfg,
					 const struct synfin_ops *ops, uint32_t ip,
					 uint64_t seed, synfin_time_t now);
void synfin_stack_destroy(struct synfin_stack *st);
uint32_t synfin_stack_ip(const struct synfin_stack *st);
const struct synfin_config *synfin_stack_config(const struct synfin_stack *st);

/* One IPv4 datagram arrives. Malformed input is counted and dropped. */
void synfin_input(struct synfin_stack *st, const uint8_t *pkt, size_t len,
		  synfin_time_t now);
/* One IPv4 datagram in two pieces: hdr holds the IPv4 and TCP headers,
 * payload the TCP payload, as ops.output_ref hands a segment over (a
 * driver that splits headers from payload, an in-process link). The IPv4
 * total length must be hdr_len + len. Only TCP is taken this way. */
void synfin_input_split(struct synfin_stack *st, const uint8_t *hdr, size_t hdr_len,
			const uint8_t *payload, size_t len, synfin_time_t now);
/* The driver is done with every payload that ops.output_ref has handed it
 * so far: those bytes may be reused. */
void synfin_tx_release(struct synfin_stack *st);
/* Run every timer due at or before `now`. */
void synfin_poll(struct synfin_stack *st, synfin_time_t now);
/* The earliest time at which synfin_poll() has work, or SYNFIN_TIME_NEVER. */
synfin_time_t synfin_next_deadline(const struct synfin_stack *st);
/* The time the stack was last given. */
synfin_time_t synfin_now(const struct synfin_stack *st);

/* ---- BSD-like sockets (all non-blocking) ---- */
#define SYNFIN_SHUT_RD 0
#define SYNFIN_SHUT_WR 1
#define SYNFIN_SHUT_RDWR 2

/* option levels and names */
#define SYNFIN_SOL_SOCKET 1
#define SYNFIN_SOL_TCP 6
#define SYNFIN_SO_REUSEADDR 2  /* int */
#define SYNFIN_SO_KEEPALIVE 9  /* int */
#define SYNFIN_SO_LINGER 13    /* struct synfin_linger */
#define SYNFIN_SO_ERROR 4      /* int, get only: the pending error, cleared */
#define SYNFIN_SO_SNDBUF 7     /* int */
#define SYNFIN_SO_RCVBUF 8     /* int */
#define SYNFIN_TCP_NODELAY 1   /* int */
#define SYNFIN_TCP_MAXSEG 2    /* int, get: the send MSS */
#define SYNFIN_TCP_KEEPIDLE 4  /* int, seconds */
#define SYNFIN_TCP_KEEPINTVL 5 /* int, seconds */
#define SYNFIN_TCP_KEEPCNT 6   /* int */
#define SYNFIN_TCP_CONGESTION 13 /* int: SYNFIN_CC_*, before or after connect */

/* What TCP_INFO tells on Linux, for tools and plots. */
struct synfin_tcp_info {
	uint8_t state;          /* enum synfin_tcp_state */
	uint8_t ca_state;       /* 0 open, 1 disorder, 2 recovery, 3 loss (after an RTO) */
	uint8_t snd_wscale, rcv_wscale;
	bool sack, timestamps;
	uint8_t congestion;     /* SYNFIN_CC_* */
	uint32_t mss;           /* send MSS, options excluded */
	uint32_t cwnd, ssthresh; /* bytes */
	uint32_t srtt_us, rttvar_us, rto_us;
	uint32_t in_flight;     /* bytes sent and not acknowledged, less those SACKed */
	uint32_t snd_wnd, rcv_wnd;
	uint64_t bytes_acked, bytes_received;
	uint64_t segs_out, retrans_segs, fast_retrans, rto_count;
};
int synfin_tcp_info(struct synfin_stack *st, int fd, struct synfin_tcp_info *info);

struct synfin_linger {
	int l_onoff;
	int l_linger; /* seconds */
};

/* readiness bits returned by synfin_events() */
#define SYNFIN_EV_IN 0x01     /* data, EOF or a connection to accept */
#define SYNFIN_EV_OUT 0x04    /* send would accept bytes / connect finished */
#define SYNFIN_EV_ERR 0x08    /* a pending error (SO_ERROR) */
#define SYNFIN_EV_HUP 0x10    /* both directions closed */
#define SYNFIN_EV_RDHUP 0x2000 /* peer sent FIN */
#define SYNFIN_EV_CLOSED 0x8000 /* a lingering close has finished */

int synfin_socket(struct synfin_stack *st);
int synfin_bind(struct synfin_stack *st, int fd, const struct synfin_addr *a);
int synfin_listen(struct synfin_stack *st, int fd, int backlog);
int synfin_accept(struct synfin_stack *st, int fd, struct synfin_addr *peer);
int synfin_connect(struct synfin_stack *st, int fd, const struct synfin_addr *a);
long synfin_send(struct synfin_stack *st, int fd, const void *buf, size_t len);
long synfin_recv(struct synfin_stack *st, int fd, void *buf, size_t len);
int synfin_shutdown(struct synfin_stack *st, int fd, int how);
/* Releases the descriptor. With SO_LINGER {1, N>0} the descriptor stays
 * until the data and FIN are acknowledged or N seconds pass: close returns
 * -EINPROGRESS, SYNFIN_EV_CLOSED is raised when the wait ends, and a second
 * synfin_close() releases it, returning 0 if everything was acknowledged or
 * -EWOULDBLOCK if the time ran out (the close then goes on in background). */
int synfin_close(struct synfin_stack *st, int fd);
int synfin_setsockopt(struct synfin_stack *st, int fd, int level, int name,
		      const void *val, size_t len);
int synfin_getsockopt(struct synfin_stack *st, int fd, int level, int name,
		      void *val, size_t *len);
int synfin_getsockname(struct synfin_stack *st, int fd, struct synfin_addr *a);
int synfin_getpeername(struct synfin_stack *st, int fd, struct synfin_addr *a);
unsigned synfin_events(struct synfin_stack *st, int fd);
/* The TCP state of a socket (enum synfin_tcp_state), or -EBADF. */
int synfin_state(struct synfin_stack *st, int fd);

/* The state of the connection lport <-> faddr:fport on this stack, whether
 * or not a socket still refers to it (TCPS_TIME_WAIT for a TIME_WAIT
 * record, TCPS_CLOSED when there is none). */
int synfin_tuple_state(const struct synfin_stack *st, uint16_t lport, uint32_t faddr,
		       uint16_t fport);

/* Processes: a socket belongs to an owner (0 by default). synfin_exit()
 * closes every socket of an owner as a kernel does when a process exits
 * (Ctrl+C): gracefully, honouring SO_LINGER 0 and unread data. */
int synfin_set_owner(struct synfin_stack *st, int fd, unsigned owner);
void synfin_exit(struct synfin_stack *st, unsigned owner);

/* Check the engine's invariants on every connection (for tests and
 * debugging): SND.UNA <= SND.NXT <= SND.MAX, nothing acknowledged that was
 * never sent, cwnd at least one segment once established, the SACK
 * scoreboard inside [SND.UNA, SND.MAX], buffers within their sizes, the
 * timer heap consistent. Returns 0, or -1 with the first violation in why. */
int synfin_check(const struct synfin_stack *st, char *why, size_t cap);

/* A netstat -tan like table with the pending timer of each connection.
 * Returns the length the full table needs (like snprintf). */
size_t synfin_netstat(const struct synfin_stack *st, char *buf, size_t cap);

/* Format an IPv4 address "a.b.c.d" into buf (at least 16 bytes). */
const char *synfin_ip_str(uint32_t ip, char *buf);
/* Parse "a.b.c.d"; returns false on anything else. */
bool synfin_ip_parse(const char *s, uint32_t *ip);

#ifdef __cplusplus
}
#endif
#endif
