-- One rate-limit check, atomic: every counter of one request is read, and the hits are
-- added to all of them only if no enforced counter would go over its limit. So hitting
-- one limit never consumes the budget of another (envoyproxy/ratelimit #1060).
--
-- KEYS[i]: counter i, a hash of bucket index -> hits. All keys share one hash tag.
-- ARGV, six per counter: limit, hits, current bucket, oldest counted bucket,
--   ttl in ms, enforced (1) or shadow (0).
-- Returns {admitted, then per counter: used, first, free}:
--   used  = hits counted before this request,
--   first = oldest counted bucket holding hits (-1: none),
--   free  = when over: the bucket after whose expiry the hits would fit (-1: never,
--           the hits exceed the limit itself); -2 when not over.

local admitted = 1
local out = {0}
for i = 1, #KEYS do
  local base = (i - 1) * 6
  local limit = tonumber(ARGV[base + 1])
  local hits = tonumber(ARGV[base + 2])
  local oldest = tonumber(ARGV[base + 4])
  local flat = redis.call('HGETALL', KEYS[i])
  local buckets = {}
  local stale = {}
  local used = 0
  for j = 1, #flat, 2 do
    local index = tonumber(flat[j])
    if index < oldest then
      stale[#stale + 1] = flat[j]
    else
      local count = tonumber(flat[j + 1])
      used = used + count
      buckets[#buckets + 1] = {index, count}
    end
  end
  if #stale > 0 then
    redis.call('HDEL', KEYS[i], unpack(stale))
  end
  table.sort(buckets, function(a, b) return a[1] < b[1] end)
  local first = -1
  if #buckets > 0 then
    first = buckets[1][1]
  end
  local free = -2
  if used + hits > limit then
    free = -1
    if hits <= limit then
      local rest = used
      for _, bucket in ipairs(buckets) do
        rest = rest - bucket[2]
        if rest + hits <= limit then
          free = bucket[1]
          break
        end
      end
    end
    if ARGV[base + 6] == '1' then
      admitted = 0
    end
  end
  out[#out + 1] = used
  out[#out + 1] = first
  out[#out + 1] = free
end
if admitted == 1 then
  for i = 1, #KEYS do
    local base = (i - 1) * 6
    redis.call('HINCRBY', KEYS[i], ARGV[base + 3], ARGV[base + 2])
    redis.call('PEXPIRE', KEYS[i], ARGV[base + 5])
  end
end
out[1] = admitted
return out
