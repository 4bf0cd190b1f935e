--[[
  touch: a pull is waiting on this subscription, so it is in use.

  KEYS[1] state  the subscription's hash
  ARGV[1] now (ms)

  Returns 1.
]]
if redis.call("EXISTS", KEYS[1]) == 1 then redis.call("HSET", KEYS[1], "lastPulledAt", ARGV[1]) end
return 1
