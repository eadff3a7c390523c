#!/usr/bin/env bash
# make lint: scan the tracked files with detect-secrets and fail on any finding that
# .secrets.baseline does not hold. Findings are compared by file, type and hashed value,
# not by line: detect-secrets-hook rewrites the baseline and fails whenever an edit moves
# a known finding to another line, which would fail CI for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files -z ':!.secrets.baseline' ':!collections' | xargs -0 .venv/bin/detect-secrets scan | python3 -c '
import json, sys

def keys(report):
    return {(path, f["type"], f["hashed_secret"]): f.get("line_number")
            for path, findings in report["results"].items() for f in findings}

found = keys(json.load(sys.stdin))
with open(".secrets.baseline") as f:
    known = keys(json.load(f))
new = sorted(k for k in found if k not in known)
for path, kind, _ in new:
    print(f"possible secret: {path}:{found[(path, kind, _)]}: {kind}")
if new:
    print("Remove it, or after reading it run scripts/secrets-baseline.sh to accept it.")
    sys.exit(1)
print(f"detect-secrets: {len(found)} findings, all in .secrets.baseline")
'
