# SPDX-License-Identifier: MIT
# Shared by the README's two commands: dependency installation and logging helpers.
# Sourced, not executed.

LIBHYP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

step() {
	printf '\n==> %s\n' "$*" >&2
}

die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run: $*"
	fi
}

# Install the Debian packages named that are not installed yet. Runs apt-get update at most once
# per invocation, and only when something is missing, so a warm machine needs no network.
APT_UPDATED=0
ensure_packages() {
	local missing=()
	local pkg
	for pkg in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	# Packages for arm64 (name:arm64) need the architecture enabled, and fresh package lists.
	if [[ " ${missing[*]}" == *":arm64"* ]] &&
		! dpkg --print-foreign-architectures | grep -qx arm64; then
		as_root dpkg --add-architecture arm64
		APT_UPDATED=0
	fi
	step "Installing Debian packages: ${missing[*]}"
	if [ "$APT_UPDATED" -eq 0 ]; then
		as_root apt-get update -qq || die "apt-get update failed"
		APT_UPDATED=1
	fi
	as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install failed for: ${missing[*]}"
}

# What building and unit-testing libhyp needs on the host. libc6-dev explicitly: gcc only
# recommends it (clang happens to pull it in, which once hid its absence from this list).
BUILD_PACKAGES=(meson ninja-build gcc libc6-dev pkg-config python3 binutils libcmocka-dev libfdt-dev
	device-tree-compiler)
