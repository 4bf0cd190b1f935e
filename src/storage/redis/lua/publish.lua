--[[
  publish: accepts a publish whole or refuses it whole. Events whose producer key the
  dedupe window holds (or an earlier event of this publish has) are duplicates; the rest
  get consecutive seqs, become one entry of the log (its id the first one's seq; types
  and JSON texts each joined by "\n", which neither can hold), and each target
  subscription takes its share as one unit, unless that would take one past its
  maxBacklog: then nothing is accepted.

  KEYS[1] seq          the last seq given
  KEYS[2] log          the event log (a stream)
  KEYS[3] dedupe       producer key -> "seq:time"
  KEYS[4] dedupeOrder  "time|key" in acceptance order
  KEYS[5] version      the subscriptions' version
  KEYS[6…] per target subscription, in the order refusals name them: state, queue
  ARGV[1] the version the caller routed with (another is {"stale"}: route again)
  ARGV[2] now (ms)
  ARGV[3] dedupeWindowMs (0: no dedupe)
  ARGV[4] dedupeMaxEntries
  ARGV[5] the number of events
  ARGV[6…] per event: type, JSON head, JSON tail (the seq goes between), JSON size
           without the seq, producer key ("" for none);
           then per target: maxBacklog, the indexes of the events it takes ("0,2,5")

  Returns {"stale"}, {"full", target number from 1}, or {"ok", first, last, duplicates
  as "index:seq" …} (first and last 0 when nothing is new).
  The dedupe window costs a handful of commands whatever the publish's size, and forgets
  at most 200 keys a publish.
  Uses common.lua.
]]
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
