#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Boot the Debian arm64 kernel as a guest of hyp-run (examples/hyp-run) on real KVM: inside the
# arm64 KVM test host (tests/kvm-host/run-in-arm64-host.sh, nested under QEMU) on any machine, or
# natively on an arm64 host with /dev/kvm. The guest's /init (guest-init.c) prints a marker, the
# CPU count, a file it reads from the virtio-blk disk, and powers off through PSCI SYSTEM_OFF.
# The guest console streams live.
#
#   boot-linux.sh [--out DIR] [--cpus N] [--check] [--precopy [--dirty-ring N]]
#
# --check: also verify the run (for the integration test): the marker, "cpus N", the disk
# contents, the power-off, and hyp-run's exit status 0; prints TAP.
# --precopy (with --check): boot the guest once more (256 MiB) under hyp-run --precopy, which
# copies its RAM to a file in rounds with the dirty-page log while it boots, and check the rounds
# (all of RAM first, then far fewer pages) and that the file holds guest RAM exactly at the end.
# --dirty-ring N: the same with hyp-run --dirty-ring N (each vCPU's dirty ring first, then the
# bitmap, each round): the rings must have reported pages, and the file must still be exact.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build-test/linux-guest
cpus=2
check=0
precopy=0
dirty_ring=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--check) check=1; shift ;;
	--precopy) precopy=1; shift ;;
	--dirty-ring) dirty_ring=(--dirty-ring "$2"); shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) echo "boot-linux.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
source "$root/scripts/common.sh"
cross=aarch64-linux-gnu
disk_text="libhyp virtio-blk disk: hello from the host"

source "$root/tests/linux-guest/guest-kit.sh"
guest_kit_packages
mkdir -p "$out"
out=$(cd "$out" && pwd)

guest_kit_build_hyp_run

guest_kit_fetch

step "Building the guest's initramfs and disk"
rm -rf "$out/diskroot"
mkdir -p "$out/diskroot"
guest_kit_initramfs "$out/initramfs.cpio"
printf '%s\n' "$disk_text" >"$out/diskroot/hello.txt"
rm -f "$out/disk.img"
mke2fs -q -t ext4 -d "$out/diskroot" "$out/disk.img" 16M >&2

# The demo shows the whole boot log; the integration test keeps the console short, and sends it
# to stderr: its stdout is a TAP stream.
quiet=
console_fd=1
[[ $check -eq 0 ]] || { quiet=1; console_fd=2; }
step "Booting Linux under hyp-run (kvm backend, $cpus vCPUs)"
log=$out/console.log
set +e
bash "$root/tests/kvm-host/run-in-arm64-host.sh" --timeout 300 --log "$log" \
	--wrap "$out/arm64/examples/hyp-run" --backend kvm --cpus "$cpus" --mem 512M \
	--kernel "$guest_image" --initrd "$out/initramfs.cpio" --disk "$out/disk.img" \
	--cmdline "console=ttyAMA0 earlycon=pl011,0x09000000 panic=-1${quiet:+ quiet}" >&"$console_fd"
status=$?
set -e
[[ $check -eq 1 ]] || exit $status

n=0 failed=0
# One TAP point for hyp-run's exit status.
expect_status() { # description, status
	n=$((n + 1))
	if [[ $2 -eq 0 ]]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1: hyp-run exited $2 (see $log)"
		failed=$((failed + 1))
	fi
}
# A small bare-metal program under hyp-run on kvm (64 MiB RAM); sets $log, returns the status.
run_program() { # log name, hyp-run arguments...
	local status
	log=$out/console-$1.log
	shift
	set +e
	bash "$root/tests/kvm-host/run-in-arm64-host.sh" --timeout 300 --log "$log" \
		--wrap "$out/arm64/examples/hyp-run" --backend kvm --mem 64M "$@" >/dev/null 2>&1
	status=$?
	set -e
	return $status
}
expect "the Linux guest reached /init" "LIBHYP-GUEST: hello from Linux"
expect "the guest sees $cpus CPUs" "LIBHYP-GUEST: cpus $cpus"
expect "the guest read the file from the virtio-blk disk" "LIBHYP-GUEST: disk: $disk_text"
expect "the guest powered off" "LIBHYP-GUEST: powering off"
n=$((n + 1))
if [[ $status -eq 0 ]]; then
	echo "ok $n - hyp-run exited 0 (guest power-off through PSCI SYSTEM_OFF)"
else
	echo "not ok $n - hyp-run or the test host failed (status $status)"
	failed=$((failed + 1))
fi

# The disk through the device's I/O thread (--disk FILE,iothread): queue notifications reach it
# through KVM_IOEVENTFD, its interrupt goes out through KVM_IRQFD; --verbose shows both were set
# up (no fallback to the synchronous path or to KVM_IRQ_LINE).
step "Linux reads its disk through the device's I/O thread (hyp-run --disk FILE,iothread)"
log=$out/console-iothread.log
set +e
bash "$root/tests/kvm-host/run-in-arm64-host.sh" --timeout 300 --log "$log" \
	--file "$out/disk.img" \
	--wrap "$out/arm64/examples/hyp-run" --backend kvm --cpus "$cpus" --mem 256M --verbose \
	--kernel "$guest_image" --initrd "$out/initramfs.cpio" --disk "$out/disk.img,iothread" \
	--cmdline "console=ttyAMA0 panic=-1 quiet" >/dev/null 2>&1
iothread_status=$?
set -e
expect "iothread: the device's I/O thread took the queue notifications through an eventfd" \
	"I/O thread serves 1 queue(s), notified through eventfds"
expect "iothread: its interrupt went out through an irqfd" "raised through an irqfd"
expect "iothread: the guest read the file from the virtio-blk disk" "LIBHYP-GUEST: disk: $disk_text"
expect "iothread: the guest powered off" "LIBHYP-GUEST: powering off"
expect_status "iothread: hyp-run exited 0" $iothread_status

# Pre-copy: guest RAM to a file in rounds while the guest boots (hyp-run --precopy). The file is
# in the test host's own RAM (its root), hence the smaller guest.
if [[ $precopy -eq 1 ]]; then
	step "Pre-copy: guest RAM copied to a file in rounds while Linux boots (hyp-run --precopy)"
	log=$out/console-precopy.log
	set +e
	bash "$root/tests/kvm-host/run-in-arm64-host.sh" --timeout 300 --log "$log" \
		--wrap "$out/arm64/examples/hyp-run" --backend kvm --cpus "$cpus" --mem 256M \
		--kernel "$guest_image" --initrd "$out/initramfs.cpio" --disk "$out/disk.img" \
		--cmdline "console=ttyAMA0 panic=-1 quiet" --precopy /libhyp-precopy-ram.img \
		"${dirty_ring[@]}" >/dev/null 2>&1
	precopy_status=$?
	set -e
	grep -h "hyp-run: precopy" "$log" | sed 's/^/# /' || true
	expect "precopy: round 0 copied all of RAM" "precopy round 0: 65536 pages (all of RAM)"
	expect "precopy: the guest ran to its power-off meanwhile" "LIBHYP-GUEST: powering off"
	expect "precopy: after the last round the file holds guest RAM exactly" \
		"holds guest RAM exactly"
	n=$((n + 1))
	# Converging: a later round copies a small fraction of what the whole copy did (the round
	# sizes follow what the booting guest writes in 200 ms, so no bound holds for every round).
	# The guest's console shares the log: a round's line may follow other text on the same
	# line, so the numbers are taken from after the marker, not by field position.
	if awk '/hyp-run: precopy round [0-9]+: [0-9]+ pages/ {
			s = $0; sub(/.*hyp-run: precopy round /, "", s); split(s, f, /[: ]+/)
			r = f[1] + 0; p[r] = f[2] + 0; if (r > last) last = r }
		END { if (last < 1) exit 1
		      min = p[1]; for (r = 2; r <= last; r++) if (p[r] < min) min = p[r]
		      exit !(min < p[0] / 16) }' "$log"; then
		echo "ok $n - precopy: a later round copied under 1/16 of RAM (the rounds converge)"
	else
		echo "not ok $n - precopy: the rounds did not shrink (see $log)"
		failed=$((failed + 1))
	fi
	if [[ ${#dirty_ring[@]} -gt 0 ]]; then
		expect "precopy: the dirty rings were used (their counters)" "dirty rings of ${dirty_ring[1]} entries"
		n=$((n + 1))
		if grep -qE "precopy round [0-9]+: [0-9]+ pages \([1-9][0-9]* from the dirty rings" "$log"; then
			echo "ok $n - precopy: rounds took pages from the dirty rings"
		else
			echo "not ok $n - precopy: no round took a page from the dirty rings (see $log)"
			failed=$((failed + 1))
		fi
	fi
	expect_status "hyp-run --precopy exited 0" "$precopy_status"
fi

# Ctrl-C: a guest that never powers off, SIGINT to hyp-run after it booted: exit status 130.
step "Ctrl-C: SIGINT to hyp-run while the guest runs"
"$cross-gcc" -static -O2 -Wall -Wextra -Werror -o "$out/sigint-after" \
	"$root/tests/linux-guest/sigint-after.c"
hang_log=$out/console-sigint.log
n=$((n + 1))
if bash "$root/tests/kvm-host/run-in-arm64-host.sh" --timeout 300 --log "$hang_log" \
	--wrap "$out/sigint-after" 240 130 "LIBHYP-GUEST: hanging" "interrupted, guest stopped" \
	"$out/arm64/examples/hyp-run" \
	--backend kvm --cpus "$cpus" \
	--mem 512M --kernel "$guest_image" --initrd "$out/initramfs.cpio" \
	--cmdline "console=ttyAMA0 panic=-1 quiet libhyp_hang" >/dev/null 2>&1; then
	# sigint-after saw the guest's marker, then hyp-run's "interrupted" line and exit 130, in
	# hyp-run's own output (the console log can have kernel messages cut into lines).
	echo "ok $n - Ctrl-C (SIGINT) stops a running guest cleanly: hyp-run exits 130"
else
	echo "not ok $n - Ctrl-C: hyp-run did not stop cleanly with status 130 (see $hang_log)"
	# The evidence in the TAP stream: the next run (linux-boot-6.12 shares $out) rewrites
	# the log.
	tail -n 25 "$hang_log" 2>/dev/null | sed 's/^/#   /'
	failed=$((failed + 1))
fi
# A hostile bare-metal guest: LDP/STP/writeback forms to the UART and the GIC, exclusives and
# atomics, accesses to nothing, an unknown SMCCC call. hyp-run answers each and keeps going.
step "A hostile guest under hyp-run"
"$cross-gcc" -nostdlib -static -Wl,-Ttext=0x40080000 -Wl,--build-id=none \
	-o "$out/hostile-guest.elf" "$root/tests/linux-guest/hostile-guest.S"
run_program hostile --kernel "$out/hostile-guest.elf" && hostile_status=0 || hostile_status=$?
expect "hostile guest: LDP from the PL011 emulated" "HOSTILE: LDP from the UART"
expect "hostile guest: STP to the PL011 emulated (its character came out)" "<>"
expect "hostile guest: post-index loop over the PL011 ID registers, base advanced" \
	"HOSTILE: post-index loop"
expect "hostile guest: exclusive and atomic on the UART answered" "HOSTILE: exclusive and atomic"
expect "hostile guest: post-index load from the GIC distributor answered" "HOSTILE: post-index load"
expect "hostile guest: accesses to nothing answered with aborts" "HOSTILE: LDP/STP/LDR at"
expect "hostile guest: unknown SMCCC call answered NOT_SUPPORTED" "HOSTILE: unknown SMCCC"
expect "hostile guest: reached its end" "HOSTILE: done"
expect_status "hyp-run survived the hostile guest and exited 0 at its SYSTEM_OFF" "$hostile_status"
grep -h "HOSTILE: done" "$log" | sed 's/^/# /' || true

# The loader on what is not Linux: one position-independent program booted as a raw binary
# (--format raw --load-addr, with its BSS and stack as --footprint) and as a PIE ELF (ET_DYN,
# placed at the lowest 2 MiB boundary of RAM). It checks that its DTB is outside its footprint.
step "A raw binary and a position-independent ELF under hyp-run"
"$cross-gcc" -c -o "$out/hello-guest.o" "$root/tests/linux-guest/hello-guest.S"
"$cross-ld" -pie --no-dynamic-linker -e _start -z noexecstack --build-id=none \
	-o "$out/hello-guest.pie" "$out/hello-guest.o"
"$cross-ld" -Ttext=0 -e _start -z noexecstack --build-id=none -o "$out/hello-guest.elf" \
	"$out/hello-guest.o"
"$cross-objcopy" -O binary "$out/hello-guest.elf" "$out/hello-guest.bin"
footprint=$("$cross-nm" "$out/hello-guest.elf" | awk '$3 == "footprint_end" { print "0x" $1 }')
for kind in raw pie; do
	if [[ $kind == raw ]]; then
		args=(--kernel "$out/hello-guest.bin" --format raw --load-addr 0x40080000
			--footprint "$footprint")
	else
		args=(--kernel "$out/hello-guest.pie")
	fi
	run_program "$kind" "${args[@]}" && kind_status=0 || kind_status=$?
	expect "$kind: the program ran and found its device tree outside its footprint" \
		"HELLO: dtb ok"
	expect_status "$kind: hyp-run exited 0 at the program's SYSTEM_OFF" "$kind_status"
done

echo "1..$n"
[[ $failed -eq 0 ]]
