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
