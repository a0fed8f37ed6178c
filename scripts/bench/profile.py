#!/usr/bin/env python3
"""Where the time of one restore goes, measured (scripts/bench-restore-profile.sh).

    profile.py --log PGLOG --postmaster PID --label NAME -- COMMAND...

Runs COMMAND and, while it runs, samples every process's CPU time from /proc every
100 ms, by kind: PostgreSQL backends (children of PID), borg, psql, csi, and the
server's own processes (WAL writer, checkpointer...). The server logs every statement
with its duration (log_min_duration_statement = 0, set by the caller); when COMMAND
ends, the statements it caused are read back from PGLOG and grouped into the phases of
a restore. Prints, per phase: when it ran (seconds from the start), its wall time, the
statement time summed over the connections, and the CPU each kind of process used
meanwhile; then the COPY of each large table, and each connection's busy time. Exits
with COMMAND's status.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from collections import defaultdict

TICK = os.sysconf("SC_CLK_TCK")
PERIOD = 0.1


def proc_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    # comm is in parentheses and may hold spaces.
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    ppid = int(fields[1])
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    children = (int(fields[13]) + int(fields[14])) / TICK
    return comm, ppid, cpu, children


def sample(postmaster):
    """pid -> (kind, cpu seconds)."""
    seen = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        st = proc_stat(pid)
        if st is None:
            continue
        comm, ppid, cpu, _ = st
        if ppid == postmaster:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            # Backends are titled "postgres: user db host ..." ; the server's own
            # processes "postgres: checkpointer", "postgres: walwriter"...
            words = cmd.split()
            own = len(words) <= 3 and not any("@" in w or "." in w for w in words[1:])
            kind = "server" if own else "backend"
        elif comm in ("borg", "psql", "csi"):
            kind = comm
        else:
            continue
        seen[pid] = (kind, cpu)
    return seen


LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \S+ \[(\d+)\] \S* ?LOG:  duration: ([\d.]+) ms  (?:statement|execute [^:]*): (.*)$"
)


def parse_log(path, offset):
    statements = []
    with open(path, errors="replace") as f:
        f.seek(offset)
        current = None
        for line in f:
            line = line.rstrip("\n")
            m = LINE.match(line)
            if m:
                if current:
                    statements.append(current)
                stamp, pid, ms, text = m.groups()
                end = time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")) + float(
                    "0" + stamp[19:]
                )
                current = [end - float(ms) / 1000, end, int(pid), text]
            elif current and (line.startswith("\t") or not re.match(r"^\d{4}-", line)):
                current[3] += "\n" + line
            else:
                if current:
                    statements.append(current)
                current = None
        if current:
            statements.append(current)
    return statements


def phase_of(text):
    t = text.lstrip()
    u = t.upper()
    if u.startswith("SELECT 'CSI-MARK") or u.startswith("SELECT 'CSI-READY"):
        return None
    if u.startswith("COPY "):
        return "copy"
    if u.startswith("CREATE INDEX") or u.startswith("CREATE UNIQUE INDEX"):
        return "index"
    if "FOREIGN KEY" in u and "ADD CONSTRAINT" in u:
        return "foreign key"
    if "ADD CONSTRAINT" in u:
        return "constraint"
    if u.startswith("DO $CSI_VERIFY") or "CSI-VERIFY" in u:
        return "verify"
    if u.startswith("ALTER SCHEMA") and "RENAME" in u:
        return "swap"
    if u.startswith("ANALYZE"):
        return "analyze"
    return "other sql"


def copy_table(text):
    m = re.match(r"\s*COPY\s+(\S+)", text, re.I)
    return m.group(1).split(".")[-1].strip('"') if m else "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--postmaster", type=int, required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    offset = os.path.getsize(args.log)
    pm = proc_stat(args.postmaster)
    pm_children0 = pm[3]
    # Processes alive before (the server's own) count from their CPU time now.
    last = sample(args.postmaster)
    t0 = time.time()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(os.devnull, "w"))
    # Per sample: time, cpu seconds used since the previous sample, by kind.
    timeline = []
    while True:
        done = child.poll() is not None
        now = time.time()
        cur = sample(args.postmaster)
        used = defaultdict(float)
        for pid, (kind, cpu) in cur.items():
            used[kind] += cpu - last.get(pid, (kind, 0.0))[1]
        last.update(cur)
        timeline.append((now - t0, dict(used)))
        if done:
            break
        time.sleep(PERIOD)
    wall = time.time() - t0
    status = child.returncode
    time.sleep(0.5)  # the log catches up
    pm = proc_stat(args.postmaster)
    backend_total = pm[3] - pm_children0
    # csi's children (borg, psql) are reaped by csi: their totals are csi's cutime, but
    # csi is gone now; the samples' sums are what we have.
    statements = [s for s in parse_log(args.log, offset) if s[1] >= t0 - 1]
    for s in statements:
        s[0] -= t0
        s[1] -= t0

    def cpu_between(a, b):
        out = defaultdict(float)
        for t, used in timeline:
            if a < t <= b + PERIOD:
                for k, v in used.items():
                    out[k] += v
        return out

    kinds = ["backend", "server", "psql", "csi", "borg"]
    print(f"== {args.label}: {wall:.2f} s wall, exit {status}")
    totals = cpu_between(-1, wall + 1)
    print(
        "   cpu seconds over the run: "
        + ", ".join(f"{k} {totals.get(k, 0.0):.1f}" for k in kinds)
        + f" (backends per the postmaster's accounting: {backend_total:.1f});"
        + f" {sum(totals.values()):.1f} of {wall * os.cpu_count():.1f} available"
    )
    phases = defaultdict(list)
    for s in statements:
        p = phase_of(s[3])
        if p:
            phases[p].append(s)
    order = ["other sql", "copy", "constraint", "index", "foreign key", "verify", "swap", "analyze"]
    print(f"   {'phase':<12} {'from':>6} {'to':>6} {'wall':>6} {'stmt-s':>7} {'n':>4}  cpu during it: " + " ".join(f"{k:>7}" for k in kinds))
    first = min((s[0] for s in statements), default=0.0)
    print(f"   {'(before sql)':<12} {0:6.2f} {first:6.2f} {first:6.2f} {'':>7} {'':>4}  {'':14}" + " ".join(f"{cpu_between(-1, first).get(k, 0.0):7.1f}" for k in kinds))
    for p in order:
        ss = phases.get(p)
        if not ss:
            continue
        a = min(s[0] for s in ss)
        b = max(s[1] for s in ss)
        summed = sum(s[1] - s[0] for s in ss)
        cpu = cpu_between(a, b)
        print(f"   {p:<12} {a:6.2f} {b:6.2f} {b - a:6.2f} {summed:7.2f} {len(ss):4}  {'':14}" + " ".join(f"{cpu.get(k, 0.0):7.1f}" for k in kinds))
    last_end = max((s[1] for s in statements), default=0.0)
    print(f"   {'(after sql)':<12} {last_end:6.2f} {wall:6.2f} {wall - last_end:6.2f}")
    copies = defaultdict(list)
    for s in phases.get("copy", []):
        copies[copy_table(s[3])].append(s)
    big = sorted(copies.items(), key=lambda kv: -sum(s[1] - s[0] for s in kv[1]))[:6]
    print("   COPY per table (the largest): table, streams, from-to, summed stream time")
    for table, ss in big:
        print(f"     {table:<28} {len(ss):3}  {min(s[0] for s in ss):6.2f}-{max(s[1] for s in ss):6.2f}  {sum(s[1] - s[0] for s in ss):7.2f} s")
    for p in ("constraint", "index", "foreign key"):
        ss = sorted(phases.get(p, []), key=lambda s: s[0] - s[1])[:4]
        if ss:
            print(f"   slowest {p}: " + "; ".join(f"{s[1] - s[0]:.2f} s {' '.join(s[3].split())[:70]}" for s in ss))
    conns = defaultdict(float)
    for p, ss in phases.items():
        for s in ss:
            conns[s[2]] += s[1] - s[0]
    print("   statement time per connection (pid: s): " + ", ".join(f"{pid}: {v:.1f}" for pid, v in sorted(conns.items(), key=lambda kv: -kv[1])))
    return status


if __name__ == "__main__":
    sys.exit(main())
