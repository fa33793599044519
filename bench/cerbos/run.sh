#!/usr/bin/env bash
# Starts the Cerbos PDP on 127.0.0.1:3592, checks a known allow and a known
# deny (and every generated request against the reference model), runs wrk at
# c=1/t=1 and c=64/t=2 for ${DURATION:-10s} each, prints
#   cerbos c=1 RESULT ...
#   cerbos c=64 RESULT ...
# and stops Cerbos. Env: DURATION, CERBOS_ADDR (default 127.0.0.1:3592),
# VERIFY_ALL=0 to skip the full equivalence pass, GEN_ARGS for gen.py.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DURATION="${DURATION:-10s}"
ADDR="${CERBOS_ADDR:-127.0.0.1:3592}"
URL="http://$ADDR"
REQ="$HERE/requests"

CERBOS="$("$HERE/install.sh" | tail -n1)"
echo "cerbos: $("$CERBOS" --version | head -n1) ($CERBOS)" >&2

# Request bodies (deterministic; regenerated only when missing).
if [[ ! -s "$REQ/cerbos.jsonl" || ! -s "$REQ/probe_allow.json" ]]; then
  python3 "$REQ/gen.py" ${GEN_ARGS:-} >&2
fi

"$CERBOS" compile "$HERE/policies" >/dev/null || { echo "run.sh: policies do not compile" >&2; exit 1; }

LOG="$(mktemp -t cerbos-bench.XXXXXX.log)"
CERBOS_NO_TELEMETRY=1 "$CERBOS" server --config="$HERE/config.yaml" --log-level=error \
  --set=storage.disk.directory="$HERE/policies" \
  --set=server.httpListenAddr="$ADDR" >"$LOG" 2>&1 &
PID=$!
stop() {
  if kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
}
trap stop EXIT

# Wait for health, max 20 s.
ok=0
for _ in $(seq 1 40); do
  if curl -fsS --max-time 1 "$URL/_cerbos/health" >/dev/null 2>&1; then ok=1; break; fi
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.5
done
if [[ $ok != 1 ]]; then
  echo "run.sh: cerbos did not become healthy within 20 s; log:" >&2
  cat "$LOG" >&2
  exit 1
fi

# Known allow / known deny.
effect_of() {
  curl -fsS --max-time 5 -H 'Content-Type: application/json' \
    --data-binary @"$1" "$URL/api/check/resources" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(*r["actions"].values())'
}
for want in allow deny; do
  got="$(effect_of "$REQ/probe_$want.json" || true)"
  exp="EFFECT_${want^^}"
  if [[ "$got" != "$exp" ]]; then
    echo "run.sh: ERROR: probe_$want.json gave '${got:-no answer}', expected $exp" >&2
    exit 1
  fi
done
echo "run.sh: probes ok (allow -> EFFECT_ALLOW, deny -> EFFECT_DENY)" >&2
if [[ "${VERIFY_ALL:-1}" != 0 ]]; then
  python3 "$REQ/verify.py" "$ADDR" >&2
fi

run_wrk() { # label threads connections
  local out
  out="$(wrk -t"$2" -c"$3" -d"$DURATION" --latency -s "$HERE/wrk/post_bodies.lua" \
    "$URL" -- "$REQ/cerbos.jsonl" /api/check/resources)"
  local line
  line="$(grep '^RESULT ' <<<"$out" || true)"
  if [[ -z "$line" ]]; then
    echo "run.sh: wrk printed no RESULT line:" >&2
    echo "$out" >&2
    return 1
  fi
  echo "$1 $line"
}

echo "run.sh: load average before load: $(cut -d" " -f1-3 /proc/loadavg) on $(nproc) cores" >&2
run_wrk "cerbos c=1" 1 1
run_wrk "cerbos c=64" 2 64

stop
trap - EXIT
rm -f "$LOG"
