-- wrk script: POST a form body given by the environment.
--   BENCH_BODY     urlencoded body
--   BENCH_ORIGIN   Origin header ("" to omit)
--   BENCH_CLIENTS  if set, a distinct X-Client address per request (nginx
--                  passes it as REMOTE_ADDR) to flood distinct clients
--   BENCH_UNIQUE   if set, append a unique field so no two posts are equal
--   BENCH_BASE     where this run's sequence starts: the caller adds each
--                  run's request count, so runs never repeat an address or
--                  a unique field (wrk's math.random is unseeded: it would
--                  give every thread of every run the same sequence)
local body = os.getenv("BENCH_BODY") or ""
local origin = os.getenv("BENCH_ORIGIN") or ""
local clients = os.getenv("BENCH_CLIENTS")
local unique = os.getenv("BENCH_UNIQUE")
local base = tonumber(os.getenv("BENCH_BASE") or "0")
local nthreads = 0
local counter = 0

function setup(thread)
  thread:set("tidx", nthreads)
  nthreads = nthreads + 1
end

function init(args)
  -- wrk -t2: two threads, interleaved sequences
  stride = 2
end

function request()
  local n = base + counter * stride + tidx
  counter = counter + 1
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  if origin ~= "" then headers["Origin"] = origin end
  if clients then
    local a = n % 16777216
    headers["X-Client"] = string.format("10.%d.%d.%d", math.floor(a / 65536),
      math.floor(a / 256) % 256, a % 256)
  end
  local b = body
  if unique then b = b .. "&n=" .. n end
  return wrk.format("POST", nil, headers, b)
end

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d bytes=%d errors=%d non2xx=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.bytes, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
