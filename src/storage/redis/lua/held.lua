--[[
  held: the oldest seq a subscription still needs kept (its first unacknowledged event,
  or a parked one), for retention.

  KEYS[1] state   the subscription's hash
  KEYS[2] queue   its units
  KEYS[3] parked  its parked list

  Returns that seq, or 0 when it needs none.
  Uses common.lua.
]]
local state = state_of(KEYS[1])
if not state then return 0 end
local oldest = 0
local head = head_of(KEYS[2], state)
if head then oldest = seq_at(head, state.headOffset + 1) end
for _, entry in ipairs(redis.call("LRANGE", KEYS[3], 0, -1)) do
  local seq = tonumber(string.match(entry, "^(%d+)"))
  if oldest == 0 or seq < oldest then oldest = seq end
end
return oldest
