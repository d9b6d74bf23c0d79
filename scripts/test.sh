#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# test.sh: install what is missing, then run every test: static checks, the Go tests
# (against the Verilated RTL), and the pre-synthesis gate on our own RTL.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

step() { printf '\n==> %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '\.pb\.go$' || true)
if [[ -n "$unformatted" ]]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi

step "go vet"
go vet ./...

step "protobuf API: buf lint, buf breaking, generated code up to date"
scripts/proto.sh check

step "Python client: generated stubs up to date"
scripts/python-stubs.sh check

step "go test: every test (the RTL tier runs on the Verilated model)"
go test -count=1 -timeout 30m ./...

step "go test -race: the fast tier (reference machine, no Verilator; tests named RTL are the RTL tier's)"
go test -race -count=1 -timeout 20m -skip 'RTL' $(scripts/fast-tier.sh)

go build -o bin/ringsim ./cmd/ringsim

step "Python client: offline venv install, tests against ringsim serve"
RINGSIM_BIN=bin/ringsim scripts/python-test.sh

step "pre-synthesis gate on our RTL: ringsim check --quick (evidence in out/check)"
bin/ringsim check --quick --out out/check --junit out/check/junit.xml --json out/check/report.json

step "the quick gate's verdicts, cases and cycles match the golden file"
scripts/verdicts.py out/check/report.json | diff -u internal/check/testdata/golden/verdicts-ours-quick.txt -

step "the quick gate's JUnit XML validates against the strict JUnit schema"
xmllint --noout --schema internal/check/testdata/junit.xsd out/check/junit.xml

step "mutation sample: every reviewed mutant of rtl/ fails ringsim check --quick"
bin/ringsim mutate --ci --json out/check/mutants-ci.json
