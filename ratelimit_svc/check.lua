-- One rate-limit check, atomic: every counter of one request is read, and the hits are
-- added to all of them only if no enforced counter would go over. So hitting one limit
-- never consumes the budget of another (envoyproxy/ratelimit #1060). It may also grant a
-- lease: extra units taken now for the caller to admit later without asking again.
--
-- ARGV[1]: extra units wanted beyond the hits (0: an exact check); ARGV[2]: now (ms);
-- ARGV[3]: how far past W a sliding window's GCRA clock may run (ms).
-- KEYS[i]: counter i, a hash of bucket index -> hits; a sliding window also keeps its
--   GCRA state there as a level in units (`t`) at a time in ms (`u`), draining at N per W.
--   Units, not a theoretical arrival time, so a changed limit keeps what was counted.
--   All keys share one hash tag.
-- ARGV, nine per counter from ARGV[4]: kind ('s' sliding: buckets and GCRA; 'b' buckets
--   only: fixed windows and quotas), limit N, cap (the bucketed count's ceiling),
--   hits, current bucket, oldest counted bucket, window ms, ttl ms, enforced '1'/shadow '0'.
-- Returns {admitted, extra granted, then six per counter: used, first, fit, free, wait, debt}:
--   used  = hits counted in the buckets before this request,
--   first = oldest counted bucket holding hits (-1: none),
--   fit   = units this counter could admit now (before this request),
--   free  = when over: the bucket after whose expiry the hits fit the cap (-1: never,
--           the hits exceed the limit itself); -2 when the buckets are not over,
--   wait  = when the GCRA rule is over: ms until the hits fit; -1 never; -2 otherwise,
--   debt  = ms until the GCRA level drains to zero, before this request (0 for 'b').
-- Nothing is sorted or built per bucket unless a request is refused.

local extra = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local admitted = 1
-- What every enforced counter has left beyond this request (nil: no enforced counter).
local spare = nil
local out = {0, 0}
local clocks = {}

for i = 1, #KEYS do
  local base = 3 + (i - 1) * 9
  local paced = ARGV[base + 1] == 's'
  local limit = tonumber(ARGV[base + 2])
  local cap = tonumber(ARGV[base + 3])
  local hits = tonumber(ARGV[base + 4])
  local oldest = tonumber(ARGV[base + 6])
  local enforced = ARGV[base + 9] == '1'
  local flat = redis.call('HGETALL', KEYS[i])
  local used = 0
  local first = -1
  local stale = nil
  local level = 0
  local updated = now
  for j = 1, #flat, 2 do
    local field = flat[j]
    if field == 't' then
      level = tonumber(flat[j + 1])
    elseif field == 'u' then
      updated = tonumber(flat[j + 1])
    else
      local index = tonumber(field)
      if index < oldest then
        -- Not counted. The bucket just before the oldest is kept, not deleted: a quota's
        -- previous period stays readable for the billing close until its key expires.
        if index < oldest - 1 then
          if stale == nil then stale = {} end
          stale[#stale + 1] = field
        end
      else
        used = used + tonumber(flat[j + 1])
        if first < 0 or index < first then first = index end
      end
    end
  end
  if stale ~= nil then
    redis.call('HDEL', KEYS[i], unpack(stale))
  end
  local fit = cap - used
  local free = -2
  local wait = -2
  local interval = 0
  if paced then
    interval = tonumber(ARGV[base + 7]) / limit
    -- A lowered limit: what was counted stays, but never more than a full window of it,
    -- so it drains within one window at the new pace.
    if level > limit + tolerance / interval then level = limit + tolerance / interval end
    if updated < now then
      level = level - (now - updated) / interval
      if level < 0 then level = 0 end
    end
    local room = limit + tolerance / interval - level
    local rate_fit = math.floor(room + 1e-9)
    if rate_fit < fit then fit = rate_fit end
    if hits > limit then
      wait = -1
    elseif hits > room + 1e-9 then
      wait = math.ceil((hits - room) * interval)
    end
  end
  clocks[i] = {level, interval, updated}
  if hits > limit then
    free = -1
  elseif used + hits > cap then
    local buckets = {}
    for j = 1, #flat, 2 do
      if flat[j] ~= 't' and flat[j] ~= 'u' then
        local index = tonumber(flat[j])
        if index >= oldest then buckets[#buckets + 1] = {index, tonumber(flat[j + 1])} end
      end
    end
    table.sort(buckets, function(a, b) return a[1] < b[1] end)
    local rest = used
    for _, bucket in ipairs(buckets) do
      rest = rest - bucket[2]
      if rest + hits <= cap then
        free = bucket[1]
        break
      end
    end
  end
  if fit < hits and enforced then
    admitted = 0
  end
  if enforced and (spare == nil or fit - hits < spare) then
    spare = fit - hits
  end
  out[#out + 1] = used
  out[#out + 1] = first
  out[#out + 1] = fit
  out[#out + 1] = free
  out[#out + 1] = wait
  out[#out + 1] = math.ceil(level * interval)
end

if admitted == 1 then
  -- A lease takes at most half of what is left beyond this request: near a limit it
  -- shrinks to nothing, and several sidecars asking at once can never take it all.
  local granted = extra
  if spare ~= nil then
    granted = math.floor(spare / 2)
    if granted > extra then granted = extra end
    if granted < 0 then granted = 0 end
  end
  out[2] = granted
  for i = 1, #KEYS do
    local base = 3 + (i - 1) * 9
    local units = tonumber(ARGV[base + 4]) + granted
    redis.call('HINCRBY', KEYS[i], ARGV[base + 5], units)
    local clock = clocks[i]
    if clock[2] > 0 then
      -- Never set the clock back: a sidecar whose clock runs behind must not make the
      -- next one drain the level twice.
      local at = now
      if clock[3] > at then at = clock[3] end
      redis.call('HSET', KEYS[i], 't', string.format('%.17g', clock[1] + units), 'u', at)
    end
    redis.call('PEXPIRE', KEYS[i], ARGV[base + 8])
  end
end
out[1] = admitted
return out
