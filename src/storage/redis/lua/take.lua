--[[
  take: the next deliveries of a subscription, after acknowledging through a seq if asked
  (refused, taking nothing, when that seq was never delivered). The lease rule first; then
  whole units from the first due one, at least one, within max events and max bytes; a
  unit already delivered maxDeliveries times is parked instead (listed, newest maxParked
  kept, out of the backlog; at the head, the ack point moves past it). The log entries
  holding what it hands out are returned too, from a seq on: those the instance does not
  keep, so that a pull is one round trip.

  KEYS[1] state   the subscription's hash
  KEYS[2] queue   its units
  KEYS[3] parked  its parked list
  KEYS[4] log     the event log
  ARGV[1] now (ms)
  ARGV[2] max events
  ARGV[3] max bytes
  ARGV[4] ackTimeoutMs
  ARGV[5] maxDeliveries (0: no limit)
  ARGV[6] maxParked
  ARGV[7] the seq to acknowledge through first, or ""
  ARGV[8] the first seq whose log entry is returned, or "" for none

  Returns {"gone"}, {"never", lastDelivered}, or {"ok", oldest lease end or "", {per unit
  taken: its seqs as ranges ("5-9,12"), its delivery count}, {the log entries}}.
  Uses common.lua.
]]
local state = state_of(KEYS[1])
if not state then return { "gone" } end
local now, max, maxBytes, ackTimeout = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local maxDeliveries, maxParked = tonumber(ARGV[5]), tonumber(ARGV[6])
local ack, entriesFrom = tonumber(ARGV[7]), tonumber(ARGV[8])
if ack and ack > state.lastDelivered then return { "never", state.lastDelivered } end
local runs = runs_load(state)
if ack then runs = ack_through(KEYS[2], state, runs, ack) end
state.lastPulledAt = now
lapse(KEYS[2], state, runs, now)
local units, entries = {}, {}
local count, bytes, leaseEnd = 0, 0, ""
while true do
  local index = state.next - state.base
  local unit = redis.call("LINDEX", KEYS[2], index)
  if not unit then break end
  if unit == "x" then
    state.next = state.next + 1; state.nextOffset = 0
  else
    local view = unit_of(unit)
    local from = state.nextOffset + 1
    local first, last = seq_at(view, from), last_of(view)
    local deliveries = runs_deliveries(runs, first, last + 1) + 1
    local n = view.count - from + 1
    if maxDeliveries > 0 and deliveries > maxDeliveries then
      local atHead = state.next == state.base and state.nextOffset == state.headOffset
      local seqs = seqs_of(unit)
      for i = from, #seqs do redis.call("RPUSH", KEYS[3], seqs[i] .. ":" .. (deliveries - 1)) end
      -- Lua writes -0 as "-0", which LTRIM refuses: none kept is a DEL.
      if maxParked == 0 then redis.call("DEL", KEYS[3]) else redis.call("LTRIM", KEYS[3], -maxParked, -1) end
      state.parkedCount = state.parkedCount + n
      state.backlog = state.backlog - n
      -- At the head, what is left of the unit was acknowledged: the whole unit goes.
      if from == 1 or atHead then
        redis.call("LSET", KEYS[2], index, "x")
      else
        redis.call("LSET", KEYS[2], index, ranges_between(view, 1, from - 1) .. "|" .. view.size .. "|" .. (from - 1))
      end
      state.next = state.next + 1; state.nextOffset = 0
      if atHead then
        if last > state.acked then state.acked = last end
        head_of(KEYS[2], state)
      end
    else
      local size = view.size
      if count > 0 and (count + n > max or bytes + size > maxBytes) then break end
      if deliveries > 1 then state.redelivered = state.redelivered + n end
      runs = runs_set(runs, first, last + 1, deliveries, now + ackTimeout)
      units[#units + 1] = ranges_between(view, from, view.count)
      units[#units + 1] = deliveries
      -- A unit is the share of one publish: the entry holding its first seq holds it all.
      if entriesFrom and last >= entriesFrom then entries[#entries + 1] = redis.call("XREVRANGE", KEYS[4], first .. "-0", "-", "COUNT", 1)[1] end
      count = count + n
      bytes = bytes + size
      state.next = state.next + 1; state.nextOffset = 0
      if last > state.lastDelivered then state.lastDelivered = last end
    end
  end
end
state.delivered = state.delivered + count
-- The oldest lease, for a pull that waits.
local head = head_of(KEYS[2], state)
if head then
  local lease = runs_lease_of(runs, seq_at(head, state.headOffset + 1))
  if lease and (state.next > state.base or state.nextOffset > state.headOffset) then leaseEnd = lease end
end
state_save(KEYS[1], state, runs)
return { "ok", leaseEnd, units, entries }
