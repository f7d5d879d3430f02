#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# build.sh [--libhyp DIR] OUTDIR: build the conformance guests and their driver for aarch64.
#
#   OUTDIR/guests/NAME.bin   flat guest images (tests/guests/cases/NAME.c), entered at byte 0
#   OUTDIR/bench/*.bin       the benchmark guests (tests/guests/bench/*.c), same format
#   OUTDIR/obj/NAME.elf      the same, with symbols (aarch64-linux-gnu-objdump -d, addr2line)
#   OUTDIR/driver            the driver (driver.c, lht-device.c), statically linked with libhyp.a
#   OUTDIR/runall            runs several programs with arguments in one rig boot (runall.c)
#   OUTDIR/libhyp/           libhyp's meson build (static library, no unit tests)
#
#   --libhyp DIR   use this existing meson build of libhyp instead of OUTDIR/libhyp: configured
#                  for aarch64 Linux with a static library (DIR/lib/libhyp.a) and the kvm
#                  backend, as tests/kvm/run-kvm-tests.sh does. It is brought up to date with
#                  ninja (nothing to do if it is).
#
# Cross-compiles with aarch64-linux-gnu-gcc (Debian: gcc-aarch64-linux-gnu); on an arm64 host
# without it, the native compiler is used. Environment: AARCH64_CC, AARCH64_OBJCOPY, CFLAGS_EXTRA.
set -euo pipefail

usage() { sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
libhyp=
while [[ $# -gt 0 ]]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--libhyp) [[ $# -ge 2 ]] || { echo "build.sh: --libhyp needs a directory" >&2; exit 2; }
		libhyp=$2; shift 2 ;;
	-*) echo "build.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
	*) break ;;
	esac
done
if [[ $# -ne 1 ]]; then
	usage >&2
	exit 2
fi

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$here/../.." && pwd)
out=$(realpath -m -- "$1")

cross=1
CC=${AARCH64_CC:-aarch64-linux-gnu-gcc}
OBJCOPY=${AARCH64_OBJCOPY:-aarch64-linux-gnu-objcopy}
if ! command -v "$CC" >/dev/null && [[ $(uname -m) == aarch64 ]]; then
	cross=0
	CC=${AARCH64_CC:-cc}
	OBJCOPY=${AARCH64_OBJCOPY:-objcopy}
fi
command -v "$CC" >/dev/null || { echo "build.sh: $CC not found (apt-get install gcc-aarch64-linux-gnu)" >&2; exit 1; }
command -v "$OBJCOPY" >/dev/null || { echo "build.sh: $OBJCOPY not found" >&2; exit 1; }

mkdir -p -- "$out/guests" "$out/bench" "$out/obj"

# ---- libhyp: static, so the driver runs in the rig's initramfs as is. Its own meson build
# unless the caller has one.
if [[ -n $libhyp ]]; then
	libhyp=$(realpath -- "$libhyp")
	[[ -f $libhyp/build.ninja ]] || { echo "build.sh: $libhyp is not a meson build directory" >&2; exit 2; }
else
	libhyp=$out/libhyp
	if [[ ! -f $libhyp/build.ninja ]]; then
		setup=(meson setup "$libhyp" "$root" -Dtests=false --default-library=static
			-Dkvm=enabled --buildtype=debugoptimized)
		[[ $cross -eq 0 ]] || setup+=(--cross-file "$root/cross/aarch64-linux-gnu.ini")
		"${setup[@]}" >"$out/libhyp-setup.log" 2>&1 || { cat "$out/libhyp-setup.log" >&2; exit 1; }
	fi
fi
ninja -C "$libhyp" >"$out/libhyp-build.log" 2>&1 || { cat "$out/libhyp-build.log" >&2; exit 1; }
libhyp_a=$libhyp/lib/libhyp.a
[[ -f $libhyp_a ]] || { echo "build.sh: $libhyp_a not built (a static library build is needed)" >&2; exit 1; }

# ---- guests: freestanding EL1 programs, linked at LHT_RAM_BASE (rt/guest.ld).
# -mgeneral-regs-only: no FP/SIMD (CPACR_EL1.FPEN traps it at reset); -mno-outline-atomics: no
# libgcc helpers; -fno-pic/-no-pie: fixed addresses, no GOT to relocate.
gflags=(-std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -nostdlib -mgeneral-regs-only
	-fno-stack-protector -fno-pic -fno-pie -fno-asynchronous-unwind-tables
	-fno-omit-frame-pointer -march=armv8-a -mno-outline-atomics -I"$here")
# shellcheck disable=SC2054 # the commas belong to -Wl, options
lflags=(-static -no-pie -nostdlib -Wl,-T,"$here/rt/guest.ld" -Wl,--build-id=none)
if "$CC" -Wl,--help 2>/dev/null | grep -- --no-warn-rwx-segments >/dev/null; then
	# shellcheck disable=SC2054
	lflags+=(-Wl,--no-warn-rwx-segments)
fi
# shellcheck disable=SC2206 # word splitting intended
gflags+=(${CFLAGS_EXTRA:-})

# Nothing to do if no input (tests/guests, libhyp's headers and archive) changed since the last
# complete build with the same tools and flags: the stamp holds both, its mtime is when that
# build started.
stamp=$out/.build-stamp
key=$(printf '%s\n' "$CC" "$OBJCOPY" "${gflags[*]}" "${lflags[*]}" "$libhyp_a" | cksum)
if [[ -f $stamp && $(<"$stamp") == "$key" && -x $out/driver && -x $out/runall ]] &&
	[[ -z $(find "$here" "$root/include" "$libhyp_a" -newer "$stamp" -print -quit) ]]; then
	echo "build.sh: up to date: $(find "$out/guests" -name '*.bin' | wc -l) guests in $out/guests, driver $out/driver"
	exit 0
fi
rm -f -- "$stamp"
printf '%s\n' "$key" >"$out/.build-started"

# Independent compilations run in parallel; wait_jobs fails the build if any of them failed.
pids=()
spawn() {
	"$@" &
	pids+=($!)
}
wait_jobs() {
	local p st=0
	for p in "${pids[@]}"; do
		wait "$p" || st=1
	done
	pids=()
	[[ $st -eq 0 ]] || { echo "build.sh: compilation failed" >&2; exit 1; }
}

rt_objs=()
for src in "$here"/rt/start.S "$here"/rt/rt.c "$here"/rt/gic.c; do
	obj="$out/obj/rt-$(basename -- "${src%.*}").o"
	spawn "$CC" "${gflags[@]}" -c -o "$obj" "$src"
	rt_objs+=("$obj")
done
# The driver: a static aarch64 Linux program (no shared libraries needed in the rig).
spawn "$CC" -std=gnu11 -O2 -g -Wall -Wextra -Werror -static -pthread \
	-I"$root/include" -I"$libhyp/include" -I"$here" \
	-o "$out/driver" "$here/driver.c" "$here/lht-device.c" "$libhyp_a"
spawn "$CC" -std=gnu11 -O2 -Wall -Wextra -Werror -static -o "$out/runall" "$here/runall.c"
wait_jobs

build_guest() { # source, name, directory
	"$CC" "${gflags[@]}" "${lflags[@]}" -o "$out/obj/$2.elf" "$1" "${rt_objs[@]}" &&
		"$OBJCOPY" -O binary "$out/obj/$2.elf" "$out/$3/$2.bin"
}
# No image of a guest that no longer exists may stay behind: the driver runs every *.bin.
rm -f -- "$out"/guests/*.bin
n=0
for src in "$here"/cases/*.c; do
	spawn build_guest "$src" "$(basename -- "${src%.c}")" guests
	n=$((n + 1))
done
# The benchmark guests, apart: they are no conformance tests (tests/bench/run-kvm-bench.sh runs
# them).
for src in "$here"/bench/*.c; do
	spawn build_guest "$src" "$(basename -- "${src%.c}")" bench
done
wait_jobs

mv -- "$out/.build-started" "$stamp"
echo "build.sh: $n guests in $out/guests, driver $out/driver"
