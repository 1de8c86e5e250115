/*
 * synfin-lab: list and run the scenarios on the simulated network.
 *   synfin-lab list
 *   synfin-lab run NAME|all [--seed N] [--loss P] [--dup P] [--reorder P]
 *                           [--delay MS] [--pcap FILE] [--quiet]
 *   synfin-lab transfer [--rate R] [--rtt T] [--bytes B] ... (transfer.h)
 * Exit status 0 only if every scenario run held its expected outcome (for
 * transfer: if every byte arrived intact).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"
#include "transfer.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: synfin-lab list\n"
		   "       synfin-lab run NAME|all [--seed N] [--loss P] [--dup P] [--reorder P]\n"
		   "                               [--delay MS] [--pcap FILE] [--quiet]\n");
	transfer_usage(f);
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "synfin-lab: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	usage(stderr);
	return 2;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '-')
		return false;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

/* "out.pcap" + "handshake" -> "out-handshake.pcap" when running several */
static void pcap_name(char *buf, size_t cap, const char *base, const char *name, bool several)
{
	if (!several) {
		snprintf(buf, cap, "%s", base);
		return;
	}
	const char *dot = strrchr(base, '.');
	if (dot && !strchr(dot, '/'))
		snprintf(buf, cap, "%.*s-%s%s", (int)(dot - base), base, name, dot);
	else
		snprintf(buf, cap, "%s-%s", base, name);
}

static bool run_one(const struct scenario *sc, const struct lab_opts *o, bool several)
{
	static struct lab lab; /* large (segment log): not on the stack */
	struct lab_opts mine = *o;
	char pcap[1024];
	memset(&lab, 0, sizeof lab);
	if (o->pcap) {
		pcap_name(pcap, sizeof pcap, o->pcap, sc->name, several);
		mine.pcap = pcap;
	}
	lab.o = &mine;
	lab.out = o->quiet ? NULL : stdout;
	if (lab.out)
		fprintf(lab.out, "=== %s: %s\n", sc->name, sc->desc);
	sc->run(&lab);
	if (lab.out)
		fflush(lab.out);
	if (lab.sim)
		sim_destroy(lab.sim);
	if (lab.failed)
		printf("FAIL %s (seed %llu): %s\n", sc->name, (unsigned long long)o->seed, lab.why);
	else
		printf("PASS %s\n", sc->name);
	if (lab.out)
		printf("\n");
	fflush(stdout);
	return !lab.failed;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "list")) {
		if (argc != 2)
			return bad("'list' takes no arguments (got '%s')", argv[2]);
		for (int i = 0; i < lab_nscenarios; i++)
			printf("%-20s %s\n", lab_scenarios[i].name, lab_scenarios[i].desc);
		return 0;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "transfer"))
		return transfer_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "run"))
		return bad("unknown command '%s'", argv[1]);
	if (argc < 3)
		return bad("%s", "'run' needs a scenario name or 'all' (see 'synfin-lab list')");

	struct lab_opts o = {.seed = 1, .delay = SYNFIN_MS(1)};
	const char *name = argv[2];
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quiet")) {
			o.quiet = true;
			continue;
		}
		if (!v)
			return bad("option '%s' needs a value", a);
		i++;
		if (!strcmp(a, "--seed")) {
			if (!parse_u64(v, &o.seed))
				return bad("--seed wants a non-negative integer, not '%s'", v);
		} else if (!strcmp(a, "--loss")) {
			if (!lab_parse_prob(v, &o.loss))
				return bad("--loss wants a probability from 0 to 1, not '%s'", v);
		} else if (!strcmp(a, "--dup")) {
			if (!lab_parse_prob(v, &o.dup))
				return bad("--dup wants a probability from 0 to 1, not '%s'", v);
		} else if (!strcmp(a, "--reorder")) {
			if (!lab_parse_prob(v, &o.reorder))
				return bad("--reorder wants a probability from 0 to 1, not '%s'", v);
		} else if (!strcmp(a, "--delay")) {
			uint64_t ms;
			if (!parse_u64(v, &ms) || ms > 60000)
				return bad("--delay wants milliseconds from 0 to 60000, not '%s'", v);
			o.delay = SYNFIN_MS(ms);
		} else if (!strcmp(a, "--pcap")) {
			o.pcap = v;
		} else {
			return bad("unknown option '%s'", a);
		}
	}
	if (o.loss > 0.5)
		fprintf(stderr, "synfin-lab: warning: with loss %.2f some scenarios cannot reach their outcome in their time limits\n", o.loss);

	int passed = 0, failed = 0;
	bool all = !strcmp(name, "all");
	for (int i = 0; i < lab_nscenarios; i++) {
		if (!all && strcmp(name, lab_scenarios[i].name))
			continue;
		if (run_one(&lab_scenarios[i], &o, all))
			passed++;
		else
			failed++;
	}
	if (passed + failed == 0)
		return bad("no scenario named '%s' (see 'synfin-lab list')", name);
	if (all)
		printf("scenarios: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
