#!/usr/bin/env python3
"""Run the transfer experiments of docs/TRANSFER.md on the simulated network
and print the tables (markdown). Every figure comes from build/synfin-lab
transfer with a fixed seed, so a run reproduces the same numbers.

    python3 tools/lab/transfer_figures.py [path/to/synfin-lab]
"""
import csv
import math
import os
import subprocess
import sys
import tempfile

LAB = sys.argv[1] if len(sys.argv) > 1 else "build/synfin-lab"
MSS = 1448  # 1500 - 20 (IP) - 20 (TCP) - 12 (timestamps)


def run(args, csv_path=None):
    cmd = [LAB, "transfer", "--seed", "1"] + args
    if csv_path:
        cmd += ["--csv", csv_path]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = out.stdout.strip().splitlines()
    last = lines[-1].split()
    # goodput MBIT mbit/s utilisation PCT% retransmits N
    res = {"goodput": float(last[1]), "util": float(last[4].rstrip("%")),
           "retrans": int(last[6]), "ok": out.returncode == 0, "lines": lines,
           "cmd": "synfin-lab transfer --seed 1 " + " ".join(args)}
    for l in lines:
        if l.startswith("fairness:"):
            res["jain"] = float(l.split()[2])
            res["shared_s"] = float(l.split()[5])
    return res


def rows(path):
    with open(path) as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def mathis_mbit(rtt_s, p):
    """Mathis et al. 1997: BW = MSS/RTT * C/sqrt(p), C = sqrt(3/2), for Reno."""
    return MSS * 8 / rtt_s * math.sqrt(1.5) / math.sqrt(p) / 1e6


def padhye_mbit(rtt_s, p, t0=1.0, b=2):
    """Padhye et al. 1998, with timeouts: the better model at high loss.
    T0 = 1 s (RFC 6298's minimum RTO), an ACK for every b = 2 segments."""
    q = min(1.0, 3 * math.sqrt(3 * b * p / 8))
    per = rtt_s * math.sqrt(2 * b * p / 3) + t0 * q * p * (1 + 32 * p * p)
    return MSS * 8 / per / 1e6


def main():
    tmp = tempfile.mkdtemp(prefix="synfin-fig-")
    print("## Goodput against random loss (100 Mbit/s, 20 ms RTT)\n")
    print("| loss (each way) | CUBIC mbit/s | NewReno mbit/s | NewReno without SACK | Mathis (Reno) | Padhye (Reno, timeouts) | bytes |")
    print("|---|---|---|---|---|---|---|")
    cmds = []
    for p in (0, 0.001, 0.01, 0.03, 0.1):
        size = "16M" if p < 0.05 else "4M"
        base = ["--rate", "100mbit", "--rtt", "20ms", "--bytes", size]
        if p:
            base += ["--loss", str(p)]
        c = run(base)
        n = run(base + ["--cc", "newreno"])
        ns = run(base + ["--cc", "newreno", "--no-sack"])
        m = "%.1f" % mathis_mbit(0.020, p) if p else "link: 100"
        pd = "%.1f" % padhye_mbit(0.020, p) if p else "-"
        flag = "" if c["ok"] and n["ok"] and ns["ok"] else " (a run failed)"
        print("| %s%% | %.1f | %.1f | %.1f | %s | %s | %s%s |" % (
            ("%g" % (p * 100)), c["goodput"], n["goodput"], ns["goodput"], m, pd, size, flag))
        cmds.append(c["cmd"])
    print("\nCommands: `%s`, with `--cc newreno` and `--cc newreno --no-sack` added for the "
          "other columns, for each loss rate.\n" % cmds[1])

    print("## A long fat link (1 Gbit/s, 100 ms RTT, a one-BDP drop-tail queue)\n")
    path = os.path.join(tmp, "lfn.csv")
    r = run(["--rate", "1000mbit", "--rtt", "100ms", "--bytes", "1G"], path)
    data = rows(path)
    ss_end = next((x["time_s"] for x in data if x["ssthresh_bytes"] < 2 ** 31 - 1), data[0]["time_s"])
    after = [x for x in data if x["time_s"] >= ss_end]
    a, b = after[0], after[-1]
    util = (b["delivered_bytes"] - a["delivered_bytes"]) * 8 / (b["time_s"] - a["time_s"]) / 1e9 * 100
    print("| figure | value |")
    print("|---|---|")
    print("| goodput over the whole transfer (slow start included) | %.1f mbit/s (%.1f%%) |" % (r["goodput"], r["util"]))
    print("| slow start ends (HyStart++ or the first loss) | %.2f s |" % ss_end)
    print("| utilisation after slow start | **%.1f%%** |" % util)
    print("| retransmitted segments | %d |" % r["retrans"])
    print("| largest window | %.1f MB |" % (max(x["cwnd_bytes"] for x in data) / 1e6))
    print("\nCommand: `%s --csv lfn.csv`; utilisation after slow start is the bytes delivered from the "
          "first CSV row with ssthresh set to the last row, over that time, against 1 Gbit/s.\n" % r["cmd"])

    print("## Two flows sharing a 100 Mbit/s, 20 ms bottleneck\n")
    print("| algorithm | bytes per flow | Jain's index while both ran | shared for | goodput |")
    print("|---|---|---|---|---|")
    for cc, size in (("cubic", "256M"), ("newreno", "64M")):
        r = run(["--rate", "100mbit", "--rtt", "20ms", "--bytes", size, "--flows", "2", "--cc", cc])
        print("| %s | %s | **%.3f** | %.1f s | %.1f mbit/s |" % (cc, size, r["jain"], r["shared_s"], r["goodput"]))
    print("\nCommand: `synfin-lab transfer --seed 1 --rate 100mbit --rtt 20ms --bytes 256M --flows 2 --cc cubic`. "
          "Jain's index is computed over the bytes each flow delivered until the first one finished.\n")

    print("## Recovery from a single drop (the 1000th data segment, 100 Mbit/s, 20 ms RTT)\n")
    print("| | recovery time | retransmits | goodput |")
    print("|---|---|---|---|")
    for label, extra in (("SACK", []), ("no SACK (NewReno)", ["--no-sack"])):
        path = os.path.join(tmp, "drop.csv")
        r = run(["--rate", "100mbit", "--rtt", "20ms", "--bytes", "4M", "--queue", "1000",
                 "--drop-nth", "1000"] + extra, path)
        data = rows(path)
        # the receiver delivers in order: the longest stretch without a new
        # byte read is the time the hole took to fill
        best = 0.0
        start = data[0]
        for x in data[1:]:
            if x["delivered_bytes"] != start["delivered_bytes"]:
                best = max(best, x["time_s"] - start["time_s"])
                start = x
        print("| %s | %.1f ms | %d | %.1f mbit/s |" % (label, best * 1e3, r["retrans"], r["goodput"]))
    print("\nCommand: `synfin-lab transfer --seed 1 --rate 100mbit --rtt 20ms --bytes 4M --queue 1000 "
          "--drop-nth 1000 [--no-sack] --csv drop.csv` (a queue large enough that slow start loses "
          "nothing, so the one drop is the only loss); the recovery time is the longest time the "
          "receiver read nothing (CSV rows every RTT/8).\n")
    print("## Many drops in one window: slow start overflowing the queue (100 Mbit/s, 20 ms, one-BDP queue)\n")
    print("| | queue drops | retransmits | goodput |")
    print("|---|---|---|---|")
    for label, extra in (("SACK", []), ("no SACK (NewReno)", ["--no-sack"])):
        r = run(["--rate", "100mbit", "--rtt", "20ms", "--bytes", "4M"] + extra)
        drops = next(l for l in r["lines"] if l.startswith("link:")).split()[4]
        print("| %s | %s | %d | %.1f mbit/s |" % (label, drops, r["retrans"], r["goodput"]))
    print("\nCommand: `synfin-lab transfer --seed 1 --rate 100mbit --rtt 20ms --bytes 4M [--no-sack]`.")


if __name__ == "__main__":
    main()
