#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# libhyp from the outside: install a build to a staging directory (meson install --destdir), then
# build tests/consumers/consumer.c, a small VMM, in every way a user would, and run it on the mock
# backend:
#   1. cc $(pkg-config --cflags --libs libhyp): the installed headers and libhyp.so.0
#   2. cc -static $(pkg-config --static --cflags --libs libhyp): the installed libhyp.a
#   3. a meson project with dependency('libhyp'), found through the installed libhyp.pc
#   4. the same project with libhyp as a meson subproject (meson.override_dependency)
#   5. the source tree's headers with nothing but -I include
#   6. the Python binding installed with pip from bindings/python, on the installed libhyp.so.0
# Usage: run-consumers.sh BUILD_DIR OUT_DIR   (BUILD_DIR: a configured and built hosted libhyp
# with the mock backend). Prints TAP; exits non-zero if any step fails.
set -uo pipefail
build=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cc=${CC:-cc}
n=0
failed=0

result() { # status, description
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
	return "$1"
}

log() { # file: shown as TAP diagnostics
	sed 's/^/# /' "$1"
}

echo "1..7"
stage=$out/stage
rm -rf "$stage"
meson install -C "$build" --destdir "$stage" >"$out/install.log" 2>&1
result $? "meson install --destdir $stage" || log "$out/install.log"
prefix=$(meson introspect "$build" --buildoptions |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
pc=$(find "$stage$prefix" -name libhyp.pc | head -n 1)
libdir=$(dirname "$(find "$stage$prefix" -name 'libhyp.so.0' | head -n 1)")
export PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=${pc%/*}
export PKG_CONFIG_LIBDIR=${pc%/*}

# 1. Shared: the program must load the staged libhyp.so.0, not some other one.
# shellcheck disable=SC2046 # pkg-config prints word lists
{ $cc -std=c11 -Wall -Wextra -Werror -o "$out/consumer-shared" "$here/consumer.c" \
	$(pkg-config --cflags --libs libhyp) &&
	LD_LIBRARY_PATH=$libdir ldd "$out/consumer-shared" | grep -F "$libdir/libhyp.so.0" &&
	LD_LIBRARY_PATH=$libdir "$out/consumer-shared"; } >"$out/shared.log" 2>&1
result $? "pkg-config --cflags --libs libhyp: built against the installed libhyp.so.0, runs" ||
	log "$out/shared.log"

# 2. Static: a fully static program, so libhyp can only have come from the installed libhyp.a,
# and pkg-config --static must have named everything libhyp.a needs (libfdt, threads).
# shellcheck disable=SC2046
{ $cc -std=c11 -Wall -Wextra -Werror -static -o "$out/consumer-static" "$here/consumer.c" \
	$(pkg-config --static --cflags --libs libhyp) &&
	file -L "$out/consumer-static" | grep 'statically linked' &&
	"$out/consumer-static"; } >"$out/static.log" 2>&1
result $? "pkg-config --static --cflags --libs libhyp: a static program from the installed libhyp.a runs" ||
	log "$out/static.log"

# 3. and 4. A meson project, copied out of the tree so that it sees libhyp only as a user would.
for mode in installed subproject; do
	proj=$out/meson-$mode
	rm -rf "$proj"
	mkdir -p "$proj"
	cp "$here/consumer.c" "$here/meson.build" "$here/meson_options.txt" "$proj/"
	if [ $mode = subproject ]; then
		mkdir "$proj/subprojects"
		ln -s "$root" "$proj/subprojects/libhyp"
	fi
	# The subproject must not find the staged libhyp.pc: unset the pkg-config search paths.
	if [ $mode = subproject ]; then
		env=(env -u PKG_CONFIG_PATH -u PKG_CONFIG_LIBDIR -u PKG_CONFIG_SYSROOT_DIR)
	else
		env=(env)
	fi
	{ "${env[@]}" meson setup "$proj/build" "$proj" -Dlibhyp=$mode &&
		ninja -C "$proj/build" &&
		if [ $mode = installed ]; then
			LD_LIBRARY_PATH=$libdir ldd "$proj/build/consumer" | grep -F "$libdir/libhyp.so.0" &&
				LD_LIBRARY_PATH=$libdir "$proj/build/consumer"
		else
			ldd "$proj/build/consumer" | grep -F "$proj/build/subprojects/libhyp/lib/libhyp.so.0" &&
				"$proj/build/consumer"
		fi; } >"$out/meson-$mode.log" 2>&1
	status=$?
	if [ $mode = installed ]; then
		result $status "meson: dependency('libhyp') finds the installed library; the program runs" ||
			log "$out/meson-$mode.log"
	else
		result $status "meson: libhyp as a subproject, dependency('libhyp') answered by meson.override_dependency; the program runs" ||
			log "$out/meson-$mode.log"
	fi
done

# 5. The source tree's headers need nothing generated: -I include is enough to compile.
$cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -I "$root/include" "$here/consumer.c" \
	>"$out/source-headers.log" 2>&1
result $? "the source tree's headers compile with -I include alone" || log "$out/source-headers.log"

# 6. pip install from the source tree (offline, no build isolation: Debian's setuptools), then
# consumer.py with nothing but the installed package and the dynamic linker's search path.
# Debian's interpreter, pip, setuptools and wheel (scripts/run-tests.sh installs them), whatever
# else is on PATH; pip builds in the source directory, so it gets a copy.
py=/usr/bin/python3
rm -rf "$out/python" "$out/python-src"
cp -r "$root/bindings/python" "$out/python-src"
{ $py -m pip install --no-build-isolation --no-index --no-deps --no-cache-dir \
	--target "$out/python" "$out/python-src" &&
	env -u LIBHYP_LIBRARY PYTHONPATH="$out/python" LD_LIBRARY_PATH="$libdir" \
		$py -I -c 'import sys; sys.path.insert(0, sys.argv[1]); exec(open(sys.argv[2]).read())' \
		"$out/python" "$here/consumer.py" >"$out/python-run.log" &&
	cat "$out/python-run.log" && grep -qF "$out/python/libhyp" "$out/python-run.log"; } \
	>"$out/python.log" 2>&1
result $? "pip install bindings/python: the installed package drives the installed libhyp.so.0" ||
	log "$out/python.log"

exit $((failed != 0))
