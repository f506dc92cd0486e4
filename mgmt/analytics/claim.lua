-- Claims a closed usage hash for one fold: renames it to a folding key no one else has and
-- records that key as claimed, in one step, so a worker killed right after still leaves a
-- trace the next run finds.
--
-- KEYS[1]: the hash (tollgate:usage:m:<minute>, ...); KEYS[2]: the new folding key;
-- KEYS[3]: the set of claimed folding keys. Returns 1 when claimed, 0 when the hash is gone
-- (another worker claimed it first, or it expired).

if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SADD', KEYS[3], KEYS[2])
return 1
