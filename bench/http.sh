#!/usr/bin/env bash
# Decision latency over HTTP, in one run: the release binary on a generated
# dataset, driven by wrk at 1 and 64 connections; /healthz as the floor of
# HTTP on this machine; start-up time and memory; then the Cerbos peer with
# the same load generator (bench/cerbos/run.sh).
#
#   SCALE=s|m|l (default m)  DURATION=10s  SKIP_CERBOS=1  bash bench/http.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
SCALE=${SCALE:-m}
DURATION=${DURATION:-10s}
export DURATION

bash bench/cerbos/install.sh >&2
cargo build --release --quiet
BIN=$ROOT/target/release/tenantgate

WORK=$(mktemp -d)
PID=""
cleanup() {
  [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/policies" "$WORK/schema"
cp policies/*.cedar examples/host/*.cedar "$WORK/policies/"
cp schema/*.cedarschema examples/host/*.cedarschema "$WORK/schema/"
"$BIN" dataset --scale "$SCALE" --data-dir "$WORK/data" \
  --requests "$WORK/requests.jsonl" --count 10000 --host-resources >&2

# Start-up: from exec to the "listening" line (snapshot built, policies loaded).
start_ns=$(date +%s%N)
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" \
  --policies "$WORK/policies" --schema "$WORK/schema" >"$WORK/out" 2>"$WORK/log" &
PID=$!
for _ in $(seq 1 600); do
  grep -q "listening on" "$WORK/out" 2>/dev/null && break
  sleep 0.05
done
URL=$(sed -n 's/^tenantgate listening on //p' "$WORK/out")
[[ -n "$URL" ]] || { echo "http.sh: the sidecar did not start:" >&2; cat "$WORK/log" >&2; exit 1; }
ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
rss_start=$(rss_kb)

# Every request of the mix must be answered 200 (Allow or Deny), never 4xx.
python3 - "$URL" "$WORK/requests.jsonl" <<'PY' >&2
import json, sys, urllib.request
url, path = sys.argv[1], sys.argv[2]
allow = deny = 0
for i, line in enumerate(open(path)):
    if i >= 500:
        break
    req = urllib.request.Request(url + "/v1/is_authorized", data=line.encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        d = json.load(r)["decision"]
        allow += d == "Allow"
        deny += d == "Deny"
print(f"http.sh: request mix check: {allow} allow, {deny} deny of {allow + deny}")
PY

run_wrk() { # label threads connections kind
  local out line
  if [[ "$4" == healthz ]]; then
    out=$(wrk -t"$2" -c"$3" -d"$DURATION" --latency -s bench/wrk/get.lua "$URL/healthz")
  else
    out=$(wrk -t"$2" -c"$3" -d"$DURATION" --latency -s bench/cerbos/wrk/post_bodies.lua \
      "$URL" -- "$WORK/requests.jsonl" /v1/is_authorized)
  fi
  line=$(grep '^RESULT ' <<<"$out" || true)
  [[ -n "$line" ]] || { echo "http.sh: wrk printed no RESULT line:" >&2; echo "$out" >&2; return 1; }
  echo "$1 $line"
}

echo "http.sh: scale $SCALE, load average before load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
results=$WORK/results
{
  run_wrk "healthz c=1" 1 1 healthz
  run_wrk "healthz c=64" 2 64 healthz
  run_wrk "tenantgate c=1" 1 1 decide
  run_wrk "tenantgate c=64" 2 64 decide
} | tee "$results"
rss_end=$(rss_kb)
echo "startup ready_ms=$ready_ms rss_start_mb=$((rss_start / 1024)) rss_after_load_mb=$((rss_end / 1024))" | tee -a "$results"
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""

if [[ "${SKIP_CERBOS:-0}" != 1 ]]; then
  VERIFY_ALL=0 bash bench/cerbos/run.sh | tee -a "$results"
fi

python3 - "$results" <<'PY'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+ c=\d+) RESULT (.*)", line.strip())
    if m:
        rows[m.group(1)] = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", m.group(2))}
def ratio(a, b, key):
    return rows[a][key] / rows[b][key] if a in rows and b in rows and rows[b][key] else float("nan")
for c in ("1", "64"):
    print(f"summary c={c}: tenantgate/healthz throughput {ratio(f'tenantgate c={c}', f'healthz c={c}', 'rps'):.2f}; "
          f"tenantgate/cerbos throughput {ratio(f'tenantgate c={c}', f'cerbos c={c}', 'rps'):.2f}; "
          f"tenantgate/cerbos p99 {ratio(f'tenantgate c={c}', f'cerbos c={c}', 'p99_us'):.3f}")
PY
