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
  state.acked = seq
  while true do
    local head = head_of(KEYS[2], state)
    if not head then break end
    if last_of(head) <= seq then
      state.backlog = state.backlog - (head.count - state.headOffset)
      redis.call("LPOP", KEYS[2])
      state.base = state.base + 1
      state.headOffset = 0
    else
      local offset = count_below(head, seq + 1)
      state.backlog = state.backlog - (offset - state.headOffset)
      state.headOffset = offset
      break
    end
  end
  if state.next < state.base or (state.next == state.base and state.nextOffset < state.headOffset) then
    state.next = state.base; state.nextOffset = state.headOffset
  end
  state_save(KEYS[1], state, runs_drop_before(runs_load(state), seq + 1))
else
  redis.call("HSET", KEYS[1], "lastPulledAt", now)
end
return { "ok", state.acked, state.backlog }
