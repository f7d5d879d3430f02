#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build the installed libhyp.a from the library's objects, with only the public API global.

Usage: make-static-archive.py OBJCOPY AR INPUT.a OUTPUT.a [--standalone SUFFIX]... -- CC [ARGS...]

A static archive normally keeps every non-static function global: the library's internal
helpers (hidden visibility in the shared object) would become link-time names a firmware or VMM
could collide with or call. So the archive's members are combined into one relocatable object
(CC -r), whose internal references are then resolved, and every hidden symbol is made local
(objcopy --localize-hidden). What remains global is exactly what carries default visibility: the
HYP_API functions the version script exports from the shared library.

A member named with --standalone (a suffix of its name in INPUT.a) stays a member of its own, so
a program that does not use it does not link it (or what it needs: lib/fdt needs libfdt, which a
static program may not have). Such a member may reference only the public API; this is checked.
"""
import os
import shutil
import subprocess
import sys
import tempfile


def symbols(nm, path, *flags):
    out = subprocess.run([nm, *flags, path], check=True, capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def main():
    if "--" not in sys.argv:
        sys.exit(__doc__)
    split = sys.argv.index("--")
    args, cc = sys.argv[1:split], sys.argv[split + 1:]
    standalone = [args[i + 1] for i, a in enumerate(args) if a == "--standalone"]
    args = [a for i, a in enumerate(args)
            if a != "--standalone" and (i == 0 or args[i - 1] != "--standalone")]
    objcopy, ar, archive, output = args
    nm = os.path.join(os.path.dirname(objcopy), os.path.basename(objcopy).replace("objcopy", "nm"))
    archive = os.path.abspath(archive)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(output))) as tmp:
        names = subprocess.run([ar, "t", archive], check=True, capture_output=True,
                               text=True).stdout.split()
        with open(archive, "rb") as f:
            thin = f.read(8) == b"!<thin>\n"
        if thin:
            # A thin archive (meson's uninstalled static libraries) lists its members' paths,
            # relative to the archive; copy them, objcopy below edits in place.
            base = os.path.dirname(archive)
            for i, n in enumerate(names):
                local = os.path.basename(n)
                if local in names[:i]:
                    local = f"{i}-{local}"
                shutil.copyfile(os.path.join(base, n), os.path.join(tmp, local))
                names[i] = local
        else:
            subprocess.run([ar, "x", archive], check=True, cwd=tmp)
        apart = [n for n in names if any(n.endswith(s) for s in standalone)]
        core = [os.path.join(tmp, n) for n in names if n not in apart]
        combined = os.path.join(tmp, "libhyp.o")
        subprocess.run(cc + ["-r", "-nostdlib", "-o", combined] + core, check=True)
        members = [combined] + [os.path.join(tmp, n) for n in apart]
        for obj in members:
            subprocess.run([objcopy, "--localize-hidden", obj], check=True)
        public = symbols(nm, combined, "-g", "--defined-only")
        hidden = symbols(nm, combined, "--defined-only") - public
        for obj in members[1:]:
            bad = sorted(symbols(nm, obj, "-u") & hidden)
            if bad:
                sys.exit(f"{os.path.basename(obj)} is standalone but uses internal symbols: "
                         + " ".join(bad))
        if os.path.exists(output):
            os.unlink(output)
        subprocess.run([ar, "rcsD", output] + members, check=True)


if __name__ == "__main__":
    main()
