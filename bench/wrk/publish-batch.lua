-- Batches of 100 ~220-byte CloudEvents per request, each with a unique id.
local prefix = tostring(math.random(1, 1e9))
local counter = 0
request = function()
  counter = counter + 1
  local events = {}
  for i = 1, 100 do
    events[i] = '{"specversion":"1.0","id":"' .. prefix .. '-' .. counter .. '-' .. i .. '","source":"/bench/producer","type":"order.filled",'
      .. '"time":"2026-11-28T15:00:00.000Z","datacontenttype":"application/json","data":{"order":"A-1042","qty":3,"px":101.25}}'
  end
  return wrk.format("POST", "/events", { ["Content-Type"] = "application/json" }, "[" .. table.concat(events, ",") .. "]")
end
