#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The KVM benchmarks, measured deterministically under QEMU -icount shift=0 inside the arm64 KVM
# test host (tests/kvm-host/run-in-arm64-host.sh), one vCPU, one emulated CPU:
#  - mmio-bench: instructions per MMIO exit round trip through a libhyp callback vs a raw KVM_RUN
#    loop, on the same guest (bench-guest.S);
#  - the el2 benchmark's guests under the conformance driver: tests/guests/bench/bench.c (HVC,
#    MMIO write/read and PSCI_VERSION round trips) and bench-irq.c (SPI from the VMM to EOI, SGI
#    round trip between two vCPUs, virtual timer expiry to handler) on kvm, beside the el2
#    firmware's figures (the two vCPU threads share the rig's one CPU).
# On an arm64 host with /dev/kvm it runs natively instead (figures are then CNTVCT-based
# estimates, not instruction counts).
#
#   run-kvm-bench.sh [BUILD_DIR] [ROUNDS]
#
# Prints the figures; exits non-zero only if it could not measure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build-test/bench}
rounds=${2:-5}
iterations=2000
cross=aarch64-linux-gnu
mkdir -p "$out"
out=$(cd "$out" && pwd)

# libhyp for aarch64 Linux, static, so the benchmark binary runs in the rig's bare initramfs.
if [ ! -f "$out/libhyp/build.ninja" ]; then
	meson setup "$out/libhyp" "$root" --cross-file "$root/cross/aarch64-linux-gnu.ini" \
		-Dtests=false -Ddefault_library=static -Dkvm=enabled >/dev/null
fi
ninja -C "$out/libhyp" >/dev/null

"$cross-gcc" -c -DBENCH_ITERATIONS=$iterations "$root/tests/bench/bench-guest.S" \
	-o "$out/bench-guest.o"
"$cross-ld" -Ttext=0x40000000 -e _start "$out/bench-guest.o" -o "$out/bench-guest.elf"
"$cross-objcopy" -O binary "$out/bench-guest.elf" "$out/bench-guest.bin"
"$cross-gcc" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -static \
	-I"$root/include" -I"$out/libhyp/include" "$root/tests/bench/mmio-bench.c" \
	"$out/libhyp/lib/libhyp.a" -lpthread -o "$out/mmio-bench"

# The benchmark guest the el2 firmware runs (tests/guests/bench/bench.c), here under the
# conformance driver on the kvm backend: the same loops, for figures beside el2's.
bash "$root/tests/guests/build.sh" --libhyp "$out/libhyp" "$out/conformance" >/dev/null

# One rig boot runs both (tests/guests/runall frames each program's output).
exec bash "$root/tests/kvm-host/run-in-arm64-host.sh" --icount --smp 1 \
	--wrap "$out/conformance/runall" \
	"$out/mmio-bench" "$out/bench-guest.bin" "$rounds" \
	--then "$out/conformance/driver" --backend kvm --known-defect nested-vtimer \
	"$out/conformance/bench/bench.bin" \
	"$out/conformance/bench/bench-irq.bin"
