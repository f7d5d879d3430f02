# SPDX-License-Identifier: MIT
#
# Steps shared by the scripts that boot the Debian arm64 kernel under hyp-run in the arm64 KVM
# test host (tests/linux-guest/boot-linux.sh, tests/firmware/boot-u-boot.sh). Sourced after
# scripts/common.sh, with $root (the source tree), $out (an absolute output directory) and $cross
# (the aarch64 toolchain prefix) set.

# Install what the steps below need.
guest_kit_packages() {
	ensure_packages "${BUILD_PACKAGES[@]}" gcc-aarch64-linux-gnu libc6-dev-arm64-cross cpio \
		e2fsprogs libfdt1:arm64
}

# Build libhyp (static) and hyp-run for aarch64 Linux in $out/arm64.
guest_kit_build_hyp_run() {
	step "Building libhyp and hyp-run for aarch64 Linux"
	if [[ ! -f $out/arm64/build.ninja ]]; then
		meson setup "$out/arm64" "$root" --cross-file "$root/cross/aarch64-linux-gnu.ini" \
			-Dtests=false -Ddefault_library=static -Dkvm=enabled >"$out/setup.log" 2>&1 ||
			{ cat "$out/setup.log" >&2; die "meson setup failed"; }
	fi
	ninja -C "$out/arm64" examples/hyp-run >/dev/null
}

# Fetch the Debian arm64 kernel and the modules the guest's /init loads (cached), plus any module
# named as an argument (e.g. virtio_console); sets $guest_image (the kernel Image) and $guest_kit
# (the kit description: module=... lines).
guest_kit_fetch() {
	local m extra=()
	for m in "$@"; do
		extra+=(--module "$m")
	done
	step "Fetching the Debian arm64 kernel and the guest's modules (cached)"
	guest_kit=$(bash "$root/tests/kvm-host/run-in-arm64-host.sh" --print-kit "$out/kit" \
		--module virtio_mmio --module virtio_blk --module crc32c_generic --module ext4 \
		"${extra[@]}")
	guest_image=$(sed -n 's/^image=//p' <<<"$guest_kit")
	[[ -f $guest_image ]] || die "no kernel image"
}

# Write the guest's initramfs to $1: /init (the C program $2, static; default
# tests/linux-guest/guest-init.c) and the modules of $guest_kit with their load order.
guest_kit_initramfs() {
	local cpio=$1 init_source=${2:-$root/tests/linux-guest/guest-init.c}
	rm -rf "$out/initramfs"
	mkdir -p "$out/initramfs"/{dev,proc,sys,mnt,modules}
	"$cross-gcc" -static -O2 -Wall -Wextra -Werror -o "$out/initramfs/init" "$init_source"
	: >"$out/initramfs/modules/order"
	while IFS= read -r m; do
		cp -- "$m" "$out/initramfs/modules/"
		basename -- "$m" >>"$out/initramfs/modules/order"
	done < <(sed -n 's/^module=//p' <<<"$guest_kit")
	(cd "$out/initramfs" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$cpio"
}

# One TAP point: ok if the console log $log holds the fixed string $2 (description $1). Counts in
# $n and $failed, which the caller initialises.
expect() {
	n=$((n + 1))
	if grep -qF -- "$2" "$log"; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1 (no '$2' in the console)"
		failed=$((failed + 1))
	fi
}
