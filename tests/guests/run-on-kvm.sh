#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-on-kvm.sh: build the conformance guests and the driver, run them on the kvm backend.
#
#   run-on-kvm.sh [--out DIR] [--timeout SECS] [--icount] [--vm] [--strict] [--raw]
#                 [-- DRIVER-ARG...]
#
# Runs the driver inside tests/kvm-host/run-in-arm64-host.sh: nested KVM under
# qemu-system-aarch64 on any machine, or natively on an arm64 host with /dev/kvm.
# The driver's TAP goes to stdout; the rig's own progress and the kernel console go to
# stderr (--raw: everything to stdout, unfiltered).
#
#   --out DIR       build directory (kept; default: a temporary one, removed afterwards)
#   --timeout SECS  the rig's limit for the whole driver run (default 300)
#   --icount        deterministic QEMU timing (see the rig's --icount)
#   --vm            boot the QEMU rig even on an arm64 host with /dev/kvm (the rig's --vm)
#   --strict        no --known-defect for the driver: known defects fail (see below)
#   DRIVER-ARG      passed to the driver before the guest images, e.g. --verbose, or
#                   --timeout SECS (the per-guest watchdog)
#
# When it boots the QEMU rig, and unless --strict, the driver gets --known-defect for the rig
# platform's two known defects, so the checks that depend on them report TODO (visible, counted,
# not failing). Both are the platform's, not libhyp's; natively nothing is excused:
#   iss-sse         QEMU 7.2's TCG reports ESR_EL2.ISS.SSE = 0 for sign-extending loads, so the
#                   nested KVM zero-extends LDRSB/LDRSH/LDRSW from MMIO: LDRSB of 0x80 gives
#                   0x80 (reproduced without libhyp, with a raw /dev/kvm program)
#   nested-vtimer   Linux 6.1 KVM nested under QEMU 7.2 TCG: about one suite run in ten, a vCPU
#                   blocked in WFI is never woken by its virtual timer's interrupt (KVM's
#                   in-kernel timer and vGIC; libhyp only runs the vCPU). The timer guest
#                   arms the physical timer as a backstop, so this fails its check, not the run.
#   kvm-esr-upper   Linux 6.1 KVM (the rig's kernel): the external abort KVM_SET_VCPU_EVENTS
#                   injects has ESR_EL1[63:32] all ones (seen: 0xffffffff96000010)
#
# Exit status: the driver's (0 all passed, 1 something failed), 2 usage, 99 the rig failed.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$here/../.." && pwd)
rig=$root/tests/kvm-host/run-in-arm64-host.sh

out=
timeout=300
raw=0
strict=0
force_vm=0
rig_args=()
driver_args=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--out) [[ $# -ge 2 ]] || { echo "run-on-kvm.sh: --out needs a directory" >&2; exit 2; }
		out=$2; shift 2 ;;
	--timeout) [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { echo "run-on-kvm.sh: --timeout needs seconds" >&2; exit 2; }
		timeout=$2; shift 2 ;;
	--icount) rig_args+=(--icount); shift ;;
	--vm) rig_args+=(--vm); force_vm=1; shift ;;
	--raw) raw=1; shift ;;
	--strict) strict=1; shift ;;
	-h | --help) sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	--) shift; driver_args=("$@"); break ;;
	*) echo "run-on-kvm.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
	esac
done

if [[ -z $out ]]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/libhyp-guests.XXXXXX")
	trap 'rm -rf -- "$out"' EXIT
fi

t0=$(date +%s.%N)
bash "$here/build.sh" "$out" >&2
guests=("$out"/guests/*.bin)
[[ -e ${guests[0]} ]] || { echo "run-on-kvm.sh: no guests built" >&2; exit 99; }

# The rig runs natively on an arm64 host with a usable /dev/kvm unless --vm (the rig's own
# test); otherwise it boots QEMU, whose platform has the known defects.
defects=()
if [[ $strict -eq 0 ]] &&
	! [[ $force_vm -eq 0 && $(uname -m) == aarch64 && -r /dev/kvm && -w /dev/kvm ]]; then
	defects=(--known-defect iss-sse --known-defect kvm-esr-upper --known-defect nested-vtimer
		--known-defect kvm-vgic)
fi
cmd=(bash "$rig" --timeout "$timeout" "${rig_args[@]}" --wrap "$out/driver" --backend kvm
	"${defects[@]}" "${driver_args[@]}" "${guests[@]}")
set +e
if [[ $raw -eq 1 ]]; then
	"${cmd[@]}"
	st=$?
else
	# The driver's output is what the rig prints between its "KVM-HOST: begin" and
	# "KVM-HOST: end" lines; the serial console may add carriage returns.
	"${cmd[@]}" 2>&1 | tr -d '\r' | awk '
		/^KVM-HOST: end /   { inside = 0 }
		inside              { print; fflush(); next }
		/^KVM-HOST: begin / { inside = 1 }
		{ print > "/dev/stderr"; fflush("/dev/stderr") }'
	st=${PIPESTATUS[0]}
fi
set -e
printf 'run-on-kvm.sh: exit status %d after %.1f s\n' "$st" \
	"$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" >&2
exit "$st"
