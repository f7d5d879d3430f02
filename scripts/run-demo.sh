#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The README's main command: build libhyp and run a guest under it, showing the guest console.
#
# Today the guest is the scripted one in examples/mock-vmm.c on the mock backend (the KVM backend
# and the Linux boot kit replace it with a real Debian kernel). Installs what it needs with
# apt-get on Debian 12; safe to re-run.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$LIBHYP_ROOT"

ensure_packages "${BUILD_PACKAGES[@]}"

build=build-demo
step "Configuring and building libhyp ($build)"
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=debugoptimized >/dev/null
fi
ninja -C "$build" >/dev/null

step "Running the sample VMM (examples/mock-vmm.c) on the mock backend"
"$build/examples/mock-vmm"
