--[[
  subscribe: creates subscriptions, all of them or none. Each one's ack point is the last
  seq: it is owed what comes next.

  KEYS[1] subs     hash of every required subscription's spec
  KEYS[2] version  bumped when the subscriptions change
  KEYS[3] seq      the last seq given
  KEYS[4…] each new subscription's state
  ARGV[1] now (ms)
  ARGV[2] maxRequired: most required subscriptions there may be
  ARGV[3…] per subscription: id, spec JSON

  Returns {"too-many", count now} or {"ok", last seq}.
]]
local count = redis.call("HLEN", KEYS[1])
if count + #KEYS - 3 > tonumber(ARGV[2]) then return { "too-many", count } end
local last = redis.call("GET", KEYS[3]) or "0"
for i = 4, #KEYS do
  local id, spec = ARGV[2 * (i - 3) + 1], ARGV[2 * (i - 3) + 2]
  redis.call("HSET", KEYS[1], id, spec)
  redis.call("HSET", KEYS[i], "acked", last, "lastDelivered", last, "lastPulledAt", ARGV[1], "backlog", 0, "base", 0,
    "headOffset", 0, "next", 0, "nextOffset", 0, "delivered", 0, "redelivered", 0, "parkedCount", 0, "runs", "", "paused", 0)
end
redis.call("INCR", KEYS[2])
return { "ok", last }
