-- wrk script for bench/run.sh (one script, driven by environment variables)
--   WRK_METHOD   request method (default GET)
--   WRK_BODY     JSON body (sets Content-Type: application/json)
--   WRK_MODE     "static" (default): the same request every time
--                "refresh": POST /v1/auth/refresh with a refresh token that
--                is used once; each 200 hands back the next one. Each thread
--                starts from WRK_PER_THREAD tokens of the file WRK_TOKENS
--                (one a line, from separate logins), so every connection
--                carries its own rotation chain. Give each thread one more
--                token than it has connections: wrk calls request() once in
--                the first thread before the run to check the script.
-- done() prints one line "WRKJSON {...}" with the raw numbers.
local mode = os.getenv("WRK_MODE") or "static"
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

local threads = {}
local all_tokens = {}
local next_token = 1
if mode == "refresh" then
  local f = assert(io.open(os.getenv("WRK_TOKENS"), "r"))
  for l in f:lines() do
    if #l > 0 then all_tokens[#all_tokens + 1] = l end
  end
  f:close()
end

function setup(thread)
  table.insert(threads, thread)
  if mode == "refresh" then
    local per = tonumber(os.getenv("WRK_PER_THREAD") or "8")
    local t = {}
    for _ = 1, per do
      if all_tokens[next_token] then t[#t + 1] = all_tokens[next_token] end
      next_token = next_token + 1
    end
    thread:set("seed", table.concat(t, " "))
  end
end

if mode == "refresh" then
  local queue = nil
  starved = 0
  local function fill()
    queue = {}
    for tok in string.gmatch(seed or "", "%S+") do queue[#queue + 1] = tok end
  end
  function request()
    if queue == nil then fill() end
    local tok = table.remove(queue)
    if tok == nil then
      starved = starved + 1
      tok = "no-token-left"
    end
    return wrk.format("POST", "/v1/auth/refresh", { ["Content-Type"] = "application/json" },
      '{"refresh_token":"' .. tok .. '"}')
  end
  function response(status, headers, rbody)
    if status ~= 200 and os.getenv("WRK_DEBUG") then io.stderr:write(status .. " " .. rbody .. "\n") end
    if status == 200 then
      local t = string.match(rbody, '"refresh_token":"([^"]+)"')
      if t then queue[#queue + 1] = t end
    end
  end
end

function done(summary, latency, requests)
  local starved_total = 0
  for _, t in ipairs(threads) do starved_total = starved_total + (tonumber(t:get("starved")) or 0) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"connect_err":%d,"read_err":%d,' ..
    '"write_err":%d,"timeout":%d,"starved":%d,"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_90_us":%d,' ..
    '"lat_p99_us":%d,"lat_max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    starved_total, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
