#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
#
# verdicts.py REPORT.json: prints a `ringsim check --json` report's verdict table (every
# case's ID, status and first failing cycle), the format of internal/check's golden files.
# scripts/test.sh compares the quick gate on our RTL against
# internal/check/testdata/golden/verdicts-ours-quick.txt.
import json
import sys

rep = json.load(open(sys.argv[1]))
print("status", rep["status"])
for c in rep["checks"]:
    print("check", c["name"], c["status"])
    for cs in c.get("cases", []):
        cycle = cs.get("cycle")
        print(" ", cs["id"], cs["status"], "-" if cycle is None else cycle)
