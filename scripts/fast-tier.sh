#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# fast-tier.sh prints the packages of the fast test tier: their tests run on the reference
# machine (sim/simtest) or need no simulator at all, so they take seconds and run under
# -race in CI (scripts/test.sh). Tests named ...RTL... in them use the Verilated engine and
# belong to the RTL tier (`go test ./...` runs both tiers).
cd "$(dirname "$0")/.."
echo ./hw/... ./sim/bus ./sim/simtest/... ./sim/server ./sim/client ./bridge/... ./internal/refmodel
