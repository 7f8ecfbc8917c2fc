-- wrk script of bench/bench.sh (and of the template repo's bench/run): optional JSON POST body
-- (WRK_BODY), and a one-line JSON summary.
-- A body containing {unique} gets a value of its own in every request (for fields with a unique
-- constraint, such as a note's title); any other body is sent as it is, built once.
local body = os.getenv("WRK_BODY")
if body ~= nil and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  if body:find("{unique}", 1, true) then
    -- Each wrk thread has its own Lua state: the table address tells the threads apart.
    local prefix = tostring(os.time()) .. "-" .. tostring({}):match("0x(%x+)")
    local counter = 0
    request = function()
      counter = counter + 1
      return wrk.format(nil, nil, nil, (body:gsub("{unique}", prefix .. "-" .. counter)))
    end
  end
end

done = function(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,"errors_read":%d,' ..
    '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
    latency.max))
end
