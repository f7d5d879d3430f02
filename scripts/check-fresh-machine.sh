#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The fresh-machine check: run the README's two set-up commands, exactly as the README writes
# them, on a minimal Debian 12 root that has nothing this machine happens to have.
#
#   check-fresh-machine.sh [--out DIR] [--commit REV | --worktree] [--only demo|tests] [--stream]
#                          [--rebuild-base] [--keep]
#
# What it does:
#   1. builds a minimal Debian 12 root with `debootstrap --variant=minbase` into DIR/base
#      (cached; rebuilt when older than 7 days, when the suite, mirror or this script's base recipe
#      changed, or with --rebuild-base), with the apt sources a Debian 12 installation has
#      (bookworm, bookworm-updates, bookworm-security);
#   2. reads the two commands from the first ```sh block of REV's README.md (default HEAD:
#      uncommitted changes are not part of the check; with --worktree, the work tree's files as
#      they are, tracked and untracked but not ignored, which is what the README's test command
#      checks);
#   3. runs each command in a root of its own (a copy of the base with a clean `git archive` of
#      REV, or the work tree's files, in /root/libhyp, so neither command benefits from what the
#      other installed) (chroot in private mount and PID namespaces, /proc, /sys and /dev
#      mounted, HOME=/root, an empty environment but for PATH, TERM and CI, no stdin);
#   4. prints each command's exit status and duration (with --stream, everything each command
#      prints as it prints it), and exits non-zero if either failed.
#
# Exit status: 0 both passed; 1 a command failed; 3 the root could not be made (debootstrap or
# the archive failed: nothing was checked, which the README's test command answers by running its
# stages on the machine itself).
#
# The package set always starts from debootstrap's minimal one. Only downloaded .deb files are
# kept between runs (DIR/apt-archives, bind-mounted over the root's /var/cache/apt/archives): a
# download cache decides nothing about what gets installed. The root's own ~/.cache (the Debian
# arm64 kernel) starts empty every run.
#
# The root carries /etc/libhyp-fresh-machine-check, which tells the README's test command that it
# runs inside this check and must not start the check again.
#
# Output: DIR/report.txt (a line per command), DIR/<name>.log (everything each command printed).
# A command's root is deleted after it passed and kept as DIR/root-NAME-failed after it failed
# (with --keep, the last root stays as DIR/root).
#
# Needs root (for debootstrap, chroot and mounts); installs debootstrap with apt-get.
# Environment: LIBHYP_DEBIAN_MIRROR (default http://deb.debian.org/debian),
#   LIBHYP_DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$LIBHYP_ROOT"

out=$LIBHYP_ROOT/build-test/fresh-machine
rev=HEAD
only=
rebuild_base=0
keep=0
worktree=0
stream=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--out) [[ $# -ge 2 ]] || die "--out needs a directory"; out=$(realpath -m -- "$2"); shift 2 ;;
	--commit) [[ $# -ge 2 ]] || die "--commit needs a revision"; rev=$2; shift 2 ;;
	--worktree) worktree=1; shift ;;
	--stream) stream=1; shift ;;
	--only) [[ $# -ge 2 && $2 =~ ^(demo|tests)$ ]] || die "--only takes demo or tests"
		only=$2; shift 2 ;;
	--rebuild-base) rebuild_base=1; shift ;;
	--keep) keep=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done

[[ $(id -u) -eq 0 ]] || die "the fresh-machine check needs root (debootstrap, chroot, mounts)"
[[ ! -e /etc/libhyp-fresh-machine-check ]] ||
	die "already inside a fresh-machine check root: not starting another one"
command -v git >/dev/null && git -C "$LIBHYP_ROOT" rev-parse --git-dir >/dev/null 2>&1 ||
	die "needs a git checkout (it checks a clean 'git archive' of a commit)"
commit=$(git -C "$LIBHYP_ROOT" rev-parse --verify "$rev^{commit}") || die "no such commit: $rev"

ensure_packages debootstrap

suite=bookworm
mirror=${LIBHYP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${LIBHYP_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# Bump when the way the base root is made changes, so cached roots are rebuilt.
base_recipe=1
base_key="recipe=$base_recipe suite=$suite variant=minbase mirror=$mirror security=$security_mirror"
max_base_age_days=7

base=$out/base
root=$out/root
archives=$out/apt-archives
mkdir -p "$out" "$archives/partial"
exec 9>"$out/.lock"
flock -n 9 || die "another fresh-machine check is using $out"

# Undo what a run that was killed may have left mounted (the namespace normally does it).
unmount_under() {
	local dir=$1 m
	[[ -d $dir ]] || return 0
	while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
}

# rm -rf must never walk into a mount (a bind of /dev would take the host's device nodes with it).
remove_tree() { # dir
	local dir=$1
	unmount_under "$dir"
	if awk -v d="$dir/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		die "something is still mounted under $dir: not removing it"
	fi
	rm -rf --one-file-system -- "$dir"
}

base_is_current() {
	local stamp=$base/.libhyp-base
	[[ -f $stamp ]] || return 1
	[[ $(sed -n 's/^key=//p' "$stamp") == "$base_key" ]] || return 1
	[[ -n $(find "$stamp" -mtime -"$max_base_age_days") ]]
}

unmount_under "$out"
for name in demo tests; do
	remove_tree "$root-$name-failed"
done
if [[ $rebuild_base -eq 1 ]] || ! base_is_current; then
	step "Building a minimal Debian 12 root (debootstrap --variant=minbase $suite)"
	remove_tree "$base"
	remove_tree "$base.new"
	t0=$(date +%s)
	if ! debootstrap --variant=minbase "$suite" "$base.new" "$mirror" >"$out/debootstrap.log" 2>&1; then
		tail -n 30 "$out/debootstrap.log" >&2
		echo "error: debootstrap failed (log: $out/debootstrap.log)" >&2
		exit 3
	fi
	cat >"$base.new/etc/apt/sources.list" <<-EOF
		deb $mirror $suite main
		deb $mirror $suite-updates main
		deb $security_mirror $suite-security main
	EOF
	# debootstrap's own download cache is not part of a fresh machine.
	rm -f "$base.new"/var/cache/apt/archives/*.deb
	printf 'key=%s\nbuilt=%s\n' "$base_key" "$(date -u +%FT%TZ)" >"$base.new/.libhyp-base"
	mv "$base.new" "$base"
	echo "base root built in $(($(date +%s) - t0)) s" >&2
fi

# The README's two commands: the first two command lines of its first ```sh block, comments
# stripped, exactly as a reader would paste them.
mapfile -t commands < <(awk '
	/^```sh$/ && !seen { inblock = 1; seen = 1; next }
	inblock && /^```/ { exit }
	inblock { sub(/[ \t]+#.*$/, ""); if ($0 != "") print }
' < <(if [[ $worktree -eq 1 ]]; then cat "$LIBHYP_ROOT/README.md"; else
	git -C "$LIBHYP_ROOT" show "$commit:README.md"; fi))
[[ ${#commands[@]} -eq 2 ]] ||
	die "README.md must start with a \`\`\`sh block of exactly two commands (found ${#commands[@]})"
names=(demo tests)
if [[ $worktree -eq 0 && -n $(git -C "$LIBHYP_ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	echo "note: the work tree has uncommitted changes; they are not part of this check" >&2
fi

# A fresh root for one command: a copy of the base and a clean git archive of the commit. Each
# command gets its own, so neither can rely on what the other installed.
prepare_root() {
	remove_tree "$root"
	cp -a "$base" "$root"
	rm -f "$root/.libhyp-base"
	touch "$root/etc/libhyp-fresh-machine-check"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	mkdir -p "$root/root/libhyp"
	if [[ $worktree -eq 1 ]]; then
		# What git would commit now: tracked files as they are, untracked ones unless ignored
		# (build directories, caches). A tracked file deleted in the work tree is left out.
		(cd "$LIBHYP_ROOT" && git ls-files -z --cached --others --exclude-standard |
			xargs -0 -r sh -c 'for f; do [ -e "$f" ] || [ -L "$f" ] && printf "%s\0" "$f"; done' _ |
			tar --null -T - -cf -) | tar -x -C "$root/root/libhyp"
	else
		git -C "$LIBHYP_ROOT" archive --format=tar "$commit" | tar -x -C "$root/root/libhyp"
	fi
}

# Runs one command inside the root; returns its exit status.
run_in_root() { # command, log file
	local cmd=$1 log=$2
	local inner
	# Mounts live in a private mount namespace: they disappear with it, whatever happens.
	inner='
		set -e
		r=$1 archives=$2 cmd=$3
		mount -t proc proc "$r/proc"
		mount -t sysfs sysfs "$r/sys"
		mount --rbind /dev "$r/dev"
		mount --bind "$archives" "$r/var/cache/apt/archives"
		exec chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			${CI:+CI=$CI} /bin/bash -c "cd /root/libhyp && $cmd"'
	set +e
	if [[ $stream -eq 1 ]]; then
		unshare --mount --propagation private --pid --fork --kill-child \
			bash -c "$inner" _ "$root" "$archives" "$cmd" </dev/null 2>&1 | tee "$log"
		local status=${PIPESTATUS[0]}
	else
		unshare --mount --propagation private --pid --fork --kill-child \
			bash -c "$inner" _ "$root" "$archives" "$cmd" </dev/null >"$log" 2>&1
		local status=$?
	fi
	set -e
	return "$status"
}

report=$out/report.txt
: >"$report"
failed=0
for i in 0 1; do
	name=${names[$i]}
	[[ -z $only || $only == "$name" ]] || continue
	step "Fresh machine: ${commands[$i]}"
	prepare_root || { echo "error: could not prepare the root for ${commands[$i]}" >&2; exit 3; }
	t0=$(date +%s)
	if run_in_root "${commands[$i]}" "$out/$name.log"; then
		status=0
	else
		status=$?
	fi
	secs=$(($(date +%s) - t0))
	line=$(printf '%-5s %-32s exit %d in %d min %02d s' "$name" "${commands[$i]}" "$status" \
		$((secs / 60)) $((secs % 60)))
	echo "$line" | tee -a "$report"
	if [[ $status -ne 0 ]]; then
		failed=1
		if [[ $stream -eq 0 ]]; then
			# What failed first (a CI log may keep only its end), then how it ended.
			echo "--- failures in $out/$name.log ---" >&2
			grep -aE '^FAILED|^not ok |^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT|ERROR) ' "$out/$name.log" |
				head -n 30 >&2 || true
			echo "--- last 40 lines of $out/$name.log ---" >&2
			tail -n 40 "$out/$name.log" >&2
			echo "---" >&2
		fi
		# Keep the failing root for inspection; a later command gets a new one.
		mv "$root" "$root-$name-failed"
	elif [[ $keep -eq 0 ]]; then
		remove_tree "$root"
	fi
done

if [[ $failed -ne 0 ]]; then
	echo "fresh-machine check FAILED (roots kept in $root-*-failed, logs in $out)" >&2
	exit 1
fi
echo "fresh-machine check passed (commit ${commit:0:12}, report in $report)"
