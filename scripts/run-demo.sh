#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The README's main command: boot a real Linux guest under libhyp and show its console.
#
# hyp-run (examples/hyp-run), a VMM built on libhyp's kvm backend, boots the Debian arm64 kernel
# with 2 vCPUs, a PL011 console and a virtio-blk disk. On an arm64 host with /dev/kvm that happens
# natively; anywhere else inside the arm64 KVM test host (Debian's arm64 kernel under
# qemu-system-aarch64 with virtualization=on, tests/kvm-host/). The guest's /init prints a marker,
# the CPU count and a file from the disk, then powers off through PSCI SYSTEM_OFF.
#
# Installs what it needs with apt-get on Debian 12 (the arm64 kernel package is downloaded once
# and cached in ~/.cache/libhyp); safe to re-run.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$LIBHYP_ROOT"
exec bash tests/linux-guest/boot-linux.sh --out build-demo/linux-guest "$@"
