#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench-table.py [LABEL=]LOG...: the benchmark figures of the el2 and kvm runs side by side.

Reads the "bench: BACKEND  WHAT  N instructions" lines lht-device.c prints (tests/guests) from
the given logs (or stdin) and prints one row per measurement with a column per backend, or per
LABEL for a log given as LABEL=LOG (e.g. kvm-6.12=bench-6.12.log: the same backend on another
host kernel). Exits 1 if no figure was found.
"""
import re
import sys

LINE = re.compile(r"bench: (\S+)\s+(.+?)\s+([0-9]+\.[0-9]+) instructions(.*)$")
# The Linux boot in an el2 partition (examples/el2-firmware/linux.c, run-el2.sh --linux --icount)
# and under hyp-run on kvm (tests/bench/linux-bench.c), both 2 vCPUs.
EL2_LINUX = re.compile(r"linux-el2: boot 1: to PSCI SYSTEM_OFF: (\d+) instructions from the "
                       r"first entry, (\d+) from the start of loading")
KVM_LINUX = re.compile(r"linux-bench: boot → power-off, 2 vCPUs on 2 L1 CPUs\s+([0-9.]+)M insns")


LATENCY = re.compile(r"timer-latency: timer-latency ticks (min|median|p99|max) (alone|beside .*?): "
                     r"0x[0-9a-f]+ \((\d+)\)")


def latency_rows(logs):
    """The real-time partition's timer latency beside Linux (tests/el2/guests/timer-latency.c):
    counter ticks x 16 = instructions under -icount shift=0."""
    table = {}
    for _, text in logs:
        for m in LATENCY.finditer(text):
            table.setdefault(m.group(2), {})[m.group(1)] = int(m.group(3)) * 16
    if not table:
        return
    print("# el2 real-time partition, virtual timer expiry -> handler, instructions: "
          "min / median / p99 / max")
    alone = table.get("alone", {}).get("max")
    for phase, row in table.items():
        cells = " / ".join(str(row.get(k, "-")) for k in ("min", "median", "p99", "max"))
        ratio = ""
        if alone and phase != "alone" and "max" in row:
            ratio = "  (max %.1fx the max alone)" % (row["max"] / alone)
        print("#   %-45s %s%s" % (phase, cells, ratio))


def linux_rows(logs):
    """The Linux boot figures of both backends, if the logs have them."""
    el2 = kvm = None
    for _, text in logs:
        el2 = el2 or EL2_LINUX.search(text)
        kvm = kvm or KVM_LINUX.search(text)
    if not el2:
        return
    entry, load = int(el2.group(1)) / 1e6, int(el2.group(2)) / 1e6
    line = "# Linux boot → PSCI power-off, 2 vCPUs: el2 partition %.1fM insns (%.1fM from the " \
        "first entry)" % (load, entry)
    if kvm:
        theirs = float(kvm.group(1))
        line += "; hyp-run on kvm %.1fM (fork to reap); el2/kvm %.3f" % (theirs, load / theirs)
    print(line)


def main():
    rows, backends = {}, []
    logs = []
    for arg in sys.argv[1:]:
        label, _, path = arg.rpartition("=") if "=" in arg else (None, "", arg)
        logs.append((label or None, open(path, errors="replace").read()))
    for label, text in logs or [(None, sys.stdin.read())]:
        for line in text.splitlines():
            m = LINE.search(line)
            if not m:
                continue
            backend, what, value, rest = m.groups()
            backend = label or backend
            if backend not in backends:
                backends.append(backend)
            row = rows.setdefault(what, {})
            row[backend] = value
            t = re.search(r"target <= (\d+)", rest)
            if t:
                row["target"] = t.group(1)
    linux_rows(logs)
    latency_rows(logs)
    if not rows:
        print("bench-table.py: no figures found", file=sys.stderr)
        return 1
    width = max(len(w) for w in rows)
    print("# %-*s %s %s" % (width, "instructions per operation (-icount)",
                            " ".join("%10s" % b for b in backends), "  el2 target"))
    for what, row in rows.items():
        cells = " ".join("%10s" % row.get(b, "-") for b in backends)
        print("# %-*s %s %s" % (width, what, cells,
                                ("  <= " + row["target"]) if "target" in row else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
