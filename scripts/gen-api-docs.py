#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Generate the API reference (Markdown) from the doc comments in include/libhyp/*.h.

Usage: gen-api-docs.py [--check] OUTPUT.md HEADER...
       gen-api-docs.py --html OUTPUT.html HEADER...
       gen-api-docs.py --check-html OUTPUT.html HEADER...
  --check: do not write; print TAP saying whether OUTPUT.md is up to date (a unit test).
  --html: the same reference as one cross-linked HTML page (meson target api-html).
  --check-html: TAP: every public function, struct, enum, typedef and constant of the headers has
  an anchor in the page, functions/structs/enums their own description, and every link resolves.
Each header becomes a section: its leading comment, then every documented declaration (functions,
structs, enums, typedefs, macros) with its comment, in file order. The doc comments are the
source of truth; tests/check-docs.py makes sure every exported function has one.
"""
import os
import re
import sys

DOC = re.compile(r"/\*\*(.*?)\*/\s*\n", re.S)
# The declaration a doc comment documents starts on the next line and spans at most this many.
DECL_LINES = 12


def clean(comment):
    lines = []
    for line in comment.strip("\n").split("\n"):
        line = re.sub(r"^\s*\* ?", "", line)
        lines.append(line.rstrip())
    return "\n".join(lines).strip()


def declaration(text):
    # Up to the end of the statement: ';' for prototypes, '{' for structs/enums, or a macro line.
    out = []
    for line in text.split("\n"):
        if not line.strip():
            break
        out.append(line)
        if line.rstrip().endswith((";", "{")) or line.startswith("#define"):
            break
    decl = "\n".join(out).rstrip(" {")
    return decl


def header_items(path):
    """(header name, leading comment, [(declaration, doc comment)]) in file order."""
    text = open(path, encoding="utf-8").read()
    name = os.path.basename(path).replace(".in", "")
    lead = re.match(r"\s*/\* SPDX[^\n]*\*/\s*/\*(.*?)\*/", text, re.S)
    items = []
    pos = 0
    while True:
        m = DOC.search(text, pos)
        if not m:
            break
        following = text[m.end():]
        decl = declaration("\n".join(following.split("\n")[:DECL_LINES]) + "\n")
        # Go on right after the declaration, not after a fixed window of lines: the next doc
        # comment (another function's, or a documented struct or enum member) may start there.
        pos = m.end() + len(decl)
        if not decl.strip():
            continue
        items.append((decl, clean(m.group(1))))
    return name, clean(lead.group(1)) if lead else "", items


def header_section(path):
    name, lead, items = header_items(path)
    parts = [f"## `<libhyp/{name}>`\n"]
    if lead:
        parts.append(lead + "\n")
    for decl, doc in items:
        parts.append("```c\n" + decl + "\n```\n")
        parts.append(doc + "\n")
    return "\n".join(parts)


# HTML: one cross-linked page. Every function, struct, enum, typedef and constant has an anchor;
# every mention of one (in declarations and in the text) links to it.
def defined_names(decl):
    """What a documented declaration defines, and its kind."""
    m = re.match(r"\s*(?:typedef\b[^;]*?\(\s*\*\s*(hyp_\w+)\s*\))", decl)
    if m:
        return [(m.group(1), "type")]
    m = re.match(r"\s*#define\s+(HYP_\w+)", decl)
    if m:
        return [(m.group(1), "constant")]
    m = re.match(r"\s*(struct|enum|union)\s+(hyp_\w+)\s*$", decl.split("\n")[0])
    if m:
        return [(f"{m.group(1)} {m.group(2)}", m.group(1))]
    m = re.match(r"\s*typedef\s+[^;]*?\b(hyp_\w+)\s*;", decl)
    if m:
        return [(m.group(1), "type")]
    m = re.search(r"\b(hyp_\w+)\s*\(", decl)
    if m and "HYP_API" in decl:
        return [(m.group(1), "function")]
    m = re.match(r"\s*(HYP_\w+)\s*(=|,|$)", decl)
    if m:
        return [(m.group(1), "constant")]
    return []


def anchor(name):
    return name.replace(" ", "-")


def header_constants(path):
    """Every enumerator and HYP_ macro of a header: (name, value text, enum or None, comment)."""
    text = open(path, encoding="utf-8").read()
    out = []
    for m in re.finditer(r"^enum\s+(hyp_\w+)\s*\{(.*?)\}\s*;", text, re.M | re.S):
        body = re.sub(r"/\*.*?\*/", " ", m.group(2), flags=re.S)
        for item in body.split(","):
            im = re.match(r"\s*(\w+)\s*(?:=\s*(.*\S))?\s*$", item, re.S)
            if im and im.group(1):
                out.append((im.group(1), re.sub(r"\s+", " ", im.group(2) or ""), m.group(1)))
    for m in re.finditer(r"^#define\s+(HYP_\w+)(\([^)]*\))?[ \t]*((?:[^\n]*\\\n)*[^\n]*)$",
                         text, re.M):
        if m.group(1) in ("HYP_API", "HYP_BEGIN_DECLS", "HYP_END_DECLS"):
            continue
        value = re.sub(r"\s+", " ", m.group(3).replace("\\\n", " ")).strip()
        out.append((m.group(1) + (m.group(2) or ""), value, None))
    return out


def preceding_comment(text, name):
    """The comment above a #define or enumerator: its own, or that of the group of definitions
    it belongs to (consecutive lines under one comment)."""
    lines = text.split("\n")
    pat = re.compile(r"^\s*(?:#define\s+)?" + re.escape(name) + r"\b")
    idx = next((i for i, l in enumerate(lines) if pat.match(l)), None)
    if idx is None:
        return ""
    i = idx - 1
    # Walk up over the group: other definitions and continuation lines, not blank lines.
    while i >= 0 and lines[i].strip() and not lines[i].rstrip().endswith("*/"):
        if lines[i].lstrip().startswith(("/*", "*")):
            break
        i -= 1
    if i < 0 or not lines[i].rstrip().endswith("*/"):
        return ""
    j = i
    while j >= 0 and "/*" not in lines[j]:
        j -= 1
    comment = "\n".join(lines[j:i + 1])
    m = re.search(r"/\*\*?(.*?)\*/", comment, re.S)
    return clean(m.group(1)) if m else ""


def render_html(headers):
    import html
    sections = [header_items(h) + (h,) for h in headers]
    targets = {}
    for name, _, items, _ in sections:
        for decl, _doc in items:
            for n, _kind in defined_names(decl):
                targets.setdefault(n, anchor(n))
    for *_, path in sections:
        for n, _v, _e in header_constants(path):
            key = n.split("(")[0]
            targets.setdefault(key, anchor(key))
    link_re = re.compile(r"\b(?:struct |enum |union )?(?:hyp_|HYP_)\w+")

    def link(escaped, own=()):
        def sub(m):
            word = m.group(0)
            key = word if word in targets else word.split(" ")[-1]
            if key not in targets or key in own:
                return word
            return f'<a href="#{targets[key]}">{word}</a>'
        return link_re.sub(sub, escaped)

    def prose(text):
        out = []
        for para in re.split(r"\n\s*\n", text.strip()):
            if para.startswith("\t") or para.startswith("    "):
                out.append("<pre>" + link(html.escape(para)) + "</pre>")
            else:
                out.append("<p>" + link(html.escape(para)) + "</p>")
        return "\n".join(out)

    body, toc = [], []
    placed = set()
    for name, lead, items, path in sections:
        hid = "header-" + name.replace(".", "-")
        toc.append(f'<li><a href="#{hid}">&lt;libhyp/{html.escape(name)}&gt;</a></li>')
        body.append(f'<section><h2 id="{hid}">&lt;libhyp/{html.escape(name)}&gt;</h2>')
        body.append(prose(lead))
        for decl, doc in items:
            names = [n for n, _ in defined_names(decl)]
            ids = "".join(f'<span id="{targets[n]}"></span>' for n in names if n not in placed)
            placed.update(names)
            kind = ", ".join(k for _, k in defined_names(decl))
            body.append(f'<div class="item">{ids}<div class="kind">{kind}</div>'
                        f'<pre class="decl">{link(html.escape(decl), names)}</pre>{prose(doc)}</div>')
        text = open(path, encoding="utf-8").read()
        rows = []
        for n, value, enum in header_constants(path):
            key = n.split("(")[0]
            if key in placed:
                continue
            placed.add(key)
            where = f"member of {link('enum ' + enum)}. " if enum else ""
            rows.append(f'<tr id="{targets[key]}"><td><code>{html.escape(n)}</code></td>'
                        f"<td><code>{link(html.escape(value))}</code></td>"
                        f"<td>{where}{link(html.escape(preceding_comment(text, key)))}</td></tr>")
        if rows:
            body.append("<h3>Constants</h3><table><tr><th>name</th><th>value</th><th></th></tr>" +
                        "".join(rows) + "</table>")
        body.append("</section>")
    index = "".join(f'<li><a href="#{targets[n]}"><code>{html.escape(n)}</code></a></li>'
                    for n in sorted(targets, key=lambda n: n.split(" ")[-1].lower()))
    style = ("body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}"
             "pre{background:#f4f4f4;padding:.5em;overflow-x:auto}.item{margin:1.5em 0}"
             ".kind{color:#777;font-size:small}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.2em .5em;vertical-align:top}"
             "#index li{display:inline-block;margin-right:1em}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>libhyp API reference</title><style>{style}</style></head><body>\n"
            "<h1>libhyp API reference</h1>\n<p>Generated by <code>scripts/gen-api-docs.py --html"
            "</code> from the doc comments in <code>include/libhyp/</code>. Errors are negative "
            "errno values; see each function.</p>\n<h2>Headers</h2><ul>" + "".join(toc) +
            "</ul>\n" + "\n".join(body) + '\n<h2 id="index">Index</h2><ul id="index">' + index +
            "</ul>\n</body></html>\n")


def check_html(page, headers):
    """TAP: every function, struct, enum, typedef and constant has an anchor and a description;
    every internal link resolves."""
    ids = set(re.findall(r'id="([^"]+)"', page))
    hrefs = set(re.findall(r'href="#([^"]+)"', page))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import abi  # the ABI description's header parser: the same notion of "everything public"
    dirs = {os.path.dirname(h) for h in headers}
    structs, enums, consts, protos = {}, {}, {}, {}
    for d in dirs:
        s, e, c, p = abi.parse_headers(d)
        structs.update(s), enums.update(e), consts.update(c), protos.update(p)
    want = ([f"struct-{s}" for s in structs] + [f"enum-{e}" for e in enums] +
            [c for e in enums.values() for c in e] + list(consts) + list(protos))
    missing = sorted(w for w in want if w not in ids)
    dangling = sorted(h for h in hrefs if h not in ids)
    undocumented = []
    for name in [p for p in protos] + [f"struct-{s}" for s in structs] + [f"enum-{e}" for e in enums]:
        m = re.search(r'<span id="' + re.escape(name) + r'"></span>.*?</pre>(.*?)</div>', page, re.S)
        if not m or not re.sub(r"<[^>]+>", "", m.group(1)).strip():
            undocumented.append(name)
    blank = [i for i, desc in re.findall(r'<tr id="([^"]+)">((?:(?!</tr>).)*)</tr>', page)
             if desc.endswith("<td></td>")]
    undocumented += blank
    checks = [(f"every public name has an anchor ({len(want)} names)", missing),
              (f"every link resolves ({len(hrefs)} targets)", dangling),
              ("every function, struct and enum has its own description, every constant one",
               undocumented)]
    print(f"1..{len(checks)}")
    failed = 0
    for i, (what, bad) in enumerate(checks, start=1):
        print(f"{'not ok' if bad else 'ok'} {i} - {what}")
        for b in bad:
            print(f"# {b}")
        failed += bool(bad)
    return 1 if failed else 0


def main():
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if args and args[0] in ("--html", "--check-html"):
        mode, out, headers = args[0], args[1], args[2:]
        headers = sorted(headers, key=lambda p: (not p.endswith("hyp.h"), os.path.basename(p)))
        if mode == "--check-html":
            return check_html(open(out, encoding="utf-8").read(), headers)
        open(out, "w", encoding="utf-8").write(render_html(headers))
        return 0
    check = bool(args) and args[0] == "--check"
    if check:
        args = args[1:]
    # An option where OUTPUT.md belongs is a mistake, not a file to write (a stray "--help" file
    # once came from exactly that).
    if not args or args[0].startswith("-"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out, headers = args[0], args[1:]
    body = ["# libhyp API reference\n",
            "Generated by `scripts/gen-api-docs.py` from the doc comments in `include/libhyp/`. "
            "Errors are negative errno values; see each function.\n"]
    for h in sorted(headers, key=lambda p: (not p.endswith("hyp.h"), os.path.basename(p))):
        body.append(header_section(h))
    text = "\n".join(body)
    if check:
        current = open(out, encoding="utf-8").read() if os.path.exists(out) else ""
        print("1..1")
        if current == text:
            print("ok 1 - docs/API.md matches the headers' doc comments")
            return 0
        print("not ok 1 - docs/API.md is stale: run `ninja -C BUILD docs` (scripts/gen-api-docs.py)")
        return 1
    open(out, "w", encoding="utf-8").write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
