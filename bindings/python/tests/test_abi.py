# SPDX-License-Identifier: MIT
"""The binding's ctypes declarations against the project's ABI description (abi/libhyp.abi), which
the C unit test abi-description checks against the headers: sizes, offsets, enum values."""
import ctypes
import os
import unittest

import libhyp
from libhyp import _ffi

ABI_FILE = os.environ.get("LIBHYP_ABI_FILE") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "abi", "libhyp.abi")


def load_abi():
    structs, fields, enums, symbols = {}, {}, {}, set()
    with open(ABI_FILE, encoding="utf-8") as f:
        for line in f:
            p = line.split()
            if not p or p[0].startswith("#"):
                continue
            if p[0] == "struct":
                structs[p[1]] = (int(p[3]), int(p[5]))
            elif p[0] == "field":
                fields.setdefault(p[1], {})[p[2]] = (int(p[3]), int(p[4]))
            elif p[0] == "enum":
                enums.setdefault(p[1], {})[p[2]] = int(p[3])
            elif p[0] == "symbol":
                symbols.add(p[2])
    return structs, fields, enums, symbols


STRUCTS, FIELDS, ENUMS, SYMBOLS = load_abi()


def ctypes_fields(cls, base=0):
    """{name: (offset, size)} with anonymous members flattened, as offsetof() sees them."""
    out = {}
    anon = getattr(cls, "_anonymous_", ())
    for name, _ in cls._fields_:
        desc = getattr(cls, name)
        if name in anon:
            sub = dict(cls._fields_)[name]
            out.update(ctypes_fields(sub, base + desc.offset))
        else:
            out[name] = (base + desc.offset, desc.size)
    return out


class TestLayouts(unittest.TestCase):
    def test_every_mirrored_struct_matches(self):
        for cname, cls in _ffi.C_STRUCTS.items():
            with self.subTest(struct=cname):
                self.assertIn(cname, STRUCTS)
                self.assertEqual((ctypes.sizeof(cls), ctypes.alignment(cls)), STRUCTS[cname])
                self.assertEqual(ctypes_fields(cls), FIELDS[cname])

    def test_every_enum_matches(self):
        for py, (cname, prefix) in libhyp.C_ENUMS.items():
            with self.subTest(enum=cname):
                c = {k[len(prefix):]: v for k, v in ENUMS[cname].items()
                     if not k.endswith("_COUNT")}
                py_members = {m: py[m].value for m in py.__members__}
                if py is libhyp.Reg:  # the header spells X1..X29 as HYP_REG_X0 + n
                    c.update({f"X{n}": n for n in range(1, 30)})
                self.assertEqual(py_members, c)

    def test_declared_functions_are_exported_symbols(self):
        declared = {n for n in dir(_ffi) if n.startswith("hyp_")}
        self.assertTrue(declared)
        self.assertEqual(declared - SYMBOLS, set())

    def test_constants(self):
        consts = {}
        with open(ABI_FILE, encoding="utf-8") as f:
            for line in f:
                p = line.split()
                if p and p[0] == "const":
                    consts[p[1]] = int(p[2])
        self.assertEqual(libhyp.PAGE_SIZE, consts["HYP_PAGE_SIZE"])
        for name in ("PSCI_VERSION", "PSCI_CPU_OFF", "PSCI_CPU_ON_64", "PSCI_SYSTEM_OFF",
                     "PSCI_SYSTEM_RESET", "SMCCC_VERSION"):
            self.assertEqual(getattr(libhyp, name), consts["HYP_" + name], name)
        self.assertEqual(libhyp.HOST_ERRNO_BASE, consts["HYP_EHOST_BASE"])


if __name__ == "__main__":
    unittest.main()
