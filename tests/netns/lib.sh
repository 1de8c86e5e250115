# Sourced by tests/netns/run.sh and tests/netns/lossy_bench.sh: bounded
# polling, the teardown of a namespace of ours, and random loss at a
# bridge port. POSIX sh; helper variables start with _l so that they do
# not meet the callers'.

poll() { # SECS CMD...: CMD every 50 ms until it succeeds; false after SECS
	_lp=$(($1 * 20))
	shift
	while [ $_lp -gt 0 ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.05
		_lp=$((_lp - 1))
	done
	return 1
}

listening() { # NS PORT: a Linux socket listens on PORT in NS
	[ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null)" ]
}

ns_kill_delete() { # NS: end everything running in NS (all of it ours), then delete NS
	ip netns list 2>/dev/null | grep -q "^$1\b" || return 0
	_lpids=$(ip netns pids "$1" 2>/dev/null)
	if [ -n "$_lpids" ]; then
		kill -TERM $_lpids 2>/dev/null
		_ln=20
		while [ $_ln -gt 0 ] && [ -n "$(ip netns pids "$1" 2>/dev/null)" ]; do
			sleep 0.05
			_ln=$((_ln - 1))
		done
		_lpids=$(ip netns pids "$1" 2>/dev/null)
		[ -n "$_lpids" ] && kill -KILL $_lpids 2>/dev/null
	fi
	ip netns del "$1" 2>/dev/null
}

# nftables' bridge family drops at the port: as frames come in (input)
# and as they go out (output), after Linux's IP output has succeeded, so
# that a drop is a real loss and not an error handed back to TCP.
port_loss() { # NS TABLE PORT PCT: drop PCT % of the frames each way at bridge port PORT
	ip netns exec "$1" nft delete table bridge "$2" 2>/dev/null
	ip netns exec "$1" nft -f - <<-EOF_NFT
	table bridge $2 {
		chain in {
			type filter hook input priority 0; policy accept;
			iifname "$3" numgen random mod 100 < $4 counter drop
		}
		chain out {
			type filter hook output priority 0; policy accept;
			oifname "$3" numgen random mod 100 < $4 counter drop
		}
	}
	EOF_NFT
}
