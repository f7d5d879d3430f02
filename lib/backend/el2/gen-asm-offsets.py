#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn the "->NAME value" markers of a compiled asm-offsets.s into a header of #defines."""
import re
import sys

src, dst = sys.argv[1], sys.argv[2]
lines = ["/* Generated from lib/backend/el2/asm-offsets.c by gen-asm-offsets.py. Do not edit. */",
         "#ifndef HYP_EL2_ASM_OFFSETS_H", "#define HYP_EL2_ASM_OFFSETS_H"]
for m in re.finditer(r'->(\w+) #?(-?\d+)', open(src, encoding="utf-8").read()):
    lines.append(f"#define {m.group(1)} {m.group(2)}")
lines.append("#endif")
if len(lines) < 5:
    sys.exit("gen-asm-offsets: no offsets found in " + src)
open(dst, "w", encoding="utf-8").write("\n".join(lines) + "\n")
