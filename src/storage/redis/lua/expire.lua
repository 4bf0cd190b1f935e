--[[
  expire: removes a subscription not used since before a time (its expireAfterMs ago).

  KEYS[1] subs     hash of every required subscription's spec
  KEYS[2] version  bumped when the subscriptions change
  KEYS[3] state    the subscription's hash
  KEYS[4] queue    its units
  KEYS[5] parked   its parked list
  ARGV[1] id
  ARGV[2] idle since (ms): used at or before it, it goes

  Returns 1 if it was removed, else 0.
]]
local last = tonumber(redis.call("HGET", KEYS[3], "lastPulledAt") or "-1")
if last < 0 or last > tonumber(ARGV[2]) then return 0 end
redis.call("HDEL", KEYS[1], ARGV[1])
redis.call("DEL", KEYS[3], KEYS[4], KEYS[5])
redis.call("INCR", KEYS[2])
return 1
