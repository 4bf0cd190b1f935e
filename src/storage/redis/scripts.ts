/**
 * Every decision that must hold across instances is one of these Lua scripts, run
 * atomically by Redis: accept a publish or refuse it whole, create or remove or pause a
 * subscription, deliver, ack, nack, extend, expire. Each script's keys and arguments are
 * listed at its top; each does work bounded by its arguments (a publish's events and
 * subscriptions, a pull's `max`), never by the size of the log.
 *
 * A required subscription's state is a hash: `acked`, `lastDelivered`, `lastPulledAt`,
 * `backlog`, `base` (the absolute index of the first unit in its list), `headOffset`,
 * `next` and `nextOffset` (where delivery stands), `runs` (deliveries and leases, JSON),
 * counters, and `paused`. Its units are a list of strings `ranges|size|count`
 * ("5-9,12|2048|6"); a parked unit becomes "x", skipped by everyone.
 */

/** Helpers every script shares: units, and delivery runs (`[start, end, deliveries, lease]`, ends exclusive). */
const COMMON = String.raw`
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

local function size_of(unit)
  return tonumber(string.match(unit, "|(%d+)|")) or 0
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

-- The first unacknowledged unit's index and its seqs, past parked ones; nil when the queue is empty.
local function head_of(queue, state)
  while true do
    local unit = redis.call("LINDEX", queue, 0)
    if not unit then return nil end
    if unit ~= "x" then return seqs_of(unit) end
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
    local lease = runs_lease_of(runs, head[state.headOffset + 1])
    if lease and lease <= now then state.next = state.base; state.nextOffset = state.headOffset end
  end
end
`;

/**
 * publish. KEYS: seq, log, dedupe, dedupeOrder, version, then each target subscription's
 * state and queue. ARGV: version, now, dedupeWindowMs, dedupeMaxEntries, eventCount,
 * then per event: type, head, tail, size (JSON bytes without the seq), producer key ("" =
 * none); then per target (in KEYS order): maxBacklog, the event indexes it takes
 * ("0,2,5"). Returns {"stale"}, {"full", target index}, or {"ok", first, last, duplicate
 * seqs as "i:seq" …} (first/last 0 when nothing new).
 *
 * The new events are one entry of the log, whose id is the first one's seq: types and JSON
 * texts each joined by "\n" (neither can hold one). The dedupe window is a hash (producer
 * key → "seq:time") and a list of "time|key" in acceptance order, so a publish costs a
 * handful of commands whatever its size, and forgets at most 200 keys.
 */
export const PUBLISH = COMMON + String.raw`
local version = redis.call("GET", KEYS[5]) or "0"
if version ~= ARGV[1] then return { "stale" } end
local now, window, maxEntries, count = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
-- Lua 5.1 turns a number into text with sprintf("%.14g"), ~0.3 µs each: the time is used as
-- sent (an integer, the same text), each seq made into text once.
local nowText = ARGV[2]
local events, keys, a = {}, {}, 6
for i = 0, count - 1 do
  local event = { type = ARGV[a], head = ARGV[a + 1], tail = ARGV[a + 2], size = tonumber(ARGV[a + 3]), key = ARGV[a + 4] }
  a = a + 5
  if window == 0 then event.key = "" end
  if event.key ~= "" then keys[#keys + 1] = event.key end
  events[i] = event
end
-- Duplicates: of an event the window holds, or of an earlier event of this publish.
local kept = {}
if #keys > 0 then
  local values = redis.call("HMGET", KEYS[3], unpack(keys))
  for j = 1, #keys do
    local value = values[j]
    if value then
      local kseq, kat = string.match(value, "^(%d+):(%d+)$")
      if tonumber(kat) > now - window then kept[keys[j]] = kseq end
    end
  end
end
local seen, fresh = {}, 0
for i = 0, count - 1 do
  local event = events[i]
  if event.key ~= "" and kept[event.key] then event.duplicate = "=" .. kept[event.key]
  elseif event.key ~= "" and seen[event.key] then event.duplicate = "#" .. seen[event.key]
  else
    fresh = fresh + 1
    event.index = fresh
    if event.key ~= "" then seen[event.key] = fresh end
  end
end
-- What each target takes of what is new, and whether it has room.
local targets, t = {}, 0
for k = 6, #KEYS, 2 do
  t = t + 1
  local maxBacklog, indexes = tonumber(ARGV[a]), ARGV[a + 1]
  a = a + 2
  local takes = {}
  for index in string.gmatch(indexes, "%d+") do
    local event = events[tonumber(index)]
    if not event.duplicate then takes[#takes + 1] = event end
  end
  local backlog = tonumber(redis.call("HGET", KEYS[k], "backlog") or "0")
  if #takes > 0 and backlog + #takes > maxBacklog then return { "full", t } end
  targets[#targets + 1] = { state = KEYS[k], queue = KEYS[k + 1], takes = takes }
end
local result = { "ok", 0, 0 }
if fresh > 0 then
  local last = redis.call("INCRBY", KEYS[1], fresh)
  local first = last - fresh + 1
  result[2], result[3] = first, last
  local types, jsons, remembered, order = {}, {}, {}, {}
  for i = 0, count - 1 do
    local event = events[i]
    if not event.duplicate then
      event.seq = first + event.index - 1
      event.seqText = tostring(event.seq)
      types[#types + 1] = event.type
      jsons[#jsons + 1] = event.head .. event.seqText .. event.tail
      if event.key ~= "" then
        remembered[#remembered + 1] = event.key
        remembered[#remembered + 1] = event.seqText .. ":" .. nowText
        order[#order + 1] = nowText .. "|" .. event.key
      end
    end
  end
  redis.call("XADD", KEYS[2], first .. "-0", "t", table.concat(types, "\n"), "j", table.concat(jsons, "\n"), "a", nowText)
  if #order > 0 then
    redis.call("HSET", KEYS[3], unpack(remembered))
    redis.call("RPUSH", KEYS[4], unpack(order))
  end
  for _, target in ipairs(targets) do
    if #target.takes > 0 then
      local seqs, size = {}, 0
      for _, event in ipairs(target.takes) do
        seqs[#seqs + 1] = event.seq
        size = size + event.size + #event.seqText
      end
      redis.call("RPUSH", target.queue, ranges_of(seqs, 1, #seqs) .. "|" .. size .. "|" .. #seqs)
      redis.call("HINCRBY", target.state, "backlog", #seqs)
    end
  end
end
for i = 0, count - 1 do
  local duplicate = events[i].duplicate
  if duplicate then
    local seq = string.sub(duplicate, 1, 1) == "=" and tonumber(string.sub(duplicate, 2)) or (result[2] + tonumber(string.sub(duplicate, 2)) - 1)
    result[#result + 1] = i .. ":" .. seq
  end
end
-- Forget what the window no longer holds (too old, or beyond its size), 200 keys at most;
-- a key remembered again since keeps its newer entry.
local over = redis.call("LLEN", KEYS[4]) - maxEntries
local first = redis.call("LINDEX", KEYS[4], 0)
local n, oldest = 0, {}
if over > 0 or (first and tonumber(string.match(first, "^(%d+)|")) <= now - window) then
  oldest = redis.call("LRANGE", KEYS[4], 0, 199)
  n = math.max(0, math.min(over, 200))
  while n < #oldest and tonumber(string.match(oldest[n + 1], "^(%d+)|")) <= now - window do n = n + 1 end
end
if n > 0 then
  redis.call("LTRIM", KEYS[4], n, -1)
  local forgotten, times = {}, {}
  for j = 1, n do
    local bar = string.find(oldest[j], "|", 1, true)
    times[j], forgotten[j] = string.sub(oldest[j], 1, bar - 1), string.sub(oldest[j], bar + 1)
  end
  local values = redis.call("HMGET", KEYS[3], unpack(forgotten))
  local gone = {}
  for j = 1, n do
    if values[j] and string.match(values[j], ":(%d+)$") == times[j] then gone[#gone + 1] = forgotten[j] end
  end
  if #gone > 0 then redis.call("HDEL", KEYS[3], unpack(gone)) end
end
return result
`;

/**
 * read: the log's entries holding seqs `from` to `to` ("+" for the end), at most `count`
 * entries, starting with the one holding `from`. KEYS: log. ARGV: from, to, count.
 */
export const READ = String.raw`
local holding = redis.call("XREVRANGE", KEYS[1], ARGV[1] .. "-0", "-", "COUNT", 1)
local start = holding[1] and holding[1][1] or "-"
local stop = ARGV[2] == "+" and "+" or ARGV[2] .. "-0"
return redis.call("XRANGE", KEYS[1], start, stop, "COUNT", ARGV[3])
`;

/**
 * subscribe. KEYS: subs, version, seq, then each new subscription's state. ARGV: now, then
 * per subscription: id, spec JSON. Its ack point is the last seq: it is owed what comes next.
 */
export const SUBSCRIBE = String.raw`
local last = redis.call("GET", KEYS[3]) or "0"
for i = 4, #KEYS do
  local id, spec = ARGV[2 * (i - 3)], ARGV[2 * (i - 3) + 1]
  redis.call("HSET", KEYS[1], id, spec)
  redis.call("HSET", KEYS[i], "acked", last, "lastDelivered", last, "lastPulledAt", ARGV[1], "backlog", 0, "base", 0,
    "headOffset", 0, "next", 0, "nextOffset", 0, "delivered", 0, "redelivered", 0, "parkedCount", 0, "runs", "", "paused", 0)
end
redis.call("INCR", KEYS[2])
return last
`;

/** remove. KEYS: subs, version, state, queue, parked. ARGV: id. Returns 1 if it existed. */
export const REMOVE = String.raw`
local existed = redis.call("HDEL", KEYS[1], ARGV[1])
redis.call("DEL", KEYS[3], KEYS[4], KEYS[5])
if existed == 1 then redis.call("INCR", KEYS[2]) end
return existed
`;

/** pause. KEYS: version, state. ARGV: 1 or 0. Returns 0 when there is no such subscription. */
export const PAUSE = String.raw`
if redis.call("EXISTS", KEYS[2]) == 0 then return 0 end
redis.call("HSET", KEYS[2], "paused", ARGV[1])
redis.call("INCR", KEYS[1])
return 1
`;

/**
 * take: the next deliveries of a subscription. KEYS: state, queue, parked. ARGV: now,
 * max events, max bytes, ackTimeoutMs, maxDeliveries, maxParked. Returns {"gone"}, or
 * {"ok", oldest lease or "", unit ranges, deliveries, unit ranges, deliveries, …}.
 */
export const TAKE = COMMON + String.raw`
local state = state_of(KEYS[1])
if not state then return { "gone" } end
local now, max, maxBytes, ackTimeout = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local maxDeliveries, maxParked = tonumber(ARGV[5]), tonumber(ARGV[6])
local runs = runs_load(state)
state.lastPulledAt = now
lapse(KEYS[2], state, runs, now)
local out, count, bytes = { "ok", "" }, 0, 0
while true do
  local index = state.next - state.base
  local unit = redis.call("LINDEX", KEYS[2], index)
  if not unit then break end
  if unit == "x" then
    state.next = state.next + 1; state.nextOffset = 0
  else
    local seqs = seqs_of(unit)
    local from = state.nextOffset + 1
    local first, last = seqs[from], seqs[#seqs]
    local deliveries = runs_deliveries(runs, first, last + 1) + 1
    local n = #seqs - from + 1
    if maxDeliveries > 0 and deliveries > maxDeliveries then
      local atHead = state.next == state.base and state.nextOffset == state.headOffset
      for i = from, #seqs do redis.call("RPUSH", KEYS[3], seqs[i] .. ":" .. (deliveries - 1)) end
      redis.call("LTRIM", KEYS[3], -maxParked, -1)
      if maxParked == 0 then redis.call("DEL", KEYS[3]) end
      state.parkedCount = state.parkedCount + n
      state.backlog = state.backlog - n
      -- At the head, what is left of the unit was acknowledged: the whole unit goes.
      if from == 1 or atHead then
        redis.call("LSET", KEYS[2], index, "x")
      else
        redis.call("LSET", KEYS[2], index, ranges_of(seqs, 1, from - 1) .. "|" .. size_of(unit) .. "|" .. (from - 1))
      end
      state.next = state.next + 1; state.nextOffset = 0
      if atHead then
        if last > state.acked then state.acked = last end
        head_of(KEYS[2], state)
      end
    else
      local size = size_of(unit)
      if count > 0 and (count + n > max or bytes + size > maxBytes) then break end
      if deliveries > 1 then state.redelivered = state.redelivered + n end
      runs = runs_set(runs, first, last + 1, deliveries, now + ackTimeout)
      out[#out + 1] = ranges_of(seqs, from, #seqs)
      out[#out + 1] = deliveries
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
  local lease = runs_lease_of(runs, head[state.headOffset + 1])
  if lease and (state.next > state.base or state.nextOffset > state.headOffset) then out[2] = lease end
end
state_save(KEYS[1], state, runs)
return out
`;

/**
 * ack: everything through a seq is done. KEYS: state, queue. ARGV: seq, now. Returns
 * {"gone"}, {"never", lastDelivered}, or {"ok", acked, backlog}.
 */
export const ACK = COMMON + String.raw`
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
    if head[#head] <= seq then
      state.backlog = state.backlog - (#head - state.headOffset)
      redis.call("LPOP", KEYS[2])
      state.base = state.base + 1
      state.headOffset = 0
    else
      local offset = state.headOffset
      while head[offset + 1] <= seq do offset = offset + 1 end
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
`;

/**
 * nack: deliver again from a seq. KEYS: state, queue. ARGV: seq, now. Returns {"gone"},
 * {"never", lastDelivered}, or {"ok", acked, backlog}.
 */
export const NACK = COMMON + String.raw`
local state = state_of(KEYS[1])
if not state then return { "gone" } end
local seq, now = tonumber(ARGV[1]), tonumber(ARGV[2])
if seq > state.lastDelivered then return { "never", state.lastDelivered } end
state.lastPulledAt = now
if seq > state.acked then
  local units = redis.call("LRANGE", KEYS[2], 0, state.next - state.base)
  for i, unit in ipairs(units) do
    if unit ~= "x" then
      local seqs = seqs_of(unit)
      local offset = (i == 1) and state.headOffset or 0
      while offset < #seqs and seqs[offset + 1] < seq do offset = offset + 1 end
      local index = state.base + i - 1
      if offset < #seqs then
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
`;

/**
 * extend: the lease of everything delivered and unacked ends at a time. KEYS: state,
 * queue. ARGV: lease end, now. Returns {"gone"} or {"ok"}.
 */
export const EXTEND = COMMON + String.raw`
local state = state_of(KEYS[1])
if not state then return { "gone" } end
local lease, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local runs = runs_load(state)
lapse(KEYS[2], state, runs, now)
local before = math.huge
local unit = redis.call("LINDEX", KEYS[2], state.next - state.base)
if unit and unit ~= "x" then before = seqs_of(unit)[state.nextOffset + 1] end
state.lastPulledAt = now
state_save(KEYS[1], state, runs_extend(runs, before, lease))
return { "ok" }
`;

/** touch: a pull is waiting on this subscription, so it is in use. KEYS: state. ARGV: now. */
export const TOUCH = String.raw`
if redis.call("EXISTS", KEYS[1]) == 1 then redis.call("HSET", KEYS[1], "lastPulledAt", ARGV[1]) end
return 1
`;

/**
 * expire: removes a subscription idle since before a time. KEYS: subs, version, state,
 * queue, parked. ARGV: id, idle since (ms). Returns 1 if it was removed.
 */
export const EXPIRE = String.raw`
local last = tonumber(redis.call("HGET", KEYS[3], "lastPulledAt") or "-1")
if last < 0 or last > tonumber(ARGV[2]) then return 0 end
redis.call("HDEL", KEYS[1], ARGV[1])
redis.call("DEL", KEYS[3], KEYS[4], KEYS[5])
redis.call("INCR", KEYS[2])
return 1
`;

/**
 * held: the oldest seq a subscription still needs kept (its first unacknowledged event,
 * or a parked one), for retention. KEYS: state, queue, parked. Returns 0 when it needs none.
 */
export const HELD = COMMON + String.raw`
local state = state_of(KEYS[1])
if not state then return 0 end
local oldest = 0
local head = head_of(KEYS[2], state)
if head then oldest = head[state.headOffset + 1] end
for _, entry in ipairs(redis.call("LRANGE", KEYS[3], 0, -1)) do
  local seq = tonumber(string.match(entry, "^(%d+)"))
  if oldest == 0 or seq < oldest then oldest = seq end
end
return oldest
`;
