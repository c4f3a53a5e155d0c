#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""In-kernel cost of kiln's sampling program, for bench/unwind.sh.

usage: unwind_cost.py KILN_PID SNAPSHOT_OUT   (writes a JSON snapshot)
       unwind_cost.py --diff BEFORE AFTER LABEL
       UNWIND_COST_PROG=any unwind_cost.py PID SNAPSHOT_OUT
                          (every program of PID, such as bpftrace's: only
                          bpf_stats' numbers, it has no histogram)

A snapshot holds bpf_stats' run_cnt/run_time_ns of kiln's sample_stack
program and its per-CPU maps 'sample_ns' (a histogram of the program's time
per kept sample) and 'stats' (counters); --diff prints the mean per run,
the median and 90th percentile per kept sample, and walk counters per kept
sample between two snapshots.
"""
import json
import os
import subprocess
import sys

STEP = 250  # KILN_SAMPLE_NS_STEP
STATS = {"map_lookups": None, "find_vma": None, "search_steps": None,
         "map_cached": None}


def bpftool(*args):
    return json.loads(subprocess.run(["bpftool", "-j", *args], check=True,
                                     capture_output=True, text=True).stdout)


def percpu_sum(dump):
    out = {}
    for e in dump:
        key = e.get("key")
        if isinstance(key, list):  # raw bytes
            key = int.from_bytes(bytes(int(x, 16) for x in key), "little")
        vals = e.get("values", [])
        tot = 0
        for v in vals:
            x = v.get("value")
            if isinstance(x, list):
                x = int.from_bytes(bytes(int(b, 16) for b in x), "little")
            tot += int(x)
        out[int(key)] = tot
    return out


def fd_ids(pid, field):
    """The BPF object ids the process holds fds of (its fdinfo)."""
    import os
    ids = set()
    base = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(base):
        try:
            for line in open(os.path.join(base, fd)):
                if line.startswith(field + ":"):
                    ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def snapshot(pid):
    """Every sample_stack program the process holds, by id."""
    progs = fd_ids(pid, "prog_id")
    snaps = {}
    for pid_ in sorted(progs):
        p = bpftool("prog", "show", "id", str(pid_))
        if p.get("name") != "sample_stack" and \
                os.environ.get("UNWIND_COST_PROG") != "any":
            continue
        snap = {"run_cnt": p.get("run_cnt", 0),
                "run_time_ns": p.get("run_time_ns", 0)}
        for mid in p.get("map_ids", []):
            m = bpftool("map", "show", "id", str(mid))
            if m.get("name") in ("sample_ns", "stats"):
                snap[m["name"]] = percpu_sum(bpftool("map", "dump", "id",
                                                     str(mid)))
        snaps[str(p["id"])] = snap
    if not snaps:
        sys.exit("no sample_stack program of pid %d" % pid)
    return snaps


def pct(hist, q):
    total = sum(hist.values())
    acc = 0
    for b in sorted(hist):
        acc += hist[b]
        if acc >= q * total:
            return (b + 0.5) * STEP / 1000.0
    return 0.0


def load(path):
    snaps = json.load(open(path))
    for snap in snaps.values():
        for k in ("sample_ns", "stats"):
            snap[k] = {int(i): v for i, v in snap.get(k, {}).items()}
    return snaps


def diff(a, b, label, stat_index):
    # The program that ran most in between (kiln holds one; be sure).
    ids = [i for i in b if i in a]
    if not ids:
        sys.exit("%s: no program in both snapshots" % label)
    i = max(ids, key=lambda i: b[i]["run_cnt"] - a[i]["run_cnt"])
    a, b = a[i], b[i]
    runs = b["run_cnt"] - a["run_cnt"]
    ns = b["run_time_ns"] - a["run_time_ns"]
    hist = {k: b["sample_ns"].get(k, 0) - a["sample_ns"].get(k, 0)
            for k in b["sample_ns"]}
    kept = sum(hist.values())
    mean = sum((k + 0.5) * STEP * n for k, n in hist.items()) / kept / 1000 \
        if kept else 0
    if not b["sample_ns"]:  # not kiln: bpf_stats only
        print("%-28s %6d runs: bpf_stats %5.2f us/run" %
              (label, runs, ns / runs / 1000 if runs else 0))
        return
    line = "%-28s %6d kept: mean %5.2f us, median %5.2f, p90 %5.2f; " \
           "bpf_stats %5.2f us/run" % (label, kept, mean, pct(hist, 0.5),
                                       pct(hist, 0.9),
                                       ns / runs / 1000 if runs else 0)
    if stat_index and kept:
        st = {k: b["stats"].get(v, 0) - a["stats"].get(v, 0)
              for k, v in stat_index.items()}
        line += "; per kept sample: " + ", ".join(
            "%s %.1f" % (k, st[k] / kept) for k in st)
    print(line)


if __name__ == "__main__":
    if sys.argv[1] == "--diff":
        a = load(sys.argv[2])
        b = load(sys.argv[3])
        idx = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
        diff(a, b, sys.argv[4], idx)
    else:
        json.dump(snapshot(int(sys.argv[1])), open(sys.argv[2], "w"))
