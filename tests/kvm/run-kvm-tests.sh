#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The kvm suite: builds libhyp and the KVM test programs for aarch64 Linux, boots the arm64 KVM
# test host (tests/kvm-host/run-in-arm64-host.sh: the Debian arm64 kernel under
# qemu-system-aarch64 with virtualization=on, or natively on an arm64 host with /dev/kvm), runs
# them there against real KVM and prints one TAP stream with every result, renumbered.
#
#   run-kvm-tests.sh [BUILD_DIR]
#
# meson runs it as the 'kvm' suite (protocol tap). Exit status: 0 all passed, 1 a failure, 77
# (meson's "skipped") only when qemu-system-aarch64 is missing and cannot be installed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build-test/kvm}
cross=aarch64-linux-gnu
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/build.log

bail() {
	echo "Bail out! $*"
	exit 1
}

if ! command -v qemu-system-aarch64 >/dev/null 2>&1 &&
	! bash "$root/tests/kvm-host/run-in-arm64-host.sh" --prepare >"$log" 2>&1; then
	echo "1..0 # SKIP qemu-system-aarch64 is not installed and could not be installed"
	echo "######## THE KVM SUITE DID NOT RUN: qemu-system-aarch64 unavailable ########" >&2
	exit 77
fi

{
	set -e
	if [ ! -f "$out/libhyp/build.ninja" ]; then
		meson setup "$out/libhyp" "$root" --cross-file "$root/cross/aarch64-linux-gnu.ini" \
			-Dtests=false -Ddefault_library=static -Dkvm=enabled --werror
	fi
	ninja -C "$out/libhyp"
	"$cross-gcc" -c "$root/tests/kvm/backend-guests.S" -o "$out/backend-guests.o"
	"$cross-ld" -Ttext=0x40000000 -e _start "$out/backend-guests.o" -o "$out/backend-guests.elf"
	"$cross-objcopy" -O binary "$out/backend-guests.elf" "$out/backend-guests.bin"
	"$cross-gcc" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -static \
		-I"$root/include" -I"$out/libhyp/include" "$root/tests/kvm/test-kvm-backend.c" \
		"$out/libhyp/lib/libhyp.a" -lpthread -o "$out/test-kvm-backend"
} >"$log" 2>&1 || {
	cat "$log" >&2
	bail "building the kvm test programs failed (see $log)"
}

# One boot runs every program; their TAP streams are merged into one, renumbered, with the rig's
# own lines as comments.
bash "$root/tests/kvm-host/run-in-arm64-host.sh" --timeout 300 \
	--wrap "$out/test-kvm-backend" "$out/backend-guests.bin" 2>&1 |
	awk '
	/^(ok|not ok)( |$)/ {
		n++
		status = ($1 == "ok") ? "ok" : "not ok"
		sub(/^(ok|not ok) *[0-9]* */, "")
		print status " " n " " $0
		if (status == "not ok" && $0 !~ /# *TODO/) failed++
		next
	}
	/^1\.\.[0-9]+/ || /^TAP version/ { next }
	/^KVM-HOST-RESULT:/ { result = $0 }
	/^#/ { print; next }
	{ print "# " $0 }
	END {
		if (result == "") {
			print "not ok " ++n " - the arm64 KVM host produced no result (crashed or hung)"
			failed++
		}
		print "1.." n
		exit failed ? 1 : 0
	}'
