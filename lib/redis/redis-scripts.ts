/**
 * The Lua scripts of `RedisStreamStore`: each does one store operation atomically on one stream's keys (one slot).
 * Positions are checked before anything is written, so that an append is all or nothing.
 */

/** KEYS: meta, lease. ARGV: owner ('' for none), leaseMs, ttlMs, maxEvents. Returns 0 if the id is taken. */
export const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'live', 'first', 1, 'last', 0, 'ttl', ARGV[3], 'max', ARGV[4])
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'owner', ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]))
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 1
`;

/**
 * KEYS: the owner's set. ARGV: stream id, now, the lease's end, the cap, leaseMs. Drops the lapsed, then adds the
 * stream unless the owner is at the cap (returns 0).
 */
export const ADMIT_OWNER = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[5]))
return 1
`;

/**
 * KEYS: meta, events, lease. ARGV: final ('1' or '0'), leaseMs, n, then n triples (position, type, data).
 * Returns the last position; -1 when the stream is not live (unknown, expired, ended or its lease lapsed); -2 when the
 * positions leave a gap. Idempotent: events already written are skipped, and the end written twice is one end, so that
 * a write that timed out here but reached Redis later (ioredis's offline queue) does no harm when it is sent again.
 */
export const APPEND = `
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'ended' and ARGV[1] == '1' then return tonumber(redis.call('HGET', KEYS[1], 'last')) end
if state ~= 'live' or redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
local max = tonumber(redis.call('HGET', KEYS[1], 'max'))
local ttl = tonumber(redis.call('HGET', KEYS[1], 'ttl'))
local n = tonumber(ARGV[3])
local expected = last + 1
for i = 0, n - 1 do
  local position = tonumber(ARGV[4 + i * 3])
  if position > last then
    if position ~= expected then return -2 end
    expected = expected + 1
  end
end
for i = 0, n - 1 do
  if tonumber(ARGV[4 + i * 3]) > last then
    redis.call('XADD', KEYS[2], 'MAXLEN', max, '0-' .. ARGV[4 + i * 3], 't', ARGV[5 + i * 3], 'd', ARGV[6 + i * 3])
  end
end
last = expected - 1
local first = last - max + 1
if first < 1 then first = 1 end
redis.call('HSET', KEYS[1], 'last', last, 'first', first)
if ARGV[1] == '1' then
  redis.call('XADD', KEYS[2], '1-0', 'end', '1')
  redis.call('HSET', KEYS[1], 'state', 'ended')
  redis.call('DEL', KEYS[3])
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
else
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + ttl)
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) + ttl)
end
return last
`;

/** KEYS: meta, events, lease. ARGV: leaseMs. Extends a live stream's lease and keys; returns 0 if not live. */
export const RENEW = `
if redis.call('HGET', KEYS[1], 'state') ~= 'live' or redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
local ttl = tonumber(redis.call('HGET', KEYS[1], 'ttl'))
redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + ttl)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[1]) + ttl)
return 1
`;

/** KEYS: meta, stop, lease. Records a stop of a live stream (kept `ttl`); returns 0 if not live. */
export const REQUEST_STOP = `
if redis.call('HGET', KEYS[1], 'state') ~= 'live' or redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('SET', KEYS[2], '1', 'PX', redis.call('HGET', KEYS[1], 'ttl'))
return 1
`;

/** KEYS: readers. ARGV: now. Whether a reader is attached (drops the lapsed). */
export const HAS_READERS = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])
`;

/** KEYS: the backoff key. ARGV: until (epoch ms). Holds until then unless held longer already. */
export const HOLD = `
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or current < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[1])
end
return 1
`;
