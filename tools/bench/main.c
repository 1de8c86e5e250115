/*
 * synfin-bench: every figure measured for synfin and for the Linux kernel
 * in the same run, printed as both numbers and their ratio, and written as
 * JSON with --json. docs/BENCHMARKS.md explains the method.
 *
 *   synfin-bench [--smoke] [--json FILE] [--no-linux] [--no-callgrind] [--max-conns N]
 *
 * The Linux side runs in child processes: as root each inside a network
 * namespace this run creates (ip netns add) and deletes afterwards, even on
 * failure or Ctrl+C; otherwise on the current loopback, which the output
 * says. The connection cycles are measured in CYCLE_ROUNDS rounds a side
 * and each side's median round is its figure. --smoke is the harness
 * check of `make test`: small counts, no Linux side, no callgrind; its
 * timings mean nothing.
 *
 * Entry points for profiling one part alone (docs/BENCHMARKS.md uses them
 * with callgrind and perf): --cg-cycles WARMUP COUNT (what the
 * instructions-per-cycle figure runs), --cg-bulk MIB MTU, --cg-scale N S,
 * and --cg-rounds N S (N timed cycle rounds of S seconds, to compare
 * builds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

double bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_rss_mib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, rss = 0;
	if (!f)
		return NAN;
	int n = fscanf(f, "%lu %lu", &size, &rss);
	fclose(f);
	if (n != 2)
		return NAN;
	return (double)rss * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

void bench_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "synfin-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* ---- running other programs ---- */
static int spawn_wait_env(char *const argv[], bool quiet, char *const envp[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;
	posix_spawn_file_actions_init(&fa);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int spawn_wait(char *const argv[], bool quiet)
{
	return spawn_wait_env(argv, quiet, environ);
}

/* ---- the Linux side, in a child process ---- */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void ns_delete(const char *ns)
{
	char *argv[] = {"ip", "netns", "del", (char *)ns, NULL};
	if (spawn_wait(argv, true) != 0)
		fprintf(stderr, "synfin-bench: could not delete network namespace %s: run ip netns del %s\n", ns, ns);
}

/* The jiffies all CPUs spent busy and in all so far (/proc/stat's first
 * line); false where it cannot be read. */
static bool cpu_ticks(unsigned long long *busy, unsigned long long *all)
{
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return false;
	unsigned long long v[8] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		       &v[6], &v[7]);
	fclose(f);
	if (n < 5)
		return false;
	*all = 0;
	for (int i = 0; i < 8; i++)
		*all += v[i];
	*busy = *all - v[3] - v[4]; /* less idle and iowait */
	return true;
}

/* After a Linux round's namespace is deleted the kernel tears it down in
 * the background (its TIME_WAIT sockets among it), on either core: the
 * next measurement waits until the machine is quiet (its CPUs together
 * under 5% busy for three 100 ms windows in a row), at most 10 s. */
static void settle(void)
{
	int quiet = 0;
	for (int i = 0; i < 100 && quiet < 3; i++) {
		unsigned long long b0, a0, b1, a1;
		if (!cpu_ticks(&b0, &a0))
			return;
		struct timespec ts = {0, 100000000};
		nanosleep(&ts, NULL);
		if (!cpu_ticks(&b1, &a1))
			return;
		quiet = a1 > a0 && (b1 - b0) * 20 < a1 - a0 ? quiet + 1 : 0;
	}
}

static int ns_enter(const char *ns)
{
	char path[128];
	snprintf(path, sizeof path, "/run/netns/%s", ns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(path, sizeof path, "/var/run/netns/%s", ns);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -1;
	int r = setns(fd, CLONE_NEWNET);
	close(fd);
	return r;
}

/* Fills lr; env says where the Linux figures come from. */
static void run_linux(double cycle_s, uint64_t bulk, int reps, struct linux_results *lr, char *env, size_t envlen)
{
	char ns[64] = "";
	bool root = geteuid() == 0;
	memset(lr, 0, sizeof *lr);
	if (root) {
		snprintf(ns, sizeof ns, "synfin-bench-%d", (int)getpid());
		char *add[] = {"ip", "netns", "add", ns, NULL};
		char *up[] = {"ip", "-n", ns, "link", "set", "lo", "up", NULL};
		if (spawn_wait(add, false) != 0) {
			snprintf(lr->err, sizeof lr->err, "ip netns add %s failed", ns);
			snprintf(env, envlen, "not measured: no network namespace");
			return;
		}
		if (spawn_wait(up, false) != 0) {
			snprintf(lr->err, sizeof lr->err, "ip -n %s link set lo up failed", ns);
			snprintf(env, envlen, "not measured: loopback of the namespace did not come up");
			ns_delete(ns);
			return;
		}
		snprintf(env, envlen, "127.0.0.1 in network namespace %s, created and deleted by this run", ns);
	} else {
		snprintf(env, envlen, "127.0.0.1 of the current network namespace (not root: no namespace of its own)");
	}

	struct sigaction sa, old_int, old_term, old_hup;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);

	int pfd[2] = {-1, -1};
	pid_t pid = -1;
	if (pipe(pfd) == 0)
		pid = fork();
	if (pid == 0) {
		struct linux_results r;
		memset(&r, 0, sizeof r);
		close(pfd[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		if (root && ns_enter(ns) < 0)
			snprintf(r.err, sizeof r.err, "setns into %s: %s", ns, strerror(errno));
		else
			linux_measure(cycle_s, bulk, reps, &r);
		ssize_t w = write(pfd[1], &r, sizeof r);
		_exit(w == (ssize_t)sizeof r ? 0 : 1);
	}
	if (pid < 0) {
		snprintf(lr->err, sizeof lr->err, "fork: %s", strerror(errno));
	} else {
		close(pfd[1]);
		pfd[1] = -1;
		/* a watchdog: the child's blocking calls cannot hang the run */
		double deadline = bench_now_s() + 120 + 4 * cycle_s + (double)reps * (double)bulk / 5e7;
		int st = 0;
		for (;;) {
			pid_t w = waitpid(pid, &st, WNOHANG);
			if (w == pid)
				break;
			if (w < 0 && errno != EINTR)
				break;
			if (got_signal || bench_now_s() > deadline) {
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				snprintf(lr->err, sizeof lr->err, "%s", got_signal ? "interrupted" : "timed out");
				break;
			}
			struct timespec ts = {0, 20000000};
			nanosleep(&ts, NULL);
		}
		if (!lr->err[0]) {
			struct linux_results r;
			if (read(pfd[0], &r, sizeof r) == (ssize_t)sizeof r)
				*lr = r;
			else
				snprintf(lr->err, sizeof lr->err, "the Linux child died (status %d)", st);
		}
		close(pfd[0]);
	}
	if (ns[0])
		ns_delete(ns);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	if (got_signal) {
		fprintf(stderr, "synfin-bench: interrupted\n");
		exit(130);
	}
}

/* ---- instructions per cycle, from callgrind ---- */
static double callgrind_total(const char *self, uint64_t warm, uint64_t k, char *why, size_t whylen)
{
	char out[128], ws[32], ks[32], of[160];
	snprintf(out, sizeof out, "/tmp/synfin-bench-cg-%d-%llu.out", (int)getpid(), (unsigned long long)k);
	snprintf(of, sizeof of, "--callgrind-out-file=%s", out);
	snprintf(ws, sizeof ws, "%llu", (unsigned long long)warm);
	snprintf(ks, sizeof ks, "%llu", (unsigned long long)k);
	char *argv[] = {"valgrind", "--tool=callgrind", of, (char *)self, "--cg-cycles", ws, ks, NULL};
	/* Valgrind counts every iteration of rep stosb / rep movsb as one
	 * instruction, and glibc uses them for blocks above a few KiB: a
	 * 64 KiB memset would count as 65536. Vector loops instead, so that
	 * the count reflects the work done. */
	char *envp[256];
	int ne = 0;
	envp[ne++] = "GLIBC_TUNABLES=glibc.cpu.x86_rep_stosb_threshold=0x7fffffffffffffff:"
		     "glibc.cpu.x86_rep_movsb_threshold=0x7fffffffffffffff";
	for (char **e = environ; *e && ne < 254; e++)
		if (strncmp(*e, "GLIBC_TUNABLES=", 15) != 0)
			envp[ne++] = *e;
	envp[ne] = NULL;
	int r = spawn_wait_env(argv, true, envp);
	FILE *f = fopen(out, "r");
	double total = NAN;
	if (r != 0 || !f) {
		snprintf(why, whylen, r < 0 ? "valgrind not installed" : "callgrind run failed (status %d)", r);
	} else {
		char line[256];
		for (int guard = 0; guard < 10000000 && fgets(line, sizeof line, f); guard++) {
			unsigned long long v;
			if (sscanf(line, "summary: %llu", &v) == 1 || sscanf(line, "totals: %llu", &v) == 1)
				total = (double)v;
		}
		if (isnan(total))
			snprintf(why, whylen, "no totals in the callgrind output");
	}
	if (f)
		fclose(f);
	unlink(out);
	return total;
}

static double callgrind_per_cycle(uint64_t warm, uint64_t k, char *why, size_t whylen)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		snprintf(why, whylen, "cannot find this program");
		return NAN;
	}
	self[n] = 0;
	double base = callgrind_total(self, warm, 0, why, whylen);
	if (isnan(base))
		return NAN;
	double run = callgrind_total(self, warm, k, why, whylen);
	if (isnan(run))
		return NAN;
	return (run - base) / (double)k;
}

/* Does `perf stat -e instructions` count here? (Not in most VMs.) */
static bool perf_counts_instructions(void)
{
	char out[128];
	snprintf(out, sizeof out, "/tmp/synfin-bench-perf-%d.txt", (int)getpid());
	char *argv[] = {"perf", "stat", "-x,", "-e", "instructions", "-o", out, "true", NULL};
	bool ok = false;
	if (spawn_wait(argv, true) == 0) {
		FILE *f = fopen(out, "r");
		char line[256];
		for (int g = 0; f && g < 100 && fgets(line, sizeof line, f); g++)
			if (strstr(line, "instructions") && !strstr(line, "not supported") && !strstr(line, "not counted"))
				ok = true;
		if (f)
			fclose(f);
	}
	unlink(out);
	return ok;
}

/* ---- the machine ---- */
struct machine {
	char cpu[128];
	long cores;
	double mem_gib;
};

static void machine_read(struct machine *m)
{
	char line[512];
	snprintf(m->cpu, sizeof m->cpu, "unknown");
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
	m->mem_gib = NAN;
	FILE *f = fopen("/proc/cpuinfo", "r");
	for (int g = 0; f && g < 100000 && fgets(line, sizeof line, f); g++) {
		char *p = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && p) {
			p += 2;
			p[strcspn(p, "\n")] = 0;
			snprintf(m->cpu, sizeof m->cpu, "%s", p);
			break;
		}
	}
	if (f)
		fclose(f);
	f = fopen("/proc/meminfo", "r");
	unsigned long kb;
	for (int g = 0; f && g < 1000 && fgets(line, sizeof line, f); g++)
		if (sscanf(line, "MemTotal: %lu kB", &kb) == 1)
			m->mem_gib = (double)kb / (1 << 20);
	if (f)
		fclose(f);
}

/* ---- output ---- */
static void jnum(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "null");
	else if (v == floor(v) && fabs(v) < 1e15)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.6g", v);
}

static double r1(double v)
{
	return round(v * 10) / 10;
}

static void jpair(FILE *f, const char *key, double s, double l, bool comma)
{
	fprintf(f, "  \"%s\": {\"synfin\": ", key);
	jnum(f, s);
	fprintf(f, ", \"linux\": ");
	jnum(f, l);
	fprintf(f, "}%s\n", comma ? "," : "");
}

static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static void fmt_num(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "-");
	else if (fabs(v) >= 100)
		snprintf(buf, cap, "%.0f", v);
	else
		snprintf(buf, cap, "%.1f", v);
}

static const char *verdict(int met)
{
	return met < 0 ? "n/a" : met ? "met" : "MISSED";
}

struct target {
	const char *figure;
	const char *rule;
	double value;
	int met; /* 1, 0, or -1 when not measured */
};

static void row(const char *name, double s, double l, const struct target *t)
{
	char a[32], b[32], r[32];
	fmt_num(a, sizeof a, s);
	fmt_num(b, sizeof b, l);
	if (isnan(s) || isnan(l) || l == 0)
		snprintf(r, sizeof r, "-");
	else
		snprintf(r, sizeof r, "%.2fx", s / l);
	printf("%-24s %14s %14s %9s   %-16s %s\n", name, a, b, r, t ? t->rule : "",
	       t ? verdict(t->met) : "");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: synfin-bench [--smoke] [--json FILE] [--no-linux] [--no-callgrind] [--max-conns N]\n"
		   "  --smoke         small counts, no Linux side, no callgrind: checks the harness only\n"
		   "  --json FILE     also write the figures as one JSON object\n"
		   "  --no-linux      skip the Linux side\n"
		   "  --no-callgrind  skip instructions per cycle\n"
		   "  --max-conns N   largest population of the scale run (default 1000000)\n");
}

int main(int argc, char **argv)
{
	bool smoke = false, no_linux = false, no_cg = false;
	const char *json = NULL;
	uint32_t max_conns = 1000000;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cg-cycles") == 0 && i + 2 < argc) {
			/* what callgrind runs: warmup + count cycles, nothing else */
			uint64_t w = strtoull(argv[i + 1], NULL, 10), k = strtoull(argv[i + 2], NULL, 10);
			return sf_run_cycles_fixed(w, k) == 0 ? 0 : 1;
		} else if (strcmp(argv[i], "--cg-bulk") == 0 && i + 2 < argc) {
			/* for profiling: one bulk transfer of MiB at an MTU */
			struct sf_bulk b;
			uint64_t mib = strtoull(argv[i + 1], NULL, 10);
			uint32_t mtu = (uint32_t)strtoul(argv[i + 2], NULL, 10);
			if (sf_measure_bulk(mib << 20, mtu, BULK_BUF, false, &b) < 0)
				return 1;
			printf("%.0f MiB/s\n", b.mib_per_s);
			return 0;
		} else if (strcmp(argv[i], "--cg-scale") == 0 && i + 2 < argc) {
			/* for profiling: one scale point, cycles timed for S seconds */
			struct sf_scale sc;
			if (sf_measure_scale((uint32_t)strtoul(argv[i + 1], NULL, 10), SCALE_REF, atof(argv[i + 2]), &sc) < 0)
				return 1;
			printf("%u connections: %.0f ns/cycle (%llu cycles), %.0f ns/timer event, %.1f MiB RSS, built in %.2f s\n",
			       sc.connections, sc.ns_per_cycle, (unsigned long long)sc.cycles, sc.ns_per_timer_event,
			       sc.rss_mib, sc.build_s);
			if (sc.ref_connections)
				printf("paired with %u connections: %.0f ns/cycle, ratio %.2f\n", sc.ref_connections,
				       sc.ref_ns_per_cycle, sc.paired_ratio);
			return 0;
		} else if (strcmp(argv[i], "--cg-rounds") == 0 && i + 2 < argc) {
			/* for comparing builds: N synfin cycle rounds of S seconds */
			int n = atoi(argv[i + 1]);
			for (int r = 0; r < n && r < 1000; r++) {
				struct sf_cycles c;
				if (sf_measure_cycles(atof(argv[i + 2]), TW_WARMUP_CYCLES, &c) < 0)
					return 1;
				printf("%.0f cycles/s at the %.0f%% batch, %.0f at the median batch\n", c.cycles_per_s,
				       CYCLE_QUANTILE * 100, c.cycles_per_s_median);
			}
			return 0;
		} else if (strcmp(argv[i], "--smoke") == 0) {
			smoke = true;
		} else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
			json = argv[++i];
		} else if (strcmp(argv[i], "--no-linux") == 0) {
			no_linux = true;
		} else if (strcmp(argv[i], "--no-callgrind") == 0) {
			no_cg = true;
		} else if (strcmp(argv[i], "--max-conns") == 0 && i + 1 < argc) {
			char *end;
			unsigned long v = strtoul(argv[++i], &end, 10);
			if (*end || v < 1000 || v > 1000000) {
				fprintf(stderr, "synfin-bench: --max-conns wants 1000 .. 1000000\n");
				return 2;
			}
			max_conns = (uint32_t)v;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "synfin-bench: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (smoke) {
		no_linux = true;
		no_cg = true;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* the whole run on one core; the Linux child inherits it */
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	bool pinned = sched_setaffinity(0, sizeof set, &set) == 0;

	/* what each mode measures */
	double cycle_s = smoke ? 0.05 : 2.0, scale_s = smoke ? 0.02 : 1.0;
	uint64_t warm = TW_WARMUP_CYCLES, bulk = smoke ? (8u << 20) : (1ull << 30);
	uint32_t mem_n = smoke ? 10000 : 100000, mem_buf = smoke ? 100 : 1000;
	uint32_t scale_n[4] = {SCALE_REF, 10000, 100000, 1000000};
	int nscale = smoke ? 2 : 4;
	while (nscale > 1 && scale_n[nscale - 1] > max_conns)
		nscale--;
	uint32_t bulk_mtu = 65535, bulk_buf = BULK_BUF;
	int reps = smoke ? 1 : 3; /* bulk transfers: the median of reps */

	struct machine mc;
	machine_read(&mc);
	printf("synfin-bench (%s): %s, %ld cores, %.1f GiB; %s\n", smoke ? "smoke: counts too small to mean anything" : "full run",
	       mc.cpu, mc.cores, mc.mem_gib, pinned ? "pinned to CPU 0" : "not pinned");

	double mc_cache = sf_memcpy_gib_per_s(64 << 10, smoke ? (64u << 20) : (4ull << 30));
	double mc_mem = sf_memcpy_gib_per_s(64 << 20, smoke ? (128u << 20) : (4ull << 30));
	printf("memcpy: %.1f GiB/s within the cache (64 KiB blocks), %.1f GiB/s through memory (64 MiB blocks)\n",
	       mc_cache, mc_mem);

	/* The cycles are measured in CYCLE_ROUNDS rounds on each side, as the
	 * bulk transfers are repeated. Within a round, the batch at
	 * CYCLE_QUANTILE is the round's figure (bench.h); across rounds, the
	 * median round is what a spell covering one or two rounds does not
	 * move. All rounds but
	 * the last run here, in pairs (synfin, then Linux in a namespace of
	 * its own); the last synfin round follows, and the last Linux round
	 * is the cycles before the Linux bulk transfers, as in one child. */
	int rounds = smoke || no_linux ? 1 : CYCLE_ROUNDS;
	struct sf_cycles cyr[CYCLE_ROUNDS];
	double lx_round[CYCLE_ROUNDS], lx_round_med[CYCLE_ROUNDS];
	uint64_t lx_count[CYCLE_ROUNDS] = {0};
	char lx_round_err[200] = "";
	for (int r = 0; r < rounds; r++) {
		printf("synfin: connection cycles (round %d of %d) ...\n", r + 1, rounds);
		if (sf_measure_cycles(cycle_s, warm, &cyr[r]) < 0)
			bench_fail("the synfin connection cycle failed");
		lx_round[r] = lx_round_med[r] = NAN;
		if (r == rounds - 1)
			break;
		struct linux_results lr;
		char renv[200];
		printf("linux: connection cycles (round %d of %d) ...\n", r + 1, rounds);
		run_linux(cycle_s, 0, 0, &lr, renv, sizeof renv);
		settle();
		if (lr.ok) {
			lx_round[r] = lr.cycles_per_s;
			lx_round_med[r] = lr.cycles_per_s_median;
			lx_count[r] = lr.cycles;
		} else if (!lx_round_err[0]) {
			snprintf(lx_round_err, sizeof lx_round_err, "%s: %s", renv, lr.err);
		}
	}
	/* the median synfin round gives the figures */
	double sf_rate[CYCLE_ROUNDS], sf_rate_med[CYCLE_ROUNDS];
	for (int r = 0; r < rounds; r++) {
		sf_rate[r] = cyr[r].cycles_per_s;
		sf_rate_med[r] = cyr[r].cycles_per_s_median;
	}
	double sf_med = bench_median(sf_rate, (size_t)rounds);
	double sf_medbatch = bench_median(sf_rate_med, (size_t)rounds);
	struct sf_cycles cy = cyr[0];
	for (int r = 0; r < rounds; r++)
		if (cyr[r].cycles_per_s == sf_med)
			cy = cyr[r];

	struct sf_bulk bk, bk1500, runs[3];
	double rate[3];
	printf("synfin: bulk ...\n");
	for (int r = 0; r < reps; r++) {
		if (sf_measure_bulk(bulk, bulk_mtu, bulk_buf, smoke, &runs[r]) < 0)
			bench_fail("the synfin bulk transfer failed");
		rate[r] = runs[r].mib_per_s;
	}
	bench_median(rate, (size_t)reps);
	bk = runs[0];
	for (int r = 1; r < reps; r++)
		if (runs[r].mib_per_s == rate[reps / 2])
			bk = runs[r];
	if (sf_measure_bulk(bulk / 4, 1500, bulk_buf, smoke, &bk1500) < 0)
		bench_fail("the synfin bulk transfer failed");

	struct sf_memory mem;
	printf("synfin: memory ...\n");
	if (sf_measure_memory(mem_n, mem_buf, &mem) < 0)
		bench_fail("the synfin memory measurement failed");

	struct sf_scale sc[4];
	for (int i = 0; i < nscale; i++) {
		printf("synfin: scale, %u connections ...\n", scale_n[i]);
		if (sf_measure_scale(scale_n[i], scale_n[0], scale_s, &sc[i]) < 0)
			bench_fail("the scale run at %u connections failed", scale_n[i]);
	}

	double ipc = NAN;
	char cg_why[160] = "skipped (--smoke or --no-callgrind)";
	if (!no_cg) {
		printf("synfin: instructions per cycle (callgrind) ...\n");
		cg_why[0] = 0;
		ipc = callgrind_per_cycle(CG_WARMUP, CG_CYCLES, cg_why, sizeof cg_why);
	}

	struct linux_results lx;
	char env[200];
	memset(&lx, 0, sizeof lx);
	if (no_linux) {
		snprintf(env, sizeof env, "not measured (%s)", smoke ? "--smoke" : "--no-linux");
	} else {
		printf("linux: connection cycles and bulk ...\n");
		run_linux(cycle_s, bulk, reps, &lx, env, sizeof env);
		if (lx.ok) {
			lx_round[rounds - 1] = lx.cycles_per_s;
			lx_round_med[rounds - 1] = lx.cycles_per_s_median;
			lx_count[rounds - 1] = lx.cycles;
		}
		if (lx_round_err[0] && !lx.err[0])
			snprintf(lx.err, sizeof lx.err, "an earlier round: %s", lx_round_err);
	}
	/* Linux's figure: the median of its rounds, all of which must have
	 * run */
	double lx_sorted[CYCLE_ROUNDS], lx_sorted_med[CYCLE_ROUNDS];
	bool lx_all = true;
	for (int r = 0; r < rounds; r++) {
		lx_sorted[r] = lx_round[r];
		lx_sorted_med[r] = lx_round_med[r];
		lx_all = lx_all && !isnan(lx_round[r]);
	}
	double l_cps = lx.ok && lx_all ? bench_median(lx_sorted, (size_t)rounds) : NAN;
	double l_cps_med = lx.ok && lx_all ? bench_median(lx_sorted_med, (size_t)rounds) : NAN;
	double l_bulk = lx.ok ? lx.bulk_mib_per_s : NAN;
	double l_bulk2 = lx.ok ? lx.bulk2_mib_per_s : NAN;
	struct linux_slab slab;
	linux_slab_sizes(&slab);

	/* targets */
	struct target t_cps = {"cycles_per_s", ">= 50x Linux", cy.cycles_per_s / l_cps, -1};
	struct target t_bulk = {"bulk_mib_per_s", ">= 1.5x Linux", bk.mib_per_s / l_bulk, -1};
	struct target t_conn = {"bytes_per_connection", "<= 256", mem.conn_server, mem.conn_server <= 256};
	struct target t_tw = {"bytes_per_time_wait", "<= 64", mem.time_wait, mem.time_wait <= 64};
	/* a handshake in progress holds nothing with cookies for every SYN
	 * (cfg.syncookies = ALWAYS, options kept in the timestamp); the
	 * default keeps a full block per SYN_RCVD (bytes_per_syn_rcvd_queued) */
	struct target t_syn = {"bytes_per_syn_rcvd", "<= 64", mem.syn_cookie, mem.syn_cookie <= 64};
	if (!isnan(t_cps.value))
		t_cps.met = t_cps.value >= 50;
	if (!isnan(t_bulk.value))
		t_bulk.met = t_bulk.value >= 1.5;
	const struct sf_scale *s_lo = &sc[0], *s_hi = &sc[nscale - 1];
	bool have_1m = s_hi->connections >= 1000000;
	struct target t_rss = {"scale_rss_1m", "<= 512 MiB", s_hi->rss_mib, have_1m ? s_hi->rss_mib <= 512 : -1};
	/* the paired ratio: the 1M batches against 1k batches run between
	 * them (sf_measure_scale); the two points' own medians, measured
	 * seconds apart, are printed beside it */
	double growth_apart = s_hi->ns_per_cycle / s_lo->ns_per_cycle;
	double growth = s_hi->ref_connections ? s_hi->paired_ratio : growth_apart;
	struct target t_growth = {"scale_cycle_1m_vs_1k", "<= 2x", growth, have_1m ? growth <= 2 : -1};

	printf("\nLinux side: %s%s%s\n", env, lx.err[0] ? ": " : "", lx.err);
	printf("\n%-24s %14s %14s %9s   %-16s %s\n", "figure", "synfin", "linux", "ratio", "target", "");
	row("cycles_per_s", cy.cycles_per_s, l_cps, &t_cps);
	row("bulk_mib_per_s", bk.mib_per_s, l_bulk, &t_bulk);
	row("bytes_per_connection", mem.conn_server, slab.tcp < 0 ? NAN : slab.tcp, &t_conn);
	row("bytes_per_time_wait", mem.time_wait, slab.tw < 0 ? NAN : slab.tw, &t_tw);
	row("bytes_per_syn_rcvd", mem.syn_cookie, slab.req < 0 ? NAN : slab.req, &t_syn);
	row("instructions_per_cycle", ipc, NAN, NULL);
	printf("\nscale (synfin, one server stack and one client stack in this process):\n");
	printf("%12s %14s %18s %14s %10s %10s\n", "connections", "ns per cycle", "paired 1k: ns, x", "ns per timer",
	       "RSS MiB", "build s");
	for (int i = 0; i < nscale; i++) {
		char pr[40] = "-";
		if (sc[i].ref_connections)
			snprintf(pr, sizeof pr, "%.0f, %.2fx", sc[i].ref_ns_per_cycle, sc[i].paired_ratio);
		printf("%12u %14.0f %18s %14.0f %10.1f %10.2f\n", sc[i].connections, sc[i].ns_per_cycle, pr,
		       sc[i].ns_per_timer_event, sc[i].rss_mib, sc[i].build_s);
	}
	printf("cycle cost at %u vs %u connections: %.2fx paired (target <= 2x at 1M vs 1k: %s), %.2fx between the two "
	       "points' own runs; RSS at %u: %.0f MiB (target <= 512 MiB at 1M: %s)\n",
	       s_hi->connections, s_lo->connections, growth, verdict(t_growth.met), growth_apart, s_hi->connections,
	       s_hi->rss_mib, verdict(t_rss.met));

	printf("\ndetails:\n");
	printf("  cycles: synfin %llu timed cycles in %zu batches after %llu warm-up (the median round), %.0f ns each "
	       "at the %.0f%% batch, %.1f datagrams per cycle\n",
	       (unsigned long long)cy.cycles, cy.batches, (unsigned long long)cy.warmup, cy.ns_per_cycle,
	       CYCLE_QUANTILE * 100, cy.pkts_per_cycle);
	printf("  cycles per second in each round of %.2g s a side, at the %.0f%% batch (at the median batch) "
	       "(synfin / linux, Linux's timed cycles):",
	       cycle_s, CYCLE_QUANTILE * 100);
	for (int r = 0; r < rounds; r++)
		printf(" %.0f (%.0f) / %.0f (%.0f) (%llu)%s", cyr[r].cycles_per_s, cyr[r].cycles_per_s_median, lx_round[r],
		       lx_round_med[r], (unsigned long long)lx_count[r], r + 1 < rounds ? ";" : "\n");
	if (!isnan(l_cps_med))
		printf("  cycles at the median batch of each round (the median round): synfin %.0f, linux %.0f, ratio "
		       "%.1fx (the gap to the figure above is a neighbour's load on the host: docs/BENCHMARKS.md, "
		       "\"Noise\")\n",
		       sf_medbatch, l_cps_med, sf_medbatch / l_cps_med);
	printf("  bulk: synfin MTU %u, buffers %u: %.0f MiB/s (%llu segments, %.1f KiB each); MTU 1500: %.0f MiB/s\n",
	       bk.mtu, bk.buf, bk.mib_per_s, (unsigned long long)bk.segments,
	       (double)bk.bytes / (double)(bk.segments ? bk.segments : 1) / 1024, bk1500.mib_per_s);
	if (!isnan(l_bulk2))
		printf("  bulk: Linux with the sender on a second core: %.0f MiB/s (for reference; the target uses one core)\n",
		       l_bulk2);
	printf("  bulk bound: each byte is copied %d times (app -> send ring; send ring -> receive ring, the "
	       "link handing the payload over by reference [ops.output_ref, synfin_input_split]; ring -> app); the "
	       "in-process link offloads the TCP checksum as loopback does: memcpy %.1f GiB/s / %d copies = %.0f "
	       "MiB/s at best\n",
	       BULK_COPIES, mc_cache, BULK_COPIES, mc_cache * 1024 / BULK_COPIES);
	printf("  memory (%u of each, bytes asked of ops.alloc per item): established idle %.1f server side "
	       "[%s], %.1f client side; after 64 bytes each way (%u connections): %.0f\n",
	       mem.n_conn, mem.conn_server, mem.conn_detail, mem.conn_client, mem.n_buf, mem.conn_buffers);
	printf("    TIME_WAIT %.1f [%s]; SYN_RCVD queued (the default) %.1f [%s]; SYN_RCVD with cookies always %.1f\n", mem.time_wait, mem.tw_detail,
	       mem.syn_rcvd, mem.syn_detail, mem.syn_cookie);
	printf("    Linux slab objects: TCP %.0f, tw_sock_TCP %.0f, request_sock_TCP %.0f (-1: /proc/slabinfo unreadable)\n",
	       slab.tcp, slab.tw, slab.req);
	if (isnan(ipc))
		printf("  instructions per cycle: %s\n", cg_why);
	else
		printf("  instructions per cycle: %.0f (callgrind: %d cycles after %d warm-up, minus the warm-up alone, "
		       "memset and memcpy without rep-string instructions); Linux: not counted, callgrind sees no kernel code %s\n",
		       ipc, CG_CYCLES, CG_WARMUP,
		       perf_counts_instructions() ? "(perf stat -e instructions would)"
						  : "and perf stat -e instructions is not supported on this machine");

	if (json) {
		FILE *f = fopen(json, "w");
		if (!f)
			bench_fail("cannot write %s: %s", json, strerror(errno));
		fprintf(f, "{\n  \"mode\": \"%s\",\n  \"machine\": {\"cpu\": ", smoke ? "smoke" : "full");
		jstr(f, mc.cpu);
		fprintf(f, ", \"cores\": %ld, \"mem_gib\": ", mc.cores);
		jnum(f, round(mc.mem_gib * 10) / 10);
		fprintf(f, ", \"pinned_cpu0\": %s},\n  \"linux_side\": ", pinned ? "true" : "false");
		jstr(f, env);
		fprintf(f, ",\n  \"linux_error\": ");
		jstr(f, lx.err);
		fprintf(f, ",\n");
		jpair(f, "cycles_per_s", round(cy.cycles_per_s), round(l_cps), true);
		jpair(f, "cycles_per_s_median_batch", round(sf_medbatch), round(l_cps_med), true);
		fprintf(f, "  \"cycles_quantile\": %.2f,\n  \"cycles_per_s_rounds\": [", CYCLE_QUANTILE);
		for (int r = 0; r < rounds; r++) {
			fprintf(f, "%s{\"synfin\": ", r ? ", " : "");
			jnum(f, round(cyr[r].cycles_per_s));
			fprintf(f, ", \"linux\": ");
			jnum(f, round(lx_round[r]));
			fprintf(f, ", \"synfin_median_batch\": ");
			jnum(f, round(cyr[r].cycles_per_s_median));
			fprintf(f, ", \"linux_median_batch\": ");
			jnum(f, round(lx_round_med[r]));
			fprintf(f, "}");
		}
		fprintf(f, "],\n");
		jpair(f, "bulk_mib_per_s", round(bk.mib_per_s), round(l_bulk), true);
		jpair(f, "bytes_per_connection", r1(mem.conn_server), slab.tcp < 0 ? NAN : slab.tcp, true);
		jpair(f, "bytes_per_time_wait", r1(mem.time_wait), slab.tw < 0 ? NAN : slab.tw, true);
		jpair(f, "bytes_per_syn_rcvd", r1(mem.syn_cookie), slab.req < 0 ? NAN : slab.req, true);
		jpair(f, "bytes_per_syn_rcvd_queued", r1(mem.syn_rcvd), slab.req < 0 ? NAN : slab.req, true);
		jpair(f, "bytes_per_connection_client", r1(mem.conn_client), slab.tcp < 0 ? NAN : slab.tcp, true);
		jpair(f, "bytes_per_connection_buffers", round(mem.conn_buffers), NAN, true);
		jpair(f, "bulk_mib_per_s_mtu1500", round(bk1500.mib_per_s), NAN, true);
		jpair(f, "bulk_mib_per_s_two_cores", NAN, round(l_bulk2), true);
		jpair(f, "instructions_per_cycle", round(ipc), NAN, true);
		fprintf(f, "  \"memcpy_gib_per_s\": {\"cache\": ");
		jnum(f, round(mc_cache * 10) / 10);
		fprintf(f, ", \"memory\": ");
		jnum(f, round(mc_mem * 10) / 10);
		fprintf(f, "},\n  \"bulk_copy_bound_mib_per_s\": ");
		jnum(f, round(mc_cache * 1024 / BULK_COPIES));
		fprintf(f, ",\n  \"scale\": [");
		for (int i = 0; i < nscale; i++) {
			fprintf(f, "%s\n    {\"connections\": %u, \"ns_per_cycle\": ", i ? "," : "", sc[i].connections);
			jnum(f, round(sc[i].ns_per_cycle));
			fprintf(f, ", \"ns_per_timer_event\": ");
			jnum(f, round(sc[i].ns_per_timer_event));
			fprintf(f, ", \"rss_mib\": ");
			jnum(f, round(sc[i].rss_mib * 10) / 10);
			if (sc[i].ref_connections) {
				fprintf(f, ", \"paired_with\": %u, \"paired_ns_per_cycle\": ", sc[i].ref_connections);
				jnum(f, round(sc[i].ref_ns_per_cycle));
				fprintf(f, ", \"paired_ratio\": ");
				jnum(f, round(sc[i].paired_ratio * 100) / 100);
			}
			fprintf(f, "}");
		}
		fprintf(f, "\n  ],\n  \"targets\": {");
		const struct target *ts[] = {&t_cps, &t_bulk, &t_conn, &t_tw, &t_syn, &t_rss, &t_growth};
		for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
			fprintf(f, "%s\n    \"%s\": {\"rule\": ", i ? "," : "", ts[i]->figure);
			jstr(f, ts[i]->rule);
			fprintf(f, ", \"value\": ");
			jnum(f, round(ts[i]->value * 100) / 100);
			fprintf(f, ", \"met\": %s}", ts[i]->met < 0 ? "null" : ts[i]->met ? "true" : "false");
		}
		fprintf(f, "\n  }\n}\n");
		if (fclose(f) != 0)
			bench_fail("cannot write %s", json);
	}
	return 0;
}
