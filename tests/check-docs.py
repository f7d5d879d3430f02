#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every exported function (HYP_API) in the public headers has a doc comment right above it.

Usage: check-docs.py HEADER... ; prints TAP, one point per header.
"""
import re
import sys


def undocumented(path):
    text = open(path, encoding="utf-8").read()
    missing = []
    for m in re.finditer(r"^HYP_API\b[^;{]*?\b(hyp_\w+)\s*\(", text, flags=re.M):
        before = text[:m.start()].rstrip()
        # The declaration must follow the end of a /** ... */ comment (possibly a one-liner).
        if not before.endswith("*/"):
            missing.append(m.group(1))
            continue
        start = before.rfind("/*")
        if start < 0 or not before[start:].startswith("/**"):
            missing.append(m.group(1))
    return missing


def main():
    headers = sys.argv[1:]
    print(f"1..{len(headers)}")
    failed = 0
    for i, h in enumerate(headers, start=1):
        miss = undocumented(h)
        name = h.split("/")[-1]
        if miss:
            failed += 1
            print(f"not ok {i} - {name}: undocumented: {', '.join(miss)}")
        else:
            print(f"ok {i} - {name}: every HYP_API function has a doc comment")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
