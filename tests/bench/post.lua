-- wrk script: POST a form body given by the environment.
--   BENCH_BODY     urlencoded body
--   BENCH_ORIGIN   Origin header ("" to omit)
--   BENCH_CLIENTS  if set, a random X-Client address per request (nginx
--                  passes it as REMOTE_ADDR) to flood distinct clients
--   BENCH_UNIQUE   if set, append a unique field so no two posts are equal
local body = os.getenv("BENCH_BODY") or ""
local origin = os.getenv("BENCH_ORIGIN") or ""
local clients = os.getenv("BENCH_CLIENTS")
local unique = os.getenv("BENCH_UNIQUE")
local counter = 0

function setup(thread)
  thread:set("tid", tostring(math.random(1, 1e9)))
end

function request()
  counter = counter + 1
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  if origin ~= "" then headers["Origin"] = origin end
  if clients then
    headers["X-Client"] = string.format("10.%d.%d.%d", math.random(0, 255),
      math.random(0, 255), math.random(1, 254))
  end
  local b = body
  if unique then b = b .. "&n=" .. tid .. "-" .. counter end
  return wrk.format("POST", nil, headers, b)
end

done = function(summary, latency, requests)
  io.write(string.format("BENCH requests=%d errors=%d non2xx=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
