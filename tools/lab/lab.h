/*
 * synfin-lab: scenarios on the simulated network. Each scenario reproduces
 * an experiment of the seeds, prints its trace, state changes and netstat
 * tables, and checks the RFC behaviour: it passes only if every check held.
 * Checks are written so that they also hold with loss, duplication and
 * reordering switched on (--loss/--dup/--reorder); checks on exact segment
 * counts apply only on a clean link (lab_clean()).
 */
#ifndef SYNFIN_LAB_H
#define SYNFIN_LAB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dev/sim.h"
#include "synfin/synfin.h"

struct lab_opts {
	uint64_t seed;
	double loss, dup, reorder;
	synfin_time_t delay;    /* one-way link delay */
	const char *pcap;       /* file for this scenario's pcap, or NULL */
	bool quiet;             /* no trace; results only */
};

/* One datagram seen on the wire (before faults). */
struct lab_seg {
	synfin_time_t t;
	int from;               /* host index */
	uint8_t flags;
	uint32_t seq, ack, len;
	bool has_ts;            /* a timestamp option, and its TSval */
	uint32_t tsval;
	bool dropped;           /* dropped by the scenario's own rule */
};

#define LAB_MAX_HOSTS 4
#define LAB_MAX_SEGS 4096

struct lab;
typedef bool (*lab_drop_fn)(struct lab *lab, int from, const struct lab_seg *s);

struct lab {
	const struct lab_opts *o;
	struct sim *sim;
	struct sim_host *h[LAB_MAX_HOSTS];
	int nhosts;
	FILE *out;              /* trace and commentary (NULL when quiet) */
	bool failed;
	char why[512];
	/* every segment sent, in order */
	struct lab_seg segs[LAB_MAX_SEGS];
	int nsegs;
	lab_drop_fn drop;       /* the scenario's own drop rule, or NULL */
	void *drop_ctx;
	int drop_count;
	/* state changes seen, per host */
	int state_events;
};

struct scenario {
	const char *name;
	const char *desc;
	void (*run)(struct lab *lab);
};
extern const struct scenario lab_scenarios[];
extern const int lab_nscenarios;

/* Addresses: the server 198.18.0.1, the client 198.18.0.2, a third 198.18.0.3 */
#define LAB_SERVER_IP 0xC6120001u
#define LAB_CLIENT_IP 0xC6120002u
#define LAB_OTHER_IP 0xC6120003u
enum { SERVER = 0, CLIENT = 1, OTHER = 2 };

/* Build the network: `n` hosts (server, client, other) with the default
 * config, changed by `cfg` if given, on links with the options' faults. */
void lab_setup(struct lab *lab, int n, const struct synfin_config *cfg);
struct synfin_stack *lab_st(struct lab *lab, int host);
synfin_time_t lab_now(struct lab *lab);
bool lab_clean(const struct lab *lab); /* no random faults on the link */

/* Commentary, printed as "# ..." lines in the trace. */
void lab_note(struct lab *lab, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The netstat table of a host, printed under a title. */
void lab_netstat(struct lab *lab, int host);

/* A check: on failure the scenario is marked failed with the reason (the
 * first failure is kept) and the macro returns from the scenario. */
void lab_fail(struct lab *lab, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define CHECK(lab, cond, ...)                                              \
	do {                                                               \
		if (!(cond)) {                                             \
			lab_fail((lab), __FILE__, __LINE__, __VA_ARGS__);  \
			return;                                            \
		}                                                          \
	} while (0)

/* Running the clock */
void lab_run_for(struct lab *lab, synfin_time_t d);
/* Run until the socket reaches `state` (or limit passes); true if reached. */
bool lab_wait_state(struct lab *lab, int host, int fd, int state, synfin_time_t limit);
/* Run until synfin_events() has any bit of `mask`; returns the events. */
unsigned lab_wait_events(struct lab *lab, int host, int fd, unsigned mask, synfin_time_t limit);
/* Run until `cond` holds */
bool lab_wait(struct lab *lab, bool (*cond)(struct lab *lab, void *ctx), void *ctx,
	      synfin_time_t limit);
/* Run until a 4-tuple of `host` has no connection block and no TIME_WAIT
 * record left (its netstat row is gone). */
bool lab_wait_gone(struct lab *lab, int host, uint16_t lport, uint32_t faddr, uint16_t fport,
		   synfin_time_t limit);
/* The state of a 4-tuple on a host as netstat shows it (TCPS_CLOSED if no row). */
int lab_tuple_state(struct lab *lab, int host, uint16_t lport, uint32_t faddr, uint16_t fport);

/* The server listens on `port` (unless *l is already a listener, >= 0);
 * the client connects from `lport` (0: ephemeral); both ESTABLISHED.
 * Returns false, with the scenario failed, if not. */
bool lab_pair(struct lab *lab, uint16_t port, uint16_t lport, int *l, int *c, int *s);
/* Send a line from one end and read it whole at the other; false (failed) if not. */
bool lab_line(struct lab *lab, int from, int ffd, int to, int tfd, const char *text);
uint16_t lab_local_port(struct lab *lab, int host, int fd);

/* Socket helpers: each returns the fd or fails the scenario (then -1). */
int lab_listen(struct lab *lab, int host, uint16_t port, int backlog, bool reuseaddr);
/* connect from `host` (bound to `lport` if non-zero) to ip:port; returns
 * the fd after connect() said EINPROGRESS. */
int lab_connect(struct lab *lab, int host, uint16_t lport, uint32_t ip, uint16_t port);
/* accept the next connection, running the clock up to `limit` for it */
int lab_accept(struct lab *lab, int host, int lfd, synfin_time_t limit);
/* send all of buf (the send buffer is large enough in scenarios) */
bool lab_send_str(struct lab *lab, int host, int fd, const char *s);
/* read whatever is there into buf (NUL-terminated); returns recv's value */
long lab_recv_str(struct lab *lab, int host, int fd, char *buf, size_t cap);
/* Run until `n` bytes have been read from fd (collected into buf) or EOF/error. */
long lab_read_n(struct lab *lab, int host, int fd, char *buf, size_t n, synfin_time_t limit);
/* Run until recv() returns 0 (EOF) or an error; returns that value (0 for EOF). */
long lab_wait_eof(struct lab *lab, int host, int fd, synfin_time_t limit);
void lab_set_int(struct lab *lab, int host, int fd, int level, int name, int v);
void lab_set_linger(struct lab *lab, int host, int fd, int on, int secs);
int lab_so_error(struct lab *lab, int host, int fd);

/* Segments on the wire */
int lab_count(struct lab *lab, int from, uint8_t with, uint8_t without, int since);
/* index of the first segment from `from` with flags `with` (and none of
 * `without`) at or after index `since`; -1 if none */
int lab_find(struct lab *lab, int from, uint8_t with, uint8_t without, int since);

const char *lab_errname(int err);
/* A probability from 0 to 1, the whole string; false on anything else. */
bool lab_parse_prob(const char *s, double *out); /* "ECONNREFUSED" for ECONNREFUSED, with or without sign */

#endif
