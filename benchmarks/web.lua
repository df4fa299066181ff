-- wrk script of benchmarks/web.py: walks a file of requests in order, one a line
-- ("METHOD PATH", the body and headers given by the mode argument), and prints a summary
-- line of JSON at the end.
--
--   wrk -t1 -c16 -d10s -s benchmarks/web.lua URL -- REQUESTS_FILE MODE
--
-- MODE: "get" (no body), "multipart" (a one-click unsubscribe as Gmail sends it) or "form"
-- (the same as application/x-www-form-urlencoded).

local prepared = {}
local next_one = 0

local BOUNDARY = "----listonoszbench7MA4YWxkTrZu0gW"
local BODIES = {
  get = { nil, nil },
  multipart = {
    "--" .. BOUNDARY .. "\r\n"
      .. 'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
      .. "One-Click\r\n--" .. BOUNDARY .. "--\r\n",
    "multipart/form-data; boundary=" .. BOUNDARY,
  },
  form = { "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded" },
}

function init(args)
  local body, content_type = (table.unpack or unpack)(BODIES[args[2]])
  local headers = {}
  if content_type then
    headers["Content-Type"] = content_type
  end
  for line in io.lines(args[1]) do
    local method, path = line:match("^(%S+) (%S+)$")
    prepared[#prepared + 1] = wrk.format(method, path, headers, body)
  end
end

function request()
  next_one = next_one % #prepared + 1
  return prepared[next_one]
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout
  ))
end
