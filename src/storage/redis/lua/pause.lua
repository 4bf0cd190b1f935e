--[[
  pause: pauses or resumes a subscription; what is accepted while it is paused is never
  owed to it (publish skips it, told by the version change).

  KEYS[1] version  bumped when the subscriptions change
  KEYS[2] state    the subscription's hash
  ARGV[1] 1 to pause, 0 to resume

  Returns 0 when there is no such subscription, else 1.
]]
if redis.call("EXISTS", KEYS[2]) == 0 then return 0 end
redis.call("HSET", KEYS[2], "paused", ARGV[1])
redis.call("INCR", KEYS[1])
return 1
