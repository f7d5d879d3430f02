#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The kvm suite: builds libhyp, the kvm backend tests (tests/kvm/test-kvm-backend) and the
# conformance guests with their driver (tests/guests, sharing that libhyp build) for aarch64
# Linux, boots the arm64 KVM test host once (tests/kvm-host/run-in-arm64-host.sh: the Debian
# arm64 kernel under qemu-system-aarch64 with virtualization=on, or natively on an arm64 host
# with /dev/kvm), runs both programs there against real KVM and prints one TAP stream with every
# result, renumbered; everything else the boot prints becomes TAP comments.
#
#   run-kvm-tests.sh [--host-kernel SUITE] [BUILD_DIR]
#
# --host-kernel picks the test host's Debian kernel (the rig's option: bookworm = 6.1, the
# default, or bookworm-backports = 6.12); the kvm suite runs once per kernel (meson tests 'kvm' and
# 'kvm-6.12'), sharing BUILD_DIR's programs. The first TAP comment names the host kernel, and the
# driver prints the VM's capabilities (KVM-CAPS lines) so the runs on the two kernels can be
# compared capability by capability (scripts/kvm-caps-diff.py).
#
# The rig gives arguments to one program per boot, so tests/guests/runall runs the two in turn.
# Each program's stream is checked as a whole too: a missing or wrong plan, a non-zero exit
# status without a failing test point, or a program that never finished is a failing test point.
#
# Under the QEMU rig (not natively) the conformance driver gets --known-defect iss-sse,
# kvm-esr-upper and nested-vtimer: the rig platform's own defects (QEMU 7.2 TCG, Linux 6.1 KVM; see
# tests/guests/run-on-kvm.sh --help), reported as TODO, which does not count as a failure.
#
# meson runs it as the 'kvm' suite (protocol tap). Exit status: 0 all passed, 1 a failure, 77
# (meson's "skipped") only when qemu-system-aarch64 is missing and cannot be installed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
host_kernel=()
if [[ ${1:-} == --host-kernel ]]; then
	[[ $# -ge 2 ]] || { echo "Bail out! --host-kernel needs a suite"; exit 1; }
	host_kernel=(--host-kernel "$2")
	shift 2
fi
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
	# The conformance guests, their driver and runall, against the same libhyp build.
	bash "$root/tests/guests/build.sh" --libhyp "$out/libhyp" "$out/conformance"
} >"$log" 2>&1 || {
	cat "$log" >&2
	bail "building the kvm test programs failed (see $log)"
}

# The rig runs the programs natively on an arm64 host with a usable /dev/kvm (its own test);
# otherwise it boots QEMU, whose platform has the known defects.
hk=${host_kernel[1]:-${LIBHYP_KVM_HOST_KERNEL:-bookworm}}
case $hk in
6.1) hk=bookworm ;;
6.12 | backports) hk=bookworm-backports ;;
esac
defects=()
if ! [[ $(uname -m) == aarch64 && -r /dev/kvm && -w /dev/kvm ]]; then
	defects=(--known-defect iss-sse --known-defect nested-vtimer --known-defect kvm-vgic)
	# Linux 6.1's: 6.12 injects the external abort with ESR_EL1[63:32] clear (checked strictly).
	[[ $hk == bookworm-backports ]] || defects+=(--known-defect kvm-esr-upper)
fi
echo "# host kernel: $hk (the rig's --host-kernel)"
caps_file=$out/caps-$hk.txt
rm -f -- "$caps_file"
conf=$out/conformance

# One boot runs every program; their TAP streams are merged into one, renumbered, with the rig's
# own lines as comments.
bash "$root/tests/kvm-host/run-in-arm64-host.sh" "${host_kernel[@]}" --timeout 300 --file "$conf/guests" \
	--wrap "$conf/runall" \
	"$out/test-kvm-backend" "$out/backend-guests.bin" \
	--then "$conf/driver" --backend kvm "${defects[@]}" "$conf/guests" 2>&1 |
	awk -v programs=2 -v capsfile="$caps_file" '
	function point(ok, desc) {
		n++
		print (ok ? "ok " : "not ok ") n " - " desc
		if (!ok) failed++
	}
	# runall (tests/guests/runall.c) frames each program.
	/^RUNALL: begin / {
		print "# " $0
		prog = $4
		sub(/.*\//, "", prog)
		running = 1
		began++
		points = 0
		plan = ""
		prog_failed = 0
		next
	}
	/^RUNALL: end / {
		print "# " $0
		status = $0
		sub(/.*: exit status /, "", status)
		sub(/[^0-9].*/, "", status)
		if (plan == "")
			point(0, prog ": no TAP plan (it stopped early)")
		else if (plan + 0 != points)
			point(0, prog ": TAP plan 1.." plan " but " points " test points")
		if (status != 0 && !prog_failed)
			point(0, prog ": exit status " status " without a failing test point")
		running = 0
		ended++
		next
	}
	/^(ok|not ok)( |$)/ {
		n++
		points++
		st = ($1 == "ok") ? "ok" : "not ok"
		sub(/^(ok|not ok) *[0-9]* */, "")
		print st " " n " " $0
		if (st == "not ok" && $0 !~ /# *TODO/) {
			failed++
			prog_failed = 1
		}
		next
	}
	/^1\.\.[0-9]+/ {
		plan = $0
		sub(/^1\.\./, "", plan)
		sub(/[^0-9].*/, "", plan)
		next
	}
	/^TAP version/ { next }
	/^Bail out!/ {
		point(0, prog ": " $0)
		prog_failed = 1
		next
	}
	/^KVM-HOST-RESULT:/ { result = $0 }
	/^KVM-HOST: kernel / { kernel = $3 }
	# The capabilities of one VM (the smccc guest, 1 vCPU), for the comparison between kernels.
	/^# smccc: backend kvm, caps:/ { caps = $0; sub(/.*caps: */, "", caps) }
	/^# KVM-CAPS:/ { kcaps = $0; sub(/.*KVM-CAPS: */, "", kcaps) }
	/^#/ { print; next }
	{ print "# " $0 }
	END {
		if (running)
			point(0, prog ": did not finish (killed, or the rig timed out)")
		if (result == "") {
			point(0, "the arm64 KVM host produced no result (crashed or hung)")
		} else {
			if (began != programs || ended != programs)
				point(0, sprintf("the arm64 KVM host ran %d of %d programs (%d began)",
						 ended, programs, began))
			split(result, f, " ")
			if (f[2] + 0 > 0 && !failed)
				point(0, "the arm64 KVM host reports a failure nothing else explains: " \
				      result)
		}
		print "1.." n
		if (caps != "")
			print "kernel=" kernel " " caps " " kcaps > capsfile
		exit failed ? 1 : 0
	}'
st=$?

# Capability by capability, this kernel against the other one's last run (BUILD_DIR/caps-*.txt).
other=
for f in "$out"/caps-*.txt; do
	[[ -f $f && $f != "$caps_file" ]] && other=$f
done
if [[ -f $caps_file && -n $other ]]; then
	awk 'FNR == 1 { file++ }
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[file, kv[1]] = kv[2]; if (file == 1) names[++n] = kv[1] } }
	END {
		printf "# capabilities (libhyp: a 1-vCPU VM; KVM_*: KVM_CHECK_EXTENSION), host kernel %s vs %s:\n", v[1, "kernel"], v[2, "kernel"]
		for (i = 2; i <= n; i++)
			printf "#   %-34s %-6s %-6s%s\n", names[i], v[1, names[i]], v[2, names[i]],
			       v[1, names[i]] == v[2, names[i]] ? "" : "  <- differs"
	}' "$other" "$caps_file"
fi
exit "$st"
