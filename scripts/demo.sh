#!/usr/bin/env bash
# The whole seminar campaign on the embedded defaults: a local capture SMTP server, the SQLite
# ledger under var/, and Prefect's temporary local server. Run it twice: the second run sends
# nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p "${LISTONOSZ_VAR_DIR:-var}"
LISTONOSZ_VAR_DIR="$(cd "${LISTONOSZ_VAR_DIR:-var}" && pwd)"
export LISTONOSZ_VAR_DIR
export PREFECT_HOME="${PREFECT_HOME:-$LISTONOSZ_VAR_DIR/prefect}"
port="${LISTONOSZ_DEMO_PORT:-8025}"
export LISTONOSZ_TRANSPORTS__CAPTURE__PORT="$port"
campaign=campaigns/ekonomia-spoleczna-2016.yaml
outbox="$LISTONOSZ_VAR_DIR/outbox"
bin=.venv/bin

"$bin/listonosz" capture-server --port "$port" --outbox "$outbox" >"$LISTONOSZ_VAR_DIR/capture.log" 2>&1 &
capture_pid=$!
stop_capture() {
  kill "$capture_pid" 2>/dev/null || true
  wait "$capture_pid" 2>/dev/null || true
}
trap stop_capture EXIT

for _ in $(seq 1 100); do
  if ! kill -0 "$capture_pid" 2>/dev/null; then
    cat "$LISTONOSZ_VAR_DIR/capture.log" >&2
    echo "The capture server did not start; set LISTONOSZ_DEMO_PORT to a free port." >&2
    exit 1
  fi
  grep -q "listening" "$LISTONOSZ_VAR_DIR/capture.log" && break
  sleep 0.1
done

echo "== Capture server on 127.0.0.1:$port; sending the invitation =="
"$bin/listonosz" send "$campaign" --message invitation
echo
echo "== Ledger, per stakeholder group =="
"$bin/listonosz" report "$campaign" --message invitation
echo
echo "Messages received by the capture server: $(find "$outbox" -name '*.eml' | wc -l) .eml files in $outbox/"
echo "Run 'make demo' again: nothing is sent twice."
