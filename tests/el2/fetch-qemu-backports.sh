#!/usr/bin/env bash
# fetch-qemu-backports.sh: print the directory of a newer qemu-system-aarch64, Debian's
# qemu-system-arm from bookworm-backports (QEMU 10), unpacked into the cache: the el2 suite runs
# on it too (tests/el2/run-el2.sh with that directory first in PATH), for a -cpu max with what
# QEMU 7.2's lacks (FEAT_WFxT, FEAT_ECV, a 1 GHz counter, ...).
#
# The package comes through private apt lists under the cache; the machine's sources and its
# installed QEMU are left alone. Its shared libraries are bookworm's (qemu-system-arm 7.2's
# dependencies cover them); a missing one fails here, with ldd's list.
#
# Environment: LIBHYP_CACHE_DIR, LIBHYP_DEBIAN_MIRROR (default http://deb.debian.org/debian).
# Exit status: 0 (the directory on stdout), 1 otherwise (why on stderr).
set -euo pipefail

PROG=fetch-qemu-backports
CACHE_DIR=${LIBHYP_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/libhyp}
SUITE=bookworm-backports
LISTS=$CACHE_DIR/apt/$SUITE-host
ARCH=$(dpkg --print-architecture)
APT=(-o "Dir::State::Lists=$LISTS/lists" -o "Dir::Etc::sourcelist=$LISTS/sources.list"
	-o "Dir::Etc::sourceparts=$LISTS/sources.list.d" -o Dir::Cache::pkgcache=
	-o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root)

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

mkdir -p -- "$LISTS/lists/partial" "$LISTS/sources.list.d"
printf 'deb [arch=%s] %s %s main\n' "$ARCH" "${LIBHYP_DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
	"$SUITE" >"$LISTS/sources.list"

version() {
	apt-cache "${APT[@]}" show --no-all-versions "qemu-system-arm/$SUITE" 2>/dev/null |
		awk '/^Version:/ { print $2; exit }'
}

# The lists once a day at most: a cached unpack needs no network at all.
ver=
if [[ -z $(find "$LISTS/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null) ]]; then
	apt-get "${APT[@]}" -q update >/dev/null 2>&1 || log "apt-get update of the $SUITE lists failed"
fi
ver=$(version)
if [[ -z $ver ]]; then
	# Offline with an older unpack: use it.
	cached=$(find "$CACHE_DIR/qemu-backports" -maxdepth 1 -mindepth 1 -type d 2>/dev/null | sort | tail -n 1)
	[[ -n $cached && -x $cached/usr/bin/qemu-system-aarch64 ]] ||
		die "no qemu-system-arm in $SUITE (lists in $LISTS) and nothing cached"
	dest=$cached
else
	dest=$CACHE_DIR/qemu-backports/${ver//[:~]/_}
	if [[ ! -x $dest/usr/bin/qemu-system-aarch64 ]]; then
		stage=$(mktemp -d "${TMPDIR:-/tmp}/libhyp-qemu.XXXXXX")
		trap 'rm -rf -- "$stage"' EXIT
		log "downloading qemu-system-arm $ver from $SUITE"
		(cd "$stage" && apt-get "${APT[@]}" -q download "qemu-system-arm=$ver" >/dev/null 2>&1) ||
			die "apt-get download qemu-system-arm=$ver failed"
		dpkg-deb -x "$stage"/qemu-system-arm_*.deb "$stage/root" || die "dpkg-deb -x failed"
		mkdir -p -- "$(dirname -- "$dest")"
		rm -rf -- "$dest"
		mv -- "$stage/root" "$dest"
	fi
fi
if ! "$dest/usr/bin/qemu-system-aarch64" --version >/dev/null 2>&1; then
	ldd "$dest/usr/bin/qemu-system-aarch64" | grep 'not found' >&2 || true
	die "$dest/usr/bin/qemu-system-aarch64 does not run"
fi
log "$("$dest/usr/bin/qemu-system-aarch64" --version | head -n 1)"
echo "$dest/usr/bin"
