--[[
  nack: the next take delivers again from a seq (within what was delivered). At or below
  the ack point it only counts as use; beyond the last delivered seq is refused.

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
  local units = redis.call("LRANGE", KEYS[2], 0, state.next - state.base)
  for i, unit in ipairs(units) do
    if unit ~= "x" then
      local view = unit_of(unit)
      local offset = math.max((i == 1) and state.headOffset or 0, count_below(view, seq))
      local index = state.base + i - 1
      if offset < view.count then
        if index < state.next or (index == state.next and offset < state.nextOffset) then
          state.next = index; state.nextOffset = offset
        end
        break
      end
    end
  end
end
state_save(KEYS[1], state, runs_load(state))
return { "ok", state.acked, state.backlog }
