/*
 * synfin-sock: Stevens' sock program on synfin, over a TAP device.
 *
 *   synfin-sock [options] HOST PORT          connect to HOST.PORT
 *   synfin-sock -s [options] [HOST] PORT     listen, serve one connection
 *
 * stdin goes to the connection and the connection to stdout. At EOF on
 * stdin the connection is closed: our FIN goes out at once, whatever the
 * peer still sends in the next second is written out (as socat's -t does,
 * so that `echo hi | synfin-sock HOST PORT` sees the answer), then the
 * socket is closed. With -h we keep reading until the peer closes; with -L
 * the socket is closed at once, so that SO_LINGER does what it says.
 *
 * Unlike a kernel, the stack lives in this process, so after the close we
 * stay until the connection is over (TIME_WAIT or CLOSED) to answer the
 * peer: exit 0 then, 1 on an error, 2 on a usage error.
 */
#define _GNU_SOURCE /* getrandom, sigset operations */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "dev/loop.h"
#include "dev/pcap.h"
#include "dev/tap.h"
#include "synfin/netif.h"
#include "synfin/synfin.h"

#define PROG "synfin-sock"
#define IOBUF 16384
#define STDOUT_CHUNK 4096 /* PIPE_BUF: a pipe that polls writable takes it without blocking */
#define CLOSE_GRACE SYNFIN_SEC(1) /* after our FIN, how long we still read (no -h) */
#define SIGNAL_WAIT SYNFIN_SEC(2) /* after Ctrl+C, how long we wait for our FIN's ACK */

/* The only global: which signal asked us to stop. */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

struct opts {
	bool server, reuseaddr, keepalive, halfclose, verbose, echo, forever, trace;
	int linger;                         /* -1: not set */
	int keepidle, keepintvl, keepcnt;   /* 0: stack default */
	uint16_t bind_port;                 /* -b, 0: none */
	const char *tap;
	const char *pcap;
	bool have_addr;
	uint32_t ip;
	uint8_t prefix_len;
	uint32_t gw;
	bool have_mac;
	uint8_t mac[6];
	bool have_seed;
	uint64_t seed;
	uint32_t host;                      /* client: the peer; server: local address or 0 */
	uint16_t port;
};

/* The connection we are closing, followed after its descriptor is gone. */
struct tuple_watch {
	bool on;
	uint16_t lport;
	uint32_t faddr;
	uint16_t fport;
	int last_old, last_new;
	char last_cause[64];
};

struct app {
	struct opts o;
	struct tap_dev tap;
	struct pcap_writer pcap;
	bool pcap_open;
	struct dev_loop loop;
	struct synfin_netif *nif;
	struct synfin_stack *st;
	sigset_t sleep_mask;
	bool tx_warned;
	int exit_signal; /* set once a signal has closed everything */

	struct tuple_watch watch;

	/* stdin -> connection: bytes synfin_send() has not taken yet */
	uint8_t in[IOBUF];
	size_t in_off, in_len;
	bool stdin_eof;
	/* connection -> stdout (or back to the peer with --echo) */
	uint8_t out[IOBUF];
	size_t out_off, out_len;
};

/* ---- messages ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [options] HOST PORT          connect, then copy stdin <-> connection\n"
		"       " PROG " -s [options] [HOST] PORT     listen and serve one connection\n"
		"options:\n"
		"  -s            server            -b PORT   bind this local port (client)\n"
		"  -A            SO_REUSEADDR      -L SECS   SO_LINGER (0: abortive close, RST)\n"
		"  -K            SO_KEEPALIVE      --keepidle S --keepintvl S --keepcnt N\n"
		"  -h            half-close at EOF on stdin, read until the peer closes\n"
		"  -v            verbose: addresses and every TCP state change on stderr\n"
		"  --echo        send back what arrives instead of using stdin/stdout\n"
		"  --forever     with -s: accept the next connection when one ends\n"
		"network:\n"
		"  --addr A.B.C.D/N   our address on the TAP's link (required)\n"
		"  --tap NAME         TAP device (default synfin0)\n"
		"  --gw A.B.C.D       gateway for off-link hosts\n"
		"  --mac XX:XX:XX:XX:XX:XX   (default 02:53:46 + the low 3 bytes of the address)\n"
		"  --pcap FILE        write every frame (Ethernet) to FILE\n"
		"  --trace            every frame in tcpdump form on stderr\n"
		"  --seed N           seed for ISNs and ports (default: getrandom)\n"
		"exit status: 0 after an orderly close, 1 on a connection error, 2 on a usage error\n");
}

/* A usage error: one line saying what is wrong and how to fix it. */
static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 2;
}

/* "synfin-sock: connect: Connection refused" */
static int fail(const char *what, int err)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

static const char *addr_str(const struct synfin_addr *a, char *buf, size_t cap)
{
	char ip[16];
	snprintf(buf, cap, "%s.%u", synfin_ip_str(a->ip, ip), (unsigned)a->port);
	return buf;
}

/* ---- option parsing ---- */

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = (unsigned long)v;
	return true;
}

static bool parse_port(const char *s, uint16_t *port)
{
	unsigned long v;
	if (!parse_uint(s, 65535, &v) || v == 0)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* "198.18.0.2/24" */
static bool parse_cidr(const char *s, uint32_t *ip, uint8_t *len)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	unsigned long n;

	if (!slash || (size_t)(slash - s) >= sizeof buf)
		return false;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (!synfin_ip_parse(buf, ip) || !parse_uint(slash + 1, 32, &n) || n == 0)
		return false;
	*len = (uint8_t)n;
	return true;
}

static uint32_t prefix_mask(uint8_t len)
{
	return len == 0 ? 0 : 0xffffffffu << (32 - len);
}

/* Options that take a value; the rest are flags. */
static bool takes_value(const char *name)
{
	static const char *const with_value[] = {
		"-b", "-L", "--keepidle", "--keepintvl", "--keepcnt", "--tap",
		"--addr", "--gw", "--mac", "--pcap", "--seed",
	};
	for (size_t i = 0; i < sizeof with_value / sizeof with_value[0]; i++)
		if (!strcmp(name, with_value[i]))
			return true;
	return false;
}

/* One option with its value (NULL for a flag). Returns 0 or 2. */
static int set_option(struct opts *o, const char *name, const char *v)
{
	unsigned long n;

	if (!strcmp(name, "-s")) {
		o->server = true;
	} else if (!strcmp(name, "-A")) {
		o->reuseaddr = true;
	} else if (!strcmp(name, "-K")) {
		o->keepalive = true;
	} else if (!strcmp(name, "-h")) {
		o->halfclose = true;
	} else if (!strcmp(name, "-v")) {
		o->verbose = true;
	} else if (!strcmp(name, "--echo")) {
		o->echo = true;
	} else if (!strcmp(name, "--forever")) {
		o->forever = true;
	} else if (!strcmp(name, "--trace")) {
		o->trace = true;
	} else if (!strcmp(name, "-b")) {
		if (!parse_port(v, &o->bind_port))
			return bad("-b wants a local port from 1 to 65535, not '%s'", v);
	} else if (!strcmp(name, "-L")) {
		if (!parse_uint(v, 65535, &n))
			return bad("-L wants the linger time in seconds (0 to 65535; 0 closes with RST), not '%s'", v);
		o->linger = (int)n;
	} else if (!strcmp(name, "--keepidle") || !strcmp(name, "--keepintvl")) {
		if (!parse_uint(v, 32767, &n) || n == 0)
			return bad("%s wants seconds from 1 to 32767, not '%s'", name, v);
		if (!strcmp(name, "--keepidle"))
			o->keepidle = (int)n;
		else
			o->keepintvl = (int)n;
	} else if (!strcmp(name, "--keepcnt")) {
		if (!parse_uint(v, 127, &n) || n == 0)
			return bad("--keepcnt wants a probe count from 1 to 127, not '%s'", v);
		o->keepcnt = (int)n;
	} else if (!strcmp(name, "--tap")) {
		o->tap = v;
	} else if (!strcmp(name, "--addr")) {
		if (!parse_cidr(v, &o->ip, &o->prefix_len))
			return bad("--addr wants A.B.C.D/N with N from 1 to 32 (e.g. --addr 198.18.0.2/24), not '%s'", v);
		o->have_addr = true;
	} else if (!strcmp(name, "--gw")) {
		if (!synfin_ip_parse(v, &o->gw) || o->gw == 0)
			return bad("--gw wants an IPv4 address A.B.C.D, not '%s'", v);
	} else if (!strcmp(name, "--mac")) {
		if (!synfin_mac_parse(v, o->mac))
			return bad("--mac wants XX:XX:XX:XX:XX:XX (hex bytes), not '%s'", v);
		if (o->mac[0] & 1)
			return bad("--mac %s is a multicast address; use a unicast one (even first byte, e.g. 02:...)", v);
		o->have_mac = true;
	} else if (!strcmp(name, "--pcap")) {
		o->pcap = v;
	} else if (!strcmp(name, "--seed")) {
		char *end;
		if (*v < '0' || *v > '9')
			return bad("--seed wants a non-negative integer, not '%s'", v);
		errno = 0;
		o->seed = strtoull(v, &end, 0);
		if (errno || *end)
			return bad("--seed wants a non-negative integer, not '%s'", v);
		o->have_seed = true;
	} else {
		return bad("unknown option '%s' (" PROG " --help lists the options)", name);
	}
	return 0;
}

/* Returns -1 to go on, or an exit status (0 for --help). */
static int parse_args(struct opts *o, int argc, char **argv)
{
	const char *pos[3];
	int npos = 0;
	bool only_pos = false;

	memset(o, 0, sizeof *o);
	o->linger = -1;
	o->tap = "synfin0";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r;

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (npos == 3)
				return bad("too many arguments ('%s'): give [HOST] PORT", a);
			pos[npos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = true;
			continue;
		}
		if (!strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (a[1] == '-') {
			/* --name or --name=value */
			char name[32];
			const char *eq = strchr(a, '=');
			size_t n = eq ? (size_t)(eq - a) : strlen(a);
			if (n >= sizeof name)
				return bad("unknown option '%s' (" PROG " --help lists the options)", a);
			memcpy(name, a, n);
			name[n] = '\0';
			const char *v = NULL;
			if (takes_value(name)) {
				if (eq)
					v = eq + 1;
				else if (i + 1 < argc)
					v = argv[++i];
				else
					return bad("option '%s' needs a value (" PROG " --help)", name);
			} else if (eq) {
				return bad("option '%s' takes no value", name);
			}
			if ((r = set_option(o, name, v)) != 0)
				return r;
			continue;
		}
		/* short flags, combinable as getopt allows: -sv, -L0, -b 5000 */
		for (const char *c = a + 1; *c; c++) {
			char name[3] = {'-', *c, '\0'};
			const char *v = NULL;
			if (takes_value(name)) {
				if (c[1])
					v = c + 1;
				else if (i + 1 < argc)
					v = argv[++i];
				else
					return bad("option '%s' needs a value (" PROG " --help)", name);
			}
			if ((r = set_option(o, name, v)) != 0)
				return r;
			if (v)
				break;
		}
	}

	if (!o->have_addr)
		return bad("--addr A.B.C.D/N is required: our address on the TAP's link (e.g. --addr 198.18.0.2/24)");
	if (o->server) {
		if (npos < 1 || npos > 2)
			return bad("a server wants [HOST] PORT (e.g. " PROG " -s --addr 198.18.0.2/24 5555)");
		if (npos == 2 && !synfin_ip_parse(pos[0], &o->host))
			return bad("HOST must be a dotted IPv4 address (our own, or 0.0.0.0), not '%s'", pos[0]);
		if (!parse_port(pos[npos - 1], &o->port))
			return bad("PORT must be from 1 to 65535, not '%s'", pos[npos - 1]);
		if (o->bind_port)
			return bad("-b is for a client's local port; a server listens on PORT");
	} else {
		if (npos != 2)
			return bad("a client wants HOST PORT (or -s to listen), e.g. " PROG " --addr 198.18.0.2/24 198.18.0.1 7");
		if (!synfin_ip_parse(pos[0], &o->host))
			return bad("HOST must be a dotted IPv4 address (no name lookup here), not '%s'", pos[0]);
		if (!parse_port(pos[1], &o->port))
			return bad("PORT must be from 1 to 65535, not '%s'", pos[1]);
		if (o->forever)
			return bad("--forever goes with -s (a server that accepts one connection after another)");
	}
	uint32_t mask = prefix_mask(o->prefix_len);
	if (o->prefix_len < 31 && ((o->ip & ~mask) == 0 || (o->ip & ~mask) == ~mask))
		return bad("--addr %u.%u.%u.%u/%u is the network or broadcast address of its prefix; pick a host address",
			   (unsigned)(o->ip >> 24), (unsigned)(o->ip >> 16 & 255),
			   (unsigned)(o->ip >> 8 & 255), (unsigned)(o->ip & 255), (unsigned)o->prefix_len);
	if (o->gw && (o->gw & mask) != (o->ip & mask))
		return bad("--gw must be on our link (inside --addr's prefix /%u)", (unsigned)o->prefix_len);
	return -1;
}

/* ---- the stack and the loop ---- */

static void on_state(void *ctx, const struct synfin_state_event *ev)
{
	struct app *a = ctx;
	struct tuple_watch *w = &a->watch;

	if (a->o.verbose)
		fprintf(stderr, "%s -> %s (%s)\n", synfin_state_name(ev->old_state),
			synfin_state_name(ev->new_state), ev->cause ? ev->cause : "");
	if (w->on && ev->local.port == w->lport && ev->remote.ip == w->faddr &&
	    ev->remote.port == w->fport) {
		w->last_old = ev->old_state;
		w->last_new = ev->new_state;
		snprintf(w->last_cause, sizeof w->last_cause, "%s", ev->cause ? ev->cause : "");
	}
}

static uint64_t random_seed(void)
{
	uint64_t s = 0;

	if (getrandom(&s, sizeof s, 0) == (ssize_t)sizeof s)
		return s;
	/* no getrandom (very old kernel): weak, but the stack still works */
	return dev_clock_now() ^ ((uint64_t)getpid() << 32);
}

/* synfin_netif_ops.output: the netif has one context for both callbacks */
static void out_frame(void *ctx, const uint8_t *frame, size_t len)
{
	struct app *a = ctx;
	dev_loop_output(&a->loop, frame, len);
}

/* Open the TAP, the pcap and the netif. Returns 0, or an exit status. */
static int net_setup(struct app *a)
{
	char err[256];
	struct opts *o = &a->o;

	if (tap_open(&a->tap, o->tap, err, sizeof err) < 0)
		return bad("%s", err);
	if (!tap_is_up(&a->tap))
		fprintf(stderr, PROG ": warning: %s is down; nothing will pass until `ip link set %s up`\n",
			a->tap.name, a->tap.name);
	dev_loop_init(&a->loop, &a->tap);
	if (o->pcap) {
		int r = pcap_open(&a->pcap, o->pcap, PCAP_LINKTYPE_ETHERNET);
		if (r < 0)
			return bad("cannot write pcap %s: %s (check the directory and permissions)", o->pcap,
				   strerror(-r));
		a->pcap_open = true;
		a->loop.pcap = &a->pcap;
	}
	if (o->trace)
		a->loop.trace = stderr;
	a->loop.sleep_sigmask = &a->sleep_mask;

	struct synfin_netif_config cfg;
	synfin_netif_config_default(&cfg);
	cfg.ip = o->ip;
	cfg.prefix_len = o->prefix_len;
	cfg.gateway = o->gw;
	if (o->have_mac)
		memcpy(cfg.mac, o->mac, sizeof cfg.mac);
	struct synfin_netif_ops ops = {.ctx = a, .output = out_frame, .state_change = on_state};
	a->nif = synfin_netif_create(&cfg, NULL, &ops, o->have_seed ? o->seed : random_seed(),
				     dev_loop_now(&a->loop));
	if (!a->nif)
		return bad("the interface configuration was refused (address %s/%u, gateway, MAC): check --addr, --gw and --mac",
			   synfin_ip_str(o->ip, err), (unsigned)o->prefix_len);
	a->loop.nif = a->nif;
	a->st = synfin_netif_stack(a->nif);
	return 0;
}

static void net_teardown(struct app *a)
{
	if (a->nif)
		synfin_netif_destroy(a->nif);
	a->nif = NULL;
	a->st = NULL;
	if (a->pcap_open) {
		int r = pcap_close(&a->pcap);
		if (r < 0)
			fprintf(stderr, PROG ": pcap %s: %s\n", a->o.pcap, strerror(-r));
		a->pcap_open = false;
	}
	tap_close(&a->tap);
}

/* One pass of the loop; a TAP that fails is the end (returns -1). */
static int step(struct app *a, struct pollfd *fds, size_t n, synfin_time_t until)
{
	int r = dev_loop_run_once(&a->loop, fds, n, until);

	if (r < 0) {
		fprintf(stderr, PROG ": %s: %s (was the device deleted?)\n", a->tap.name, strerror(-r));
		return -1;
	}
	if (a->loop.tx_errors && !a->tx_warned) {
		a->tx_warned = true;
		if (a->loop.last_tx_error == EIO)
			fprintf(stderr, PROG ": warning: cannot send on %s: %s (is it up? ip link set %s up)\n",
				a->tap.name, strerror(EIO), a->tap.name);
		else
			fprintf(stderr, PROG ": warning: cannot send on %s: %s\n", a->tap.name,
				strerror(a->loop.last_tx_error));
	}
	return r;
}

/* ---- connections ---- */

static void watch_start(struct app *a, int fd)
{
	struct synfin_addr l, p;
	struct tuple_watch *w = &a->watch;

	memset(w, 0, sizeof *w);
	if (synfin_getsockname(a->st, fd, &l) < 0 || synfin_getpeername(a->st, fd, &p) < 0)
		return;
	w->on = true;
	w->lport = l.port;
	w->faddr = p.ip;
	w->fport = p.port;
	w->last_old = w->last_new = synfin_state(a->st, fd);
}

static int tuple_state(const struct app *a)
{
	const struct tuple_watch *w = &a->watch;
	return w->on ? synfin_tuple_state(a->st, w->lport, w->faddr, w->fport) : TCPS_CLOSED;
}

static bool fin_acked(int state)
{
	return state == TCPS_FIN_WAIT_2 || state == TCPS_TIME_WAIT || state == TCPS_CLOSED;
}

/* Ctrl+C or SIGTERM, with the connection `fd` open (-1: none, or already
 * closed and followed by the watch). A kernel closes every socket of a
 * dying process and carries on alone; our stack dies with us, so the FIN
 * goes out at once (after the data already sent) and we wait up to
 * SIGNAL_WAIT for its ACK. If it does not come (a zero window, a silent
 * peer), the connection is reset rather than left open at the other end
 * with nobody here to answer. SO_LINGER 0 resets at once, as usual. */
static int interrupted(struct app *a, int fd)
{
	int sig = got_signal;
	synfin_time_t until = dev_clock_now() + SIGNAL_WAIT;

	got_signal = 0;
	a->exit_signal = sig;
	if (fd >= 0 && a->o.linger != 0 && synfin_state(a->st, fd) >= TCPS_SYN_RCVD &&
	    synfin_shutdown(a->st, fd, SYNFIN_SHUT_WR) == 0) {
		/* bounded by `until` */
		while (!got_signal && dev_clock_now() < until && !fin_acked(synfin_state(a->st, fd)))
			if (step(a, NULL, 0, until) < 0)
				break;
		if (!fin_acked(synfin_state(a->st, fd))) {
			struct synfin_linger rst = {1, 0};
			synfin_setsockopt(a->st, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_LINGER, &rst, sizeof rst);
		}
	}
	synfin_exit(a->st, 0);
	/* a connection closed before the signal: give its FIN the same chance */
	while (fd < 0 && a->watch.on && !got_signal && dev_clock_now() < until &&
	       !fin_acked(tuple_state(a)))
		if (step(a, NULL, 0, until) < 0)
			break;
	a->watch.on = false;
	return 128 + sig;
}

/* How did the connection end, once we had closed it? */
static int check_end(struct app *a)
{
	const struct tuple_watch *w = &a->watch;
	const char *c = w->last_cause;
	int err = 0;

	if (w->last_new != TCPS_CLOSED)
		return 0; /* TIME_WAIT: the orderly end of an active close */
	if (w->last_old == TCPS_TIME_WAIT)
		return 0; /* the close was complete; an RST (the peer answering a
			   * re-ACK of its retransmitted FIN) only ended TIME_WAIT
			   * early (RFC 1337's case) */
	if (strstr(c, "SO_LINGER 0"))
		return 0; /* the abortive close was asked for */
	if (strstr(c, "RST"))
		err = ECONNRESET;
	else if (strstr(c, "limit") || strstr(c, "timeout") || strstr(c, "establishment"))
		err = ETIMEDOUT;
	else if (strstr(c, "data after close") || strstr(c, "unread"))
		err = ECONNABORTED;
	if (!err)
		return 0;
	fprintf(stderr, PROG ": close: %s (%s in %s)\n", strerror(err), c,
		synfin_state_name(w->last_old));
	return 1;
}

/* Close the connection and stay until it is over: a lingering close first
 * waits for SYNFIN_EV_CLOSED and closes again (see synfin_close()); then
 * the stack answers the peer until TIME_WAIT or CLOSED. Bounded by the
 * stack's own timers (retransmissions, FIN_WAIT_2). */
static int finish(struct app *a, int fd, int rc)
{
	int r = synfin_close(a->st, fd);

	if (r == -EINPROGRESS) {
		if (a->o.verbose)
			fprintf(stderr, "close: lingering up to %d s for the peer to acknowledge everything\n",
				a->o.linger);
		while (!(synfin_events(a->st, fd) & SYNFIN_EV_CLOSED)) {
			if (got_signal)
				return interrupted(a, fd);
			if (step(a, NULL, 0, SYNFIN_TIME_NEVER) < 0)
				return 1;
		}
		r = synfin_close(a->st, fd);
		if (r == -EWOULDBLOCK) {
			fprintf(stderr, PROG ": close: the linger time (%d s) ran out before the peer acknowledged everything\n",
				a->o.linger);
			rc = 1;
		} else if (r < 0 && rc == 0) {
			rc = fail("close", r);
		}
	} else if (r < 0 && rc == 0) {
		rc = fail("close", r);
	}
	for (;;) {
		int s = tuple_state(a);
		if (s == TCPS_CLOSED || s == TCPS_TIME_WAIT)
			break;
		if (got_signal)
			return interrupted(a, -1);
		if (step(a, NULL, 0, SYNFIN_TIME_NEVER) < 0)
			return 1;
	}
	if (rc == 0 && a->watch.on)
		rc = check_end(a);
	a->watch.on = false;
	return rc;
}

/* "synfin-sock: recv: Connection reset by peer", then release the socket */
static int conn_error(struct app *a, int fd, const char *what, long err)
{
	fail(what, (int)err);
	return finish(a, fd, 1);
}

/* --echo: what arrived goes back. Returns 0 or a -errno from send. */
static long echo_back(struct app *a, int fd)
{
	while (a->out_len) {
		long w = synfin_send(a->st, fd, a->out + a->out_off, a->out_len);
		if (w == -EAGAIN)
			return 0;
		if (w < 0)
			return w;
		a->out_off += (size_t)w;
		a->out_len -= (size_t)w;
	}
	return 0;
}

/* Move bytes both ways until both directions are closed. */
static int serve(struct app *a, int fd)
{
	const struct opts *o = &a->o;
	bool wr_shut = false, net_eof = false;
	synfin_time_t grace = SYNFIN_TIME_NEVER;

	a->out_off = a->out_len = 0;
	watch_start(a, fd);
	for (;;) {
		struct pollfd fds[2];
		int in_i = -1, out_i = -1;
		size_t n = 0;
		long r;

		if (got_signal)
			return interrupted(a, fd);

		/* stdin -> connection. While the send buffer is full the bytes
		 * stay here and stdin is not read; the ACKs that make room
		 * wake the loop, and EV_OUT says when to try again. */
		if (a->in_len &&
		    (synfin_events(a->st, fd) & (SYNFIN_EV_OUT | SYNFIN_EV_ERR | SYNFIN_EV_HUP))) {
			r = synfin_send(a->st, fd, a->in + a->in_off, a->in_len);
			if (r > 0) {
				a->in_off += (size_t)r;
				a->in_len -= (size_t)r;
			} else if (r != -EAGAIN) {
				return conn_error(a, fd, "send", r);
			}
		}
		/* connection -> our buffer (-> back, with --echo) */
		if (o->echo && (r = echo_back(a, fd)) < 0)
			return conn_error(a, fd, "send", r);
		for (int i = 0; i < 64 && a->out_len == 0 && !net_eof; i++) {
			r = synfin_recv(a->st, fd, a->out, sizeof a->out);
			if (r == -EAGAIN)
				break;
			if (r < 0)
				return conn_error(a, fd, "recv", r);
			if (r == 0) {
				net_eof = true;
				break;
			}
			a->out_off = 0;
			a->out_len = (size_t)r;
			if (o->echo && (r = echo_back(a, fd)) < 0)
				return conn_error(a, fd, "send", r);
		}

		/* our side is done */
		if (!o->echo && a->stdin_eof && a->in_len == 0 && !wr_shut) {
			if (o->linger >= 0 && !o->halfclose)
				return finish(a, fd, 0);
			r = synfin_shutdown(a->st, fd, SYNFIN_SHUT_WR);
			if (r < 0)
				return finish(a, fd, 0);
			wr_shut = true;
			if (!o->halfclose)
				grace = dev_clock_now() + CLOSE_GRACE;
		}
		/* the peer is done and all it sent is delivered: like sock, we
		 * close too */
		if (net_eof && a->out_len == 0)
			return finish(a, fd, 0);
		if (grace != SYNFIN_TIME_NEVER && dev_clock_now() >= grace)
			return finish(a, fd, 0);

		if (!o->echo && !a->stdin_eof && a->in_len == 0 && !net_eof) {
			in_i = (int)n;
			fds[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
		}
		if (!o->echo && a->out_len) {
			out_i = (int)n;
			fds[n++] = (struct pollfd){.fd = STDOUT_FILENO, .events = POLLOUT};
		}
		if (step(a, fds, n, grace) < 0)
			return 1;

		if (out_i >= 0 && fds[out_i].revents) {
			size_t len = a->out_len < STDOUT_CHUNK ? a->out_len : STDOUT_CHUNK;
			ssize_t w = write(STDOUT_FILENO, a->out + a->out_off, len);
			if (w > 0) {
				a->out_off += (size_t)w;
				a->out_len -= (size_t)w;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				fail("write", errno);
				return finish(a, fd, 1);
			}
		}
		if (in_i >= 0 && fds[in_i].revents) {
			ssize_t got = read(STDIN_FILENO, a->in, sizeof a->in);
			if (got > 0) {
				a->in_off = 0;
				a->in_len = (size_t)got;
			} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				if (got < 0)
					fail("read", errno);
				a->stdin_eof = true;
			}
		}
	}
}

static int set_int(struct app *a, int fd, int level, int name, int v, const char *what)
{
	int r = synfin_setsockopt(a->st, fd, level, name, &v, sizeof v);
	return r < 0 ? fail(what, r) : 0;
}

/* -L, -K and the keepalive times, on a client or an accepted socket */
static int conn_options(struct app *a, int fd)
{
	const struct opts *o = &a->o;

	if (o->linger >= 0) {
		struct synfin_linger l = {1, o->linger};
		int r = synfin_setsockopt(a->st, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_LINGER, &l, sizeof l);
		if (r < 0)
			return fail("setsockopt SO_LINGER", r);
	}
	if (o->keepalive &&
	    set_int(a, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_KEEPALIVE, 1, "setsockopt SO_KEEPALIVE"))
		return 1;
	if (o->keepidle &&
	    set_int(a, fd, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPIDLE, o->keepidle, "setsockopt TCP_KEEPIDLE"))
		return 1;
	if (o->keepintvl && set_int(a, fd, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPINTVL, o->keepintvl,
				    "setsockopt TCP_KEEPINTVL"))
		return 1;
	if (o->keepcnt &&
	    set_int(a, fd, SYNFIN_SOL_TCP, SYNFIN_TCP_KEEPCNT, o->keepcnt, "setsockopt TCP_KEEPCNT"))
		return 1;
	return 0;
}

static int run_client(struct app *a)
{
	const struct opts *o = &a->o;
	struct synfin_addr peer = {o->host, o->port}, l, p;
	char s1[32], s2[32];
	int fd = synfin_socket(a->st);
	int r;

	if (fd < 0)
		return fail("socket", fd);
	if (o->reuseaddr &&
	    set_int(a, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_REUSEADDR, 1, "setsockopt SO_REUSEADDR"))
		return 1;
	if (conn_options(a, fd))
		return 1;
	if (o->bind_port) {
		struct synfin_addr b = {0, o->bind_port};
		if ((r = synfin_bind(a->st, fd, &b)) < 0)
			return fail("bind", r);
	}
	uint32_t mask = prefix_mask(o->prefix_len);
	if ((o->host & mask) != (o->ip & mask) && !o->gw)
		return fail("connect", ENETUNREACH);
	uint64_t arp_failed = synfin_netif_get_stats(a->nif)->arp_failed;
	r = synfin_connect(a->st, fd, &peer);
	if (r < 0 && r != -EINPROGRESS)
		return fail("connect", r);
	/* bounded by the stack's connection-establishment timer */
	for (;;) {
		int s = synfin_state(a->st, fd);
		if (s != TCPS_SYN_SENT && s != TCPS_SYN_RCVD)
			break;
		if (got_signal)
			return interrupted(a, -1);
		/* as Linux, give up when ARP finds no one: "No route to host" */
		if (s == TCPS_SYN_SENT && synfin_netif_get_stats(a->nif)->arp_failed > arp_failed) {
			synfin_close(a->st, fd);
			return fail("connect", EHOSTUNREACH);
		}
		if (step(a, NULL, 0, SYNFIN_TIME_NEVER) < 0)
			return 1;
	}
	if (synfin_getpeername(a->st, fd, &p) < 0 || synfin_getsockname(a->st, fd, &l) < 0) {
		int err = 0;
		size_t len = sizeof err;
		synfin_getsockopt(a->st, fd, SYNFIN_SOL_SOCKET, SYNFIN_SO_ERROR, &err, &len);
		synfin_close(a->st, fd);
		return fail("connect", err ? err : ECONNABORTED);
	}
	if (o->verbose)
		fprintf(stderr, "connected on %s to %s\n", addr_str(&l, s1, sizeof s1),
			addr_str(&p, s2, sizeof s2));
	return serve(a, fd);
}

static int run_server(struct app *a)
{
	const struct opts *o = &a->o;
	struct synfin_addr here = {o->host, o->port};
	char s1[32], s2[32];
	int lfd = synfin_socket(a->st);
	int r, rc = 0;

	if (lfd < 0)
		return fail("socket", lfd);
	if (o->reuseaddr &&
	    set_int(a, lfd, SYNFIN_SOL_SOCKET, SYNFIN_SO_REUSEADDR, 1, "setsockopt SO_REUSEADDR"))
		return 1;
	if ((r = synfin_bind(a->st, lfd, &here)) < 0)
		return fail("bind", r);
	if ((r = synfin_listen(a->st, lfd, 5)) < 0)
		return fail("listen", r);
	/* one connection, or with --forever one after another until a signal */
	for (;;) {
		struct synfin_addr peer, l;

		while (!(synfin_events(a->st, lfd) & SYNFIN_EV_IN)) {
			if (got_signal)
				return interrupted(a, -1);
			if (step(a, NULL, 0, SYNFIN_TIME_NEVER) < 0)
				return 1;
		}
		int fd = synfin_accept(a->st, lfd, &peer);
		if (fd == -EAGAIN)
			continue;
		if (fd < 0)
			return fail("accept", fd);
		if (o->verbose && synfin_getsockname(a->st, fd, &l) == 0)
			fprintf(stderr, "connection on %s from %s\n", addr_str(&l, s1, sizeof s1),
				addr_str(&peer, s2, sizeof s2));
		if (!o->forever)
			synfin_close(a->st, lfd);
		if (conn_options(a, fd)) {
			rc = finish(a, fd, 1);
		} else {
			rc = serve(a, fd);
		}
		if (!o->forever || a->exit_signal)
			return rc;
		a->in_off = a->in_len = 0;
	}
}

int main(int argc, char **argv)
{
	struct app *a = calloc(1, sizeof *a);
	struct sigaction sa;
	sigset_t block, old;
	int rc;

	if (!a) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	rc = parse_args(&a->o, argc, argv);
	if (rc >= 0) {
		free(a);
		return rc;
	}

	/* SIGINT and SIGTERM are blocked except while the loop sleeps in
	 * ppoll(), so the flag is always seen right after the wake-up. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout shows up as EPIPE */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	a->sleep_mask = old;
	sigdelset(&a->sleep_mask, SIGINT);
	sigdelset(&a->sleep_mask, SIGTERM);

	rc = net_setup(a);
	if (rc == 0)
		rc = a->o.server ? run_server(a) : run_client(a);
	net_teardown(a);

	int sig = a->exit_signal;
	free(a);
	if (sig) {
		/* die of the signal, as a process without a handler would, so
		 * that the shell sees it (status 128 + signal) */
		signal(sig, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		raise(sig);
	}
	return rc;
}
