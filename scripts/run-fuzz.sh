#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Run libhyp's libFuzzer harnesses (tests/fuzz/) for a bounded time each.
#
#   scripts/run-fuzz.sh [--seconds N] [--out DIR] [harness...]
#
# Configures a clang build with -Dfuzz=true in DIR (default build-test/fuzz), builds it, and runs
# each harness named (default: all) for N seconds (default 30) starting from the checked-in seed
# corpus (tests/fuzz/corpus/<harness>/) plus what earlier runs in DIR found (DIR/corpus/<harness>/,
# where new inputs go; nothing is written to the source tree). Long campaigns: --seconds 3600.
#
# Prints one line per harness (executions, exec/s, coverage, result) and exits non-zero if any
# harness found something: a crash, a sanitizer report, a broken invariant, a leak, a timeout.
# The input that did it is saved in DIR-findings/ (build-test/ is not committed); reproduce with
# DIR/tests/fuzz/fuzz-<harness> <file>.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$LIBHYP_ROOT"

ALL_HARNESSES=(trap psci boot virtio stage2 fdt chan)
seconds=30
out=build-test/fuzz
harnesses=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds)
		seconds=${2:?--seconds needs a value}
		shift 2
		;;
	--out)
		out=${2:?--out needs a directory}
		shift 2
		;;
	-h | --help)
		sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*) die "unknown option $1 (see --help)" ;;
	*)
		[[ " ${ALL_HARNESSES[*]} " == *" $1 "* ]] ||
			die "unknown harness $1 (have: ${ALL_HARNESSES[*]})"
		harnesses+=("$1")
		shift
		;;
	esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "--seconds wants a positive integer, not $seconds"
[ ${#harnesses[@]} -ne 0 ] || harnesses=("${ALL_HARNESSES[@]}")

# libFuzzer is in clang's runtime package, not in clang itself.
ensure_packages "${BUILD_PACKAGES[@]}" clang libclang-rt-14-dev

mkdir -p "$out"
if [ ! -f "$out/build.ninja" ]; then
	CC=clang meson setup "$out" --werror -Dfuzz=true -Dtests=false >"$out.setup.log" 2>&1 ||
		{ cat "$out.setup.log" >&2; die "configuring $out failed"; }
fi
ninja -C "$out" >"$out.build.log" 2>&1 || { cat "$out.build.log" >&2; die "building $out failed"; }

findings="$out-findings"
mkdir -p "$findings"
failed=()
for h in "${harnesses[@]}"; do
	exe="$out/tests/fuzz/fuzz-$h"
	corpus="$out/corpus/$h"
	log="$findings/$h.log"
	mkdir -p "$corpus"
	seeds=()
	[ -d "tests/fuzz/corpus/$h" ] && seeds=("tests/fuzz/corpus/$h")
	# -timeout: one input running this long is a hang (a VMM must never hang on guest input).
	# -rss_limit_mb: a hostile config must not make the library allocate without bound.
	rc=0
	"$exe" -max_total_time="$seconds" -error_exitcode=77 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$findings/$h-" "$corpus" "${seeds[@]}" \
		>"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc; log $log)"
		failed+=("$h")
	fi
	printf 'fuzz-%-7s %10s execs %7s exec/s  %-20s %s\n' "$h" "${execs:-?}" "${rate:-?}" \
		"${cov:-cov: ?}" "$result"
	if [ "$rc" -ne 0 ]; then
		grep -E 'check failed|ERROR:|SUMMARY|Test unit written' "$log" | head -n 8 >&2 || true
	fi
done

if [ ${#failed[@]} -ne 0 ]; then
	echo "fuzzing found problems in: ${failed[*]} (inputs in $findings/)" >&2
	exit 1
fi
echo "fuzz: ${#harnesses[@]} harness(es), ${seconds} s each, no findings"
