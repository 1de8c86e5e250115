#!/usr/bin/env python3
"""The Linux side of tests/netns/run.sh: one role per invocation, Python
standard library only, run inside the test's network namespace.

    peer.py server PORT MODE [ARGS]     listen on 198.18.0.1:PORT, serve one
    peer.py client MODE [ARGS]          connect to synfin at 198.18.0.2

Timed bulk transfers (tests/netns/run.sh lossy_transfer, lossy_bench.sh),
with the addresses given, so that they serve the veth namespaces too:

    peer.py sink-timed ADDR PORT SECS   listen on ADDR:PORT, read one
        connection to EOF; RECV bytes sha256 how, TIME from accept to EOF
    peer.py send-timed ADDR PORT FILE SECS   connect, send FILE, SHUT_WR;
        SENT, then TIME from connect until every byte is acknowledged,
        ACKED; CLOSE: whether our FIN was acknowledged (after the peer's
        FIN, 3 s at most); RETRANS, Linux's retransmissions
    peer.py pcap-stalls PCAP PORT       what a sender's pcap shows: its
        retransmissions, silences of 0.5 s or more, duplicate ACKs

Results are "KEY value" lines on stdout, flushed as they happen, for the
driver to grep. Every blocking call has a timeout, so a peer always ends.
"""
import fcntl
import hashlib
import os
import socket
import struct
import sys
import termios
import threading
import time

LINUX = "198.18.0.1"
SYNFIN = "198.18.0.2"
TIMEOUT = 20.0


def say(*words):
    print(*words, flush=True)


def read_all(s, after=None):
    """Read to EOF. Returns (bytes, sha256, outcome, bytes read once `after` was set)."""
    h = hashlib.sha256()
    n = late = 0
    try:
        while True:
            x = s.recv(65536)
            if not x:
                return n, h.hexdigest(), "eof", late
            h.update(x)
            n += len(x)
            if after is not None and after.is_set():
                late += len(x)
    except ConnectionResetError:
        return n, h.hexdigest(), "reset", late
    except socket.timeout:
        return n, h.hexdigest(), "timeout", late


def sender(s, data, shut=False, done=None):
    """Thread body: send everything (then SHUT_WR if asked)."""
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        if done is not None:
            done.set()
        say("SENT", len(data))
    except OSError as e:
        say("SENDERR", type(e).__name__, e)


def wait_file(path, secs=15.0):
    end = time.monotonic() + secs
    while not os.path.exists(path):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def listener(port, rcvbuf=None):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    l.bind((LINUX, port))
    l.listen(1)
    l.settimeout(TIMEOUT)
    return l


def server(port, mode, args):
    l = listener(port)
    c, peer = l.accept()
    l.close()
    c.settimeout(TIMEOUT)
    say("ACCEPTED", "%s:%d" % peer)
    if mode == "sink":  # read to EOF, then close
        n, d, how, _ = read_all(c)
        say("RECV", n, d, how)
    elif mode == "duplex":  # send FILE while reading to EOF; close once both are done
        data = open(args[0], "rb").read()
        t = threading.Thread(target=sender, args=(c, data))
        t.start()
        n, d, how, _ = read_all(c)
        t.join(TIMEOUT)
        say("RECV", n, d, how)
    elif mode == "late-reply":  # read to EOF, answer SECS later, close
        n, d, how, _ = read_all(c)
        say("RECV", n, d, how)
        time.sleep(float(args[0]))
        c.sendall(b"late reply\n")
        say("REPLIED")
    elif mode == "expect-reset":  # read after a pause; say how the stream ended
        time.sleep(0.3)
        n, d, how, _ = read_all(c)
        say("RESULT", how, n)
    elif mode == "idle":  # do nothing; report how the connection ended
        c.settimeout(float(args[0]))
        n, d, how, _ = read_all(c)
        say("RESULT", how, n)
    else:
        raise SystemExit("unknown server mode " + mode)
    c.close()


def connect(port, lport=None, rcvbuf=None, reuse=False):
    s = socket.socket()
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if lport:
        s.bind((LINUX, lport))
    s.settimeout(TIMEOUT)
    s.connect((SYNFIN, port))
    return s


def client(mode, args):
    if mode == "duplex":  # PORT FILE: send FILE while reading to EOF, then close
        s = connect(int(args[0]))
        say("CONNECTED", s.getsockname()[1])
        data = open(args[1], "rb").read()
        t = threading.Thread(target=sender, args=(s, data))
        t.start()
        n, d, how, _ = read_all(s)
        t.join(TIMEOUT)
        say("RECV", n, d, how)
        s.close()
    elif mode == "refused":  # PORT
        try:
            s = connect(int(args[0]))
            say("RESULT connected", s.getsockname())
        except ConnectionRefusedError:
            say("RESULT refused")
        except OSError as e:
            say("RESULT", type(e).__name__, e)
    elif mode == "echo-close":  # PORT: one round trip, then we close first
        s = connect(int(args[0]))
        say("CONNECTED", s.getsockname()[1])
        s.sendall(b"hi\n")
        got = b""
        while len(got) < 3:
            x = s.recv(100)
            if not x:
                break
            got += x
        say("ECHO", got.decode(errors="replace").strip())
        s.close()
        say("CLOSED")
    elif mode == "shut-wr-echo":  # PORT NBYTES: send, SHUT_WR, read the echo late
        s = connect(int(args[0]), rcvbuf=16384)
        say("CONNECTED", s.getsockname()[1])
        data = os.urandom(int(args[1]))
        shut = threading.Event()
        t = threading.Thread(target=sender, args=(s, data, True, shut))
        t.start()
        time.sleep(0.5)  # let the echo back up behind our small window
        n, d, how, late = read_all(s, after=shut)
        t.join(TIMEOUT)
        ok = d == hashlib.sha256(data).hexdigest() and n == len(data)
        say("RECV", n, "match" if ok else "MISMATCH", how, "after_shut", late,
            "shut" if shut.is_set() else "not-shut")
        s.close()
    elif mode == "halfopen":  # PORT GOFILE
        s = connect(int(args[0]))
        s.sendall(b"one\n")
        got = s.recv(100)
        say("ESTABLISHED", s.getsockname()[1], got.decode(errors="replace").strip())
        if not wait_file(args[1]):
            say("RESULT no-go")
            return
        s.settimeout(5)
        try:
            s.sendall(b"two\n")
            x = s.recv(100)
            say("RESULT", "eof" if not x else "data " + repr(x))
        except ConnectionResetError:
            say("RESULT reset")
        except socket.timeout:
            say("RESULT timeout")
        except OSError as e:
            say("RESULT", type(e).__name__, e)
    elif mode == "reconnect":  # PORT LPORT: twice from the same local port
        port, lport = int(args[0]), int(args[1])
        for i, msg in ((1, b"first\n"), (2, b"second\n")):
            s = None
            for attempt in range(40):  # the old socket may still be in LAST_ACK
                try:
                    s = connect(port, lport=lport, reuse=True)
                    break
                except OSError as e:
                    say("RETRY", i, type(e).__name__, e)
                    s = None
                    time.sleep(0.05)
            if s is None:
                say("CONN%d failed" % i)
                return
            s.sendall(msg)
            n, d, how, _ = read_all(s)
            say("CONN%d" % i, "lport", s.getsockname()[1], how)
            s.close()
            time.sleep(0.3)
    elif mode == "simopen":  # LPORT PORT: bind, connect, send, read to EOF
        lport, port = int(args[0]), int(args[1])
        s = connect(port, lport=lport, reuse=True)
        say("CONNECTED", s.getsockname()[1])
        s.sendall(b"from-linux\n")
        n, d, how, _ = read_all(s)
        s.close()
        say("RECVDONE", n, how)
    else:
        raise SystemExit("unknown client mode " + mode)


# ---- timed bulk transfers: the whole run is bounded by SECS ----

TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1",
              5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT",
              9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}


def tcp_info(s):
    """(state, total_retrans) from Linux's struct tcp_info."""
    raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    total_retrans = struct.unpack("I", raw[100:104])[0] if len(raw) >= 104 else -1
    return raw[0], total_retrans


def left(deadline):
    """Seconds until the deadline, at least a little (for settimeout)."""
    return max(deadline - time.monotonic(), 0.001)


def sink_timed(addr, port, secs):
    deadline = time.monotonic() + secs
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, port))
    l.listen(1)
    l.settimeout(left(deadline))
    c, peer = l.accept()
    t0 = time.monotonic()
    l.close()
    say("ACCEPTED", "%s:%d" % peer)
    chunks, n, how = [], 0, "eof"
    try:
        while True:
            c.settimeout(left(deadline))
            x = c.recv(262144)
            if not x:
                break
            chunks.append(x)
            n += len(x)
    except ConnectionResetError:
        how = "reset"
    except socket.timeout:
        how = "timeout"
    t = time.monotonic() - t0
    h = hashlib.sha256()  # after the clock stops: only the transfer is timed
    for x in chunks:
        h.update(x)
    say("RECV", n, h.hexdigest(), how)
    say("TIME", "%.3f" % t)
    c.close()


def outq(s):
    """Bytes of our sequence space not yet acknowledged (SIOCOUTQ): data
    not yet acknowledged, plus 1 while a FIN we sent is unacknowledged."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


def send_timed(addr, port, path, secs):
    deadline = time.monotonic() + secs
    data = memoryview(open(path, "rb").read())
    s = socket.socket()
    s.settimeout(left(deadline))
    s.connect((addr, port))
    t0 = time.monotonic()
    say("CONNECTED", s.getsockname()[1])
    sent = 0
    try:
        while sent < len(data):  # sendall, with the deadline
            s.settimeout(left(deadline))
            sent += s.send(data[sent:sent + 1048576])
        s.shutdown(socket.SHUT_WR)
        say("SENT", sent)
        # the clock stops when every byte is acknowledged (only our FIN
        # may be outstanding): the transfer is over, whatever becomes of
        # the last ACK of the close
        while outq(s) > 1:
            if time.monotonic() > deadline:
                raise socket.timeout("%d bytes not acknowledged" % outq(s))
            time.sleep(0.001)
        t = time.monotonic() - t0
        say("TIME", "%.3f" % t)
        say("ACKED", sent)
        # then the close, reported: the peer's FIN (synfin-sock -h sends it
        # at once, a peer.py sink after reading everything), and the ACK
        # of ours (FIN_WAIT2, TIME_WAIT, or CLOSE after LAST_ACK), 3 s at most
        while True:
            s.settimeout(left(deadline))
            if not s.recv(65536):
                break
        end = min(time.monotonic() + 3, deadline)
        while tcp_info(s)[0] not in (5, 6, 7) and time.monotonic() < end:
            time.sleep(0.002)
        state = tcp_info(s)[0]
        say("CLOSE", "fin-acked" if state in (5, 6, 7) else "fin-unacked",
            TCP_STATES.get(state, "?"))
    except socket.timeout as e:
        state = TCP_STATES.get(tcp_info(s)[0], "?")
        say("RESULT", "timeout", "sent", sent, "state", state, e)
    except OSError as e:
        say("RESULT", type(e).__name__, e, "sent", sent)
    say("RETRANS", tcp_info(s)[1])
    s.close()


def seq_lt(a, b):
    return a != b and ((b - a) & 0xffffffff) < 0x80000000


def sack_blocks(tcp, doff):
    """The SACK blocks [(left, right)] among a TCP header's options."""
    opts, i, blocks = tcp[20:doff], 0, []
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        n = opts[i + 1]
        if kind == 5:
            for j in range(i + 2, i + n - 7, 8):
                blocks.append(struct.unpack("!II", opts[j:j + 8]))
        i += n
    return blocks


def pcap_stalls(path, port):
    """A bulk sender's side of a transfer to PORT, from its own pcap (what
    it sent, and the ACKs that reached it): data segments, those sent again
    (starting below the highest sequence sent), and its silences of 0.5 s
    or more while data was outstanding: retransmission timeouts, on a path
    whose round trip is well under a millisecond. Each timeout is put in
    one of three kinds by the segment it resends (SND.UNA):
      lost_rexmit  it had been resent already: the retransmission was lost
                   (RFC 6675 cannot see that; only a timeout repairs it)
      missed       sent once, and the ACKs had SACKed DupThresh (3) or
                   more segments above it: RFC 6675 section 5 (IsLost)
                   wanted it resent at once; a sender should not wait
      tail         sent once, fewer than 3 segments SACKed above it: the
                   ACKs of the flight's end were lost (no TLP here)
    and the receiver's duplicate ACKs (same ACK, no data), with how many of
    them changed the window (RFC 5681 would not count those; RFC 6675,
    with SACK, does)."""
    data = rexmit = dups = dups_wnd = stalls = 0
    kinds = {"lost_rexmit": 0, "missed": 0, "tail": 0}
    stall_secs = 0.0
    high = last_ack = last_wnd = None
    last_t = None
    mss = 1
    sent = {}        # seq -> times sent
    sacked = []      # merged SACK blocks above last_ack
    pending = False  # a silence just ended: classify by the next data segment
    for t, tcp in pcap_tcp(path):
        sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        wnd = struct.unpack("!H", tcp[14:16])[0]
        payload = len(tcp) - doff
        if high is not None and last_t is not None and last_ack != high and t - last_t >= 0.5:
            stalls += 1
            stall_secs += t - last_t
            pending = True
        last_t = t
        if dport == port and payload > 0:  # the sender's data
            data += 1
            if pending:
                pending = False
                above = sum((r - l) & 0xffffffff for l, r in sacked)
                if sent.get(seq, 0) >= 2:
                    kinds["lost_rexmit"] += 1
                elif seq == last_ack and above >= 3 * mss:
                    kinds["missed"] += 1
                else:
                    kinds["tail"] += 1
            sent[seq] = sent.get(seq, 0) + 1
            mss = max(mss, payload)
            end = (seq + payload) & 0xffffffff
            if high is None:
                high = end
            else:
                if seq_lt(seq, high):
                    rexmit += 1  # starts below what was already sent
                if seq_lt(high, end):
                    high = end
        elif sport == port and flags & 0x10 and not flags & 0x07:
            if payload == 0 and ack == last_ack and high is not None and ack != high:
                dups += 1
                if wnd != last_wnd:
                    dups_wnd += 1
            if last_ack is None or seq_lt(last_ack, ack):
                sacked = [(l, r) for l, r in sacked if seq_lt(ack, r)]
            for l, r in sack_blocks(tcp, doff):
                if seq_lt(ack, r):  # not a D-SACK
                    sacked.append((l, r))
            # merge
            sacked.sort(key=lambda b: (b[0] - ack) & 0xffffffff)
            merged = []
            for l, r in sacked:
                if merged and not seq_lt(merged[-1][1], l):
                    if seq_lt(merged[-1][1], r):
                        merged[-1] = (merged[-1][0], r)
                else:
                    merged.append((l, r))
            sacked = merged
            last_ack, last_wnd = ack, wnd
    say("DATA", data, "RETRANSMITTED", rexmit, "STALLS", stalls, "%.1f" % stall_secs,
        "LOST_REXMIT", kinds["lost_rexmit"], "MISSED", kinds["missed"], "TAIL", kinds["tail"],
        "DUPACKS", dups, "WINDOW_CHANGED", dups_wnd)


def pcap_frames(path):
    """(linktype, [(time, frame bytes)]) of a classic pcap file."""
    with open(path, "rb") as f:
        raw = f.read()
    magic = raw[:4]
    end = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(end + "I", raw[20:24])[0]
    frames, off = [], 24
    while off + 16 <= len(raw):
        sec, frac, incl, _ = struct.unpack(end + "IIII", raw[off:off + 16])
        fr = raw[off + 16:off + 16 + incl]
        # (microsecond or nanosecond pcap)
        scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
        frames.append((sec + frac * scale, fr))
        off += 16 + incl
    return linktype, frames


def pcap_tcp(path):
    """(time, TCP header and payload) of each IPv4 TCP segment in a classic
    pcap file of raw IP or Ethernet frames."""
    linktype, frames = pcap_frames(path)
    for t, fr in frames:
        if linktype == 1:
            if len(fr) < 14 or fr[12:14] != b"\x08\x00":
                continue
            fr = fr[14:]
        if len(fr) < 20 or fr[9] != 6:
            continue
        ihl = (fr[0] & 15) * 4
        tot = struct.unpack("!H", fr[2:4])[0]
        tcp = fr[ihl:tot]
        if len(tcp) < 20:
            continue
        yield t, tcp


def data_after_fin(path, port):
    """Count synfin's data segments from PORT sent after Linux's FIN to PORT."""
    seen_fin = False
    after = 0
    for _, tcp in pcap_tcp(path):
        sport, dport = struct.unpack("!HH", tcp[:4])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        payload = len(tcp) - doff
        if dport == port and flags & 1:
            seen_fin = True
        elif sport == port and seen_fin and payload > 0:
            after += 1
    say("FIN_SEEN", int(seen_fin), "DATA_AFTER_FIN", after)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    role = sys.argv[1]
    if role == "server":
        server(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
    elif role == "client":
        client(sys.argv[2], sys.argv[3:])
    elif role == "data-after-fin":
        data_after_fin(sys.argv[2], int(sys.argv[3]))
    elif role == "sink-timed":
        sink_timed(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif role == "send-timed":
        send_timed(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    elif role == "pcap-stalls":
        pcap_stalls(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line the driver can show
        say("ERROR", type(e).__name__, e)
        sys.exit(1)
