-- wrk script: POST system.ping with the Assent headers; token from the TOKEN env var.
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","method":"system.ping","id":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Assent-Api-Version"] = "1"
local token = os.getenv("TOKEN")
if token then wrk.headers["Authorization"] = "Bearer " .. token end

local bad = 0
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f requests=%d timeouts=%d connect_errors=%d read_errors=%d non200=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, summary.errors.timeout,
    summary.errors.connect, summary.errors.read, summary.errors.status))
end
