#!/bin/sh
# Make sure the Debian packages that `make test` uses are present:
# gcc and make to build, clang for the second compiler check and the fuzzer,
# tcpdump to read back the pcap files, and for the tests against Linux in
# network namespaces: iproute2, nftables, ping and python3. As root they are installed; otherwise this says
# what is missing and how to get it.
missing=""
for tool in gcc:gcc clang:clang tcpdump:tcpdump ip:iproute2 nft:nftables ping:iputils-ping python3:python3; do
	cmd=${tool%%:*}
	pkg=${tool#*:}
	command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "installing:$missing"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null || {
		echo "deps: apt-get install$missing failed"
		exit 1
	}
	exit 0
fi
echo "deps: missing Debian packages:$missing"
echo "deps: install them with: sudo apt-get install$missing"
# gcc is required; the checks that need the others say they were skipped
command -v gcc >/dev/null 2>&1 || exit 1
exit 0
