/*
 * The Linux kernel's side of the figures: the same connection cycle and the
 * same bulk transfer over 127.0.0.1 with kernel sockets, in one thread.
 * main.c runs this in a child process inside a fresh network namespace
 * when it is root, so only a loopback nobody else uses is touched.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define LX_PORTS 16 /* listeners the cycles rotate over: 16 x 28232 client ports */
#define MSG 64

#define LX_EXPECT(cond, ...)                                                    \
	do {                                                                    \
		if (!(cond)) {                                                  \
			snprintf(err, errlen, __VA_ARGS__);                     \
			return -1;                                              \
		}                                                               \
	} while (0)

static int lx_listen(struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	socklen_t alen = sizeof *a;
	if (fd < 0)
		return -1;
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)a, sizeof *a) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)a, &alen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int lx_one_cycle(int l, const struct sockaddr_in *a, char *err, size_t errlen)
{
	static const char req[MSG] = "GET / request of sixty-four bytes, padded.....................";
	static const char rep[MSG] = "200 reply of sixty-four bytes, padded..........................";
	char buf[MSG];
	int c = socket(AF_INET, SOCK_STREAM, 0);
	LX_EXPECT(c >= 0, "socket: %s", strerror(errno));
	LX_EXPECT(connect(c, (const struct sockaddr *)a, sizeof *a) == 0, "connect: %s", strerror(errno));
	int s = accept(l, NULL, NULL);
	LX_EXPECT(s >= 0, "accept: %s", strerror(errno));
	LX_EXPECT(send(c, req, MSG, 0) == MSG, "client send: %s", strerror(errno));
	LX_EXPECT(recv(s, buf, MSG, MSG_WAITALL) == MSG, "server recv: %s", strerror(errno));
	LX_EXPECT(send(s, rep, MSG, 0) == MSG, "server send: %s", strerror(errno));
	LX_EXPECT(recv(c, buf, MSG, MSG_WAITALL) == MSG, "client recv: %s", strerror(errno));
	LX_EXPECT(close(c) == 0, "client close: %s", strerror(errno));
	LX_EXPECT(recv(s, buf, MSG, 0) == 0, "server recv at EOF");
	LX_EXPECT(close(s) == 0, "server close: %s", strerror(errno));
	return 0;
}

/* cycles per timed batch: about 1 ms, as synfin's batches (bench.h) */
#define LX_BATCH 16
static int lx_cycles(double min_s, struct linux_results *out, char *err, size_t errlen)
{
	int l[LX_PORTS];
	struct sockaddr_in a[LX_PORTS];
	int rc = -1, nl = 0;
	for (; nl < LX_PORTS; nl++) {
		if ((l[nl] = lx_listen(&a[nl])) < 0) {
			snprintf(err, errlen, "listen on 127.0.0.1: %s", strerror(errno));
			goto out;
		}
	}
	uint64_t i = 0;
	for (; i < 2000; i++)
		if (lx_one_cycle(l[i % LX_PORTS], &a[i % LX_PORTS], err, errlen) < 0)
			goto out;
	static double per[100000];
	size_t nb = 0;
	uint64_t n = 0;
	double t0 = bench_now_s(), t = t0;
	while (t - t0 < min_s && nb < sizeof per / sizeof per[0]) {
		double tb = t;
		for (int k = 0; k < LX_BATCH; k++, i++, n++)
			if (lx_one_cycle(l[i % LX_PORTS], &a[i % LX_PORTS], err, errlen) < 0)
				goto out;
		t = bench_now_s();
		per[nb++] = (t - tb) / LX_BATCH;
	}
	struct batch_times bt;
	bench_batches(per, nb, &bt);
	out->cycles_per_s = 1 / bt.fast;
	out->cycles_per_s_median = 1 / bt.median;
	out->batches = bt.batches;
	out->cycles = n;
	rc = 0;
out:
	while (nl > 0)
		close(l[--nl]);
	return rc;
}

/* ---- bulk ---- */
#define PAT ((size_t)1 << 18)

static uint8_t *pattern_new(void)
{
	uint8_t *p = malloc(PAT);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; p && i < PAT; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (uint8_t)x;
	}
	return p;
}

static int lx_pair(int *c, int *s, char *err, size_t errlen)
{
	struct sockaddr_in a;
	int l = lx_listen(&a);
	LX_EXPECT(l >= 0, "listen: %s", strerror(errno));
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&a, sizeof a) < 0 || (*s = accept(l, NULL, NULL)) < 0) {
		snprintf(err, errlen, "bulk connection: %s", strerror(errno));
		close(l);
		return -1;
	}
	close(l);
	return 0;
}

/* Both ends in this thread, non-blocking: as much as the kernel takes, then
 * everything there is to read. */
static int lx_bulk_one(uint64_t total, double *mibps, char *err, size_t errlen)
{
	int c = -1, s = -1, rc = -1;
	uint8_t *pat = pattern_new(), *rbuf = malloc(PAT);
	if (!pat || !rbuf || lx_pair(&c, &s, err, errlen) < 0)
		goto out;
	fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
	fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
	uint64_t sent = 0, got = 0, stalls = 0;
	double t0 = bench_now_s();
	while (got < total) {
		bool progress = false;
		while (sent < total) {
			size_t off = (size_t)(sent % PAT), len = PAT - off;
			if (len > total - sent)
				len = (size_t)(total - sent);
			ssize_t k = send(c, pat + off, len, 0);
			if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (k <= 0) {
				snprintf(err, errlen, "bulk send: %s", strerror(errno));
				goto out;
			}
			sent += (uint64_t)k;
			progress = true;
		}
		for (;;) {
			ssize_t k = recv(s, rbuf, PAT, 0);
			if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (k <= 0) {
				snprintf(err, errlen, "bulk recv: %s", k ? strerror(errno) : "EOF");
				goto out;
			}
			if (rbuf[0] != pat[got % PAT] || rbuf[k - 1] != pat[(got + (uint64_t)k - 1) % PAT]) {
				snprintf(err, errlen, "bulk data differs at %llu", (unsigned long long)got);
				goto out;
			}
			got += (uint64_t)k;
			progress = true;
		}
		if (!progress) {
			struct pollfd p = {.fd = s, .events = POLLIN};
			if (++stalls > 1000 || poll(&p, 1, 100) < 0) {
				snprintf(err, errlen, "bulk transfer stalled at %llu bytes", (unsigned long long)got);
				goto out;
			}
		}
	}
	*mibps = (double)got / (1 << 20) / (bench_now_s() - t0);
	rc = 0;
out:
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	free(pat);
	free(rbuf);
	return rc;
}

struct sender {
	int fd;
	uint64_t total;
	const uint8_t *pat;
	int err;
};

static void *sender_main(void *arg)
{
	struct sender *sd = arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(1, &set);
	pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort: a second core */
	for (uint64_t sent = 0; sent < sd->total;) {
		size_t off = (size_t)(sent % PAT), len = PAT - off;
		if (len > sd->total - sent)
			len = (size_t)(sd->total - sent);
		ssize_t k = send(sd->fd, sd->pat + off, len, 0);
		if (k <= 0) {
			sd->err = errno ? errno : EIO;
			break;
		}
		sent += (uint64_t)k;
	}
	return NULL;
}

/* For reference: a sender thread and a receiving thread, blocking. */
static int lx_bulk_two(uint64_t total, double *mibps, char *err, size_t errlen)
{
	int c = -1, s = -1, rc = -1;
	uint8_t *pat = pattern_new(), *rbuf = malloc(PAT);
	if (!pat || !rbuf || lx_pair(&c, &s, err, errlen) < 0)
		goto out;
	struct timeval tv = {10, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sender sd = {c, total, pat, 0};
	pthread_t th;
	double t0 = bench_now_s();
	if (pthread_create(&th, NULL, sender_main, &sd) != 0) {
		snprintf(err, errlen, "pthread_create failed");
		goto out;
	}
	uint64_t got = 0;
	while (got < total) {
		ssize_t k = recv(s, rbuf, PAT, 0);
		if (k <= 0) {
			snprintf(err, errlen, "bulk recv (two threads): %s", k ? strerror(errno) : "EOF");
			break;
		}
		got += (uint64_t)k;
	}
	double secs = bench_now_s() - t0;
	pthread_join(th, NULL);
	if (got == total && !sd.err) {
		*mibps = (double)got / (1 << 20) / secs;
		rc = 0;
	} else if (sd.err) {
		snprintf(err, errlen, "bulk send (two threads): %s", strerror(sd.err));
	}
out:
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	free(pat);
	free(rbuf);
	return rc;
}

void linux_measure(double cycle_s, uint64_t bulk_bytes, int reps, struct linux_results *out)
{
	double one[16], two[16];
	memset(out, 0, sizeof *out);
	if (reps < 0 || reps > 16)
		reps = 1;
	if (lx_cycles(cycle_s, out, out->err, sizeof out->err) < 0)
		return;
	if (reps == 0) { /* the cycles alone */
		out->ok = 1;
		return;
	}
	for (int r = 0; r < reps; r++)
		if (lx_bulk_one(bulk_bytes, &one[r], out->err, sizeof out->err) < 0 ||
		    lx_bulk_two(bulk_bytes, &two[r], out->err, sizeof out->err) < 0)
			return;
	out->bulk_mib_per_s = bench_median(one, (size_t)reps);
	out->bulk2_mib_per_s = bench_median(two, (size_t)reps);
	out->ok = 1;
}

void linux_slab_sizes(struct linux_slab *out)
{
	out->tcp = out->tw = out->req = -1;
	FILE *f = fopen("/proc/slabinfo", "r");
	if (!f)
		return;
	char line[512];
	for (int guard = 0; guard < 10000 && fgets(line, sizeof line, f); guard++) {
		char name[128];
		unsigned long active, num, objsize;
		if (sscanf(line, "%127s %lu %lu %lu", name, &active, &num, &objsize) != 4)
			continue;
		if (strcmp(name, "TCP") == 0)
			out->tcp = (double)objsize;
		else if (strcmp(name, "tw_sock_TCP") == 0)
			out->tw = (double)objsize;
		else if (strcmp(name, "request_sock_TCP") == 0)
			out->req = (double)objsize;
	}
	fclose(f);
}
