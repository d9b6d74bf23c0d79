#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# setup.sh installs what ringsim needs on a Debian (bookworm) machine and is a no-op when
# everything is there. Run as root (or with sudo). Sourced by run.sh and test.sh.
#
#   Debian packages: verilator (5.006), g++, zlib, yosys (the pre-synthesis check),
#   tshark (pcap tests), python3-grpcio / python3-protobuf (the Python
#   example), protobuf-compiler.
#   Go tools (buf, protoc plugins, grpcurl) come from the Go module proxy at pinned
#   versions through tools/go.mod, on first use.
set -euo pipefail

# Pinned where behaviour depends on the version: the RTL simulator and the synthesizer.
APT_PACKAGES=(
  verilator=5.006-3
  yosys=0.23-6
  g++
  make
  zlib1g-dev
  tshark
  protobuf-compiler
  python3-grpcio
  python3-protobuf
  # The Python client (python/): stub generators matching the runtime, the health proto,
  # and an offline venv install (scripts/python-stubs.sh, scripts/python-test.sh).
  protobuf-compiler-grpc
  grpc-proto
  python3-setuptools
  python3-wheel
  python3-venv
  # xmllint: internal/check's TestJUnitValidates checks the gate's JUnit XML against the
  # strict schema CI servers use (internal/check/testdata/junit.xsd).
  libxml2-utils
  # chromium: the HTML report's test opens the page headless (internal/htmlreport);
  # not pinned: Debian replaces its chromium with every security update.
  chromium
)

missing=()
for spec in "${APT_PACKAGES[@]}"; do
  pkg=${spec%%=*}
  want=${spec#*=}
  have=$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null || true)
  case "$have" in
    "install ok installed "*)
      if [[ "$spec" == *=* && "${have##* }" != "$want" ]]; then missing+=("$spec"); fi ;;
    *) missing+=("$spec") ;;
  esac
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
  else
    SUDO=
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # tshark asks whether non-root users may capture; the default (no) is fine.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH=/usr/local/go/bin:$PATH
  else
    echo "setup: Go 1.26 or newer is required (https://go.dev/dl/); it is not on PATH" >&2
    exit 1
  fi
fi
