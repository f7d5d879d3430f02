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

# A minimal ELF64 AArch64 file with one PT_LOAD: ET_EXEC at 0x40080000, or ET_DYN (from 0, 64 KiB
# aligned).
make_elf() { # file, type (2 or 3)
	python3 - "$1" "$2" <<'PY'
import struct, sys
path, etype = sys.argv[1], int(sys.argv[2])
vaddr = 0x40080000 if etype == 2 else 0
ehdr = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
    "<HHIQQQIHHHHHH", etype, 183, 1, vaddr, 64, 0, 0, 64, 56, 1, 0, 0, 0)
phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, vaddr, vaddr, 4096, 4096, 0x10000)
open(path, "wb").write((ehdr + phdr).ljust(4096, b"\0"))
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
expect_error "no --kernel" "--kernel or --firmware is required"
expect_error "an unknown backend" "no such backend" --kernel "$tmp/Image" --backend nope

# Formats and load addresses.
make_elf "$tmp/exec.elf" 2
make_elf "$tmp/pie.elf" 3
expect_error "random bytes: the error says how to boot a raw binary" "--format raw --load-addr" \
	--kernel "$tmp/random"
expect_error "an unknown --format" "--format takes" --kernel "$tmp/random" --format bin
expect_error "--format raw without --load-addr" "needs --load-addr" --kernel "$tmp/random" \
	--format raw
expect_error "--footprint without --format raw" "--footprint is for" --kernel "$tmp/Image" \
	--footprint 1M
expect_error "a raw load address outside RAM" "outside guest RAM" --kernel "$tmp/random" \
	--format raw --load-addr 0x1000
expect_error "a raw footprint larger than RAM" "do not fit in guest RAM" --kernel "$tmp/random" \
	--format raw --load-addr 0x40000000 --footprint 1G --mem 64M
expect_error "an ELF executable with --load-addr" "linked for its addresses" \
	--kernel "$tmp/exec.elf" --load-addr 0x40200000
expect_error "a PIE at a base that breaks its 64 KiB alignment" "misaligned" \
	--kernel "$tmp/pie.elf" --load-addr 0x40001000
expect_error "a PIE at a base outside RAM" "outside guest RAM" --kernel "$tmp/pie.elf" \
	--load-addr 0x80000000 --mem 64M

# Firmware: files that do not fit the flash, options that do not go together.
truncate -s $(((64 << 20) + 1)) "$tmp/big-firmware"
truncate -s $((1 << 20)) "$tmp/small-vars"
head -c 4096 /dev/urandom >"$tmp/firmware"
expect_error "a firmware file larger than its flash bank" "larger than its 64 MiB flash bank" \
	--firmware "$tmp/big-firmware"
expect_error "a variable store of the wrong size" "exactly 67108864 bytes" \
	--firmware "$tmp/firmware" --flash-vars "$tmp/small-vars"
expect_error "a variable store that is a directory" "must be a regular file" \
	--firmware "$tmp/firmware" --flash-vars "$tmp"
expect_error "a variable store that cannot be created" "cannot create" \
	--firmware "$tmp/firmware" --flash-vars "$tmp/no/such/dir/vars"
expect_error "a missing firmware file" "cannot open" --firmware "$tmp/nope"
expect_error "--firmware with --kernel" "--firmware boots from flash" --firmware "$tmp/firmware" \
	--kernel "$tmp/Image"
expect_error "--firmware with --initrd" "--firmware boots from flash" --firmware "$tmp/firmware" \
	--initrd "$tmp/Image"
expect_error "--flash-vars without --firmware" "variable store of --firmware" \
	--kernel "$tmp/Image" --flash-vars "$tmp/small-vars"
# CPU feature options.
expect_error "--sve with a vector length that is not a multiple of 128" "--sve takes" \
	--kernel "$tmp/Image" --sve=200
expect_error "--dirty-ring without --precopy" "--dirty-ring is for --precopy" --kernel "$tmp/Image" \
	--dirty-ring 256
expect_error "--dirty-ring that is not a number" "is not a ring size" --kernel "$tmp/Image" \
	--precopy "$tmp/ram.img" --dirty-ring 1k
expect_error "--dirty-ring that is not a power of two" "not a power of two" --kernel "$tmp/Image" \
	--backend mock --precopy "$tmp/ram.img" --dirty-ring 300
expect_error "--precopy with a disk on its I/O thread" "the disk's I/O thread goes on" \
	--kernel "$tmp/Image" --precopy "$tmp/ram.img" --disk "$tmp/Image,iothread"
expect_error "--pmu with a bad value" "--pmu takes on, off or auto" --kernel "$tmp/Image" \
	--pmu=maybe
expect_error "--mte=on on a backend without CPU features" "CPU features need the kvm backend" \
	--kernel "$tmp/Image" --mte=on
n=$((n + 1))
if [[ $(stat -c %s "$tmp/small-vars") -eq $((1 << 20)) ]]; then
	echo "ok $n - a variable store of the wrong size is left as it was"
else
	echo "not ok $n - the wrong-size variable store was modified"
	failed=$((failed + 1))
fi

# --help: every long option hyp-run accepts is documented, each with an example.
help=$("$hyp_run" --help)
src=$(dirname "$0")/../../examples/hyp-run/hyp-run.c
mapfile -t opts < <(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", .*/\1/p' "$src")
n=$((n + 1))
missing=()
for o in "${opts[@]}"; do
	[[ $o == help ]] && continue
	grep -q -- "--$o" <<<"$help" || missing+=("--$o (not documented)")
	grep -qE -- "e\.g\..*--$o|^  hyp-run .*--$o" <<<"$help" || missing+=("--$o (no example)")
done
if [[ ${#opts[@]} -gt 10 && ${#missing[@]} -eq 0 ]]; then
	echo "ok $n - --help documents all ${#opts[@]} options, each with an example"
else
	echo "not ok $n - --help: ${missing[*]:-no options found in $src}"
	failed=$((failed + 1))
fi
echo "1..$n"
[[ $failed -eq 0 ]]
