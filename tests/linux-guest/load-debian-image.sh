#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Run the loader's Debian-kernel test (tests/unit/test-boot.c, test_debian_kernel) on the real
# Debian arm64 kernel Image: fetched (and cached) the way the KVM rig fetches it, so the test runs
# on a fresh machine too instead of depending on what some earlier command left in a cache.
#
#   load-debian-image.sh TEST-BOOT-EXECUTABLE OUTDIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ $# -eq 2 ]] || { echo "usage: $0 TEST-BOOT-EXECUTABLE OUTDIR" >&2; exit 2; }
test_boot=$1
out=$2
mkdir -p "$out"
# Progress goes to stderr: stdout is the test's TAP stream.
kit=$(bash "$root/tests/kvm-host/run-in-arm64-host.sh" --print-kit "$out/kit" 2>"$out/kit.log") ||
	{ cat "$out/kit.log" >&2; echo "Bail out! could not fetch the Debian arm64 kernel"; exit 1; }
image=$(sed -n 's/^image=//p' <<<"$kit")
[[ -f $image ]] || { echo "Bail out! the kit has no kernel Image"; exit 1; }
echo "# Debian arm64 kernel: $image"
HYP_TEST_DEBIAN_IMAGE=$image exec "$test_boot"
