-- wrk script sending bench/hits/mix.tsv in turn, and printing wrk's summary as one JSON
-- line (prefix "load-bench-json ") that scripts/load-bench reads.
--
--   wrk -t1 -c32 -d15s --latency -s bench/hits/mix.lua http://127.0.0.1:8080 -- bench/hits/mix.tsv

local requests = {}
local next_index = 1

-- The Content-Type a sender gives each body: JSON for Measurement Protocol, text for gtag.
local function content_type(path)
  if path:find("^/mp/") then
    return "application/json"
  end
  return "text/plain;charset=UTF-8"
end

local function unescape(body)
  return (body:gsub("\\r", "\r"):gsub("\\n", "\n"))
end

function init(args)
  local file = args[1]
  if file == nil then
    error("mix.lua: give the hit mix file after --")
  end
  -- First the lines, then the requests: a HEADER line applies to every /g/ request,
  -- wherever it stands.
  local lines = {}
  local browser_headers = {}
  local handle = assert(io.open(file, "r"))
  for line in handle:lines() do
    if line ~= "" and line:sub(1, 1) ~= "#" then
      local name, value = line:match("^HEADER\t([^\t]+)\t(.*)$")
      if name ~= nil then
        browser_headers[#browser_headers + 1] = { name, value }
      elseif line:sub(1, 7) == "HEADER\t" then
        error("mix.lua: not HEADER<TAB>NAME<TAB>VALUE: " .. line)
      else
        local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
        if method == nil then
          error("mix.lua: not METHOD<TAB>PATH[<TAB>BODY]: " .. line)
        end
        lines[#lines + 1] = { method, path, body }
      end
    end
  end
  handle:close()
  for _, line in ipairs(lines) do
    local method, path, body = line[1], line[2], line[3]
    local headers = {}
    if path:sub(1, 3) == "/g/" then
      for _, header in ipairs(browser_headers) do
        headers[header[1]] = header[2]
      end
    end
    if body == "" then
      body = nil
    else
      body = unescape(body)
      headers["Content-Type"] = content_type(path)
    end
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
  if #requests == 0 then
    error("mix.lua: no requests in " .. file)
  end
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'load-bench-json {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
