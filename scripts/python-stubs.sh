#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# python-stubs.sh generates and checks the Python stubs committed in the client package
# (python/ringsim/v1 from proto/ringsim/v1, python/ringsim/grpc_health/v1 from the
# standard health service).
#
#   scripts/python-stubs.sh generate   regenerate the committed stubs
#   scripts/python-stubs.sh check      fail if a fresh generation differs from them
#
# It uses Debian's protoc (protobuf-compiler) and grpc_python_plugin
# (protobuf-compiler-grpc), whose versions must match the Python runtime the package runs
# on (python3-protobuf, python3-grpcio), and the health proto from Debian's grpc-proto
# package (/usr/share/grpc-proto). scripts/setup.sh installs all of them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

PROTOC=/usr/bin/protoc
PLUGIN=/usr/bin/grpc_python_plugin
GRPC_PROTO=/usr/share/grpc-proto
HEALTH=grpc/health/v1/health.proto
OUT=python/ringsim

tmpdirs=()
trap 'rm -rf "${tmpdirs[@]}"' EXIT # tmpdirs: temporary directories to remove

# upstream prints a Debian package's upstream version (no epoch, no Debian revision), or
# nothing if the package is not installed.
upstream() {
	local v
	v=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) || return 0
	v=${v#*:}
	echo "${v%%-*}"
}

# tools fails unless the generators are installed and match the runtime's versions.
tools() {
	local missing=()
	[[ -x $PROTOC ]] || missing+=(protobuf-compiler)
	[[ -x $PLUGIN ]] || missing+=(protobuf-compiler-grpc)
	[[ -f $GRPC_PROTO/$HEALTH ]] || missing+=(grpc-proto)
	if ((${#missing[@]})); then
		echo "python-stubs: missing ${missing[*]}: run scripts/setup.sh (apt-get install ${missing[*]})" >&2
		exit 1
	fi
	local pair gen run
	for pair in protobuf-compiler:python3-protobuf protobuf-compiler-grpc:python3-grpcio; do
		gen=$(upstream "${pair%%:*}")
		run=$(upstream "${pair##*:}")
		if [[ -z $run ]]; then
			echo "python-stubs: ${pair##*:} is not installed: run scripts/setup.sh" >&2
			exit 1
		fi
		if [[ $gen != "$run" ]]; then
			echo "python-stubs: ${pair%%:*} $gen does not match the runtime ${pair##*:} $run" >&2
			exit 1
		fi
	done
}

# gen writes the package's generated files under $1 (a directory standing for
# python/ringsim), using $2 as scratch space.
gen() {
	local dest=$1 tmp=$2

	# ringsim.v1: protoc's absolute imports (from ringsim.v1 import bus_pb2) already name
	# this package, so the output is used as it is.
	mkdir -p "$tmp/ringsim"
	(cd proto && "$PROTOC" -I. --python_out="$tmp" --grpc_python_out="$tmp" \
		--plugin=protoc-gen-grpc_python="$PLUGIN" ringsim/v1/*.proto)

	# grpc.health.v1: generated from Debian's copy under its canonical name (so its
	# descriptor is the one every other gRPC library registers), then moved into
	# ringsim.grpc_health.v1: the Python module name (the import of the messages and the
	# classes' __module__) is rewritten; the proto names are not.
	"$PROTOC" -I"$GRPC_PROTO" --python_out="$tmp" --grpc_python_out="$tmp" \
		--plugin=protoc-gen-grpc_python="$PLUGIN" "$GRPC_PROTO/$HEALTH"
	mkdir -p "$tmp/ringsim/grpc_health"
	mv "$tmp/grpc/health/v1" "$tmp/ringsim/grpc_health/v1"
	local h=$tmp/ringsim/grpc_health/v1
	sed -i 's/^from grpc\.health\.v1 import health_pb2 as /from ringsim.grpc_health.v1 import health_pb2 as /' \
		"$h/health_pb2_grpc.py"
	sed -i "s/^\(_builder\.BuildTopDescriptorsAndMessages(DESCRIPTOR, \)'grpc\.health\.v1\.health_pb2'/\1'ringsim.grpc_health.v1.health_pb2'/" \
		"$h/health_pb2.py"
	if grep -q "^from grpc\.health\|'grpc\.health\.v1\.health_pb2'" "$h"/*.py ||
		! grep -q "^from ringsim\.grpc_health\.v1 import health_pb2 " "$h/health_pb2_grpc.py"; then
		echo "python-stubs: could not rewrite the health stubs' module name" >&2
		exit 1
	fi

	printf '"""Generated stubs of ringsim.v1 (proto/ringsim/v1): scripts/python-stubs.sh."""\n' \
		>"$tmp/ringsim/v1/__init__.py"
	printf '"""The standard gRPC health service (grpc.health.v1), generated: scripts/python-stubs.sh."""\n' \
		>"$tmp/ringsim/grpc_health/__init__.py"
	printf '"""Generated stubs of grpc.health.v1 (Debian grpc-proto): scripts/python-stubs.sh."""\n' \
		>"$tmp/ringsim/grpc_health/v1/__init__.py"

	rm -rf "$dest/v1" "$dest/grpc_health"
	mkdir -p "$dest"
	mv "$tmp/ringsim/v1" "$tmp/ringsim/grpc_health" "$dest/"
}

# list prints the generated files under $1, relative to it.
list() {
	(cd "$1" && find v1 grpc_health -name '*.py' 2>/dev/null | LC_ALL=C sort)
}

generate() {
	tools
	local tmp
	tmp=$(mktemp -d)
	tmpdirs+=("$tmp")
	gen "$OUT" "$tmp"
	echo "python-stubs: generated $(list "$OUT" | wc -l) files in $OUT"
}

check() {
	tools
	local tmp
	tmp=$(mktemp -d)
	tmpdirs+=("$tmp")
	gen "$tmp/ringsim" "$tmp/work"
	if ! diff -u <(list "$OUT") <(list "$tmp/ringsim") >/dev/null; then
		echo "python-stubs: the set of generated files differs (-committed +fresh):" >&2
		diff -u <(list "$OUT") <(list "$tmp/ringsim") | tail -n +3 >&2 || true
		echo "python-stubs: run scripts/python-stubs.sh generate" >&2
		return 1
	fi
	local diffs=0 f
	while IFS= read -r f; do
		if ! cmp -s "$OUT/$f" "$tmp/ringsim/$f"; then
			echo "python-stubs: $OUT/$f is stale: run scripts/python-stubs.sh generate" >&2
			diffs=1
		fi
	done < <(list "$tmp/ringsim")
	if ((diffs)); then
		return 1
	fi
	echo "python-stubs: ok ($(list "$OUT" | wc -l) files up to date)"
}

case "${1:-}" in
generate) generate ;;
check) check ;;
*)
	echo "usage: $0 generate|check" >&2
	exit 2
	;;
esac
