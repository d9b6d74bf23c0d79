#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# python-test.sh installs the Python client (python/) into a fresh venv that sees Debian's
# python3-grpcio and python3-protobuf, with no package index (pip --no-index
# --no-build-isolation, setuptools from python3-setuptools), and runs its tests
# (python/tests) from the installed copy against a real `ringsim serve`.
#
#   scripts/python-test.sh                         builds the server with go build
#   RINGSIM_BIN=bin/ringsim scripts/python-test.sh uses that binary
#
# It fails, never skips, when something is missing (scripts/setup.sh installs it all).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

PY=/usr/bin/python3 # Debian's Python, which sees the python3-* packages
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ -n ${RINGSIM_BIN:-} ]]; then
	RINGSIM_BIN=$(cd "$(dirname "$RINGSIM_BIN")" && pwd)/$(basename "$RINGSIM_BIN")
else
	echo "python-test: go build ./cmd/ringsim"
	go build -o "$tmp/ringsim" ./cmd/ringsim
	RINGSIM_BIN=$tmp/ringsim
fi
export RINGSIM_BIN

if ! err=$("$PY" -c 'import grpc, google.protobuf, setuptools, venv' 2>&1); then
	echo "python-test: $PY lacks a Debian package (run scripts/setup.sh; apt-get install" \
		"python3-grpcio python3-protobuf python3-setuptools python3-venv): ${err##*$'\n'}" >&2
	exit 1
fi

echo "python-test: venv with system site packages"
"$PY" -m venv --system-site-packages "$tmp/venv"

# Build from a copy so that setuptools' build/ and *.egg-info stay out of the clone.
echo "python-test: pip install --no-index --no-build-isolation ./python"
mkdir "$tmp/src"
tar -C python --exclude=__pycache__ --exclude=./build --exclude='*.egg-info' --exclude=./tests -cf - . |
	tar -C "$tmp/src" -xf -
PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
	"$tmp/venv/bin/python" -m pip install --quiet --no-index --no-build-isolation "$tmp/src"

# Run from outside the clone so that `import ringsim` can only find the installed copy.
cd "$tmp"
"$tmp/venv/bin/python" - "$tmp/venv" <<'EOF'
import os, sys
import ringsim
where = os.path.realpath(ringsim.__file__)
if not where.startswith(os.path.realpath(sys.argv[1]) + os.sep):
    sys.exit("python-test: ringsim imported from %s, not from the venv" % where)
print("python-test: ringsim %s installed at %s" % (ringsim.__version__, os.path.dirname(where)))
EOF
echo "python-test: unittest python/tests against $RINGSIM_BIN serve"
"$tmp/venv/bin/python" -m unittest discover -s "$root/python/tests" -t "$root/python/tests" -v
