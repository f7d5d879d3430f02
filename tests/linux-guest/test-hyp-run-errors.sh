#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# hyp-run's answers to bad input, on the host (mock backend: nothing runs, so every check is about
# what happens before the guest starts): missing, truncated and corrupt kernels, a kernel or
# initrd that does not fit in guest RAM, an over-long command line, a missing disk image, bad
# options. Each must exit with status 1 and say what is wrong. Prints TAP.
#
#   test-hyp-run-errors.sh HYP_RUN
set -uo pipefail
hyp_run=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

# A small but valid arm64 Image: the 64-byte header (booting.rst) plus payload.
make_image() { # file, image_size
	python3 - "$1" "$2" <<'PY'
import struct, sys
path, image_size = sys.argv[1], int(sys.argv[2])
hdr = struct.pack("<IIQQQQQQII", 0x14000010, 0, 0x80000, image_size, 0xa, 0, 0, 0, 0x644d5241, 0)
open(path, "wb").write(hdr + b"\x11" * (65536 - len(hdr)))
PY
}

expect_error() { # description, expected message part, hyp-run arguments...
	local what=$1 msg=$2 out status
	shift 2
	n=$((n + 1))
	out=$("$hyp_run" --backend mock "$@" 2>&1 </dev/null)
	status=$?
	if [[ $status -eq 1 && $out == *"$msg"* ]]; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what (status $status)"
		printf '#   %s\n' "$out"
		failed=$((failed + 1))
	fi
}

make_image "$tmp/Image" $((4 << 20))
head -c 40 "$tmp/Image" >"$tmp/short"
head -c 65536 /dev/urandom >"$tmp/random"
make_image "$tmp/huge" $((1 << 30))
head -c $((300 << 20)) /dev/zero >"$tmp/big-initrd" 2>/dev/null
printf '%*s' 5000 '' | tr ' ' a >"$tmp/cmdline"

expect_error "a missing kernel" "cannot open" --kernel "$tmp/nope"
expect_error "an empty kernel" "not a non-empty regular file" --kernel /dev/null
expect_error "a kernel shorter than its header" "Not a loadable image" --kernel "$tmp/short"
expect_error "random bytes as a kernel" "Not a loadable image" --kernel "$tmp/random"
expect_error "a kernel whose image_size exceeds guest RAM" "do not fit in guest RAM" \
	--kernel "$tmp/huge" --mem 64M
expect_error "an initrd that does not fit" "do not fit in guest RAM" \
	--kernel "$tmp/Image" --initrd "$tmp/big-initrd" --mem 128M
expect_error "a missing initrd" "cannot open" --kernel "$tmp/Image" --initrd "$tmp/nope"
expect_error "an over-long command line" "command line too long" \
	--kernel "$tmp/Image" --cmdline "$(cat "$tmp/cmdline")"
expect_error "a missing disk image" "disk $tmp/nope" --kernel "$tmp/Image" --disk "$tmp/nope"
expect_error "--mem below 2M" "--mem" --kernel "$tmp/Image" --mem 1M
expect_error "--cpus 0" "--cpus" --kernel "$tmp/Image" --cpus 0
expect_error "an unknown console" "--console" --kernel "$tmp/Image" --console vga
expect_error "no --kernel" "--kernel is required"
expect_error "an unknown backend" "no such backend" --kernel "$tmp/Image" --backend nope
n=$((n + 1))
if "$hyp_run" --help | grep -q -- "--disk FILE"; then
	echo "ok $n - --help documents the options"
else
	echo "not ok $n - --help"
	failed=$((failed + 1))
fi
echo "1..$n"
[[ $failed -eq 0 ]]
