-- wrk script: plain GETs of the URL given to wrk; done() prints the same
-- RESULT line as bench/cerbos/wrk/post_bodies.lua.
function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout + e.status
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_us=%d p99_us=%d p999_us=%d errors=%d\n",
    summary.requests, summary.requests / secs,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    errors))
end
