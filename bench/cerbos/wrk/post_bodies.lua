-- wrk script: POSTs JSON bodies from a file (one per line), cycling through
-- them; each thread starts at its own offset. Usage:
--   wrk -t2 -c64 -d10s -s post_bodies.lua http://127.0.0.1:3592 -- BODIES [PATH]
-- PATH defaults to /api/check/resources (Cerbos); use /v1/is_authorized for
-- tenantgate. Extra headers: env WRK_HEADER="Name: value" (one header).
-- done() prints one line:
--   RESULT requests=N rps=X p50_us=.. p99_us=.. p999_us=.. errors=N
-- where errors = non-2xx/3xx responses (wrk's summary.errors.status) plus
-- connect/read/write/timeout socket errors.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs, n, i

function init(args)
  local file = args[1] or error("post_bodies.lua: pass the bodies file after --")
  local path = args[2] or "/api/check/resources"
  local headers = { ["Content-Type"] = "application/json" }
  local extra = os.getenv("WRK_HEADER")
  if extra and extra ~= "" then
    local k, v = extra:match("^%s*([^:]+):%s*(.*)$")
    if k then headers[k] = v end
  end
  reqs, n = {}, 0
  for line in io.lines(file) do
    if line ~= "" then
      n = n + 1
      reqs[n] = wrk.format("POST", path, headers, line)
    end
  end
  if n == 0 then error("post_bodies.lua: no bodies in " .. file) end
  -- spread threads over the file so they do not send the same sequence
  i = (tid * math.floor(n / 7)) % n
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

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
