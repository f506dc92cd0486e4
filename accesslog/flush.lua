-- One chunk of an access-log flush (accesslog/sink.py), applied at most once.
-- KEYS[1]: the collector run's marker (a string: the last chunk number applied).
-- ARGV[1]: this chunk's number (increasing within a run); ARGV[2]: TTL of every key touched;
-- then quadruples op, key, field, value: "i" HINCRBY; "m" HSET unless the field already
-- holds a larger number (last-used times never go backwards).
-- A chunk number not above the marker was applied before (its reply was lost): skipped.
local seq = tonumber(ARGV[1])
local last = tonumber(redis.call("GET", KEYS[1]) or "-1")
if seq <= last then
  return 0
end
local ttl = ARGV[2]
-- Marked first: a chunk that fails half-way is never applied twice.
redis.call("SET", KEYS[1], ARGV[1], "EX", ttl)
local touched = {}
for i = 3, #ARGV, 4 do
  local op, key, field, value = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if op == "i" then
    redis.call("HINCRBY", key, field, value)
  else
    local current = tonumber(redis.call("HGET", key, field))
    if current == nil or current < tonumber(value) then
      redis.call("HSET", key, field, value)
    end
  end
  touched[key] = true
end
for key in pairs(touched) do
  redis.call("EXPIRE", key, ttl)
end
return 1
