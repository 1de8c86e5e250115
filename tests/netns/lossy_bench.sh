#!/bin/sh
# tests/netns/lossy_bench.sh SYNFIN-SOCK: goodput of 16 MiB transfers
# through a link that loses 3% of the packets each way (and 0%, for
# reference), synfin against Linux over a TAP device next to Linux against
# Linux over a veth pair, in one run. Not part of make test; by hand:
#
#   sh tests/netns/lossy_bench.sh build/synfin-sock
#
# Both paths are built alike, in namespaces of our own (synfin-b-*-PID),
# deleted at exit whatever happens:
#   TAP:  namespace T, Linux 198.18.0.1/24 on a bridge br0 whose port is
#         tap0; synfin-sock 198.18.0.2/24 on tap0
#   veth: namespace A, Linux 198.18.1.1/24 on a bridge br0 whose port is
#         va; namespace B, Linux 198.18.1.2/24 on vb, va's peer
# and lose packets alike: nftables' bridge family drops PCT % of the frames
# at random at the port, as they come in (input) and as they go out
# (output). Dropping there, after Linux's IP output has succeeded, makes a
# real loss of it; Linux's own inet output hook would hand the error back
# to TCP, which sends the segment again as if for the first time. Each
# Linux sender's device has gso_max_size 1500, so that a packet is one
# segment and one drop loses one segment, not a GSO burst of up to 45.
#
# Every process of a transfer runs on one CPU (taskset -c BENCH_CPU): with
# one segment per packet, a veth whose sender runs on two CPUs (the
# application on one, ACK-clocked sends from the softirq on the other)
# queues the segments on two CPUs' backlogs and reorders them, and Linux
# then resends spuriously (hundreds of DSACKs per 16 MiB, with no loss).
# The TAP path gets the same single CPU, for a like comparison.
#
# The same Linux end (the one on br0) times every transfer, as
# tests/netns/peer.py does it: a receiver from accept to EOF, a sender
# from connect until every byte is acknowledged. X -> Linux compares
# synfin -> Linux with B -> A (receiver-timed on br0); Linux -> X
# compares Linux -> synfin with A -> B (sender-timed on br0). Each figure
# is the median of RUNS runs. Every wait is bounded (BENCH_SECS per
# transfer).
#
# Environment: RUNS (3), BENCH_SECS (300), LOSSES ("0 3"), BENCH_CPU (0;
# "none": no pinning), BENCH_GSO=1 leaves GSO on (a drop then takes a
# whole GSO packet on Linux's sending side), BENCH_KEEP=1 keeps the files.

SOCK=$1
HERE=$(cd "$(dirname "$0")" && pwd)
PEER=$HERE/peer.py
. "$HERE/lib.sh"
RUNS=${RUNS:-3}
BENCH_SECS=${BENCH_SECS:-300}
LOSSES=${LOSSES:-0 3}
SIZE=16777216
BENCH_CPU=${BENCH_CPU:-0}
if [ "$BENCH_CPU" = none ]; then
	PIN=
else
	command -v taskset >/dev/null 2>&1 || { echo "taskset is not installed (or BENCH_CPU=none)" >&2; exit 2; }
	PIN="taskset -c $BENCH_CPU"
fi
if [ -n "$BENCH_GSO" ]; then
	GSO_SIZE=65536
else
	GSO_SIZE=1500 # one segment per packet (gso_max_segs 1 does too, but slows Linux more)
fi

if [ -z "$SOCK" ]; then
	echo "usage: sh tests/netns/lossy_bench.sh PATH/TO/synfin-sock" >&2
	exit 2
fi
case $SOCK in /*) ;; *) SOCK=$(pwd)/$SOCK ;; esac
[ -x "$SOCK" ] || { echo "$SOCK is not an executable (make build/synfin-sock)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, TAP devices)" >&2; exit 2; }
for c in ip nft python3 ss timeout; do
	command -v $c >/dev/null 2>&1 || { echo "$c is not installed" >&2; exit 2; }
done
[ -c /dev/net/tun ] || { echo "/dev/net/tun is missing (modprobe tun)" >&2; exit 2; }
for pct in $LOSSES; do
	case $pct in
	'' | *[!0-9]*) echo "LOSSES wants whole percentages from 0 to 99, not '$pct'" >&2; exit 2 ;;
	esac
	[ "$pct" -le 99 ] || { echo "LOSSES wants whole percentages from 0 to 99, not '$pct'" >&2; exit 2; }
done

NT=synfin-b-tap-$$
NA=synfin-b-a-$$
NB=synfin-b-b-$$
TMP=$(mktemp -d /tmp/synfin-bench.XXXXXX) || exit 1

cleanup() {
	trap - EXIT INT TERM
	for ns in $NT $NA $NB; do
		ns_kill_delete $ns
	done
	if [ -n "$BENCH_KEEP" ]; then
		echo "files kept in $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT
trap 'echo "terminated"; exit 143' TERM

die() {
	echo "lossy_bench: $*" >&2
	exit 1
}

# ---- the two paths ----
bridge_end() { # NS PORT ADDR: ADDR on br0 in NS, PORT enslaved to it
	ip -n $1 link add br0 type bridge stp_state 0 forward_delay 0 &&
		ip -n $1 link set $2 master br0 &&
		ip -n $1 addr add $3/24 dev br0 &&
		ip -n $1 link set br0 gso_max_size $GSO_SIZE &&
		ip -n $1 link set br0 up
}

ns_new() {
	ip netns add $1 &&
		ip -n $1 link set lo up &&
		ip netns exec $1 sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null
}

ns_new $NT || die "cannot create the namespace $NT"
ip -n $NT tuntap add dev tap0 mode tap &&
	ip -n $NT link set tap0 up &&
	bridge_end $NT tap0 198.18.0.1 || die "cannot set up tap0 and br0 in $NT"

ns_new $NA || die "cannot create the namespace $NA"
ns_new $NB || die "cannot create the namespace $NB"
ip -n $NA link add va type veth peer name vb netns $NB &&
	ip -n $NA link set va up &&
	bridge_end $NA va 198.18.1.1 &&
	ip -n $NB addr add 198.18.1.2/24 dev vb &&
	ip -n $NB link set vb gso_max_size $GSO_SIZE &&
	ip -n $NB link set vb up || die "cannot set up the veth pair va/vb"

set_loss() { # NS PORT PCT: drop PCT % of the frames each way at the port
	port_loss $1 synfin_b $2 $3 || die "nft could not add the drop rules in $1"
}

head -c $SIZE /dev/urandom >"$TMP/data" || die "cannot write $TMP"
SHA=$(sha256sum "$TMP/data" | cut -c1-64)
T=$BENCH_SECS

# Each transfer prints the seconds it took, or FAIL (and says why on stderr).
got_time() { # PEER-OUTPUT KIND: the TIME of a complete, intact transfer
	f=$1
	case $2 in
	recv) grep -q "^RECV $SIZE $SHA eof" "$f" || return 1 ;;
	send) grep -q "^ACKED $SIZE" "$f" || return 1 ;;
	esac
	sed -n 's/^TIME //p' "$f" | grep .
}

synfin_to_linux() { # PORT
	PORT=$1
	timeout $((T + 10)) ip netns exec $NT $PIN python3 "$PEER" sink-timed 198.18.0.1 $PORT $T >"$TMP/py" 2>&1 &
	py=$!
	poll 5 listening $NT $PORT || { echo "synfin -> Linux: no listener" >&2; wait $py; echo FAIL; return; }
	timeout $((T + 10)) ip netns exec $NT $PIN "$SOCK" --tap tap0 --addr 198.18.0.2/24 -h 198.18.0.1 $PORT \
		<"$TMP/data" >/dev/null 2>"$TMP/sf.err" &
	sf=$!
	wait $py
	wait $sf
	got_time "$TMP/py" recv || { echo "synfin -> Linux: $(grep -E '^(RECV|ERROR)' "$TMP/py" | cut -c1-60)" >&2; echo FAIL; }
}

linux_to_synfin() { # PORT
	PORT=$1
	timeout $((T + 10)) ip netns exec $NT $PIN "$SOCK" --tap tap0 --addr 198.18.0.2/24 -v -h -s $PORT \
		</dev/null >"$TMP/sf.out" 2>"$TMP/sf.err" &
	sf=$!
	poll 5 grep -Eq 'CLOSED -> LISTEN' "$TMP/sf.err" || { echo "Linux -> synfin: synfin-sock did not listen" >&2; wait $sf; echo FAIL; return; }
	timeout $((T + 10)) ip netns exec $NT $PIN python3 "$PEER" send-timed 198.18.0.2 $PORT "$TMP/data" $T >"$TMP/py" 2>&1 &
	py=$!
	wait $py
	wait $sf
	if [ "$(sha256sum "$TMP/sf.out" | cut -c1-64)" != "$SHA" ]; then
		echo "Linux -> synfin: synfin received $(wc -c <"$TMP/sf.out") bytes, not the 16 MiB intact" >&2
		echo FAIL
		return
	fi
	got_time "$TMP/py" send || { echo "Linux -> synfin: $(grep -E '^(RESULT|ERROR)' "$TMP/py")" >&2; echo FAIL; }
}

linux_to_linux() { # FROM-NS TO-NS TO-ADDR KIND PORT: KIND is which end's time (recv or send)
	PORT=$5
	timeout $((T + 10)) ip netns exec $2 $PIN python3 "$PEER" sink-timed $3 $PORT $T >"$TMP/rx" 2>&1 &
	rx=$!
	poll 5 listening $2 $PORT || { echo "Linux -> Linux: no listener" >&2; wait $rx; echo FAIL; return; }
	timeout $((T + 10)) ip netns exec $1 $PIN python3 "$PEER" send-timed $3 $PORT "$TMP/data" $T >"$TMP/tx" 2>&1 &
	tx=$!
	wait $tx
	wait $rx
	if ! grep -q "^RECV $SIZE $SHA eof" "$TMP/rx"; then
		echo "Linux -> Linux: $(grep -E '^(RECV|ERROR)' "$TMP/rx" | cut -c1-60)" >&2
		echo FAIL
		return
	fi
	case $4 in
	recv) got_time "$TMP/rx" recv ;;
	send) got_time "$TMP/tx" send ;;
	esac || echo FAIL
}

median() { # the median of the arguments; FAIL if any is FAIL
	echo "$@" | tr ' ' '\n' | sort -g | awk '
		/FAIL/ { fail = 1 }
		{ v[NR] = $1 }
		END { if (fail || NR == 0) print "FAIL"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

rate() { # SECS -> "MiB/s Mbit/s"
	awk -v t="$1" -v b=$SIZE 'BEGIN { if (t == "FAIL") print "FAIL FAIL"; else printf "%.2f %.1f\n", b / t / 1048576, b * 8 / t / 1e6 }'
}

echo "lossy_bench: 16 MiB per transfer, $RUNS runs each, losses: $LOSSES %; synfin-sock: $SOCK"
echo "kernel $(uname -r), $(nproc) CPUs; pinned to CPU ${BENCH_CPU}; gso_max_size $GSO_SIZE on the Linux senders"
ROWS=
for pct in $LOSSES; do
	set_loss $NT tap0 $pct
	set_loss $NA va $pct
	s2l= l2s= b2a= a2b=
	r=1
	while [ $r -le $RUNS ]; do
		p=$((7000 + 10 * r + pct * 100)) # a fresh port for every transfer
		x=$(synfin_to_linux $((p + 1)))
		s2l="$s2l $x"
		y=$(linux_to_synfin $((p + 2)))
		l2s="$l2s $y"
		z=$(linux_to_linux $NB $NA 198.18.1.1 recv $((p + 3)))
		b2a="$b2a $z"
		w=$(linux_to_linux $NA $NB 198.18.1.2 send $((p + 4)))
		a2b="$a2b $w"
		echo "  $pct% run $r (seconds): synfin->Linux $x, Linux->synfin $y, Linux B->A $z, Linux A->B $w"
		r=$((r + 1))
	done
	for x in "$NT tap0" "$NA va"; do
		set -- $x
		ip netns exec $1 nft list table bridge synfin_b 2>/dev/null | awk -v port=$2 '
			/counter packets/ { for (i = 1; i < NF; i++) { if ($i == "packets") p[++n] = $(i + 1); if ($i == "bytes") b[n] = $(i + 1) } }
			END { printf "  dropped at %s: %d frames coming in, %d going out (%.0f bytes per frame going out)\n", port, p[1], p[2], p[2] ? b[2] / p[2] : 0 }'
	done
	ROWS="$ROWS
$pct X->Linux $(median $s2l) $(median $b2a)
$pct Linux->X $(median $l2s) $(median $a2b)"
done

echo
printf '%-5s %-10s %-24s %-24s %s\n' loss direction "synfin over TAP" "Linux over veth" "synfin/Linux"
echo "$ROWS" | while read -r pct dir ts tl; do
	[ -n "$pct" ] || continue
	set -- $(rate $ts) $(rate $tl)
	a="$1 MiB/s ($2 Mbit/s)"
	b="$3 MiB/s ($4 Mbit/s)"
	[ "$1" = FAIL ] && a=FAIL
	[ "$3" = FAIL ] && b=FAIL
	ratio=$(awk -v s="$1" -v l="$3" 'BEGIN { if (s == "FAIL" || l == "FAIL" || l == 0) print "-"; else printf "%.3f\n", s / l }')
	printf '%-5s %-10s %-24s %-24s %s\n' "$pct%" "$dir" "$a" "$b" "$ratio"
done
