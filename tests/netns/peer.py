#!/usr/bin/env python3
"""The Linux side of tests/netns/run.sh: one role per invocation, Python
standard library only, run inside the test's network namespace.

    peer.py server PORT MODE [ARGS]     listen on 198.18.0.1:PORT, serve one
    peer.py client MODE [ARGS]          connect to synfin at 198.18.0.2

Results are "KEY value" lines on stdout, flushed as they happen, for the
driver to grep. Every blocking call has a timeout, so a peer always ends.
"""
import hashlib
import os
import socket
import struct
import sys
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


def pcap_frames(path):
    """(linktype, [frame bytes]) of a classic pcap file."""
    with open(path, "rb") as f:
        raw = f.read()
    magic = raw[:4]
    end = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(end + "I", raw[20:24])[0]
    frames, off = [], 24
    while off + 16 <= len(raw):
        _, _, incl, _ = struct.unpack(end + "IIII", raw[off:off + 16])
        frames.append(raw[off + 16:off + 16 + incl])
        off += 16 + incl
    return linktype, frames


def data_after_fin(path, port):
    """Count synfin's data segments from PORT sent after Linux's FIN to PORT."""
    linktype, frames = pcap_frames(path)
    seen_fin = False
    after = 0
    for fr in frames:
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
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line the driver can show
        say("ERROR", type(e).__name__, e)
        sys.exit(1)
