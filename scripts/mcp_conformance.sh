#!/usr/bin/env bash
# Run the official MCP conformance suite against `mnemoplug mcp --http` and compare the
# failing scenarios with scripts/mcp_conformance_expected_failures.txt (each with its reason).
#
#   bash scripts/mcp_conformance.sh          # needs npx (Node.js) and the .venv of setup.sh
#
# The suite is pinned: 0.1.14 and later need Node.js 22 (fs.globSync); set
# MCP_CONFORMANCE_VERSION to try another. PYTHON picks the interpreter (default .venv/bin/python).
# The server runs on a fresh SQLite store in a temporary folder, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
VERSION="${MCP_CONFORMANCE_VERSION:-0.1.13}"
EXPECTED=scripts/mcp_conformance_expected_failures.txt
work="$(mktemp -d "${TMPDIR:-/tmp}/mnemoplug-conformance.XXXXXX")"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
TMPDIR="$work" "$PYTHON" scripts/mcp_conformance_server.py "$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  if "$PYTHON" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.log" >&2; echo "the MCP server did not start" >&2; exit 1; fi
  sleep 0.2
done

echo "== MCP conformance suite $VERSION against http://127.0.0.1:$port/mcp"
npx --yes "@modelcontextprotocol/conformance@$VERSION" server \
  --url "http://127.0.0.1:$port/mcp" --output-dir "$work/results" 2>&1 \
  | grep -v -e EBADENGINE -e "npm warn" | sed -n '/=== SUMMARY ===/,$p' || true

"$PYTHON" - "$work/results" "$EXPECTED" <<'PY'
import json, re, sys
from pathlib import Path

results, expected_file = Path(sys.argv[1]), Path(sys.argv[2])
expected = {}
for line in expected_file.read_text().splitlines():
    if line.strip() and not line.startswith("#"):
        name, _, reason = line.partition(" ")
        expected[name] = reason.strip()
failed, ran = {}, set()
for checks in sorted(results.glob("server-*/checks.json")):
    scenario = re.sub(r"^server-|-\d{4}-\d\d-\d\dT.*$", "", checks.parent.name)
    ran.add(scenario)
    bad = [c for c in json.loads(checks.read_text()) if c.get("status") == "FAILURE"]
    if bad:
        failed[scenario] = "; ".join(str(c.get("errorMessage") or c.get("name")) for c in bad)
if not ran:
    sys.exit("the conformance suite produced no results")
unexpected = {s: m for s, m in failed.items() if s not in expected}
fixed = sorted(s for s in expected if s in ran and s not in failed)
print(f"{len(ran)} scenarios: {len(ran) - len(failed)} passed, {len(failed)} failed "
      f"({len(failed) - len(unexpected)} expected, {len(unexpected)} unexpected)")
for s, m in sorted(unexpected.items()):
    print(f"UNEXPECTED FAILURE {s}: {m}")
for s in fixed:
    print(f"NOW PASSES {s}: remove it from {expected_file}")
sys.exit(1 if unexpected or fixed else 0)
PY
