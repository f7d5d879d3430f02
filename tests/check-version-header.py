#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""include/libhyp/version.h states the project's version (meson.build): prints TAP.

Usage: check-version-header.py VERSION_H MAJOR.MINOR.MICRO
"""
import re
import sys


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    want = sys.argv[2].split(".")
    have = [re.search(rf"^#define HYP_VERSION_{p} (\d+)$", text, re.M) for p in
            ("MAJOR", "MINOR", "MICRO")]
    have = [m.group(1) if m else "?" for m in have]
    print("1..1")
    if have == want:
        print(f"ok 1 - version.h says {'.'.join(have)}, as meson.build does")
        return 0
    print(f"not ok 1 - version.h says {'.'.join(have)}, meson.build {sys.argv[2]}: edit "
          "include/libhyp/version.h")
    return 1


if __name__ == "__main__":
    sys.exit(main())
