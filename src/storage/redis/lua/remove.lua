--[[
  remove: deletes a subscription, its units and its parked list.

  KEYS[1] subs     hash of every required subscription's spec
  KEYS[2] version  bumped when the subscriptions change
  KEYS[3] state    the subscription's hash
  KEYS[4] queue    its units
  KEYS[5] parked   its parked list
  ARGV[1] id

  Returns 1 if it existed, else 0.
]]
local existed = redis.call("HDEL", KEYS[1], ARGV[1])
redis.call("DEL", KEYS[3], KEYS[4], KEYS[5])
if existed == 1 then redis.call("INCR", KEYS[2]) end
return existed
