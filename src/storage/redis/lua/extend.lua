--[[
  extend: after the lease rule, everything delivered and unacknowledged is leased until
  a time.

  KEYS[1] state   the subscription's hash
  KEYS[2] queue   its units
  ARGV[1] lease end (ms)
  ARGV[2] now (ms)

  Returns {"gone"} or {"ok"}.
  Uses common.lua.
]]
local state = state_of(KEYS[1])
if not state then return { "gone" } end
local lease, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local runs = runs_load(state)
lapse(KEYS[2], state, runs, now)
local before = math.huge
local unit = redis.call("LINDEX", KEYS[2], state.next - state.base)
if unit and unit ~= "x" then before = seq_at(unit_of(unit), state.nextOffset + 1) end
state.lastPulledAt = now
state_save(KEYS[1], state, runs_extend(runs, before, lease))
return { "ok" }
