#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-el2.sh [--icount] [--linux] [--timeout SECS] [--out DIR]: the el2 backend's tests on QEMU.
#
# Builds libhyp for bare metal with the el2 backend (cross/aarch64-baremetal.ini, -Del2=enabled),
# the conformance and hostile guests and the EL2 partitioning firmware
# (examples/el2-firmware/build.sh), then boots
#   qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max -smp 4 -m 1G \
#       -nographic -nodefaults -serial stdio -kernel firmware.elf
# and streams its console: TAP from two partitions running side by side, then a third.
# Exit status: 0 only if the firmware printed its TAP plan with no failing test and powered the
# machine off; 1 otherwise (failures, a crash, or QEMU killed after the timeout: "timed out");
# 2 for usage errors.
#
#   --icount       the benchmark instead: firmware-bench.elf under -icount shift=0,sleep=off
#                  (one guest instruction = 1 ns, so CNTVCT ticks count instructions). Prints
#                  instructions per HVC and MMIO round trip; figures, not pass/fail (the exit
#                  status only says the benchmark ran).
#   --linux        Linux in a partition instead: firmware-linux.elf boots the Debian arm64 kernel
#                  the kvm rig uses (fetched and cached by tests/linux-guest/guest-kit.sh) with an
#                  initramfs whose /init is tests/linux-guest/guest-init.c, on CPUs 0-1 (2 vCPUs),
#                  while a bare-metal partition runs guests on CPUs 2-3. QEMU stages the Image and
#                  the initramfs in physical memory (-device loader, fw-layout.h FW_LINUX_*). The
#                  firmware boots it three times (SYSTEM_RESET, a kernel panic, SYSTEM_OFF) with
#                  QEMU's virtio-blk disk passed through; its TAP asserts the /init marker, 2 CPUs
#                  online, the file read from the disk, isolation and each ending; this script
#                  asserts the console lines once more, and types console input (one line for
#                  the rt partition, one Linux echoes). In every boot /init exchanges 1,000
#                  messages each way with the rt partition's peer over the inter-partition
#                  channel (/dev/hvc0; examples/el2-firmware/channel.c). Default timeout 900.
#   --linux --icount  the Linux partition's benchmark: one boot under -icount of an initramfs
#                  whose /init is tests/bench/linux-bench-init.c (it powers off at once), as
#                  tests/bench/linux-bench.c boots it under hyp-run on kvm; prints
#                  "linux-el2: ..." figures (instructions, all levels).
#   --timeout SECS kill QEMU after this long (default 300)
#   --out DIR      build directory (default: build-el2 in the repository)
#
# Needs (Debian): gcc-aarch64-linux-gnu, qemu-system-arm, meson, ninja-build.
set -euo pipefail

usage() { sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$here/../.." && pwd)
icount=0
linux=0
timeout_s=

out=$root/build-el2
while [[ $# -gt 0 ]]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--icount) icount=1; shift ;;
	--linux) linux=1; shift ;;
	--timeout) [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { echo "run-el2.sh: --timeout needs seconds" >&2; exit 2; }
		timeout_s=$2; shift 2 ;;
	--out) [[ $# -ge 2 ]] || { echo "run-el2.sh: --out needs a directory" >&2; exit 2; }
		out=$(realpath -m -- "$2"); shift 2 ;;
	*) echo "run-el2.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
	esac
done

if [[ -z $timeout_s ]]; then
	timeout_s=300
	[[ $linux -eq 0 ]] || timeout_s=900
fi

for tool in aarch64-linux-gnu-gcc qemu-system-aarch64 meson ninja timeout; do
	command -v "$tool" >/dev/null || { echo "run-el2.sh: $tool not found" >&2; exit 1; }
done

mkdir -p -- "$out"
libhyp=$out/libhyp
if [[ ! -f $libhyp/build.ninja ]]; then
	meson setup "$libhyp" "$root" --cross-file "$root/cross/aarch64-baremetal.ini" \
		-Del2=enabled --buildtype=debugoptimized >"$out/libhyp-setup.log" 2>&1 ||
		{ cat "$out/libhyp-setup.log" >&2; exit 1; }
fi
# stdout is a TAP stream (meson reads it): everything that is not TAP goes out as a comment.
"$root/examples/el2-firmware/build.sh" --libhyp "$libhyp" "$out" | sed 's/^/# /'

elf=$out/firmware.elf
disk_text="libhyp passed-through virtio-blk disk: hello from QEMU's disk"
input_secret="SECRET-FOR-RT"
input_line="hello from the console"
# shellcheck disable=SC2054 # the commas belong to QEMU options
# -nodefaults: no default network card (its option ROM, efi-virtio.rom, comes from ipxe-qemu, which
# is only a Recommends of qemu-system-arm), no default monitor or drives; the console is the
# PL011 on stdio.
qemu=(qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max -smp 4 -m 1G
	-nographic -nodefaults -serial stdio -no-reboot)
if [[ $icount -eq 1 ]]; then
	[[ $linux -eq 1 ]] || elf=$out/firmware-bench.elf
	# shellcheck disable=SC2054
	qemu+=(-icount shift=0,sleep=off)
fi
if [[ $linux -eq 1 ]]; then
	# The kvm rig's kernel and the Linux guest's initramfs (tests/linux-guest/guest-kit.sh); their
	# progress goes to stderr, stdout being TAP.
	# shellcheck source=/dev/null
	source "$root/scripts/common.sh"
	# shellcheck disable=SC2034 # guest-kit.sh's toolchain prefix
	cross=aarch64-linux-gnu
	# shellcheck source=/dev/null
	source "$root/tests/linux-guest/guest-kit.sh"
	guest_kit_packages >&2
	if [[ $icount -eq 1 ]]; then
		guest_kit_fetch >&2 # the modules hyp-run's boot on kvm has too (linux-bench.c)
	else
		guest_kit_fetch virtio_console >&2 # /dev/hvc0: the inter-partition channel
	fi
	if [[ $icount -eq 1 ]]; then
		guest_kit_initramfs "$out/initramfs.cpio" "$root/tests/bench/linux-bench-init.c" >&2
		info_flags=1 # FW_LINUX_INFO_BENCH
	else
		guest_kit_initramfs "$out/initramfs.cpio" >&2
		info_flags=0
	fi
	# The disk the firmware passes through to Linux (config.c devices_linux): an ext4 filesystem
	# with one file that /init reads and prints.
	rm -rf "$out/diskroot" "$out/disk.img"
	if [[ $icount -eq 1 ]]; then
		# The benchmark's disk workloads write to the raw disk (tests/bench/run-kvm-bench.sh's).
		truncate -s 64M "$out/disk.img"
	else
		mkdir -p "$out/diskroot"
		printf '%s\n' "$disk_text" >"$out/diskroot/hello.txt"
		mke2fs -q -t ext4 -d "$out/diskroot" "$out/disk.img" 16M >&2
	fi
	elf=$out/firmware-linux.elf
	# Addresses: examples/el2-firmware/fw-layout.h (FW_LINUX_KERNEL_STAGE, FW_LINUX_INITRD_STAGE,
	# FW_LINUX_INFO, FW_LINUX_INFO_MAGIC). force-raw: the files are bytes to copy, whatever
	# they look like.
	# shellcheck disable=SC2154 # set by guest_kit_fetch
	kernel_size=$(stat -c %s -- "$guest_image")
	initrd_size=$(stat -c %s -- "$out/initramfs.cpio")
	# shellcheck disable=SC2054
	qemu+=(-device "loader,file=$guest_image,addr=0x61000000,force-raw=on"
		-device "loader,file=$out/initramfs.cpio,addr=0x64000000,force-raw=on"
		-device loader,addr=0x6ff00000,data=0x4f464e4958554e4c,data-len=8
		-device "loader,addr=0x6ff00008,data=$kernel_size,data-len=8"
		-device "loader,addr=0x6ff00010,data=$initrd_size,data-len=8"
		-device "loader,addr=0x6ff00018,data=$info_flags,data-len=8"
		-drive "file=$out/disk.img,if=none,format=raw,id=disk0"
		-device virtio-blk-device,drive=disk0)
fi
qemu+=(-kernel "$elf")
log=$out/console.log

echo "# run-el2.sh: ${qemu[*]}"
rm -f -- "$log"
input=/dev/null
typist=
if [[ $linux -eq 1 && $icount -eq 0 ]]; then
	# The typist, on the console's input (the firmware's console input, fw.h FW_INPUT_ESCAPE):
	# once /init asks for a line, it selects partition 2 (rt, which reads no input) with Ctrl-]
	# 2 and types a line Linux must never see, then selects partition 1 (linux) and types the
	# line /init echoes.
	input=$out/console-input
	rm -f -- "$input"
	mkfifo -- "$input"
	# QEMU's stdin opens the fifo read-write below, so neither side waits for the other; the
	# typist goes when this script does, however it ends.
	trap '[[ -z $typist ]] || kill "$typist" 2>/dev/null || true' EXIT
	(
		exec 3>"$input"
		for ((i = 0; i < timeout_s * 5; i++)); do
			grep -aqF "LIBHYP-GUEST: waiting for a line of input" "$log" 2>/dev/null && break
			sleep 0.2
		done
		printf '\x1d2%s\n\x1d1%s\n' "$input_secret" "$input_line" >&3
		sleep "$timeout_s"
	) &
	typist=$!
fi
set +e
timeout -s KILL "$timeout_s" "${qemu[@]}" <>"$input" 2>&1 | tee "$log" |
	sed -u -E '/^(ok|not ok|1\.\.|#|Bail out!)/!s/^/# /'
status=${PIPESTATUS[0]}
set -e
if [[ -n $typist ]]; then
	kill "$typist" 2>/dev/null || true
	wait "$typist" 2>/dev/null || true
fi

if [[ $status -eq 137 || $status -eq 124 ]]; then
	echo "run-el2.sh: timed out after $timeout_s s (QEMU killed); console in $log" >&2
	exit 1
fi
# The firmware's verdict: the plan, no "not ok", no bail-out, and the power-off it announces.
plan=$(grep -aE '^1\.\.[0-9]+' "$log" | tail -n 1 | tr -d '\r' || true)
failed=$(grep -acE '^not ok ' "$log" || true)
if [[ $status -ne 0 ]]; then
	echo "run-el2.sh: QEMU exited with status $status; console in $log" >&2
	exit 1
fi
if [[ -z $plan ]]; then
	echo "run-el2.sh: no TAP plan: the firmware did not finish; console in $log" >&2
	exit 1
fi
if grep -aq '^Bail out!' "$log"; then
	echo "run-el2.sh: the firmware bailed out; console in $log" >&2
	exit 1
fi
if ! grep -aq 'powering off (PSCI SYSTEM_OFF)' "$log"; then
	echo "run-el2.sh: the firmware did not power off; console in $log" >&2
	exit 1
fi
if [[ $failed -ne 0 ]]; then
	echo "run-el2.sh: $failed failing test(s) of ${plan#1..}; console in $log" >&2
	exit 1
fi
if [[ $linux -eq 1 && $icount -eq 0 ]]; then
	# The console itself, as the kvm rig's Linux test reads it (the firmware's TAP says the same).
	for want in "[linux] LIBHYP-GUEST: hello from Linux" "[linux] LIBHYP-GUEST: cpus 2" \
		"[linux] LIBHYP-GUEST: disk: $disk_text" "[linux] LIBHYP-GUEST: channel 1000 messages ok" \
		"[linux] LIBHYP-GUEST: powering off"; do
		grep -aqF -- "$want" "$log" ||
			{ echo "run-el2.sh: no '$want' on the console; console in $log" >&2; exit 1; }
	done
	# Console input: the line typed for Linux reached it, the one typed for rt did not (rt
	# reads none: it waits there, counted).
	for want in "[linux] LIBHYP-GUEST: input: $input_line" \
		"# [rt] console input: 0 bytes delivered, $((${#input_secret} + 1)) never read"; do
		grep -aqF -- "$want" "$log" ||
			{ echo "run-el2.sh: no '$want' on the console; console in $log" >&2; exit 1; }
	done
	if grep -aF -- "[linux]" "$log" | grep -aqF -- "$input_secret"; then
		echo "run-el2.sh: input typed for partition rt reached Linux; console in $log" >&2
		exit 1
	fi
fi
echo "# run-el2.sh: all ${plan#1..} tests passed (or skipped), machine powered off"
