--[[
  read: the log's entries holding seqs `from` to `to`, starting with the one holding `from`.

  KEYS[1] log
  ARGV[1] from
  ARGV[2] to, or "+" for the end
  ARGV[3] most entries read

  Returns the entries, as XRANGE does.
]]
local holding = redis.call("XREVRANGE", KEYS[1], ARGV[1] .. "-0", "-", "COUNT", 1)
local start = holding[1] and holding[1][1] or "-"
local stop = ARGV[2] == "+" and "+" or ARGV[2] .. "-0"
return redis.call("XRANGE", KEYS[1], start, stop, "COUNT", ARGV[3])
