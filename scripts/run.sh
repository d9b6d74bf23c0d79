#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# run.sh: install what is missing, then run ringsim's main job with its defaults: two
# simulated nodes align their ring buffers, bring up TCP over them and move 1 MiB each way.
# Extra arguments go to `ringsim run` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
mkdir -p out
go build -o out/ringsim ./cmd/ringsim
exec out/ringsim run --json out/run.json --pcap out/pcap "$@"
