#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""libhyp's public ABI, described as text: dump it, check it, update it.

Usage:
  abi.py check  ABI_FILE [options]   TAP: the built headers and library match ABI_FILE
  abi.py update ABI_FILE [options]   rewrite ABI_FILE from the headers and library
  abi.py selftest ABI_FILE [options] TAP: check catches each of a set of ABI-changing edits
  abi.py dump [options]              print the description
  abi.py asserts ABI_FILE            print C11 _Static_asserts of ABI_FILE's layouts (cross checks)
Options:
  --include DIR     a directory for #include <libhyp/...> (repeatable)
  --headers DIR     where the public headers are parsed from (default: the first --include + libhyp)
  --map FILE        the linker version script (lib/libhyp.map)
  --lib FILE        the built libhyp.so: its dynamic symbols, their versions and SONAME are checked
  --cc CMD          the C compiler (default: cc), split on spaces
  --without-mock    the library was built without the mock backend (hyp_mock_* not exported)

The description (abi/libhyp.abi) lists, one fact a line:
  soname libhyp.so.0
  symbol VERSION_NODE hyp_name          every exported function and the version node it lives in
  func NAME PROTOTYPE              every HYP_API declaration, as text (whitespace normalised)
  type NAME DECLARATION            every callback typedef, as text
  struct NAME size N align N            every struct defined in include/libhyp/*.h ...
  field STRUCT MEMBER OFFSET SIZE       ... and every member (anonymous union members included)
  enum NAME CONSTANT VALUE              every enumerator
  const NAME VALUE                      every integer object-like HYP_* macro
Layouts are the LP64 ones (x86_64 and aarch64 Linux agree; `asserts` lets a cross compiler check).
Any change to these is an ABI change: it must be a deliberate edit of abi/libhyp.abi (run update),
reviewed against the compatibility promise in README.md.
"""
import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile

# Macros that are not ABI: the release version changes every release and is checked at run time
# by hyp_version(); the others are not integers.
CONST_SKIP = re.compile(r"^HYP_(VERSION(_\w+)?|API|BEGIN_DECLS|END_DECLS)$")
UMBRELLAS = ["hyp.h", "backend.h", "mock.h", "kvm.h", "el2.h"]


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def split_top(body):
    """Split a struct body into member declarations at brace depth 0."""
    out, depth, cur = [], 0, []
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == ";" and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    return [d for d in out if d]


def member_names(body):
    names = []
    for decl in split_top(body):
        m = re.match(r"^(union|struct)\s*\{(.*)\}\s*(\w*)$", decl, re.S)
        if m:
            if m.group(3):
                names.append(m.group(3))
            else:  # an anonymous union/struct: its members are members of the outer struct
                names.extend(member_names(m.group(2)))
            continue
        fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", decl)
        if fp:
            names.append(fp.group(1))
            continue
        decl = re.sub(r"\[[^\]]*\]", "", decl)
        decl = re.sub(r":\s*\d+$", "", decl)  # bit-fields: offsetof cannot take them
        for part in decl.split(","):
            ident = re.findall(r"\w+", part)
            if ident:
                names.append(ident[-1])
    return names


def parse_headers(hdir):
    structs, enums, consts, protos = {}, {}, {}, {}
    for path in sorted(glob.glob(os.path.join(hdir, "*.h"))):
        raw = open(path, encoding="utf-8").read()
        text = strip_comments(raw)
        # Prototypes and callback types as text: a changed parameter or return type shows up.
        for m in re.finditer(r"^(?:HYP_API\s+([^;]*?\b(hyp_\w+)\s*\([^;]*\))|"
                             r"typedef\s+([^;]*?\(\s*\*\s*(hyp_\w+)\s*\)[^;]*))\s*;",
                             text, re.M | re.S):
            decl = m.group(1) or m.group(3)
            decl = re.sub(r"__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)", "", decl)
            decl = re.sub(r"\s+", " ", decl).replace("( ", "(").replace(" )", ")").strip()
            protos[m.group(2) or m.group(4)] = ("func " if m.group(1) else "type ") + decl
        for m in re.finditer(r"^struct\s+(hyp_\w+)\s*\{", text, re.M):
            depth, i = 1, m.end()
            while depth:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            structs[m.group(1)] = member_names(text[m.end():i - 1])
        for m in re.finditer(r"^enum\s+(hyp_\w+)\s*\{(.*?)\}\s*;", text, re.M | re.S):
            items = [e.strip() for e in m.group(2).split(",") if e.strip()]
            enums[m.group(1)] = [re.match(r"\w+", e).group(0) for e in items]
        for m in re.finditer(r"^#define\s+(HYP_\w+)[ \t]+([^\n]+)$", text, re.M):
            name, value = m.group(1), m.group(2).strip()
            if CONST_SKIP.match(name) or re.search(r"[\"{}]|__attribute__|enum ", value):
                continue
            consts[name] = value
    return structs, enums, consts, protos


def layout_program(structs, enums, consts):
    lines = ["#include <stddef.h>", "#include <stdio.h>"]
    lines += [f"#include <libhyp/{h}>" for h in UMBRELLAS]
    lines += ["#define M(s, f) offsetof(struct s, f), sizeof(((struct s *)0)->f)",
              "int main(void)", "{"]
    lines.append('\tprintf("model %s\\n", sizeof(void *) == 8 && sizeof(long) == 8 ? "LP64" : '
                 '"other");')
    for s in sorted(structs):
        lines.append(f'\tprintf("struct {s} size %zu align %zu\\n", sizeof(struct {s}), '
                     f"_Alignof(struct {s}));")
        for f in structs[s]:
            lines.append(f'\tprintf("field {s} {f} %zu %zu\\n", M({s}, {f}));')
    for e in sorted(enums):
        for c in enums[e]:
            lines.append(f'\tprintf("enum {e} {c} %lld\\n", (long long)({c}));')
    for c in sorted(consts):
        lines.append(f'\tprintf("const {c} %lld\\n", (long long)({c}));')
    lines += ["\treturn 0;", "}"]
    return "\n".join(lines) + "\n"


def map_nodes(path):
    """{symbol: version node} from a version script with one or more nodes."""
    text = strip_comments(open(path, encoding="utf-8").read())
    out = {}
    for m in re.finditer(r"([\w.]+)\s*\{(.*?)\}\s*([\w.]*)\s*;", text, re.S):
        body = m.group(2)
        if "global:" not in body:
            continue
        glob_part = body.split("global:", 1)[1].split("local:", 1)[0]
        for sym in glob_part.split(";"):
            if sym.strip():
                out[sym.strip()] = m.group(1)
    return out


def library_facts(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and "@" in parts[2]:
            name, _, node = parts[2].partition("@")
            node = node.lstrip("@")
            if name != node:  # the node itself appears as an absolute symbol
                syms[name] = node
        elif len(parts) >= 3 and parts[1] in "TDBRVWi":
            syms[parts[2]] = "(unversioned)"
    dyn = subprocess.run(["readelf", "-d", lib], check=True, capture_output=True,
                         text=True).stdout
    soname = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", dyn)
    return syms, soname.group(1) if soname else "(none)"


def describe(opts):
    incs = opts["include"]
    hdir = opts.get("headers") or os.path.join(incs[0], "libhyp")
    structs, enums, consts, protos = parse_headers(hdir)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "abi.c")
        exe = os.path.join(tmp, "abi")
        open(src, "w", encoding="utf-8").write(layout_program(structs, enums, consts))
        cmd = shlex.split(opts.get("cc", "cc")) + ["-std=c11", "-o", exe, src]
        cmd += [f"-I{d}" for d in incs]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit("abi.py: the layout program does not compile (a header the parser "
                             "misread?):\n" + r.stderr)
        facts = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    lines = facts.splitlines()
    model = lines.pop(0)
    if model != "model LP64":
        raise SystemExit("abi.py: the description is for LP64 hosts; this compiler is not")
    symbols = map_nodes(opts["map"])
    head = ["# libhyp public ABI. Generated by `scripts/abi.py update abi/libhyp.abi`; checked by",
            "# the unit test abi-description. Changing this file is changing the ABI: read the",
            "# compatibility promise in README.md first. LP64 layouts (x86_64 and aarch64 agree).",
            "soname libhyp.so." + opts.get("abi_major", "0")]
    head += [f"symbol {symbols[s]} {s}" for s in sorted(symbols, key=lambda s: (symbols[s], s))]
    head += [f"{protos[p].split()[0]} {p} {protos[p].split(' ', 1)[1]}" for p in sorted(protos)]
    return "\n".join(head + lines) + "\n"


def parse_opts(argv):
    opts = {"include": []}
    i = 0
    rest = []
    while i < len(argv):
        a = argv[i]
        if a == "--include":
            opts["include"].append(argv[i + 1])
            i += 2
        elif a in ("--headers", "--map", "--lib", "--cc", "--abi-major"):
            opts[a[2:].replace("-", "_")] = argv[i + 1]
            i += 2
        elif a == "--without-mock":
            opts["without_mock"] = True
            i += 1
        else:
            rest.append(a)
            i += 1
    return opts, rest


def check(abi_file, opts):
    want = open(abi_file, encoding="utf-8").read()
    points = []
    try:
        have = describe(opts)
    except SystemExit as e:
        print("1..1\nnot ok 1 - describe the built ABI")
        print("\n".join("# " + l for l in str(e).splitlines()))
        return 1
    want_l = [l for l in want.splitlines() if not l.startswith("#")]
    have_l = [l for l in have.splitlines() if not l.startswith("#")]
    for kind in ("soname", "symbol", "func", "type", "struct", "field", "enum", "const"):
        w = [l for l in want_l if l.split()[0] == kind]
        h = [l for l in have_l if l.split()[0] == kind]
        gone = [l for l in w if l not in h]
        new = [l for l in h if l not in w]
        order = not gone and not new and w != h
        points.append((f"{kind}: headers and version script match {abi_file.rsplit('/', 1)[-1]} "
                       f"({len(w)} lines)", gone, new, order))
    funcs = {l.split()[1] for l in have_l if l.startswith("func ")}
    syms = {l.split()[2] for l in have_l if l.startswith("symbol ")}
    points.append(("every exported symbol is declared HYP_API in a public header, and the reverse",
                   sorted(syms - funcs), sorted(funcs - syms), False))
    if opts.get("lib"):
        exported, soname = library_facts(opts["lib"])
        listed = {l.split()[2]: l.split()[1] for l in want_l if l.startswith("symbol ")}
        if opts.get("without_mock"):
            listed = {s: n for s, n in listed.items() if not s.startswith("hyp_mock_")}
        bad = sorted(f"{s}@{exported.get(s)} (described: {listed.get(s)})"
                     for s in set(listed) | set(exported) if exported.get(s) != listed.get(s))
        points.append((f"{os.path.basename(opts['lib'])} exports exactly the described symbols, "
                       "each in its version node", bad, [], False))
        want_soname = next((l.split()[1] for l in want_l if l.startswith("soname ")), "")
        points.append((f"SONAME is {want_soname}",
                       [] if soname == want_soname else [f"built: {soname}"], [], False))
    print(f"1..{len(points)}")
    failed = 0
    for i, (name, gone, new, order) in enumerate(points, start=1):
        if gone or new or order:
            failed += 1
            print(f"not ok {i} - {name}")
            for l in gone:
                print(f"#   described, not built: {l}")
            for l in new:
                print(f"#   built, not described: {l}")
            if order:
                print("#   same lines in another order (a member moved?)")
        else:
            print(f"ok {i} - {name}")
    if failed:
        print("# An ABI change. If it is deliberate and keeps the README's compatibility promise:")
        print(f"#   python3 scripts/abi.py update {abi_file} ... (see `ninja abi-update`)")
    return 1 if failed else 0


# Edits that change the ABI, each of which `check` must catch (the selftest command).
MUTATIONS = [
    ("exit.h", "\tuint8_t reserved[2];\n};", "\tuint8_t reserved[2];\n\tuint32_t added;\n};",
     "a member appended to struct hyp_mmio_access"),
    ("vcpu.h", "\tuint32_t power;\n\tuint32_t reserved;", "\tuint32_t reserved;\n\tuint32_t power;",
     "two members of struct hyp_vcpu_config swapped"),
    ("exit.h", "HYP_EXIT_MMIO,", "HYP_EXIT_MMIO = 5,", "an enumerator renumbered"),
    ("vm.h", "#define HYP_PAGE_SIZE 4096u", "#define HYP_PAGE_SIZE 16384u", "a constant changed"),
    ("vcpu.h", "HYP_API int hyp_vcpu_kick(struct hyp_vcpu *vcpu);",
     "HYP_API int hyp_vcpu_kick(struct hyp_vcpu *vcpu, int how);", "a parameter added"),
]


def future_node_works(opts):
    """A release adding symbols in a node inheriting LIBHYP_0 (as lib/libhyp.map describes): the
    linker versions each symbol by its node, and this tool reads both the map and the library."""
    with tempfile.TemporaryDirectory() as tmp:
        src, mapf, lib = (os.path.join(tmp, n) for n in ("lib.c", "lib.map", "libx.so"))
        open(src, "w").write("int hyp_old(void) { return 0; }\nint hyp_new(void) { return 1; }\n")
        open(mapf, "w").write("LIBHYP_0 {\nglobal:\n\thyp_old;\nlocal:\n\t*;\n};\n"
                              "LIBHYP_0.2 {\nglobal:\n\thyp_new;\n} LIBHYP_0;\n")
        cmd = shlex.split(opts.get("cc", "cc")) + ["-shared", "-fPIC", "-o", lib, src,
                                                   f"-Wl,--version-script={mapf}"]
        if subprocess.run(cmd, capture_output=True).returncode:
            return False
        want = {"hyp_old": "LIBHYP_0", "hyp_new": "LIBHYP_0.2"}
        return map_nodes(mapf) == want and library_facts(lib)[0] == want


def selftest(abi_file, opts):
    """Apply each MUTATION to a copy of the headers: check must fail on every one."""
    import shutil
    src = opts.get("headers") or os.path.join(opts["include"][0], "libhyp")
    print(f"1..{len(MUTATIONS) + 2}")
    base = io_check(abi_file, opts)
    print(f"{'ok' if base == 0 else 'not ok'} 1 - the unmodified headers pass")
    failed = base != 0
    for i, (hdr, old, new, what) in enumerate(MUTATIONS, start=2):
        with tempfile.TemporaryDirectory() as tmp:
            dst = os.path.join(tmp, "libhyp")
            shutil.copytree(src, dst)
            path = os.path.join(dst, hdr)
            text = open(path, encoding="utf-8").read()
            if old not in text:
                print(f"not ok {i} - {what}: the text to change is gone from {hdr} "
                      "(update MUTATIONS in scripts/abi.py)")
                failed = True
                continue
            open(path, "w", encoding="utf-8").write(text.replace(old, new, 1))
            o = dict(opts, headers=dst, include=[tmp] + opts["include"])
            o.pop("lib", None)
            caught = io_check(abi_file, o) != 0
            print(f"{'ok' if caught else 'not ok'} {i} - caught: {what}")
            failed |= not caught
    future = future_node_works(opts)
    print(f"{'ok' if future else 'not ok'} {len(MUTATIONS) + 2} - a future version node "
          "(LIBHYP_0.2 inheriting LIBHYP_0) versions its symbols and is read back")
    failed |= not future
    return 1 if failed else 0


def io_check(abi_file, opts):
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        return check(abi_file, opts)


def asserts(abi_file):
    out = ["/* Generated by scripts/abi.py asserts: the described layouts, for cross compilers. */",
           "#include <stddef.h>"]
    out += [f"#include <libhyp/{h}>" for h in UMBRELLAS]
    for line in open(abi_file, encoding="utf-8"):
        p = line.split()
        if not p or p[0].startswith("#"):
            continue
        if p[0] == "struct":
            out.append(f"_Static_assert(sizeof(struct {p[1]}) == {p[3]} && "
                       f"_Alignof(struct {p[1]}) == {p[5]}, \"struct {p[1]}\");")
        elif p[0] == "field":
            out.append(f"_Static_assert(offsetof(struct {p[1]}, {p[2]}) == {p[3]} && "
                       f"sizeof(((struct {p[1]} *)0)->{p[2]}) == {p[4]}, \"{p[1]}.{p[2]}\");")
        elif p[0] == "enum":
            out.append(f"_Static_assert((long long)({p[2]}) == {p[3]}LL, \"{p[2]}\");")
        elif p[0] == "const":
            out.append(f"_Static_assert((long long)({p[1]}) == {p[2]}LL, \"{p[1]}\");")
    print("\n".join(out))
    return 0


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) >= 2 else 2
    cmd = sys.argv[1]
    opts, rest = parse_opts(sys.argv[2:])
    if cmd == "asserts" and len(rest) == 1:
        return asserts(rest[0])
    if not opts["include"] or "map" not in opts:
        print("abi.py: --include and --map are required", file=sys.stderr)
        return 2
    if cmd == "dump" and not rest:
        sys.stdout.write(describe(opts))
        return 0
    if cmd == "check" and len(rest) == 1:
        return check(rest[0], opts)
    if cmd == "selftest" and len(rest) == 1:
        return selftest(rest[0], opts)
    if cmd == "update" and len(rest) == 1:
        text = describe(opts)
        open(rest[0], "w", encoding="utf-8").write(text)
        print(f"wrote {rest[0]}: {len(text.splitlines())} lines")
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
