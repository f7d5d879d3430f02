#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Architecture facts have one home: lib/common/arm64.h.

Usage: check-arch-facts.py LIBDIR
Prints TAP. Fails if a file under LIBDIR other than common/arm64.h defines an ESR/ISS/fault-status/
PSTATE/SCTLR/MPIDR constant or an exception class, or derives a default MPIDR from a vCPU index by
hand: such copies drift apart (they once lived in the trap decoder, the mock, el2.c and kvm.c).
"""
import pathlib
import re
import sys

DEFINE = re.compile(
    r"^\s*#\s*define\s+(?:HYP_)?(ESR_\w+|ISS_\w+|DABT_\w+|IABT_\w+|FSC_\w+|ABT_FSC\w*|PSTATE_\w+|"
    r"SCTLR_\w+|MPIDR_\w+|EC_\w+)\b", re.M)
EC_ENUM = re.compile(r"\benum\s+hyp_ec\s*\{")
# Aff1 taken from index bits [11:4]: the default-MPIDR rule.
MPIDR_RULE = re.compile(r">>\s*4\)\s*&\s*0xff[uUlL]*\)\s*<<\s*8")


def main():
    root = pathlib.Path(sys.argv[1])
    home = root / "common" / "arm64.h"
    offenders = []
    for path in sorted(root.rglob("*.[ch]")):
        if path == home:
            continue
        text = path.read_text(encoding="utf-8")
        for m in DEFINE.finditer(text):
            offenders.append(f"{path.relative_to(root)}: #define {m.group(1)}")
        if EC_ENUM.search(text):
            offenders.append(f"{path.relative_to(root)}: enum hyp_ec")
        if MPIDR_RULE.search(text):
            offenders.append(f"{path.relative_to(root)}: a default MPIDR computed by hand")
    print("1..2")
    print(f"{'ok' if home.exists() else 'not ok'} 1 - lib/common/arm64.h exists")
    print(f"{'not ok' if offenders else 'ok'} 2 - no architecture constant defined outside it")
    for o in offenders:
        print(f"# {o}")
    return 1 if offenders or not home.exists() else 0


if __name__ == "__main__":
    sys.exit(main())
