"""The Lua scripts the Redis stores run on the server: each is one atomic step.

Memory store: :data:`LOAD_USER` and :data:`LOAD_KEYS` read many memories in one round trip
(parsing thousands of pipelined replies costs redis-py far more than the data itself);
:data:`MIGRATE_MEMORY` and :data:`MIGRATE_USER_KEY` move schema 1 keys to the hash-tagged layout
(single server only). Every script touches one slot only: the keys it is given, or keys it builds
from a prefix that carries the same hash tag.
Session store: :data:`SESSION_APPEND` (owner check, append, trim, TTL refresh) and
:data:`SESSION_CLEAR`, and on a cluster :data:`SESSION_APPEND_LOCAL` and
:data:`SESSION_CLEAR_LOCAL`, which leave the owner's and the all-sessions sorted sets (other
slots) to single commands of their own. Checkpoint store: save, load and delete, so ordering, record and run set
change together. Scripts are registered per client by ``RedisClientMixin._script``.
"""

from __future__ import annotations

__all__ = [
    "CHECKPOINT_DELETE_ONE",
    "CHECKPOINT_DELETE_RUN",
    "CHECKPOINT_LOAD",
    "CHECKPOINT_SAVE",
    "LOAD_KEYS",
    "LOAD_USER",
    "MIGRATE_MEMORY",
    "MIGRATE_USER_KEY",
    "SESSION_APPEND",
    "SESSION_APPEND_LOCAL",
    "SESSION_CLEAR",
    "SESSION_CLEAR_LOCAL",
    "STORE_USER",
]

# -- memory store --------------------------------------------------------------------------
# KEYS: the user's gen, ids; ARGV: the user's memory key prefix (same hash tag). Returns {} when the user has no generation, else
# {generation, json1, vector1, json2, vector2, ...} read atomically (one consistent snapshot).
# A flat reply parses faster in redis-py than one blob built by string concatenation in Lua.
LOAD_USER = """
local gen = redis.call('GET', KEYS[1])
if not gen then return {} end
local ids = redis.call('SMEMBERS', KEYS[2])
local out = {gen}
local n = 1
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', ARGV[1] .. id, 'j', 'e')
  if v[1] then
    out[n + 1] = v[1]
    out[n + 2] = v[2] or ''
    n = n + 2
  end
end
return out
"""

# One user's write. KEYS: the user's gen, ids, exp; on a single server also the users set and
# the due set (ARGV[2] = 2, else 0); then each memory's hash. ARGV: replace ('1': delete each hash
# first), that count, the counter's value before its first INCR, the user (member of the users
# set), then per memory: id, JSON, vector ('' = none), expires_at ('' = none). Returns
# {1 when the counter was started (new or erased user) else 0, the new generation}.
STORE_USER = """
local replace = ARGV[1] == '1'
local nreg = tonumber(ARGV[2])
local earliest, earliest_s = nil, nil
local k = 3 + nreg
for i = 5, #ARGV, 4 do
  local id, exp = ARGV[i], ARGV[i + 3]
  k = k + 1
  if replace then redis.call('DEL', KEYS[k]) end
  if ARGV[i + 2] == '' then
    redis.call('HSET', KEYS[k], 'j', ARGV[i + 1])
  else
    redis.call('HSET', KEYS[k], 'j', ARGV[i + 1], 'e', ARGV[i + 2])
  end
  if exp ~= '' then
    redis.call('ZADD', KEYS[3], exp, id)
    if not earliest or tonumber(exp) < earliest then earliest, earliest_s = tonumber(exp), exp end
  elseif replace then
    redis.call('ZREM', KEYS[3], id)
  end
  redis.call('SADD', KEYS[2], id)
end
if nreg == 2 then
  redis.call('SADD', KEYS[4], ARGV[4])
  if earliest_s then redis.call('ZADD', KEYS[5], 'LT', earliest_s, ARGV[4]) end
end
local started = redis.call('SET', KEYS[1], ARGV[3], 'NX')
local gen = redis.call('INCR', KEYS[1])
if started then return {1, gen} end
return {0, gen}
"""

# KEYS: memory hashes (of one user: one slot). Returns {json1, vector1, ...} of those that exist.
LOAD_KEYS = """
local out = {}
local n = 0
for i = 1, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'j', 'e')
  if v[1] then
    out[n + 1] = v[1]
    out[n + 2] = v[2] or ''
    n = n + 2
  end
end
return out
"""

# Schema 1 -> 2, one memory. KEYS: old hash, new hash, old store-wide expiry set, the user's new
# expiry set, the due users; ARGV: memory id, user. Moves the hash and its expiry entry together
# (the user due by then at the latest); 0 when already moved.
MIGRATE_MEMORY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
local s = redis.call('ZSCORE', KEYS[3], ARGV[1])
if s then
  redis.call('ZADD', KEYS[4], s, ARGV[1])
  redis.call('ZADD', KEYS[5], 'LT', s, ARGV[2])
end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""

# Schema 1 -> 2, one user key (ids set or gen counter). KEYS: old, new. 0 when already moved.
MIGRATE_USER_KEY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 and redis.call('TYPE', KEYS[1]).ok == 'set' then
  redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
  redis.call('DEL', KEYS[1])
else
  redis.call('RENAME', KEYS[1], KEYS[2])
end
return 1
"""

# -- session store -------------------------------------------------------------------------
# KEYS: messages list, info hash, owner's sorted set, all-sessions sorted set; ARGV: tenant,
# user, now, max_messages (0 = all), ttl in ms (0 = none), session id, messages... Returns the
# list length, or -1 (nothing stored) when another owner holds the session.
SESSION_APPEND = """
local o = redis.call('HMGET', KEYS[2], 'tenant_id', 'user_id', 'updated_at')
local now = ARGV[3]
if o[1] then
  if o[1] ~= ARGV[1] or o[2] ~= ARGV[2] then return -1 end
  if o[3] and tonumber(o[3]) > tonumber(now) then now = o[3] end
else
  redis.call('HSET', KEYS[2], 'tenant_id', ARGV[1], 'user_id', ARGV[2], 'created_at', now)
end
redis.call('HSET', KEYS[2], 'updated_at', now)
for i = 7, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
local maxn = tonumber(ARGV[4])
if maxn > 0 then redis.call('LTRIM', KEYS[1], -maxn, -1) end
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('ZADD', KEYS[3], now, ARGV[6])
redis.call('ZADD', KEYS[4], now, ARGV[6])
return redis.call('LLEN', KEYS[1])
"""

# On a cluster. KEYS: messages list, info hash (one slot); ARGV: tenant, user, now, max_messages,
# ttl in ms, messages... Returns {list length, the updated_at written}, or {-1} when another owner
# holds the session. The caller updates the owner's and the all-sessions sorted sets itself.
SESSION_APPEND_LOCAL = """
local o = redis.call('HMGET', KEYS[2], 'tenant_id', 'user_id', 'updated_at')
local now = ARGV[3]
if o[1] then
  if o[1] ~= ARGV[1] or o[2] ~= ARGV[2] then return {-1} end
  if o[3] and tonumber(o[3]) > tonumber(now) then now = o[3] end
else
  redis.call('HSET', KEYS[2], 'tenant_id', ARGV[1], 'user_id', ARGV[2], 'created_at', now)
end
redis.call('HSET', KEYS[2], 'updated_at', now)
for i = 6, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
local maxn = tonumber(ARGV[4])
if maxn > 0 then redis.call('LTRIM', KEYS[1], -maxn, -1) end
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {redis.call('LLEN', KEYS[1]), now}
"""

# On a cluster. KEYS: messages list, info hash. Returns {message count, tenant, user}, or {-1}
# when the session did not exist; the caller removes the sorted-set entries.
SESSION_CLEAR_LOCAL = """
local o = redis.call('HMGET', KEYS[2], 'tenant_id', 'user_id')
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
if not o[1] then return {-1} end
return {n, o[1], o[2]}
"""

# KEYS: messages list, info hash, all-sessions sorted set; ARGV: session id, key prefix.
# Returns how many messages the session held, -1 when it did not exist.
SESSION_CLEAR = """
local o = redis.call('HMGET', KEYS[2], 'tenant_id', 'user_id')
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
if not o[1] then return -1 end
local key = ARGV[2] .. 'o:' .. string.len(o[1]) .. ':' .. o[1]
  .. ':' .. string.len(o[2]) .. ':' .. o[2]
redis.call('ZREM', key, ARGV[1])
return n
"""

# -- checkpoint store ----------------------------------------------------------------------
# KEYS: save-order counter, run's sorted set, run's hash, owner's run set; ARGV: checkpoint id,
# record, run id. A re-save keeps the checkpoint's position.
CHECKPOINT_SAVE = """
local s = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not s then
  s = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[2], s, ARGV[1])
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[4], ARGV[3])
return s
"""

# KEYS: run's sorted set, run's hash; ARGV: checkpoint id ('' = the run's latest).
CHECKPOINT_LOAD = """
local cid = ARGV[1]
if cid == '' then
  local r = redis.call('ZREVRANGE', KEYS[1], 0, 0)
  if #r == 0 then return false end
  cid = r[1]
end
return redis.call('HGET', KEYS[2], cid)
"""

CHECKPOINT_DELETE_ONE = """
local n = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return n
"""

CHECKPOINT_DELETE_RUN = """
local n = redis.call('ZCARD', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return n
"""
