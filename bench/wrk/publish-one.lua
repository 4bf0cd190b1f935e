-- One ~220-byte CloudEvent per request, with a unique id so none is a duplicate.
local prefix = tostring(math.random(1, 1e9))
local counter = 0
request = function()
  counter = counter + 1
  local body = '{"specversion":"1.0","id":"' .. prefix .. '-' .. counter .. '","source":"/bench/producer","type":"order.filled",'
    .. '"time":"2026-11-28T15:00:00.000Z","datacontenttype":"application/json","data":{"order":"A-1042","qty":3,"px":101.25}}'
  return wrk.format("POST", "/events", { ["Content-Type"] = "application/json" }, body)
end
