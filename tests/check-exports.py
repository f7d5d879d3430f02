#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compare the dynamic symbols a built libhyp.so exports with the version script.

Usage: check-exports.py LIBHYP.so LIBHYP.map [--with-mock|--without-mock]
Prints TAP. Fails if the library exports a symbol the map does not list (a leak), if a listed
symbol is missing (a broken promise), or if anything exported lacks the hyp_ prefix.
"""
import re
import subprocess
import sys


def map_symbols(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    glob = text.split("global:", 1)[1].split("local:", 1)[0]
    return {s.strip() for s in glob.split(";") if s.strip()}


def exported_symbols(path):
    out = subprocess.run(["nm", "-D", "--defined-only", path], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TDBRVWiu":
            syms.add(parts[2].split("@")[0])
    # The version node itself shows up as an absolute symbol.
    syms.discard("LIBHYP_0")
    return syms


def main():
    lib, mapfile = sys.argv[1], sys.argv[2]
    with_mock = "--without-mock" not in sys.argv[3:]
    expected = map_symbols(mapfile)
    if not with_mock:
        expected = {s for s in expected if not s.startswith("hyp_mock_")}
    actual = exported_symbols(lib)
    checks = [
        ("every exported symbol is listed in the version script", sorted(actual - expected)),
        ("every listed symbol is exported", sorted(expected - actual)),
        ("every exported symbol starts with hyp_", sorted(s for s in actual if not s.startswith("hyp_"))),
    ]
    print(f"1..{len(checks) + 1}")
    print(f"ok 1 - library exports {len(actual)} symbols, the map lists {len(expected)}")
    failed = 0
    for i, (name, bad) in enumerate(checks, start=2):
        if bad:
            failed += 1
            print(f"not ok {i} - {name}")
            for s in bad:
                print(f"# offending: {s}")
        else:
            print(f"ok {i} - {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
