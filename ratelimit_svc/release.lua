-- Gives back the units of a lease that were never used, so the window is whole again.
--
-- ARGV[1]: units to give back; ARGV[2]: now (ms).
-- KEYS[i]: counter i (as in check.lua); ARGV, two per counter from ARGV[3]: the bucket the
--   lease was added to, and the GCRA interval W/N in ms ('0': the counter has no GCRA level).
-- A bucket and a GCRA level never go below zero: giving back can
-- only lower what a later check sees, so it can never let a limit be exceeded.

local units = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
for i = 1, #KEYS do
  local base = 2 + (i - 1) * 2
  local bucket = ARGV[base + 1]
  local count = redis.call('HGET', KEYS[i], bucket)
  if count then
    local left = tonumber(count) - units
    if left > 0 then
      redis.call('HSET', KEYS[i], bucket, left)
    else
      redis.call('HDEL', KEYS[i], bucket)
    end
  end
  local interval = tonumber(ARGV[base + 2])
  if interval > 0 then
    local state = redis.call('HMGET', KEYS[i], 't', 'u')
    if state[1] then
      local level = tonumber(state[1]) - units
      local at = now
      if state[2] then
        local updated = tonumber(state[2])
        if updated < now then
          level = level - (now - updated) / interval
        else
          at = updated  -- never set the clock back
        end
      end
      if level > 0 then
        redis.call('HSET', KEYS[i], 't', string.format('%.17g', level), 'u', at)
      else
        redis.call('HDEL', KEYS[i], 't', 'u')
      end
    end
  end
end
return 1
