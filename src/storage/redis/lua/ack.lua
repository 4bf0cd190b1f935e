--[[
  ack: everything through a seq is done (cumulative). Acking at or below the ack point
  only counts as use; beyond the last delivered seq is refused.

  KEYS[1] state   the subscription's hash
  KEYS[2] queue   its units
  ARGV[1] seq
  ARGV[2] now (ms)

  Returns {"gone"}, {"never", lastDelivered}, or {"ok", acked, backlog}.
  Uses common.lua.
]]
local state = state_of(KEYS[1])
if not state then return { "gone" } end
local seq, now = tonumber(ARGV[1]), tonumber(ARGV[2])
if seq > state.lastDelivered then return { "never", state.lastDelivered } end
state.lastPulledAt = now
if seq > state.acked then
  state_save(KEYS[1], state, ack_through(KEYS[2], state, runs_load(state), seq))
else
  redis.call("HSET", KEYS[1], "lastPulledAt", now)
end
return { "ok", state.acked, state.backlog }
