#!/bin/sh
# make test's runner: the unit tests, every scenario on a clean link and
# under 20 seeds with 5% loss (and 10 more with duplication and reordering
# too), the command-line checks, and the pcap read-back. Ends with
# "N passed, N failed"; the exit status is non-zero if anything failed.
B=${1:-build/asan}
LAB=$B/synfin-lab
passed=0
failed=0
log=$(mktemp /tmp/synfin-test.XXXXXX)
trap 'rm -f "$log" "$log".*' EXIT INT TERM

count() { # count PASS/FAIL lines of a lab run in $log
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	passed=$((passed + p))
	failed=$((failed + f))
	grep '^FAIL ' "$log"
}

check() { # check NAME COMMAND...: one test that passes when COMMAND does
	name=$1
	shift
	if "$@" >"$log.out" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL $name"
		sed 's/^/     /' "$log.out" | head -20
	fi
}

echo "== unit tests (AddressSanitizer + UBSan)"
"$B/unit-tests" >"$log" 2>&1
rc=$?
tail -n 1 "$log"
grep -A3 '^FAIL' "$log"
p=$(tail -n 1 "$log" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
f=$(tail -n 1 "$log" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
if [ -z "$p" ]; then
	echo "FAIL unit-tests: the runner crashed (exit $rc)"
	tail -n 30 "$log"
	failed=$((failed + 1))
else
	passed=$((passed + p))
	failed=$((failed + f))
fi

echo "== scenarios on a clean link"
"$LAB" run all --quiet >"$log" 2>&1
count

echo "== scenarios under 20 seeds with 5% loss"
for s in $(seq 1 20); do
	"$LAB" run all --quiet --seed "$s" --loss 0.05 >"$log" 2>&1
	count
done

echo "== scenarios under 10 seeds with 5% loss, duplication and reordering"
for s in $(seq 21 30); do
	"$LAB" run all --quiet --seed "$s" --loss 0.05 --dup 0.05 --reorder 0.05 >"$log" 2>&1
	count
done

echo "== the second compiler"
if command -v clang >/dev/null 2>&1; then
	check "clang compiles every source with -Wall -Wextra -Werror" make --no-print-directory clang-check
else
	echo "SKIPPED: clang is not installed (apt-get install clang); this check is not counted"
fi

echo "== a short fuzz run of the input path (libFuzzer)"
if command -v clang >/dev/null 2>&1; then
	check "10 s of fuzzing finds no crash, leak or hang" make --no-print-directory fuzz FUZZ_SECONDS=10
else
	echo "SKIPPED: clang is not installed; the fuzz run is not counted"
fi

echo "== command line"
check "lab list names every scenario" sh -c "[ \$($LAB list | wc -l) -ge 25 ]"
check "lab rejects an unknown option with status 2" sh -c "$LAB run all --bogus 1 >/dev/null 2>&1; [ \$? -eq 2 ]"
check "lab rejects a bad probability with status 2" sh -c "$LAB run all --loss 2 >/dev/null 2>&1; [ \$? -eq 2 ]"
check "lab rejects an unknown scenario with status 2" sh -c "$LAB run no-such-thing >/dev/null 2>&1; [ \$? -eq 2 ]"
check "lab says why a pcap cannot be written" sh -c "$LAB run handshake --pcap /nonexistent/dir/x.pcap --quiet 2>&1 | grep -q 'cannot write pcap'"
check "the same seed replays the same trace" sh -c "$LAB run close --seed 7 --loss 0.1 > $log.a; $LAB run close --seed 7 --loss 0.1 > $log.b; cmp -s $log.a $log.b"
check "the trace is in tcpdump form" sh -c "$LAB run close-combined | grep -Eq '^[0-9]+\.[0-9]{6} IP 198\.18\.0\.1\.80 > 198\.18\.0\.2\.[0-9]+: F 1:1\(0\) ack 2 win [0-9]+'"
check "synfin-bench --smoke runs and writes JSON (harness only, nothing timed)" sh -c "build/synfin-bench --smoke --json $log.json >/dev/null && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' $log.json"
check "synfin-bench --smoke pairs the larger scale point with the 1k one" python3 -c '
import json, sys
sc = json.load(open(sys.argv[1]))["scale"]
assert sc[0]["connections"] == 1000 and "paired_ratio" not in sc[0], sc[0]
for p in sc[1:]:
    assert p["paired_with"] == 1000 and p["paired_ns_per_cycle"] > 0 and p["paired_ratio"] > 0, p
' $log.json
check "synfin-bench --smoke takes each round's cycles at the fast-end batch, the median batch beside it" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert 0 < d["cycles_quantile"] < 0.5, d["cycles_quantile"]
for r in d["cycles_per_s_rounds"]:
    assert r["synfin"] >= r["synfin_median_batch"] > 0, r
assert d["cycles_per_s"]["synfin"] >= d["cycles_per_s_median_batch"]["synfin"] > 0, d
' $log.json

echo "== pcap files read back by tcpdump"
if command -v tcpdump >/dev/null 2>&1; then
	"$LAB" run handshake --quiet --pcap "$log.pcap" >/dev/null 2>&1
	check "tcpdump reads the pcap (3+ packets, checksums correct)" sh -c \
		"tcpdump -nn -vv -r $log.pcap 2>&1 > $log.td; [ \$(grep -c 'IP (' $log.td) -ge 3 ] && ! grep -Eqi 'incorrect|malformed|truncated' $log.td"
else
	echo "SKIPPED: tcpdump is not installed (apt-get install tcpdump); this check is not counted"
fi

echo "== synfin-sock against the Linux kernel on a TAP device, in network namespaces (tests/netns)"
# one PASS/FAIL line per test, counted as the lab's are; as root only (it
# says SKIPPED otherwise and nothing is counted)
if ! make --no-print-directory "$B/synfin-sock" >"$log" 2>&1; then
	failed=$((failed + 1))
	echo "FAIL building $B/synfin-sock for tests/netns"
	tail -n 20 "$log"
else
	timeout 300 sh tests/netns/run.sh "$B/synfin-sock" >"$log" 2>&1
	rc=$?
	passed=$((passed + $(grep -c '^PASS ' "$log")))
	failed=$((failed + $(grep -c '^FAIL ' "$log")))
	grep -E '^(FAIL|SKIP|NOTE) |^     |^SKIPPED:|^netns: |^logs kept' "$log"
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$log"; then
		failed=$((failed + 1))
		echo "FAIL tests/netns/run.sh ended with status $rc without a verdict"
		tail -n 20 "$log"
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
