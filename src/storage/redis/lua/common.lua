--[[
  Helpers the scripts that say so begin with: units, delivery runs, a subscription's state.

  A required subscription's state is a hash: `acked`, `lastDelivered`, `lastPulledAt`,
  `backlog`, `base` (the absolute index of the first unit in its list), `headOffset`,
  `next` and `nextOffset` (where delivery stands), `runs` (deliveries and leases, JSON
  `[start, end, deliveries, lease]`, ends exclusive), counters, and `paused`. Its units are
  a list of strings `ranges|size|count` ("5-9,12|2048|6"); a parked unit becomes "x",
  skipped by everyone and dropped once it reaches the head.
]]
-- The numbers of a unit's ranges ("5-7,9|…" -> {5, 6, 7, 9}), or of ranges alone ("0-2,5").
local function seqs_of(unit)
  local seqs = {}
  local ranges = string.match(unit, "^([^|]*)")
  for range in string.gmatch(ranges, "[^,]+") do
    local a, b = string.match(range, "^(%d+)-(%d+)$")
    if a then
      for s = tonumber(a), tonumber(b) do seqs[#seqs + 1] = s end
    else
      seqs[#seqs + 1] = tonumber(range)
    end
  end
  return seqs
end

-- A unit read without writing its seqs out: its ranges' text, its JSON size, its count, and
-- its ranges as {first, last} pairs. Most units are one range ("5-104"), so finding a seq
-- by its place is a step or two, however many events the unit holds.
local function unit_of(text)
  local ranges, size, count = string.match(text, "^([^|]*)|(%d+)|(%d+)$")
  local list = {}
  for range in string.gmatch(ranges, "[^,]+") do
    local a, b = string.match(range, "^(%d+)-(%d+)$")
    if a then list[#list + 1] = { tonumber(a), tonumber(b) } else local s = tonumber(range); list[#list + 1] = { s, s } end
  end
  return { ranges = ranges, size = tonumber(size), count = tonumber(count), list = list }
end

-- Its i-th seq, from 1.
local function seq_at(unit, i)
  for _, range in ipairs(unit.list) do
    local n = range[2] - range[1] + 1
    if i <= n then return range[1] + i - 1 end
    i = i - n
  end
  return nil
end

local function last_of(unit)
  return unit.list[#unit.list][2]
end

-- How many of its seqs are below `seq`.
local function count_below(unit, seq)
  local count = 0
  for _, range in ipairs(unit.list) do
    if seq <= range[1] then return count end
    if seq <= range[2] then return count + seq - range[1] end
    count = count + range[2] - range[1] + 1
  end
  return count
end

-- Its seqs from the i-th to the j-th, as ranges' text.
local function ranges_between(unit, i, j)
  if i == 1 and j == unit.count then return unit.ranges end
  local parts, place = {}, 0
  for _, range in ipairs(unit.list) do
    local from, to = math.max(range[1], range[1] + i - 1 - place), math.min(range[2], range[1] + j - 1 - place)
    if from <= to then parts[#parts + 1] = from == to and tostring(from) or (from .. "-" .. to) end
    place = place + range[2] - range[1] + 1
  end
  return table.concat(parts, ",")
end

local function ranges_of(seqs, from, to)
  local parts = {}
  local i = from
  while i <= to do
    local j = i
    while j < to and seqs[j + 1] == seqs[j] + 1 do j = j + 1 end
    if j > i then parts[#parts + 1] = seqs[i] .. "-" .. seqs[j] else parts[#parts + 1] = tostring(seqs[i]) end
    i = j + 1
  end
  return table.concat(parts, ",")
end

local function runs_load(state)
  if not state.runs or state.runs == "" then return {} end
  return cjson.decode(state.runs)
end

local function runs_deliveries(runs, s, e)
  local most = 0
  for _, run in ipairs(runs) do
    if run[1] < e and run[2] > s and run[3] > most then most = run[3] end
  end
  return most
end

local function runs_lease_of(runs, seq)
  for _, run in ipairs(runs) do
    if run[1] <= seq and seq < run[2] and run[3] > 0 then return run[4] end
  end
  return nil
end

local function runs_set(runs, s, e, d, lease)
  local out = {}
  for _, run in ipairs(runs) do
    if run[2] <= s or run[1] >= e then
      out[#out + 1] = run
    else
      if run[1] < s then out[#out + 1] = { run[1], s, run[3], run[4] } end
      if run[2] > e then out[#out + 1] = { e, run[2], run[3], run[4] } end
    end
  end
  out[#out + 1] = { s, e, d, lease }
  table.sort(out, function(a, b) return a[1] < b[1] end)
  local merged = {}
  for _, run in ipairs(out) do
    local last = merged[#merged]
    if last and last[2] == run[1] and last[3] == run[3] and last[4] == run[4] then last[2] = run[2] else merged[#merged + 1] = run end
  end
  return merged
end

local function runs_drop_before(runs, seq)
  local out = {}
  for _, run in ipairs(runs) do
    if run[2] > seq then
      if run[1] < seq then run[1] = seq end
      out[#out + 1] = run
    end
  end
  return out
end

local function runs_extend(runs, before, lease)
  for _, run in ipairs(runs) do
    if run[1] < before and run[3] > 0 then run[4] = lease end
  end
  return runs
end

local function runs_save(runs)
  if #runs == 0 then return "" end
  return cjson.encode(runs)
end

local function state_of(key)
  local fields = redis.call("HGETALL", key)
  if #fields == 0 then return nil end
  local state = {}
  for i = 1, #fields, 2 do state[fields[i]] = fields[i + 1] end
  for _, name in ipairs({ "acked", "lastDelivered", "lastPulledAt", "backlog", "base", "headOffset", "next", "nextOffset", "delivered", "redelivered", "parkedCount" }) do
    state[name] = tonumber(state[name]) or 0
  end
  return state
end

local function state_save(key, state, runs)
  redis.call("HSET", key, "acked", state.acked, "lastDelivered", state.lastDelivered, "lastPulledAt", state.lastPulledAt,
    "backlog", state.backlog, "base", state.base, "headOffset", state.headOffset, "next", state.next, "nextOffset", state.nextOffset,
    "delivered", state.delivered, "redelivered", state.redelivered, "parkedCount", state.parkedCount, "runs", runs_save(runs))
end

-- The first unacknowledged unit (see unit_of), past parked ones; nil when the queue is empty.
local function head_of(queue, state)
  while true do
    local unit = redis.call("LINDEX", queue, 0)
    if not unit then return nil end
    if unit ~= "x" then return unit_of(unit) end
    redis.call("LPOP", queue)
    state.base = state.base + 1
    state.headOffset = 0
    if state.next < state.base then state.next = state.base; state.nextOffset = 0 end
  end
end

-- The lease rule: once the first unacknowledged event's lease has lapsed, everything delivered is due again.
local function lapse(queue, state, runs, now)
  local head = head_of(queue, state)
  if head and (state.next > state.base or state.nextOffset > state.headOffset) then
    local lease = runs_lease_of(runs, seq_at(head, state.headOffset + 1))
    if lease and lease <= now then state.next = state.base; state.nextOffset = state.headOffset end
  end
end

-- Acknowledges everything through `seq`, which was delivered: units wholly at or below it
-- go, a unit it falls inside keeps what follows; delivery starts no earlier than after it.
local function ack_through(queue, state, runs, seq)
  if seq <= state.acked then return runs end
  state.acked = seq
  while true do
    local head = head_of(queue, state)
    if not head then break end
    if last_of(head) <= seq then
      state.backlog = state.backlog - (head.count - state.headOffset)
      redis.call("LPOP", queue)
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
  return runs_drop_before(runs, seq + 1)
end
