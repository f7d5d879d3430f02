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
#    firmware's figures (the two vCPU threads share the rig's one CPU);
#  - linux-bench (tests/bench/linux-bench.c): hyp-run boots the Debian kernel to power-off (1 and 2
#    vCPUs; instructions, peak RSS, stage-2 faults), runs the disk workloads of issue 15 in the guest
#    (instructions and exits per request), and times VM create -> first exit against a raw /dev/kvm
#    twin; figures beside kvmtool's from the issue, with the ratio.
# On an arm64 host with /dev/kvm it runs natively instead (figures are then CNTVCT-based
# estimates, not instruction counts).
#
#   run-kvm-bench.sh [BUILD_DIR] [ROUNDS]
#   run-kvm-bench.sh --linux-only [BUILD_DIR]   (only linux-bench; BUILD_DIR/libhyp may be a
#                                               prebuilt aarch64 libhyp + hyp-run tree)
#   LIBHYP_BENCH_NO_LINUX=1 run-kvm-bench.sh ...  (everything but linux-bench)
#   LIBHYP_BENCH_ONLY=rss|create-syscalls|disk-split|boot-split|boot-timeline run-kvm-bench.sh --linux-only ...  (a
#                                               linux-bench diagnostic: where the peak RSS is;
#                                               the system calls of one VM create, libhyp vs
#                                               raw; each disk workload split into guest, KVM,
#                                               system calls and hyp-run, from a trace; one
#                                               boot split the same way; the guest's idle
#                                               time and kernel log of one boot)
#
# Prints the figures; exits non-zero only if it could not measure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
linux_only=0
if [[ ${1:-} == --linux-only ]]; then
	linux_only=1
	shift
fi
out=${1:-$root/build-test/bench}
rounds=${2:-5}
iterations=2000
cross=aarch64-linux-gnu
mkdir -p "$out"
out=$(cd "$out" && pwd)

source "$root/scripts/common.sh"
(
	source "$root/tests/linux-guest/guest-kit.sh"
	guest_kit_packages
) >&2

# libhyp for aarch64 Linux, static, so the benchmark binary runs in the rig's bare initramfs; hyp-run
# linked statically (-Dstatic_hyp_run=true), as a VMM copied into such a system would be (and as
# kvmtool's lkvm-static is).
if [ -f "$out/libhyp/build.ninja" ]; then
	# A build directory from before the option has it off.
	meson configure "$out/libhyp" -Dstatic_hyp_run=true >/dev/null
else
	meson setup "$out/libhyp" "$root" --cross-file "$root/cross/aarch64-linux-gnu.ini" \
		-Dtests=false -Ddefault_library=static -Dkvm=enabled -Dstatic_hyp_run=true >/dev/null
fi
ninja -C "$out/libhyp" >/dev/null
ninja -C "$out/libhyp" examples/hyp-run >/dev/null

# linux-bench: hyp-run, the Debian kernel, an initramfs whose /init is linux-bench-init.c (with
# the virtio modules), a 64 MiB raw disk.
source "$root/scripts/common.sh"
(
	cross=aarch64-linux-gnu
	source "$root/tests/linux-guest/guest-kit.sh"
	guest_kit_fetch >/dev/null
	echo "$guest_image" >"$out/linux-image.path"
	guest_kit_initramfs "$out/linux-bench.cpio" "$root/tests/bench/linux-bench-init.c"
) >&2
truncate -s 64M "$out/linux-bench-disk.img"
"$cross-gcc" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -static \
	-I"$root/include" -I"$out/libhyp/include" "$root/tests/bench/linux-bench.c" \
	"$out/libhyp/lib/libhyp.a" -lpthread -o "$out/linux-bench"
linux_bench=("$out/linux-bench" "$out/libhyp/examples/hyp-run" "$(cat "$out/linux-image.path")"
	"$out/linux-bench.cpio" "$out/linux-bench-disk.img")
# The 2-vCPU boot once more on a test host with 2 CPUs: on one CPU the guest's two vCPU threads
# take turns, and a guest CPU spinning for the other (stop_machine(), IPIs) burns a whole
# scheduler slice each time.
linux_bench_smp2() {
	bash "$root/tests/kvm-host/run-in-arm64-host.sh" --icount --smp 2 --timeout 1800 \
		--env LIBHYP_BENCH_ONLY=boot2 --wrap "${linux_bench[@]}"
}
status=0
# LIBHYP_BENCH_NO_LINUX=1: the exit and interrupt benchmarks only (the second host kernel's run).
then_linux_bench=(--then "${linux_bench[@]}")
[[ ${LIBHYP_BENCH_NO_LINUX:-0} != 1 ]] || then_linux_bench=()
if [[ $linux_only -eq 1 && -n ${LIBHYP_BENCH_ONLY:-} ]]; then
	# A diagnostic mode of linux-bench (rss, create-syscalls, boot2): that one rig boot only.
	bash "$root/tests/kvm-host/run-in-arm64-host.sh" --icount --smp 1 --timeout 1800 \
		--env "LIBHYP_BENCH_ONLY=$LIBHYP_BENCH_ONLY" --wrap "${linux_bench[@]}"
	exit
fi
if [[ $linux_only -eq 1 ]]; then
	bash "$root/tests/kvm-host/run-in-arm64-host.sh" --icount --smp 1 --timeout 1800 \
		--wrap "${linux_bench[@]}" || status=$?
	linux_bench_smp2 || status=$?
	exit $status
fi

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

# One rig boot runs them all (tests/guests/runall frames each program's output).
bash "$root/tests/kvm-host/run-in-arm64-host.sh" --icount --smp 1 \
	--wrap "$out/conformance/runall" \
	"$out/mmio-bench" "$out/bench-guest.bin" "$rounds" \
	--then "$out/conformance/driver" --backend kvm --known-defect nested-vtimer \
	"$out/conformance/bench/bench.bin" \
	"$out/conformance/bench/bench-irq.bin" \
	"${then_linux_bench[@]}" || status=$?
[[ ${#then_linux_bench[@]} -eq 0 ]] || linux_bench_smp2 || status=$?
exit $status
