--[[
  publish: accepts publishes that arrived together, each whole or refused whole, in order.
  Events whose producer key the dedupe window holds (or an earlier event of the same
  publish has) are duplicates; a publish's other events get consecutive seqs and become
  one entry of the log, whose id is the first one's seq: `t` the types and `h` the events'
  JSON either side of the seq ("head" NUL "tail"), each joined by "\n" (neither can hold
  one), `a` when it was accepted. Each target subscription takes its share as one unit,
  unless that would take one past its maxBacklog: then nothing of that publish is
  accepted. Work is per publish and per target, not per event, but for producer keys and
  publishes with duplicates.

  KEYS[1] seq          the last seq given
  KEYS[2] log          the event log (a stream)
  KEYS[3] dedupe       producer key -> "seq:time"
  KEYS[4] dedupeOrder  per publish remembered: "time|" and the JSON array of its keys
  KEYS[5] version      the subscriptions' version
  KEYS[6] calls        the number of the last call of this instance carried out
  KEYS[7…] the target subscriptions of all the publishes, each as state, queue
  ARGV[1] the version the caller routed with (another is {"stale"}: route again)
  ARGV[2] now (ms)
  ARGV[3] dedupeWindowMs (0: no dedupe)
  ARGV[4] dedupeMaxEntries
  ARGV[5] the number of publishes
  ARGV[6] this call's number
  ARGV[7] the number of the call it must follow ("": none), or {"stale"}: send it again
          once that one was (the instance sets 0 when it starts: a number missing is lost)
  ARGV[8…] per publish:
    the number of events;
    their types, joined by "\n";
    their JSON either side of the seq, head NUL tail, joined by "\n";
    their JSON sizes without the seq, joined by ",";
    the indexes of the events with a producer key not given earlier in the publish, as
    ranges ("0-9,12"), and those keys as a JSON array; "index:earlier index" of the events
    whose key an earlier event of the publish has, joined by ",";
    the number of targets, then per target, in the order a refusal names them: the
    position of its state in KEYS, its maxBacklog, the indexes of the events it takes (as
    ranges), and the JSON bytes of those events without their seqs.

  Returns one reply per publish: {"ok", first, last, duplicates as "index:seq" …} (first
  and last 0 when nothing is new) or {"full", target number from 1}; or {"stale"} for all.
  Uses common.lua.
]]
if (redis.call("GET", KEYS[5]) or "0") ~= ARGV[1] then return { "stale" } end
-- No number kept (Redis lost it, or it expired in a day idle): nothing is known to follow.
local lastCall = redis.call("GET", KEYS[6])
if ARGV[7] ~= "" and lastCall and lastCall ~= ARGV[7] then return { "stale" } end
redis.call("SET", KEYS[6], ARGV[6], "PX", 86400000)
local now, window, maxEntries = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
-- Lua 5.1 turns a number into text with sprintf("%.14g"), ~0.3 µs each: the time is used as
-- sent (an integer, the same text).
local nowText = ARGV[2]
local a = 8

local function next_arg()
  a = a + 1
  return ARGV[a - 1]
end

-- How many indexes ranges hold ("0-2,5" -> 4).
local function count_of(ranges)
  local count = 0
  for range in string.gmatch(ranges, "[^,]+") do
    local from, to = string.match(range, "^(%d+)-(%d+)$")
    count = count + (from and tonumber(to) - tonumber(from) + 1 or 1)
  end
  return count
end

-- Digits of every seq from `from` to `to`, without writing them out.
local function digits_between(from, to)
  local sum, low, width = 0, 1, 1
  while low <= to do
    local high = low * 10 - 1
    if high >= from then sum = sum + (math.min(high, to) - math.max(low, from) + 1) * width end
    low, width = high + 1, width + 1
  end
  return sum
end

-- The parts of `text` between `separator`s (none of them is empty).
local function split(text, separator)
  local parts = {}
  for part in string.gmatch(text, "[^" .. separator .. "]+") do parts[#parts + 1] = part end
  return parts
end

-- Each event's duplicate seq (or, as "#n", the place of its fresh earlier twin), how many
-- are fresh, and each fresh event's place among them when some are not.
local function duplicates_of(count, keyed, keys, twins)
  local duplicate, fresh, index = {}, count, {}
  if window == 0 then return duplicate, fresh, index end
  if #keys > 0 then
    local values = redis.call("HMGET", KEYS[3], unpack(keys))
    for j = 1, #keys do
      local value = values[j]
      if value then
        local kseq, kat = string.match(value, "^(%d+):(%d+)$")
        if tonumber(kat) > now - window then duplicate[keyed[j]] = tonumber(kseq); fresh = fresh - 1 end
      end
    end
  end
  for twin in string.gmatch(twins, "[^,]+") do
    local i, earlier = string.match(twin, "^(%d+):(%d+)$")
    i, earlier = tonumber(i), tonumber(earlier)
    duplicate[i] = duplicate[earlier] or ("#" .. earlier)
    fresh = fresh - 1
  end
  if fresh < count then
    local n = 0
    for i = 0, count - 1 do
      if not duplicate[i] then n = n + 1; index[i] = n end
    end
  end
  return duplicate, fresh, index
end

local function publish()
  local count = tonumber(next_arg())
  local types, templates, sizes = next_arg(), next_arg(), next_arg()
  local keyed, keysJson, twins = seqs_of(next_arg()), next_arg(), next_arg()
  local keys = #keyed > 0 and cjson.decode(keysJson) or {}
  local duplicate, fresh, freshIndex = duplicates_of(count, keyed, keys, twins)
  local any = fresh < count
  local targets = {}
  for t = 1, tonumber(next_arg()) do
    local k, maxBacklog, taking, bytes = tonumber(next_arg()), tonumber(next_arg()), next_arg(), tonumber(next_arg())
    targets[t] = { state = KEYS[k], queue = KEYS[k + 1], maxBacklog = maxBacklog, taking = taking, bytes = bytes }
  end
  -- What each target takes of what is new, and whether it has room.
  for t, target in ipairs(targets) do
    if any then
      target.events = {}
      for _, i in ipairs(seqs_of(target.taking)) do
        if not duplicate[i] then target.events[#target.events + 1] = i end
      end
      target.count = #target.events
    else
      target.count = count_of(target.taking)
    end
    local backlog = tonumber(redis.call("HGET", target.state, "backlog") or "0")
    if target.count > 0 and backlog + target.count > target.maxBacklog then return { "full", t } end
  end
  local result = { "ok", 0, 0 }
  if fresh > 0 then
    local last = redis.call("INCRBY", KEYS[1], fresh)
    local first = last - fresh + 1
    result[2], result[3] = first, last
    local seqOf = function(i) return first + (any and freshIndex[i] or i + 1) - 1 end
    if any then
      local allTypes, allTemplates, kept, keptTemplates = split(types, "\n"), split(templates, "\n"), {}, {}
      for i = 0, count - 1 do
        if not duplicate[i] then kept[#kept + 1] = allTypes[i + 1]; keptTemplates[#keptTemplates + 1] = allTemplates[i + 1] end
      end
      types, templates = table.concat(kept, "\n"), table.concat(keptTemplates, "\n")
    end
    redis.call("XADD", KEYS[2], first .. "-0", "t", types, "h", templates, "a", nowText)
    if #keys > 0 and window > 0 then
      local remembered = {}
      for j = 1, #keys do
        local i = keyed[j]
        if not duplicate[i] then
          remembered[#remembered + 1] = keys[j]
          remembered[#remembered + 1] = seqOf(i) .. ":" .. nowText
        end
      end
      -- Keys of duplicates are listed too: their values are older, so forgetting passes them by.
      if #remembered > 0 then
        redis.call("HSET", KEYS[3], unpack(remembered))
        redis.call("RPUSH", KEYS[4], nowText .. "|" .. keysJson)
      end
    end
    local eventSizes = any and split(sizes, ",") or nil
    for _, target in ipairs(targets) do
      if target.count > 0 then
        local ranges, size
        if any then
          local seqs = {}
          size = 0
          for n, i in ipairs(target.events) do
            seqs[n] = seqOf(i)
            size = size + tonumber(eventSizes[i + 1]) + #tostring(seqs[n])
          end
          ranges = ranges_of(seqs, 1, #seqs)
        else
          -- No duplicates: the seq of event i is first + i, range by range.
          local parts = {}
          size = target.bytes
          for range in string.gmatch(target.taking, "[^,]+") do
            local from, to = string.match(range, "^(%d+)-(%d+)$")
            from, to = tonumber(from or range) + first, tonumber(to or range) + first
            parts[#parts + 1] = from == to and tostring(from) or (from .. "-" .. to)
            size = size + digits_between(from, to)
          end
          ranges = table.concat(parts, ",")
        end
        redis.call("RPUSH", target.queue, ranges .. "|" .. size .. "|" .. target.count)
        redis.call("HINCRBY", target.state, "backlog", target.count)
      end
    end
  end
  for i = 0, count - 1 do
    local seq = duplicate[i]
    if seq then
      if type(seq) == "string" then seq = result[2] + freshIndex[tonumber(string.sub(seq, 2))] - 1 end
      result[#result + 1] = i .. ":" .. seq
    end
  end
  return result
end

-- Forgets the keys of the oldest remembered publishes while they are past the window or
-- beyond its size, `budget` keys at most. A key whose value is not of that publish's time
-- (remembered again since, or a duplicate then) is passed by.
local function forget(budget)
  local over = redis.call("HLEN", KEYS[3]) - maxEntries
  while budget > 0 do
    local entry = redis.call("LINDEX", KEYS[4], 0)
    if not entry then return end
    local bar = string.find(entry, "|", 1, true)
    local time = string.sub(entry, 1, bar - 1)
    local expired = tonumber(time) <= now - window
    if not expired and over <= 0 then return end
    local names = cjson.decode(string.sub(entry, bar + 1))
    local n = math.min(expired and #names or over, #names, budget)
    local batch = {}
    for j = 1, n do batch[j] = names[j] end
    local values = redis.call("HMGET", KEYS[3], unpack(batch))
    local gone, suffix = {}, ":" .. time
    for j = 1, n do
      local value = values[j]
      if value and string.sub(value, -#suffix) == suffix then gone[#gone + 1] = batch[j] end
    end
    if #gone > 0 then redis.call("HDEL", KEYS[3], unpack(gone)) end
    over, budget = over - #gone, budget - n
    if n == #names then
      redis.call("LPOP", KEYS[4])
    else
      local rest = {}
      for j = n + 1, #names do rest[#rest + 1] = names[j] end
      redis.call("LSET", KEYS[4], 0, time .. "|" .. cjson.encode(rest))
    end
  end
end

local replies = {}
local publishes = tonumber(ARGV[5])
for p = 1, publishes do replies[p] = publish() end
forget(200 * publishes)
return replies
