#!/usr/bin/env bash
# run-in-arm64-host.sh: run aarch64 Linux test binaries on a real arm64 KVM host, on any machine.
#
# The binaries are packed into an initramfs with a small /init (init.c) and booted
# on the Debian arm64 kernel inside qemu-system-aarch64 -M virt,virtualization=on
# -cpu max, so /dev/kvm works inside (nested KVM, VHE).  The serial console is
# streamed to stdout; the exit status says whether every test passed.
# On an arm64 host with a usable /dev/kvm the binaries run natively instead
# (unless --vm is given).
#
# Usage:
#   run-in-arm64-host.sh [OPTIONS] [BINARY...] [-- FILE...]
#   run-in-arm64-host.sh [OPTIONS] --wrap BINARY [ARG...]
#   run-in-arm64-host.sh --prepare
#
#   BINARY...       aarch64 Linux executables (static, or dynamic against the
#                   aarch64-linux-gnu cross libc: the loader and the libraries it
#                   needs are copied in).  Each runs once, without arguments, in
#                   the order given.  No BINARY at all means --smoke.
#   -- FILE...      extra files or directories to put in the initramfs.  FILE lands
#                   at its own absolute host path; FILE=GUESTPATH puts it elsewhere.
#                   (--file FILE does the same and also works with --wrap.)
#   --wrap BINARY [ARG...]
#                   run one binary with arguments (meson exe_wrapper / test
#                   wrapper mode).  Arguments naming existing host files are
#                   copied in at their absolute paths.
#
#   Inside the guest, binaries and files keep their absolute host paths and the
#   tests run in a directory with the same path as the caller's working directory,
#   so relative paths keep working.
#
# Options:
#   --timeout SECS        per-test timeout inside the guest (default 300)
#   --total-timeout SECS  kill QEMU after this long (default 120 + the per-test
#                         timeouts added up)
#   --icount              deterministic QEMU (-icount shift=0,sleep=off: 1 insn =
#                         1 ns, CNTVCT tick = 16 insns); tests see
#                         LIBHYP_KVM_HOST_ICOUNT=1
#   --smoke               also build and run tests/kvm-host/kvm-smoke.c
#   --file FILE[=GUESTPATH]  extra file or directory (as after --)
#   --env NAME[=VALUE]    set NAME in the tests' environment (no VALUE: take the
#                         caller's).  Forwarded anyway: MALLOC_PERTURB_, *SAN_OPTIONS,
#                         CMOCKA_MESSAGE_OUTPUT, LIBHYP_* (not the rig's own)
#   --module NAME         also load kernel module NAME (and what it depends on)
#   --smp N, --mem MIB    guest CPUs (default 2) and memory (default 1024)
#   --cpu MODEL           QEMU -cpu (default max,pauth-impdef=on: the same features
#                         as max, but pointer authentication is 3x cheaper to emulate)
#   --no-mte              no memory tagging: without it the machine is -M virt,...,mte=on,
#                         so the host kernel has MTE and its KVM offers it to guests
#                         (KVM_CAP_ARM_MTE; QEMU 7.2 emulates it with virtualization=on)
#   --append ARGS         extra kernel command line
#   --kernel IMAGE        boot this arm64 Image instead of Debian's (no modules)
#   --host-kernel SUITE   which Debian arm64 kernel to boot (and --print-kit hands out):
#                         bookworm (alias 6.1; the default) is linux-image-arm64:arm64 from
#                         the machine's own apt lists; bookworm-backports (alias 6.12) is
#                         the same package from bookworm-backports, looked up in private
#                         apt lists under the cache (the machine's apt sources are never
#                         changed). Default: $LIBHYP_KVM_HOST_KERNEL, else bookworm
#   --log FILE            also write the console output to FILE
#   --vm                  boot the VM even on an arm64 host with /dev/kvm
#   --no-install          never run apt-get/dpkg; fail if something is missing
#   --keep                keep the work directory (initramfs, console log)
#   --print-kit DIR       fetch the kernel, copy each --module and its dependencies
#                         (uncompressed) into DIR, and print "image=PATH" and then
#                         "module=PATH" per module in load order: the pieces to boot the
#                         same kernel as a guest one level further down. Nothing is booted.
#   --prepare             install, fetch and build everything, then exit (warms
#                         the cache; nothing is booted)
#   -h, --help            this text
#
# Exit status: 0 all tests passed; 1 a test failed (or a module did not load);
#   2 usage error; 99 the rig failed (no result line: the guest crashed, hung
#   or QEMU could not start; setup failed).
#
# Console protocol, printed by /init: "KVM-HOST: ..." progress lines, each test's
#   own output verbatim, then exactly one "KVM-HOST-RESULT: <n_failed> failed,
#   <n_passed> passed" line before power-off.
#
# Cache: ${LIBHYP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/libhyp}: kernel/<package>_<version>/
#   holds the .deb, the Image, the config (and modules when needed); build/ holds
#   /init and kvm-smoke keyed by source hash.  A warm run downloads nothing.
#
# Dependencies (installed with apt when missing, as root or with sudo -n):
#   dpkg architecture arm64, qemu-system-arm, cpio, gcc-aarch64-linux-gnu,
#   libc6-dev-arm64-cross; the kernel is linux-image-arm64:arm64's dependency.
#
# Meson: test('kvm-smoke', find_program('tests/kvm-host/run-in-arm64-host.sh'),
#          args: [exe], timeout: 600)
#   or in a cross file: exe_wrapper = ['/abs/path/run-in-arm64-host.sh', '--wrap']
#   (meson's default 30 s test timeout is too short for a boot: raise it).
#
# Environment: LIBHYP_CACHE_DIR, LIBHYP_KVM_HOST_KERNEL (see --host-kernel),
#   LIBHYP_DEBIAN_MIRROR (the archive the private lists of --host-kernel bookworm-backports come
#   from; default http://deb.debian.org/debian), AARCH64_CC (default aarch64-linux-gnu-gcc), TMPDIR.
set -euo pipefail

PROG=run-in-arm64-host
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${LIBHYP_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/libhyp}
CC_AARCH64=${AARCH64_CC:-aarch64-linux-gnu-gcc}
CFLAGS_AARCH64=(-static -O2 -Wall -Wextra)
SYSROOT_LIBDIRS=(/usr/aarch64-linux-gnu/lib /usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu)

EXIT_FAIL=1
EXIT_USAGE=2
EXIT_RIG=99

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit "$EXIT_RIG"; }
usage_error() {
	printf '%s: %s (see --help)\n' "$PROG" "$*" >&2
	exit "$EXIT_USAGE"
}
show_help() { sed -n '2,/^set -euo pipefail$/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- arguments
per_test_timeout=300
total_timeout=
icount=0
smoke=0
wrap=0
smp=2
mem=1024
cpu=max,pauth-impdef=on
mte=1
append=
kernel_override=
host_kernel=${LIBHYP_KVM_HOST_KERNEL:-bookworm}
console_copy=
force_vm=0
no_install=0
keep=0
prepare=0
print_kit=0
kit_dir=
binaries=()
wrap_args=()
extra_files=()
env_args=()
extra_modules=()

need_arg() { [[ $# -ge 2 ]] || usage_error "option $1 needs an argument"; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while [[ $# -gt 0 ]]; do
	case $1 in
	--timeout) need_arg "$@"; is_uint "$2" || usage_error "--timeout: not a number: $2"
		per_test_timeout=$2; shift 2 ;;
	--total-timeout) need_arg "$@"; is_uint "$2" || usage_error "--total-timeout: not a number: $2"
		total_timeout=$2; shift 2 ;;
	--icount) icount=1; shift ;;
	--smoke) smoke=1; shift ;;
	--env) need_arg "$@"; env_args+=("$2"); shift 2 ;;
	--file) need_arg "$@"; extra_files+=("$2"); shift 2 ;;
	--module) need_arg "$@"; extra_modules+=("$2"); shift 2 ;;
	--cpu) need_arg "$@"; cpu=$2; shift 2 ;;
	--no-mte) mte=0; shift ;;
	--smp) need_arg "$@"; if ! is_uint "$2" || [[ $2 -lt 1 ]]; then usage_error "--smp: bad count: $2"; fi
		smp=$2; shift 2 ;;
	--mem) need_arg "$@"; if ! is_uint "$2" || [[ $2 -lt 128 ]]; then usage_error "--mem: bad size (MiB): $2"; fi
		mem=$2; shift 2 ;;
	--append) need_arg "$@"; append="$append $2"; shift 2 ;;
	--kernel) need_arg "$@"; kernel_override=$2; shift 2 ;;
	--host-kernel) need_arg "$@"; host_kernel=$2; shift 2 ;;
	--log) need_arg "$@"; console_copy=$2; shift 2 ;;
	--vm) force_vm=1; shift ;;
	--no-install) no_install=1; shift ;;
	--keep) keep=1; shift ;;
	--prepare) prepare=1; shift ;;
	--print-kit) need_arg "$@"; print_kit=1; kit_dir=$2; prepare=1; shift 2 ;;
	-h | --help) show_help; exit 0 ;;
	--wrap)
		shift
		[[ $# -ge 1 ]] || usage_error "--wrap needs a binary"
		wrap=1
		binaries+=("$1")
		shift
		wrap_args=("$@")
		break ;;
	--) shift; extra_files+=("$@"); break ;;
	-*) usage_error "unknown option: $1" ;;
	*) binaries+=("$1"); shift ;;
	esac
done

if [[ $prepare -eq 0 && ${#binaries[@]} -eq 0 ]]; then
	smoke=1
fi

# The kernel's suite. bookworm: the machine's own apt lists. bookworm-backports: private lists in
# the cache (APT_K), so the download needs no change to the machine's sources.
APT_K=()
KLISTS_DIR=
case $host_kernel in
bookworm | 6.1) host_kernel=bookworm ;;
bookworm-backports | backports | 6.12)
	host_kernel=bookworm-backports
	KLISTS_DIR=$CACHE_DIR/apt/$host_kernel
	APT_K=(-o "Dir::State::Lists=$KLISTS_DIR/lists" -o "Dir::Etc::sourcelist=$KLISTS_DIR/sources.list"
		-o "Dir::Etc::sourceparts=$KLISTS_DIR/sources.list.d" -o Dir::Cache::pkgcache=
		-o Dir::Cache::srcpkgcache=) ;;
*) usage_error "--host-kernel: unknown suite: $host_kernel (bookworm, bookworm-backports)" ;;
esac

# ---------------------------------------------------------------- work dir
work=$(mktemp -d "${TMPDIR:-/tmp}/libhyp-kvm-host.XXXXXX")
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local st=$?
	[[ -z ${fetch_stage:-} ]] || rm -rf -- "$fetch_stage"
	if [[ $keep -eq 1 ]]; then
		log "work directory kept: $work"
	else
		rm -rf -- "$work"
	fi
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a command quietly; on failure show what it printed.
quiet() {
	if ! "$@" >"$work/cmd.log" 2>&1; then
		cat "$work/cmd.log" >&2
		return 1
	fi
}

# ---------------------------------------------------------------- native mode?
native=0
if [[ $(uname -m) == aarch64 && $force_vm -eq 0 && -r /dev/kvm && -w /dev/kvm ]]; then
	native=1
	[[ "$(command -v "$CC_AARCH64" || true)" ]] || CC_AARCH64=${AARCH64_CC:-cc}
fi

# ---------------------------------------------------------------- dependencies
SUDO=()
# shellcheck disable=SC2317 # invoked through quiet
as_root() { "${SUDO[@]}" "$@"; }
APT_GET=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0)

pkg_installed() {
	[[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

apt_updated=0
apt_update() {
	log "apt-get update (package lists)"
	quiet as_root "${APT_GET[@]}" update || die "apt-get update failed"
	apt_updated=1
	[[ -n $KLISTS_DIR ]] || klists_updated=1
}

# The kernel's package lists: the machine's (bookworm), or the private ones of another suite,
# which only ever hold that suite's arm64 packages.
klists_updated=0
kernel_lists_update() {
	if [[ -z $KLISTS_DIR ]]; then
		apt_update
		klists_updated=1
		return 0
	fi
	log "apt-get update of the private $host_kernel lists ($KLISTS_DIR)"
	mkdir -p -- "$KLISTS_DIR/lists/partial" "$KLISTS_DIR/sources.list.d"
	printf 'deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
		"${LIBHYP_DEBIAN_MIRROR:-http://deb.debian.org/debian}" "$host_kernel" >"$KLISTS_DIR/sources.list"
	local upd=("${APT_GET[@]}" "${APT_K[@]}")
	[[ $EUID -ne 0 ]] || upd+=(-o APT::Sandbox::User=root) # _apt cannot write into ~/.cache
	klists_updated=1
	quiet "${upd[@]}" update || { log "apt-get update of the $host_kernel lists failed"; return 1; }
}

# The kernel package is whatever linux-image-arm64:arm64 depends on, e.g.
# "Depends: linux-image-6.1.0-56-arm64 (= 6.1.192-2)".  One apt-cache call (they
# are slow where apt keeps no binary cache); sets KDEP_PKG and KDEP_VER.
KDEP_PKG=
KDEP_VER=
kernel_dep_query() {
	local info dep
	KDEP_PKG=
	KDEP_VER=
	info=$(apt-cache "${APT_K[@]}" show --no-all-versions linux-image-arm64:arm64 2>/dev/null || true)
	dep=$(printf '%s\n' "$info" | sed -n 's/^Depends: //p' | head -n 1 | tr ',' '\n' |
		sed -n 's/^ *\(linux-image-[^ :]*-arm64\)\(:arm64\)\{0,1\}\( *(= *\([^)]*\))\)\{0,1\} *$/\1 \4/p' | head -n 1)
	[[ -n $dep ]] || return 1
	read -r KDEP_PKG KDEP_VER <<<"$dep"
	if [[ -z $KDEP_VER ]]; then
		KDEP_VER=$(apt-cache "${APT_K[@]}" show --no-all-versions "$KDEP_PKG:arm64" 2>/dev/null |
			sed -n 's/^Version: //p' | head -n 1 || true)
	fi
	[[ -n $KDEP_VER ]]
}

ensure_deps() {
	local pkgs=() missing=() p need_update=0
	if [[ $native -eq 1 ]]; then
		[[ $smoke -eq 1 ]] || return 0
		command -v "$CC_AARCH64" >/dev/null || pkgs+=(gcc libc6-dev)
	else
		pkgs=(qemu-system-arm cpio gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
	fi
	for p in "${pkgs[@]}"; do
		pkg_installed "$p" || missing+=("$p")
	done
	local want_arm64=0
	if [[ $native -eq 0 && -z $kernel_override ]]; then
		want_arm64=1
	fi
	local add_arch=0
	if [[ $want_arm64 -eq 1 && $(dpkg --print-architecture) != arm64 ]] &&
		! dpkg --print-foreign-architectures | grep -qx arm64; then
		add_arch=1
		need_update=1
	fi
	if [[ $want_arm64 -eq 1 && $need_update -eq 0 && -z $KLISTS_DIR ]] && ! kernel_dep_query; then
		need_update=1
	fi
	if [[ ${#missing[@]} -eq 0 && $need_update -eq 0 ]]; then
		ensure_private_lists "$want_arm64"
		return 0
	fi

	local can_install=1
	if [[ $no_install -eq 1 ]]; then
		can_install=0
	elif [[ $EUID -ne 0 ]]; then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
			SUDO=(sudo -n)
		else
			can_install=0
		fi
	fi
	if [[ $can_install -eq 0 ]]; then
		local why="--no-install given"
		[[ $no_install -eq 1 ]] || why="not root and no passwordless sudo"
		[[ ${#missing[@]} -eq 0 ]] || die "missing packages: ${missing[*]} ($why)"
		[[ $add_arch -eq 0 ]] || die "dpkg architecture arm64 is not added ($why)"
		log "warning: apt knows no linux-image-arm64:arm64 and cannot run apt-get update ($why)"
		return 0 # ensure_kernel falls back to the cache
	fi
	if [[ $add_arch -eq 1 ]]; then
		log "dpkg --add-architecture arm64"
		quiet as_root dpkg --add-architecture arm64 || die "dpkg --add-architecture arm64 failed"
	fi
	if [[ $need_update -eq 1 ]]; then
		apt_update
		[[ $want_arm64 -eq 0 || -n $KLISTS_DIR ]] || kernel_dep_query ||
			die "apt-cache knows no linux-image-arm64:arm64 even after apt-get update"
	fi
	ensure_private_lists "$want_arm64"
	if [[ ${#missing[@]} -gt 0 ]]; then
		log "installing ${missing[*]}"
		if ! quiet as_root "${APT_GET[@]}" install --no-install-recommends "${missing[@]}"; then
			[[ $apt_updated -eq 0 ]] || die "apt-get install ${missing[*]} failed"
			apt_update
			quiet as_root "${APT_GET[@]}" install --no-install-recommends "${missing[@]}" ||
				die "apt-get install ${missing[*]} failed"
		fi
	fi
}

# A suite with private lists: fetch them when they are missing or do not know the kernel.
ensure_private_lists() {
	[[ $1 -eq 1 && -n $KLISTS_DIR ]] || return 0
	kernel_dep_query && return 0
	# Offline with the kernel cached: ensure_kernel() falls back to the cache.
	kernel_lists_update && kernel_dep_query ||
		log "warning: the $host_kernel lists know no linux-image-arm64:arm64"
}

# Install one extra tool on demand (decompressors for other kernel flavours).
need_tool() {
	local tool=$1 pkg=$2
	command -v "$tool" >/dev/null && return 0
	[[ $no_install -eq 0 ]] || die "$tool missing (package $pkg; --no-install given)"
	log "installing $pkg (for $tool)"
	quiet as_root "${APT_GET[@]}" install --no-install-recommends "$pkg" || die "apt-get install $pkg failed"
}

# ---------------------------------------------------------------- kernel
# Outputs of ensure_kernel:
KERNEL_IMAGE=
KERNEL_DIR=
KERNEL_RELEASE=
KVM_CONFIG=

hex_at() { od -An -tx1 -v -j "$2" -N "$3" -- "$1" | tr -d ' \n'; }
le32_at() { od -An -tu4 -j "$2" -N 4 -- "$1" | tr -d ' \n'; }

decompress_cmd() {
	case $1 in
	gzip) need_tool gzip gzip; echo "gzip -dc" ;;
	xz | xzkern) need_tool xz xz-utils; echo "xz -dc" ;;
	lzma) need_tool xz xz-utils; echo "xz -dc --format=lzma" ;;
	zstd | zstd22) need_tool zstd zstd; echo "zstd -dcq" ;;
	bzip2) need_tool bzip2 bzip2; echo "bzip2 -dc" ;;
	lz4) need_tool lz4 lz4; echo "lz4 -dc" ;;
	lzo) need_tool lzop lzop; echo "lzop -dc" ;;
	*) die "unknown compression '$1'" ;;
	esac
}

# Turn whatever /boot/vmlinuz-* is into a raw arm64 Image ("ARM\x64" at 0x38).
make_image() {
	local src=$1 dst=$2
	if [[ $(hex_at "$src" 56 4) == 41524d64 ]]; then
		log "vmlinuz is an uncompressed arm64 Image (EFI stub header)"
		cp -- "$src" "$dst"
	elif [[ $(hex_at "$src" 0 2) == 1f8b ]]; then
		log "vmlinuz is gzip-compressed: decompressing"
		gzip -dc -- "$src" >"$dst"
	elif [[ $(hex_at "$src" 0 2) == 4d5a && $(hex_at "$src" 4 4) == 7a696d67 ]]; then
		local off size type cmd
		off=$(le32_at "$src" 8)
		size=$(le32_at "$src" 12)
		type=$(dd if="$src" bs=1 skip=24 count=32 status=none | tr -d '\0')
		log "vmlinuz is an EFI zboot image ($type): decompressing"
		cmd=$(decompress_cmd "$type")
		tail -c +"$((off + 1))" -- "$src" | head -c "$size" | $cmd >"$dst"
	else
		die "unrecognised kernel image format: $src"
	fi
	[[ $(hex_at "$dst" 56 4) == 41524d64 ]] || die "$dst is not an arm64 Image (no ARM\\x64 magic)"
}

pkg_version_key() { printf '%s_%s' "$1" "${2//:/%3a}"; }

# Download and unpack one kernel package into $3.  Returns 1 if apt-get download
# fails (stale package lists); dies on anything else.
fetch_stage=
fetch_kernel() { # $1 = package, $2 = version, $3 = final dir
	local pkg=$1 ver=$2 dir=$3 deb vmlinuz t0 rel
	mkdir -p -- "$CACHE_DIR/kernel"
	fetch_stage=$(mktemp -d "$CACHE_DIR/kernel/.stage.XXXXXX")
	t0=$(now)
	log "downloading $pkg:arm64 $ver (about 60 MB)"
	local dl=(apt-get "${APT_K[@]}" download -q=2)
	[[ $EUID -ne 0 ]] || dl+=(-o APT::Sandbox::User=root) # else _apt cannot write into ~/.cache
	if ! (cd -- "$fetch_stage" && quiet "${dl[@]}" "$pkg:arm64=$ver"); then
		rm -rf -- "$fetch_stage"
		fetch_stage=
		return 1
	fi
	deb=$(find "$fetch_stage" -maxdepth 1 -name '*.deb' -print -quit)
	[[ -n $deb ]] || die "apt-get download produced no .deb"
	mv -- "$deb" "$fetch_stage/kernel.deb"
	log "downloaded in $(elapsed "$t0") s; extracting /boot"
	mkdir -p -- "$fetch_stage/x"
	dpkg-deb --fsys-tarfile "$fetch_stage/kernel.deb" | tar -x -C "$fetch_stage/x" --wildcards './boot/*' ||
		die "cannot extract /boot from $pkg"
	vmlinuz=$(find "$fetch_stage/x/boot" -name 'vmlinuz-*' -print -quit)
	[[ -n $vmlinuz ]] || die "no /boot/vmlinuz-* in $pkg"
	rel=${vmlinuz##*/vmlinuz-}
	make_image "$vmlinuz" "$fetch_stage/Image"
	cp -- "$fetch_stage/x/boot/config-$rel" "$fetch_stage/config" 2>/dev/null || : >"$fetch_stage/config"
	printf '%s\n' "$rel" >"$fetch_stage/release"
	rm -rf -- "$fetch_stage/x"
	: >"$fetch_stage/.complete"
	rm -rf -- "$dir"
	mv -- "$fetch_stage" "$dir"
	fetch_stage=
}

# The module tree is only unpacked when a module has to be loaded.
ensure_module_tree() {
	[[ -f $KERNEL_DIR/modules/.complete ]] && return 0
	log "extracting kernel modules from the package"
	rm -rf -- "$KERNEL_DIR/modules.stage"
	mkdir -p -- "$KERNEL_DIR/modules.stage"
	dpkg-deb --fsys-tarfile "$KERNEL_DIR/kernel.deb" |
		tar -x -C "$KERNEL_DIR/modules.stage" --wildcards './lib/modules/*' './usr/lib/modules/*' 2>/dev/null || true
	local tree
	tree=$(find "$KERNEL_DIR/modules.stage" -maxdepth 4 -type d -path "*/modules/$KERNEL_RELEASE" -print -quit)
	[[ -n $tree ]] || die "no modules for $KERNEL_RELEASE in the kernel package"
	rm -rf -- "$KERNEL_DIR/modules"
	mv -- "$tree" "$KERNEL_DIR/modules"
	rm -rf -- "$KERNEL_DIR/modules.stage"
	: >"$KERNEL_DIR/modules/.complete"
}

ensure_kernel() {
	if [[ -n $kernel_override ]]; then
		[[ -f $kernel_override ]] || die "--kernel: no such file: $kernel_override"
		KERNEL_IMAGE="$work/Image"
		make_image "$kernel_override" "$KERNEL_IMAGE"
		KVM_CONFIG=unknown
		return 0
	fi
	local pkg ver dir
	[[ -n $KDEP_PKG ]] || kernel_dep_query || true
	pkg=$KDEP_PKG
	ver=$KDEP_VER
	if [[ -z $pkg || -z $ver ]]; then
		# No usable package lists: fall back to the newest complete cached kernel of the
		# suite (backports versions carry "~bpo").
		local bpo=(-v)
		[[ -z $KLISTS_DIR ]] || bpo=()
		dir=$(find "$CACHE_DIR/kernel" -mindepth 2 -maxdepth 2 -name .complete -printf '%h\n' 2>/dev/null |
			grep "${bpo[@]}" -e '~bpo' | sort -V | tail -n 1 || true)
		[[ -n $dir ]] || die "cannot find the linux-image-arm64:arm64 dependency ($host_kernel) with apt-cache, and nothing is cached"
		log "warning: apt-cache does not know linux-image-arm64:arm64 ($host_kernel); using cached ${dir##*/}"
	else
		dir="$CACHE_DIR/kernel/$(pkg_version_key "$pkg" "$ver")"
		if [[ ! -f $dir/.complete ]]; then
			mkdir -p -- "$CACHE_DIR"
			exec 9>"$CACHE_DIR/.lock" # parallel runs (meson) download once
			flock 9
			if [[ ! -f $dir/.complete ]] && ! fetch_kernel "$pkg" "$ver" "$dir"; then
				# The lists may name a version the archive no longer has.
				if [[ $no_install -eq 1 || $klists_updated -eq 1 ]] ||
					[[ $EUID -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
					cat -- "$work/cmd.log" >&2 || true
					die "apt-get download $pkg:arm64=$ver failed"
				fi
				log "download failed; refreshing the package lists"
				kernel_lists_update || die "cannot refresh the $host_kernel package lists"
				kernel_dep_query || die "apt-cache knows no linux-image-arm64:arm64 ($host_kernel) after apt-get update"
				pkg=$KDEP_PKG
				ver=$KDEP_VER
				dir="$CACHE_DIR/kernel/$(pkg_version_key "$pkg" "$ver")"
				if [[ ! -f $dir/.complete ]] && ! fetch_kernel "$pkg" "$ver" "$dir"; then
					cat -- "$work/cmd.log" >&2 || true
					die "apt-get download $pkg:arm64=$ver failed"
				fi
			fi
			flock -u 9
			exec 9>&-
		fi
	fi
	KERNEL_DIR=$dir
	KERNEL_IMAGE=$dir/Image
	KERNEL_RELEASE=$(cat -- "$dir/release")
	KVM_CONFIG=$(sed -n 's/^CONFIG_KVM=\(.\)$/\1/p' "$dir/config")
	[[ -n $KVM_CONFIG ]] || KVM_CONFIG=unknown
}

# ---------------------------------------------------------------- modules
declare -A MOD_INDEX=()
declare -A MOD_DONE=()
MOD_ORDER=()

module_index() {
	local f n
	while IFS= read -r -d '' f; do
		n=${f##*/}
		n=${n%%.ko*}
		MOD_INDEX[${n//-/_}]=$f
	done < <(find "$KERNEL_DIR/modules" -name '*.ko*' -print0)
}

# Uncompressed copy of a module in $work/mods; prints its path.
module_plain() {
	local f=$1 out
	out="$work/mods/$(basename -- "${f%%.ko*}").ko"
	mkdir -p -- "$work/mods"
	if [[ ! -f $out ]]; then
		case $f in
		*.ko) cp -- "$f" "$out" ;;
		*.ko.xz) need_tool xz xz-utils; xz -dc -- "$f" >"$out" ;;
		*.ko.zst) need_tool zstd zstd; zstd -dcq -- "$f" >"$out" ;;
		*.ko.gz) gzip -dc -- "$f" >"$out" ;;
		*) die "unknown module compression: $f" ;;
		esac
	fi
	printf '%s\n' "$out"
}

module_is_builtin() {
	local n=${1//-/_} line b
	[[ -f $KERNEL_DIR/modules/modules.builtin ]] || return 1
	while IFS= read -r line; do
		b=${line##*/}
		b=${b%.ko}
		[[ ${b//-/_} == "$n" ]] && return 0
	done <"$KERNEL_DIR/modules/modules.builtin"
	return 1
}

module_add() { # resolve dependencies first (from the .modinfo section)
	local n=${1//-/_} f plain deps d
	[[ -z ${MOD_DONE[$n]:-} ]] || return 0
	MOD_DONE[$n]=1
	if module_is_builtin "$n"; then
		return 0
	fi
	f=${MOD_INDEX[$n]:-}
	[[ -n $f ]] || die "kernel module $1 not found in $KERNEL_RELEASE"
	plain=$(module_plain "$f")
	deps=$(aarch64-linux-gnu-objcopy -O binary --only-section=.modinfo -- "$plain" /dev/stdout |
		tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1)
	local IFS=,
	for d in $deps; do
		[[ -n $d ]] && module_add "$d"
	done
	MOD_ORDER+=("$plain")
}

resolve_modules() {
	local want=("${extra_modules[@]}")
	if [[ $KVM_CONFIG == m ]]; then
		want=(kvm "${want[@]}")
	fi
	[[ ${#want[@]} -gt 0 ]] || return 0
	[[ -n $KERNEL_DIR ]] || die "--module needs the Debian kernel (not --kernel)"
	ensure_module_tree
	module_index
	local m
	for m in "${want[@]}"; do
		module_add "$m"
	done
}

# ---------------------------------------------------------------- builds
# build_cached NAME SOURCE: static aarch64 build, cached by source+compiler hash.
build_cached() {
	local name=$1 src=$2 key out
	command -v "$CC_AARCH64" >/dev/null || die "compiler $CC_AARCH64 not found"
	key=$( { cat -- "$src"; "$CC_AARCH64" --version | head -n 1; printf '%s\n' "${CFLAGS_AARCH64[@]}"; } |
		sha256sum | cut -c1-16)
	out="$CACHE_DIR/build/$name-$key"
	if [[ ! -x $out ]]; then
		mkdir -p -- "$CACHE_DIR/build"
		log "building $name"
		"$CC_AARCH64" "${CFLAGS_AARCH64[@]}" -o "$out.tmp.$$" "$src" || die "build of $src failed"
		mv -f -- "$out.tmp.$$" "$out"
	fi
	printf '%s\n' "$out"
}

# ---------------------------------------------------------------- initramfs
abspath() {
	local p=$1
	[[ $p == /* ]] || p="$PWD/$p"
	realpath -s -m -- "$p"
}

is_aarch64_elf() {
	[[ $(hex_at "$1" 0 4) == 7f454c46 && $(hex_at "$1" 18 2) == b700 ]]
}

ROOT=
stage_file() { # host path, guest path, [mode]
	local src=$1 dst=$2
	[[ $dst == /* ]] || die "guest path must be absolute: $dst"
	mkdir -p -- "$ROOT$(dirname -- "$dst")"
	if [[ -d $src ]]; then
		mkdir -p -- "$ROOT$dst"
		cp -rL -- "$src/." "$ROOT$dst/"
	else
		cp -L -- "$src" "$ROOT$dst"
		[[ -z ${3:-} ]] || chmod "$3" -- "$ROOT$dst"
	fi
}

declare -A LIB_DONE=()
GUEST_LDPATH=

# Copy the loader and NEEDED libraries of a dynamic aarch64 ELF.
stage_dynamic_deps() {
	local f=$1 interp needed runpaths origin lib d p found
	interp=$(aarch64-linux-gnu-readelf -lW -- "$f" 2>/dev/null |
		sed -n 's/.*Requesting program interpreter: \(.*\)\]$/\1/p')
	if [[ -n $interp && -z ${LIB_DONE[interp:$interp]:-} ]]; then
		LIB_DONE[interp:$interp]=1
		found=
		for d in "${SYSROOT_LIBDIRS[@]}"; do
			[[ -e $d/${interp##*/} ]] && { found=$d/${interp##*/}; break; }
		done
		[[ -n $found ]] || die "$f: loader $interp not found in ${SYSROOT_LIBDIRS[*]}"
		stage_file "$found" "$interp" 0755
	fi
	origin=$(dirname -- "$(abspath "$f")")
	runpaths=$(aarch64-linux-gnu-readelf -dW -- "$f" 2>/dev/null |
		sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]$/\2/p' | tr ':' '\n')
	runpaths=${runpaths//\$ORIGIN/$origin}
	runpaths=${runpaths//\$\{ORIGIN\}/$origin}
	needed=$(aarch64-linux-gnu-readelf -dW -- "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
	for lib in $needed; do
		[[ -z ${LIB_DONE[$lib]:-} ]] || continue
		LIB_DONE[$lib]=1
		found=
		local dirs=()
		while IFS= read -r d; do [[ -n $d ]] && dirs+=("$d"); done <<<"$runpaths"
		IFS=: read -r -a p <<<"${LD_LIBRARY_PATH:-}"
		dirs+=("${p[@]}")
		for d in "${dirs[@]}"; do
			[[ -n $d && -e $d/$lib ]] && { found=$(abspath "$d/$lib"); break; }
		done
		if [[ -n $found ]]; then
			stage_file "$found" "$found" 0755 # mirrored: RUNPATH/$ORIGIN keep working
			GUEST_LDPATH="$GUEST_LDPATH:$(dirname -- "$found")"
		else
			for d in "${SYSROOT_LIBDIRS[@]}"; do
				[[ -e $d/$lib ]] && { found=$d/$lib; break; }
			done
			[[ -n $found ]] || die "$f needs $lib, not found (RUNPATH, LD_LIBRARY_PATH, ${SYSROOT_LIBDIRS[*]})"
			stage_file "$found" "/lib/aarch64-linux-gnu/$lib" 0755
		fi
		stage_dynamic_deps "$found"
	done
}

esc() {
	local s=$1
	s=${s//%/%25}
	s=${s//$'\t'/%09}
	s=${s//$'\n'/%0A}
	s=${s//$'\r'/%0D}
	printf '%s' "$s"
}
record() { # manifest record: fields joined by TAB
	local first=1 f
	for f in "$@"; do
		[[ $first -eq 1 ]] || printf '\t'
		first=0
		esc "$f"
	done
	printf '\n'
}

# Environment for the tests, as NUL-terminated NAME=VALUE entries.
test_environment() {
	local n e
	for n in MALLOC_PERTURB_ ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS MSAN_OPTIONS CMOCKA_MESSAGE_OUTPUT \
		$(compgen -e | grep '^LIBHYP_' | grep -v -e '^LIBHYP_CACHE_DIR$' -e '^LIBHYP_KVM_HOST' || true); do
		if [[ -n ${!n+x} ]]; then printf '%s=%s\0' "$n" "${!n}"; fi
	done
	for e in "${env_args[@]}"; do
		if [[ $e == *=* ]]; then
			printf '%s\0' "$e"
		elif [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*$ && -n ${!e+x} ]]; then
			printf '%s=%s\0' "$e" "${!e}"
		fi
	done
	if [[ $icount -eq 1 ]]; then printf 'LIBHYP_KVM_HOST_ICOUNT=1\0'; fi
}

build_initramfs() { # $1 = init binary; tests in TESTS (absolute host paths); output $work/initramfs.cpio
	local init=$1 t f src dst m i
	ROOT="$work/root"
	mkdir -p -- "$ROOT"/{dev,proc,sys,tmp,kvm-host/modules,tests}
	stage_file "$init" /init 0755
	local manifest="$ROOT/kvm-host/manifest"
	{
		printf '# generated by %s\n' "$PROG"
		while IFS= read -r -d '' e; do record env "$e"; done < <(test_environment)
		i=0
		for m in "${MOD_ORDER[@]}"; do
			i=$((i + 1))
			dst=$(printf '/kvm-host/modules/%02d-%s' "$i" "${m##*/}")
			stage_file "$m" "$dst"
			record module "$dst"
		done
		record cwd "$GUEST_CWD"
	} >"$manifest"
	mkdir -p -- "$ROOT$GUEST_CWD"

	for t in "${TESTS[@]}"; do
		stage_file "$t" "$t" 0755
		if aarch64-linux-gnu-readelf -lW -- "$t" 2>/dev/null | grep -q 'Requesting program interpreter'; then
			stage_dynamic_deps "$t"
		fi
	done
	if [[ -n $GUEST_LDPATH ]]; then
		record env "LD_LIBRARY_PATH=${GUEST_LDPATH#:}" >>"$manifest"
	fi
	for f in "${extra_files[@]}"; do
		if [[ $f == *=* && ! -e $f ]]; then
			src=${f%%=*}
			dst=${f#*=}
		else
			src=$f
			dst=$(abspath "$f")
		fi
		[[ -e $src ]] || die "extra file not found: $src"
		stage_file "$src" "$dst"
	done
	if [[ $wrap -eq 1 ]]; then
		for f in "${wrap_args[@]}"; do
			[[ -f $f ]] || continue
			stage_file "$f" "$(abspath "$f")"
			# An aarch64 executable among the arguments (a wrapper runs it) needs its
			# loader and libraries too.
			if [[ -x $f ]] && aarch64-linux-gnu-readelf -h -- "$f" 2>/dev/null |
				grep -q 'Machine:.*AArch64'; then
				stage_dynamic_deps "$f"
			fi
		done
		record test "$per_test_timeout" "${TESTS[0]}" "${wrap_args[@]}" >>"$manifest"
	else
		for t in "${TESTS[@]}"; do
			record test "$per_test_timeout" "$t" >>"$manifest"
		done
	fi
	(cd -- "$ROOT" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet) >"$work/initramfs.cpio" || die "cpio failed"
}

# ---------------------------------------------------------------- run
run_native() {
	local t failed=0 passed=0 st e envs=()
	while IFS= read -r -d '' e; do envs+=("$e"); done < <(test_environment)
	for f in "${extra_files[@]}"; do
		[[ $f != *=* || -e $f ]] || die "FILE=GUESTPATH is not supported when running natively (use --vm)"
	done
	local i=0
	for t in "${TESTS[@]}"; do
		i=$((i + 1))
		printf 'KVM-HOST: begin %d %s (timeout %s s, native)\n' "$i" "$t" "$per_test_timeout"
		set +e
		if [[ $wrap -eq 1 ]]; then
			env "${envs[@]}" LIBHYP_KVM_HOST=1 timeout -k 5 "$per_test_timeout" "$t" "${wrap_args[@]}" </dev/null
		else
			env "${envs[@]}" LIBHYP_KVM_HOST=1 timeout -k 5 "$per_test_timeout" "$t" </dev/null
		fi
		st=$?
		set -e
		if [[ $st -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
		printf 'KVM-HOST: end %d %s: %s (exit status %d)\n' "$i" "$t" "$([[ $st -eq 0 ]] && echo PASS || echo FAIL)" "$st"
	done
	printf 'KVM-HOST-RESULT: %d failed, %d passed\n' "$failed" "$passed"
	[[ $failed -eq 0 ]] || exit "$EXIT_FAIL"
	exit 0
}

# ---------------------------------------------------------------- main
t_start=$(now)
ensure_deps

TESTS=()
for b in "${binaries[@]}"; do
	[[ -f $b ]] || usage_error "no such file: $b"
	is_aarch64_elf "$b" || usage_error "not an aarch64 ELF executable: $b"
	TESTS+=("$(abspath "$b")")
done
if [[ $smoke -eq 1 || $prepare -eq 1 ]]; then
	smoke_bin=$(build_cached kvm-smoke "$SCRIPT_DIR/kvm-smoke.c")
	[[ $smoke -eq 0 ]] || TESTS+=("$smoke_bin")
fi
GUEST_CWD=$(abspath "$PWD")

if [[ $print_kit -eq 1 ]]; then
	ensure_kernel
	[[ -n $KERNEL_DIR ]] || die "--print-kit needs the Debian kernel (not --kernel)"
	MOD_ORDER=()
	if [[ ${#extra_modules[@]} -gt 0 ]]; then
		ensure_module_tree
		module_index
		for m in "${extra_modules[@]}"; do
			module_add "$m"
		done
	fi
	mkdir -p -- "$kit_dir"
	printf 'image=%s\n' "$KERNEL_IMAGE"
	for m in "${MOD_ORDER[@]}"; do
		cp -- "$m" "$kit_dir/"
		printf 'module=%s\n' "$(abspath "$kit_dir/$(basename -- "$m")")"
	done
	exit 0
fi

if [[ $native -eq 1 ]]; then
	[[ $prepare -eq 0 ]] || { log "arm64 host with /dev/kvm: nothing to prepare"; exit 0; }
	log "arm64 host with /dev/kvm: running natively (--vm to boot the VM anyway)"
	run_native
fi

ensure_kernel
INIT=$(build_cached init "$SCRIPT_DIR/init.c")
if [[ -n $KERNEL_DIR ]]; then
	log "kernel $KERNEL_RELEASE ($(basename -- "$KERNEL_DIR"), $host_kernel), CONFIG_KVM=$KVM_CONFIG"
fi
resolve_modules

if [[ $prepare -eq 1 ]]; then
	log "prepared in $(elapsed "$t_start") s: kernel $KERNEL_IMAGE, init $INIT"
	exit 0
fi

build_initramfs "$INIT"

[[ -n $total_timeout ]] || total_timeout=$((120 + per_test_timeout * ${#TESTS[@]}))
cmdline="console=ttyAMA0 panic=-1 quiet rdinit=/init kvmhost.timeout=$per_test_timeout${append}"
# shellcheck disable=SC2054 # the commas belong to QEMU option values
machine=virt,virtualization=on,gic-version=3
[[ $mte -eq 0 ]] || machine+=,mte=on
qemu=(qemu-system-aarch64
	-M "$machine" -cpu "$cpu" -smp "$smp" -m "$mem"
	-nographic -nodefaults -serial stdio -no-reboot
	-kernel "$KERNEL_IMAGE" -initrd "$work/initramfs.cpio" -append "$cmdline")
if [[ $icount -eq 1 ]]; then
	# shellcheck disable=SC2054
	qemu+=(-icount shift=0,sleep=off)
fi

console="$work/console.log"
log "booting: ${#TESTS[@]} test(s), initramfs $(du -k "$work/initramfs.cpio" | cut -f1) KiB, timeout ${total_timeout} s$([[ $icount -eq 1 ]] && echo ', -icount shift=0,sleep=off')"
t_boot=$(now)
set +e
timeout -k 10 "$total_timeout" "${qemu[@]}" </dev/null 2>&1 | sed -u 's/\r$//' | tee -- "$console"
pipe_status=("${PIPESTATUS[@]}")
set -e
qemu_status=${pipe_status[0]}
boot_time=$(elapsed "$t_boot")
[[ -z $console_copy ]] || cp -- "$console" "$console_copy"

result=$(sed -n 's/^KVM-HOST-RESULT: \([0-9][0-9]*\) failed, \([0-9][0-9]*\) passed.*/\1 \2/p' "$console" | tail -n 1)
if [[ -z $result ]]; then
	if [[ $qemu_status -eq 124 || $qemu_status -eq 137 ]]; then
		die "no result line: timed out after ${total_timeout} s (QEMU killed)"
	fi
	die "no result line: guest crashed or QEMU failed (QEMU exit status $qemu_status) after $boot_time s"
fi
read -r n_failed n_passed <<<"$result"
if [[ $n_failed -eq 0 && $n_passed -ne ${#TESTS[@]} ]]; then
	die "the guest reports $n_passed passed but ${#TESTS[@]} test(s) were given"
fi
if [[ $n_failed -ne 0 ]]; then
	log "FAIL: $n_failed failed, $n_passed passed (boot+tests $boot_time s, total $(elapsed "$t_start") s)"
	exit "$EXIT_FAIL"
fi
log "PASS: $n_passed passed (boot+tests $boot_time s, total $(elapsed "$t_start") s)"
exit 0
