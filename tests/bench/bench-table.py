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
