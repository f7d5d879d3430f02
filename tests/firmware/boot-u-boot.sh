#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Firmware boot through QEMU virt's convention: Debian's unmodified U-Boot for qemu_arm64
# (u-boot-qemu, fetched with apt-get download and cached) runs under hyp-run --firmware from the
# CFI flash on real KVM (inside the arm64 KVM test host, nested under QEMU, or natively on an
# arm64 host with /dev/kvm). console-session types at its prompt, in one host boot:
#   run 1: stop autoboot, set a variable, saveenv (CFI erase + buffered program of flash bank 1,
#          written back to the --flash-vars file), poweroff (PSCI SYSTEM_OFF);
#   run 2: the variable is still there (read back from the file), then virtio scan, load the
#          Debian arm64 kernel and an initramfs from the virtio-blk disk (ext4), booti, and the
#          guest's /init prints its marker, reads the disk under Linux and powers off.
#
#   boot-u-boot.sh [--out DIR] [--check]
#
# --check: verify the run and print TAP (the integration test).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build-test/u-boot
check=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--check) check=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) echo "boot-u-boot.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
source "$root/scripts/common.sh"
cross=aarch64-linux-gnu
disk_text="libhyp virtio-blk disk: loaded by U-Boot"
cache=${LIBHYP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/libhyp}

source "$root/tests/linux-guest/guest-kit.sh"
guest_kit_packages
mkdir -p "$out"
out=$(cd "$out" && pwd)

guest_kit_build_hyp_run

step "Fetching Debian's u-boot-qemu (cached)"
version=$(apt-cache show --no-all-versions u-boot-qemu 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
[[ -n $version ]] || die "apt knows no u-boot-qemu package (apt-get update?)"
ubdir=$cache/u-boot/u-boot-qemu_${version//:/%3a}
uboot=$ubdir/qemu_arm64/u-boot.bin
if [[ ! -f $uboot ]]; then
	stage=$(mktemp -d "$cache/.u-boot.XXXXXX")
	dl=(apt-get download -q=2)
	[[ $EUID -ne 0 ]] || dl+=(-o APT::Sandbox::User=root)
	(cd "$stage" && "${dl[@]}" "u-boot-qemu=$version") || { rm -rf "$stage"; die "apt-get download u-boot-qemu failed"; }
	dpkg-deb -x "$stage"/u-boot-qemu_*.deb "$stage/x"
	mkdir -p "$ubdir/qemu_arm64"
	cp "$stage/x/usr/lib/u-boot/qemu_arm64/u-boot.bin" "$uboot.tmp"
	mv "$uboot.tmp" "$uboot"
	rm -rf "$stage"
fi
echo "u-boot: $uboot ($(stat -c %s "$uboot") bytes, u-boot-qemu $version)" >&2

guest_kit_fetch

step "Building the guest's initramfs, the disk U-Boot boots from, and the console session"
rm -rf "$out/diskroot"
mkdir -p "$out/diskroot"
guest_kit_initramfs "$out/diskroot/initramfs.cpio"
"$cross-gcc" -static -O2 -Wall -Wextra -Werror -o "$out/console-session" \
	"$root/tests/firmware/console-session.c"
cp -- "$guest_image" "$out/diskroot/Image"
printf '%s\n' "$disk_text" >"$out/diskroot/hello.txt"
rm -f "$out/disk.img"
mke2fs -q -t ext4 -d "$out/diskroot" "$out/disk.img" 64M

# The variable store lives in the test host's /tmp, so both runs see the same file.
vars=/tmp/libhyp-u-boot-vars.img
cat >"$out/session" <<EOF
timeout 120
run
expect Hit any key to stop autoboot
key x
expect =>
send setenv libhyp_saved persisted-42
expect =>
send saveenv
expect Writing to Flash
expect OK
expect =>
send poweroff
status 0
run
expect Hit any key to stop autoboot
key x
expect =>
send printenv libhyp_saved
expect libhyp_saved=persisted-42
expect =>
send setenv bootargs console=ttyAMA0 panic=-1 quiet
expect =>
send virtio scan; load virtio 0 \${kernel_addr_r} /Image; load virtio 0 \${ramdisk_addr_r} /initramfs.cpio; booti \${kernel_addr_r} \${ramdisk_addr_r}:\${filesize} \${fdtcontroladdr}
timeout 300
expect LIBHYP-GUEST: powering off
status 0
EOF

step "U-Boot under hyp-run --firmware (kvm backend): two runs"
log=$out/console.log
set +e
bash "$root/tests/kvm-host/run-in-arm64-host.sh" --timeout 900 --mem 1536 --log "$log" \
	--wrap "$out/console-session" "$out/session" "$out/arm64/examples/hyp-run" --backend kvm \
	--mem 256M --firmware "$uboot" --flash-vars "$vars" --disk "$out/disk.img"
status=$?
set -e
[[ $check -eq 1 ]] || exit $status

n=0 failed=0
expect "U-Boot started from the CFI flash" "U-Boot 20"
expect "U-Boot probed the CFI flash (64 MiB, what it reports under QEMU too)" "Flash: 64 MiB"
expect "U-Boot reached its prompt" "SESSION: ok: run 1: saw '=>'"
expect "saveenv wrote the environment to flash bank 1" "SESSION: ok: run 1: saw 'OK'"
expect "U-Boot powered off through PSCI (hyp-run exit 0)" "SESSION: ok: run 1 exited with status 0"
expect "the variable survived into the second run (read back from --flash-vars)" \
	"libhyp_saved=persisted-42"
expect "U-Boot loaded the kernel from the virtio-blk disk and Linux reached /init" \
	"LIBHYP-GUEST: hello from Linux"
expect "Linux read the file from the virtio-blk disk" "LIBHYP-GUEST: disk: $disk_text"
expect "Linux powered off (hyp-run exit 0)" "SESSION: ok: run 2 exited with status 0"
n=$((n + 1))
if [[ $status -eq 0 ]]; then
	echo "ok $n - the session passed in the test host"
else
	echo "not ok $n - the session or the test host failed (status $status, see $log)"
	failed=$((failed + 1))
fi
grep -E "^(U-Boot 20|Flash:|libhyp_saved=)" "$log" | sed 's/^/# /' || true
echo "1..$n"
[[ $failed -eq 0 ]]
