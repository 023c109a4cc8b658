-- wrk script for internal/perf/wrk-ingest.sh: POST /bulk with the bodies of
-- BenchmarkIngestHTTP (100 custom events each, keys event-0…999, users
-- user-0…9999, a metricValue on every third), each post with a payload ID
-- of its own, as LaunchDarkly's SDKs send: unique across runs too, since
-- the server counts a payload ID once (RUN_ID, set per run, is part of
-- it). The SDK key comes from the environment variable SDK_KEY.
local bodies = {}
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  local now = os.time() * 1000
  local k = 0
  for i = 1, 64 do
    local parts = {}
    for j = 1, 100 do
      local e = string.format('{"kind":"custom","creationDate":%d,"key":"event-%d","context":{"kind":"user","key":"user-%d"}', now, k % 1000, (k * 7) % 10000)
      if k % 3 == 0 then
        e = e .. string.format(',"metricValue":%d.5', k % 50)
      end
      parts[j] = e .. "}"
      k = k + 1
    end
    bodies[i] = "[" .. table.concat(parts, ",") .. "]"
  end
  wrk.method = "POST"
  wrk.headers["Authorization"] = os.getenv("SDK_KEY")
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  wrk.headers["X-LaunchDarkly-Payload-ID"] = string.format("wrk-%s-%d-%d", os.getenv("RUN_ID") or "0", tid or 0, counter)
  return wrk.format(nil, "/bulk", nil, bodies[(counter % 64) + 1])
end
