#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The README's test command: every test libhyp has, in the configurations CI checks.
#
#   1. formatting (clang-format, .clang-format)
#   2. native gcc build, warnings as errors, every meson suite: unit (the ABI guard among them),
#      bindings (the Python binding's unittest suite, the Rust crate's cargo test --offline), and
#      kvm (the KVM backend on real KVM inside the arm64 KVM test host, tests/kvm-host/, once on
#      Debian's 6.1 kernel and once on 6.12 from bookworm-backports, with their capabilities
#      compared; the Linux boot test on both too)
#   3. the unit suites under AddressSanitizer + UndefinedBehaviorSanitizer
#   4. the lifecycle soak (tests/soak/: 10,000 create/map/run/destroy cycles with PL011, PL031,
#      virtio-blk and virtio-console on the mock backend) under LeakSanitizer: zero leaks
#   5. the unit suites (the destroy-vs-run and kick-vs-destroy tests among them) and the soak
#      under ThreadSanitizer (clang; a build of its own, as TSan and ASan cannot share a process)
#   6. clang build, warnings as errors, unit suites
#   7. the libFuzzer suite (tests/fuzz/, scripts/run-fuzz.sh): seven harnesses, 20 s each, from the
#      checked-in seed corpora; any crash, sanitizer report or broken invariant fails the stage
#   8. static builds: -Ddefault_library=static and LDFLAGS=-static each link hyp-run with the
#      archive (the second fully static)
#   9. install to a staging directory and build a VMM against it: pkg-config with libhyp.so and
#      with --static (libhyp.a), meson's dependency('libhyp'), libhyp as a meson subproject
#      (tests/consumers/)
#  10. cross builds, warnings as errors: aarch64 Linux userspace and freestanding bare metal;
#      then the el2 suite again on QEMU 10 (qemu-system-arm from bookworm-backports,
#      tests/el2/fetch-qemu-backports.sh): a newer -cpu max (FEAT_WFxT, FEAT_ECV, a 1 GHz
#      counter), the conformance guests and Linux in a partition
#  11. the benchmarks (print figures): kvm MMIO round trip vs raw KVM_RUN; linux-bench (hyp-run's
#      boot, RSS, stage-2 faults, disk requests and VM creation beside kvmtool's figures);
#      HVC/MMIO round trips, SPI/SGI/virtual timer paths on el2 and kvm side by side; el2's idle
#      proof (a check); the kvm guest benchmark again on the 6.12 kernel, where an HVC reaches
#      the VMM's handler
#  12. the fresh-machine check (scripts/check-fresh-machine.sh): the README's two commands, as
#      written, in a minimal Debian 12 root made with debootstrap (skipped, and said so, only when
#      this command is itself running inside that root)
#
# Where the fresh-machine check can run (as root, in a git checkout), this command runs nothing
# on the machine itself: it runs the check on the work tree as it is (--worktree --stream), so the
# stages above run exactly once, inside a minimal Debian 12 root, after the demo has run in a root
# of its own. Running every stage here and then again in the root cost twice the time for no
# more coverage: the root has less than any machine. LIBHYP_TESTS_HERE=1 runs the stages on this
# machine instead (what the root itself does, and the fallback when the root cannot be made).
#
# Installs what it needs with apt-get on Debian 12. Exits non-zero if anything fails; the meson
# summaries show the pass/fail counts.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$LIBHYP_ROOT"

if [[ -z ${LIBHYP_TESTS_HERE:-} && ! -e /etc/libhyp-fresh-machine-check && $(id -u) -eq 0 ]] &&
	command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
	step "Every stage inside a minimal Debian 12 root (the fresh-machine check); LIBHYP_TESTS_HERE=1 runs them on this machine"
	rc=0
	bash scripts/check-fresh-machine.sh --worktree --stream --out "$LIBHYP_ROOT/build-test/fresh-machine" ||
		rc=$?
	[[ $rc -eq 3 ]] || exit "$rc"
	echo "the fresh root could not be made: running the stages on this machine instead" >&2
	LIBHYP_TESTS_HERE="the fresh root could not be made"
fi

# libfdt1:arm64, not libfdt-dev:arm64: the -dev package is not Multi-Arch: same and would replace
# the native one. The cross build links the arm64 runtime library with the native headers.
ensure_packages "${BUILD_PACKAGES[@]}" clang libclang-rt-14-dev clang-format gcc-aarch64-linux-gnu \
	libc6-dev-arm64-cross libfdt1:arm64 qemu-system-arm file python3-pip python3-setuptools \
	python3-wheel cargo

out=build-test
mkdir -p "$out"
failures=()
stages=0

stage() {
	stages=$((stages + 1))
	step "$@"
}

setup() { # dir, meson args...
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" --werror "$@" >"$dir.setup.log" 2>&1 ||
			{ cat "$dir.setup.log" >&2; return 1; }
	fi
}

# The names of the tests that did not pass in DIR's last `meson test` run, comma-separated: a
# failed stage names them in the closing summary, which is all a truncated CI log may keep.
failed_tests() { # dir
	python3 - "$1/meson-logs/testlog.json" <<-'EOF'
		import json, sys
		names = []
		try:
		    with open(sys.argv[1]) as log:
		        for line in log:
		            test = json.loads(line)
		            if test.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL"):
		                names.append(test.get("name", "?"))
		except (OSError, ValueError):
		    pass
		print(", ".join(names))
	EOF
}

suite() { # name, dir, "meson test" args, meson setup args...
	local name=$1 dir=$2 test_args=$3
	shift 3
	stage "$name"
	# The build's output only when it fails (a missing sanitizer runtime used to fail silently).
	# shellcheck disable=SC2086 # test_args is a word list
	if setup "$dir" "$@" &&
		{ ninja -C "$dir" >"$dir.build.log" 2>&1 || { tail -n 40 "$dir.build.log" >&2; false; }; } &&
		meson test -C "$dir" --print-errorlogs $test_args; then
		return 0
	fi
	local failed
	failed=$(failed_tests "$dir")
	failures+=("$name${failed:+ (failed tests: $failed)}")
}

stage "Formatting (clang-format --dry-run --Werror)"
mapfile -t sources < <(git ls-files '*.c' '*.h' 2>/dev/null || find lib include tests examples -name '*.[ch]')
if ! clang-format --dry-run --Werror "${sources[@]}"; then
	failures+=("formatting")
fi

suite "Native build (gcc): unit, kvm (real KVM, nested arm64 host), integration (Linux boot), el2 (firmware at EL2 under QEMU)" \
	"$out/gcc" ""

# The bindings' tests exist only where their tools were found at setup: never let them go
# missing silently.
for t in python-binding rust-binding abi-description api-reference-html; do
	if ! meson test -C "$out/gcc" --list 2>/dev/null | grep "/ $t\$" >/dev/null; then
		echo "missing test: $t (a tool not found when $out/gcc was configured?)" >&2
		failures+=("missing test $t")
	fi
done

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
suite "Unit suites under AddressSanitizer + UBSan" "$out/asan" "--suite unit" \
	-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
	-Dc_args=-fno-sanitize-recover=all
# Same build: LeakSanitizer reports at exit, and the soak checks its allocator's count per cycle.
suite "Lifecycle soak under LeakSanitizer (10,000 cycles, 4 devices, 2 vCPUs)" "$out/asan" \
	"--suite soak"
grep -h '^# .* per cycle' "$out/asan/meson-logs/testlog.txt" 2>/dev/null || true

# A data race is a failure (exit status 66). The meson option b_lundef must be off: clang links
# the TSan runtime into executables only, so libhyp.so has undefined __tsan_* hooks.
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
CC=clang suite "Unit suites and the soak under ThreadSanitizer" "$out/tsan" \
	"--suite unit --suite soak" -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug

CC=clang suite "Native build (clang): unit suites" "$out/clang" "--suite unit"

# Six harnesses x 20 s plus the instrumented build: about 2.5 min on 2 cores. Longer campaigns:
# scripts/run-fuzz.sh --seconds 3600.
stage "Fuzzing (libFuzzer + ASan + UBSan): trap, psci, boot, virtio, stage2, fdt, 20 s each"
if ! bash scripts/run-fuzz.sh --seconds 20 --out "$out/fuzz" 2>&1 | tee "$out/fuzz.log"; then
	# run-fuzz.sh's closing line names the harnesses that found something.
	failures+=("fuzzing ($(grep -o 'found problems in: .*' "$out/fuzz.log" || echo 'see the log'))")
fi

stage "Static builds: -Ddefault_library=static, and LDFLAGS=-static (a fully static hyp-run)"
# No unit tests here (Debian has no static CMocka); what matters is what hyp-run links.
if setup "$out/static-lib" -Ddefault_library=static -Dtests=false &&
	ninja -C "$out/static-lib" examples/hyp-run >/dev/null &&
	! ldd "$out/static-lib/examples/hyp-run" | grep -q libhyp &&
	LDFLAGS=-static setup "$out/static-link" -Dtests=false &&
	ninja -C "$out/static-link" examples/hyp-run >/dev/null &&
	file -L "$out/static-link/examples/hyp-run" | grep -q 'statically linked' &&
	"$out/static-link/examples/hyp-run" --help >/dev/null; then
	echo "ok: hyp-run links libhyp.a; with LDFLAGS=-static it is statically linked and runs"
else
	failures+=("static builds")
fi

stage "Installed-library consumers: pkg-config (shared and --static), meson dependency('libhyp'), meson subproject"
# tests/consumers/: meson install --destdir, then a small VMM built against the staged library each
# way a user would, run on the mock backend.
if ! bash tests/consumers/run-consumers.sh "$out/gcc" "$out/consumers"; then
	failures+=("installed-library consumers")
fi

stage "Cross build: aarch64 Linux userspace"
if ! { setup "$out/arm64" --cross-file cross/aarch64-linux-gnu.ini -Dtests=false &&
	ninja -C "$out/arm64" >/dev/null; }; then
	failures+=("cross aarch64-linux-gnu")
elif kind=$(file -bL "$out/arm64/lib/libhyp.so.0") && [[ $kind == *"ARM aarch64"* ]]; then
	echo "ok: $(cut -d, -f1-2 <<<"$kind")"
	for lib in "$out/arm64/lib/libhyp.so.0" "$out/arm64/lib/libhyp.a"; do
		python3 tests/check-exports.py "$lib" lib/libhyp.map --with-mock \
			--nm aarch64-linux-gnu-nm || failures+=("aarch64 exported symbols: ${lib##*/}")
	done
	# abi/libhyp.abi was written on the build machine: the aarch64 compiler must lay out every
	# public struct, enum and constant the same way (compile-time assertions).
	if python3 scripts/abi.py asserts abi/libhyp.abi >"$out/abi-asserts.c" &&
		aarch64-linux-gnu-gcc -std=c11 -fsyntax-only -Iinclude "$out/abi-asserts.c"; then
		echo "ok: aarch64 layouts match abi/libhyp.abi ($(grep -c _Static_assert "$out/abi-asserts.c") assertions)"
	else
		failures+=("aarch64 ABI layouts")
	fi
else
	echo "libhyp.so.0 is not an aarch64 shared object: ${kind:-?}" >&2
	failures+=("cross aarch64-linux-gnu: not an aarch64 binary")
fi

stage "Cross build: freestanding bare-metal aarch64 (EL2 firmware)"
if ! { setup "$out/bare" --cross-file cross/aarch64-baremetal.ini &&
	ninja -C "$out/bare" >/dev/null; }; then
	failures+=("cross bare metal")
else
	# The archive may only need what EL2 firmware provides: its own hyp symbols plus the
	# small string set documented in lib/common/hyp_string.h.
	undefined=$(aarch64-linux-gnu-nm -u "$out/bare/lib/libhyp.a" | awk 'NF==2 {print $2}' |
		grep -v '^hyp_' | sort -u | tr '\n' ' ')
	if [ "$undefined" != "memcmp memcpy memmove memset strcmp " ]; then
		echo "bare-metal archive needs unexpected symbols: $undefined" >&2
		failures+=("bare-metal symbol set")
	else
		echo "ok: libhyp.a needs only: $undefined"
	fi
	# What firmware links must offer no internal names: only the public API is global.
	python3 tests/check-exports.py "$out/bare/lib/libhyp.a" lib/libhyp.map --with-mock \
		--nm aarch64-linux-gnu-nm || failures+=("bare-metal exported symbols")
fi

stage "el2 on QEMU 10 (bookworm-backports): the conformance guests and Linux in a partition on a newer -cpu max (FEAT_WFxT, FEAT_ECV, 1 GHz counter)"
# The TAP goes to a log; the summary lines here, and what failed if anything did.
el2_on_qemu10() { # label, run-el2.sh args...
	local label=$1
	shift
	if PATH=$qemu10:$PATH bash tests/el2/run-el2.sh --out "$out/$label" "$@" >"$out/$label.log" 2>&1; then
		grep -E '^# run-el2.sh:' "$out/$label.log" || true
	else
		grep -E '^not ok|^Bail out|^# run-el2.sh:' "$out/$label.log" | tail -n 20 || true
		failures+=("$label (see $out/$label.log)")
	fi
}
if qemu10=$(bash tests/el2/fetch-qemu-backports.sh); then
	el2_on_qemu10 el2-qemu10
	# And Linux in a partition beside the bare-metal peer. It stalled at times here until the
	# firmware stopped feeding Linux's console before Linux had spoken: Linux's virtio_console
	# races itself when input arrives while it fills its receive queue (channel.c, pump()).
	el2_on_qemu10 el2-qemu10-linux --linux
else
	failures+=("QEMU 10 from bookworm-backports could not be fetched")
fi

stage "Benchmark (figures, not pass/fail): MMIO round trip, libhyp vs raw KVM_RUN; the exit and interrupt benchmark guests on kvm; hyp-run boot, RSS, stage-2 faults, disk requests and VM creation beside kvmtool (linux-bench), -icount"
if ! bash tests/bench/run-kvm-bench.sh "$out/bench" | tee "$out/bench.log" |
	grep -E '^# |^linux-bench:|^run-in-arm64-host: (PASS|FAIL)'; then
	failures+=("kvm benchmark could not measure")
fi
stage "Benchmark (figures): the kvm exit benchmark on the 6.12 host kernel (HVC to a registered handler through the SMCCC filter)"
if ! LIBHYP_KVM_HOST_KERNEL=bookworm-backports LIBHYP_BENCH_NO_LINUX=1 \
	bash tests/bench/run-kvm-bench.sh "$out/bench" 1 |
	tee "$out/bench-6.12.log" | grep -E '^# |^run-in-arm64-host: (PASS|FAIL)'; then
	failures+=("kvm benchmark on 6.12 could not measure")
fi
stage "Benchmark (figures; the idle proof is a check): el2 backend exits, SPI/SGI/timer, idle CPU, -icount"
if ! bash tests/el2/run-el2.sh --icount --out "$out/el2-bench" | tee "$out/el2-bench.log" |
	grep -iE 'instructions|idle'; then
	failures+=("el2 benchmark could not measure")
fi
stage "Benchmark (figures): Linux in an el2 partition beside a bare-metal one, -icount"
if ! bash tests/el2/run-el2.sh --linux --icount --out "$out/el2-linux-bench" |
	tee "$out/el2-linux-bench.log" | grep -E '^# linux-el2'; then
	failures+=("el2 Linux benchmark could not measure")
fi
# Both backends' figures side by side (the same guests; tests/bench/bench-table.py).
python3 tests/bench/bench-table.py "$out/bench.log" "$out/el2-bench.log" \
	"kvm-6.12=$out/bench-6.12.log" "el2-linux=$out/el2-linux-bench.log" || true

stage "Fresh-machine check: the README's two commands in a minimal Debian 12 root (debootstrap)"
if [ -e /etc/libhyp-fresh-machine-check ]; then
	# Not a pass: this stage is not counted.
	stages=$((stages - 1))
	echo "not run here: this is the fresh-machine check's own root (the outer run checks it)"
elif [[ -n ${LIBHYP_TESTS_HERE:-} ]]; then
	stages=$((stages - 1))
	echo "not run: the stages ran on this machine only (LIBHYP_TESTS_HERE: $LIBHYP_TESTS_HERE)"
elif ! bash scripts/check-fresh-machine.sh --out "$LIBHYP_ROOT/$out/fresh-machine"; then
	failures+=("fresh-machine check")
fi

echo
echo "stages: $((stages - ${#failures[@]})) passed, ${#failures[@]} failed"
if [ ${#failures[@]} -ne 0 ]; then
	printf 'FAILED: %s\n' "${failures[@]}" >&2
	exit 1
fi
echo "All test stages passed."
