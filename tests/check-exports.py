#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compare the symbols a built libhyp exports with the version script.

Usage: check-exports.py LIBRARY LIBHYP.map [--with-mock|--without-mock] [--nm NM]
LIBRARY is libhyp.so (its dynamic symbols are checked) or libhyp.a (the global symbols its members
define: the archive a firmware or a static VMM links must offer no more than the shared library).
Prints TAP. Fails if the library exports a symbol the map does not list (a leak), if a listed
symbol is missing (a broken promise), or if anything exported lacks the hyp_ prefix.
"""
import re
import subprocess
import sys


def map_symbols(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # One node per release that added symbols (LIBHYP_0 { ... }; LIBHYP_0.2 { ... } LIBHYP_0;).
    syms = set()
    for node in re.finditer(r"[\w.]+\s*\{(.*?)\}\s*[\w.]*\s*;", text, flags=re.S):
        if "global:" in node.group(1):
            glob = node.group(1).split("global:", 1)[1].split("local:", 1)[0]
            syms |= {s.strip() for s in glob.split(";") if s.strip()}
    return syms


def exported_symbols(path, nm):
    archive = path.endswith(".a")
    # In an archive, nm -g lists global symbols per member ("member.o:" lines have no type).
    args = [nm, "-g", "--defined-only", path] if archive else [nm, "-D", "--defined-only", path]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TDBRVWiuGS":
            syms.add(parts[2].split("@")[0])
    # The version node itself shows up as an absolute symbol.
    syms = {s for s in syms if not s.startswith("LIBHYP_")}
    return syms


def main():
    lib, mapfile = sys.argv[1], sys.argv[2]
    with_mock = "--without-mock" not in sys.argv[3:]
    nm = sys.argv[sys.argv.index("--nm") + 1] if "--nm" in sys.argv else "nm"
    expected = map_symbols(mapfile)
    if not with_mock:
        expected = {s for s in expected if not s.startswith("hyp_mock_")}
    actual = exported_symbols(lib, nm)
    checks = [
        ("every exported symbol is listed in the version script", sorted(actual - expected)),
        ("every listed symbol is exported", sorted(expected - actual)),
        ("every exported symbol starts with hyp_", sorted(s for s in actual if not s.startswith("hyp_"))),
    ]
    print(f"1..{len(checks) + 1}")
    print(f"ok 1 - {lib.rsplit('/', 1)[-1]} exports {len(actual)} symbols, the map lists {len(expected)}")
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
