#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<harness>/).

Each seed is a small, well-formed input in the byte layout its harness reads (see the harness's
comment), reaching the interesting paths at once: a virtio-blk read request on initialised rings,
a PSCI CPU_ON/AFFINITY_INFO/CPU_OFF sequence, an Image, an ELF, a raw binary... The fuzzer mutates
from there. Run it after changing a harness's input layout; the output is checked in.
"""
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def u8(v):
    return struct.pack("<B", v)


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def trap():
    regs = b"".join(u64(0x0101010101010101 * i) for i in range(8))
    tail = u64(0x40000000) + u64(0x3C5) + u32(0x3C5)[:4]
    # sel 0x61: biased EC (data abort from a lower EL), all of ESR/FAR/HPFAR valid, no reserved.
    # ISS: ISV, SAS = word, SSE, SRT = 3, SF = 0, load.
    dabt = (1 << 24) | (2 << 22) | (1 << 21) | (3 << 16) | 0x07
    yield "mmio-load-sxtw", (u8(0x61) + u64((1 << 25) | dabt) + u8(0) + u64(0x9000010)
                             + u64(0x90000 << 4) + regs + tail[:20] + u8(1) + u64(0x80000000)
                             + u8(0x0D) + u64(0xFFFFFF80) + u32(0xF8637841) + u64(0x8000000000000001))
    store = (1 << 24) | (3 << 22) | (5 << 16) | (1 << 15) | (1 << 6) | 0x07
    yield "mmio-store-x", (u8(0x61) + u64((1 << 25) | store) + u8(1) + u64(0x9000008)
                           + u64(0x90000 << 4) + regs + tail[:20] + u8(1) + u64(0)
                           + u8(0x04) + u64(0x1234) + u32(0xA9C00FE0) + u64(7))
    # sel 0x73: HVC64 #0.
    yield "hvc", (u8(0x73) + u64(1 << 25) + u8(0) + u64(0) + u64(0) + regs + tail[:20] + u8(1)
                  + u64(0) * 4 + u8(0) + u64(0) + u32(0x38BF6822) + u64(0xFFFFFFFF))


def stage2():
    m2 = u8(0x00) + u8(0x10) + u8(0x00) + u8(0x01) + u8(0x10) + u8(0x00) + u8(0x03) + u8(0x10) + u8(0x05)
    un = u8(0x02) + u8(0x10) + u8(0x05) + u8(0x00) + u8(0x10) + u8(0x04)
    sa = u8(0x03) + u8(0x10) + u8(0x00) + u8(0x04) + u8(0x01) + u8(0x10) + u8(0x01)
    g1 = u8(0x01) + u8(0x01) + u8(0x00) + u8(0x02) + u8(0x02) + u8(0x00) + u8(0x0F) + u8(0x01) + u8(0x7F)
    yield "map-unmap-protect", u8(0x00) + m2 + un + sa
    yield "gigabyte", u8(0x23) + g1 + m2 + u8(0x02) + u8(0x01) + u8(0x10) + u8(0x06) + u8(0, ) + u8(0)
    yield "ipa36-concat", u8(0x0C) + m2 + g1


def boot():
    payload = bytes((i * 7 + 1) & 0xFF for i in range(256))
    dtb = u16(0x0100)
    initrd = u16(999) + u8(0x42)
    # arm64 Image (plain and EFI stub) in 3 MiB at 0x40000000, with an initrd and a DTB.
    for name, f in (("image", 0x00), ("image-efi", 0x04)):
        img = u8(f) + u16(192) + u8(0) + u16(0x100) + payload + u8(0x02)
        yield name, u8(0x0C) + u8(0x08) + img + initrd + dtb
    # ELF ET_EXEC and ET_DYN, one PT_LOAD of 136 file bytes and 4 KiB of BSS.
    for name, f in (("elf-exec", 0x00), ("elf-dyn", 0x20)):
        elf = (u8(f) + u16(136) + payload + u32(0x80000) + u8(0x02) + u32(0x80000) + u16(136)
               + u16(0x1000) + u16(0))
        yield name, u8(0x1C) + u8(0x08) + elf + initrd + dtb
    # A raw binary at RAM + 1 MiB, RAM split in two regions.
    yield "raw-split", u8(0x6C) + u8(0x08) + u16(255) + payload + u32(0x100000) + initrd + dtb


def psci():
    def op(w, f, *args):
        return u8(w) + u8(f) + b"".join(args)

    a4 = u8(4)
    seq = (op(0, 5, u8(0x08), u8(2) + u16(0x100), u8(0x3C))  # vCPU 0: CPU_ON_64 vCPU 1
           + op(1, 0, a4, a4, a4)  # vCPU 1 starts at the entry
           + op(0, 8, u8(0x08), a4, a4)  # AFFINITY_INFO_64 vCPU 1: ON
           + op(1, 3, a4, a4, a4)  # vCPU 1: CPU_OFF
           + op(0, 7, u8(0x08), a4, a4)  # AFFINITY_INFO_32 vCPU 1: OFF
           + op(2, 5, u8(0x00), u8(2) + u16(0x40), a4)  # vCPU 2 is off: skipped
           + op(0, 4, u8(0x10), u8(3) + u16(0x40), a4)  # CPU_ON_32 at non-executable RAM
           + op(0, 12, a4, a4, a4))  # SYSTEM_OFF
    yield "cpu-on-off", u8(0x01) + u8(0) * 3 + seq
    feats = (op(0, 14, u8(0x04 | (0 << 3)), a4, a4) + op(0x40, 17, a4, a4, a4)
             + op(0, 18, u8(6) + u64(0x80000000), a4, a4) + op(0x80, 0, a4, a4, a4, u16(1))
             + op(1, 15, u8(6) + u64(0x80000001), a4, a4))
    yield "features", u8(0x80) + u8(0x00) + u8(0x09) + feats


def fdt():
    yield "minimal", u32(0) + u8(1) + u8(0) + u8(0) + u8(63) + u8(0) * 6 + u16(0)
    sel = 0x8000 | 0x20000 | 0x80000
    yield "virtio-initrd-bootargs", (u32(sel) + u8(3) + u8(1) + u8(0) + u8(63) + u8(0x01) + u8(15)
                                      + u8(0) * 6 + u8(2) + u8(0) * 3 + u8(0) * 3
                                      + u32(0x100000) + u16(0x1000) + u16(0)
                                      + b"console=ttyAMA0 root=/dev/vda")
    yield "mpidrs", u32(0x400 | 0x4000) + u8(3) + u8(1) + u8(0) + u8(2) + u8(1) + u8(3) + u8(0) \
        + u8(0) + u8(7) + u8(0) * 6 + bytes([29, 30, 27, 26]) + u16(0)


def virtio():
    def ram(at, data):
        out = b""
        while data:
            chunk, data = data[:32], data[32:]
            out += u8(0) + u16(at) + u8(len(chunk) - 1) + chunk
            at += len(chunk)
        return out

    def desc(addr, length, flags, nxt):
        return u64(0x40000000 + addr) + u32(length) + u16(flags) + u16(nxt)

    def init(dev):
        # Features: VERSION_1 and, for the console, EMERG_WRITE (the shortcut's default adds
        # virtio-blk's SEG_MAX and FLUSH, which a console does not offer: it would refuse them).
        # Rings: queue 0 at 0x1000/0x2000/0x3000, queue 1 at 0x4000/0x5000/0x6000, 8 entries.
        feats = u8(0) if dev else u8(2) + u32(0x4)
        return (u8(0x03 | (dev << 7)) + feats + u16(0x1000) + u16(0x2000) + u16(0x3000) + u8(3)
                + u16(0x4000) + u16(0x5000) + u16(0x6000) + u8(3))

    avail = u16(0) + u16(1) + u16(0)
    # virtio-blk: read sector 7 (the last whole one) into 0x8000, status at 0x9000.
    blk = (init(1) + ram(0x7000, u32(0) + u32(0) + u64(7))
           + ram(0x1000, desc(0x7000, 16, 1, 1) + desc(0x8000, 512, 3, 2) + desc(0x9000, 1, 2, 0))
           + ram(0x2000, avail) + u8(0x84))
    yield "blk-read", u8(0) + blk
    wr = (init(1) + ram(0x7000, u32(1) + u32(0) + u64(2)) + ram(0x8000, b"\x55" * 64)
          + ram(0x1000, desc(0x7000, 16, 1, 1) + desc(0x8000, 512, 1, 2) + desc(0x9000, 1, 2, 0))
          + ram(0x2000, avail) + u8(0xC4))
    yield "blk-write", u8(0) + wr
    # virtio-console: transmit "hello" on transmitq (1), post a receive buffer, send input.
    con = (init(0) + ram(0xA000, b"hello") + ram(0x4000, desc(0xA000, 5, 0, 0))
           + ram(0x5000, avail) + u8(0x14)
           + ram(0x1000, desc(0xB000, 64, 2, 0)) + ram(0x2000, avail) + u8(0x04)
           + u8(0x06) + u8(3) + b"abc")
    yield "console", u8(0) + con


def chan():
    # Byte 0: ring size 64 << (n % 7); then steps (fuzz-chan.c): 6 send(len, seed), 4 doorbell
    # (offset, how: 4 = write, 8 = register offsets, low bits = width), 3 ring bytes (at, len,
    # bytes), 1|0x10 to_host.prod near the host, 7|(2<<4) recv(len), 0 header word, 8 detach.
    ring_doorbell = u8(4) + u16(0) + u8(0x0E) + u64(1)
    to_host = u8(3) + u16(4096) + u8(16) + bytes(range(16)) + u8(0x11) + u32(16)
    yield "send-recv", (u8(6) + u8(6) + u16(100) + u8(1) + ring_doorbell + to_host
                        + ring_doorbell + u8(0x27) + u16(64))
    yield "full-ring", u8(0) + u8(6) + u16(200) + u8(7) + u8(6) + u16(10) + u8(9) + ring_doorbell
    yield "garbage", (u8(6) + u8(0) + u8(16) + u32(0xdeadbeef) + u8(1) + u32(0x80000000)
                      + u8(2) + u32(0x12345678) + ring_doorbell * 4 + u8(0x17) + u16(50)
                      + u8(8) + u8(6) + u16(5) + u8(2) + u8(8))


def main():
    gens = {"trap": trap, "stage2": stage2, "boot": boot, "psci": psci, "fdt": fdt,
            "virtio": virtio, "chan": chan}
    for name, gen in gens.items():
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.unlink(os.path.join(d, old))
        for seed, data in gen():
            with open(os.path.join(d, seed), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
