/**
 * Lua scripts of the Redis backend. Each touches only KEYS[1] (Redis Cluster safe) and runs as one
 * atomic step. Values stay integers ≤ 2^53 − 1, so Lua's doubles hold them exactly; sums that pass
 * 2^53 may round, but rounding is monotonic and 2^53 is exact, so a bound check `sum > max` with
 * max ≤ 2^53 − 1 is still exact. Numbers are written with `%d` (never Lua's `%.14g`).
 *
 * Expiry: mode 'PX' (relative ttlMs, counted by the Redis server's clock) or 'PXAT' (absolute epoch
 * ms). The absolute expiry is returned from PEXPIRETIME (Redis ≥ 7.0), or from the argument when it
 * was given absolute (a time already past deletes the key at once, as it should).
 *
 * Replies are one bulk string of space-separated integers, never integer replies or arrays: ioredis
 * 6's reply decoder accumulates integers as `n * 10 + byte - 48`, whose intermediate passes 2^53 and
 * rounds values just below 2^53 (9007199254740991 arrives as 9007199254740992); and one string
 * decodes measurably cheaper than an array (the 256-in-flight benchmark is CPU-bound on the client).
 */

/** ARGV: by, mode, at, valueMax → 'value', or '-1' when the sum would pass valueMax (nothing written). */
export const incrementLua = `
local cur = redis.call('GET', KEYS[1])
if cur then
  if tonumber(cur) + tonumber(ARGV[1]) > tonumber(ARGV[4]) then return '-1' end
  return string.format('%d', redis.call('INCRBY', KEYS[1], ARGV[1]))
end
redis.call('SET', KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return ARGV[1]
`;

/**
 * ARGV: by, max, at, mode ('PX' | 'PXAT', prefixed 'KEEPTTL ' to keep a live key's expiry), floor
 * (optional, default 0) → 'applied(1|0) value expiresAtMs', expiresAtMs -2 for a missing key.
 * Applied only when max(current, floor) + by <= max; a missing key counts as 0.
 */
export const advanceLua = `
local cur = redis.call('GET', KEYS[1])
local v = 0
if cur then v = tonumber(cur) end
local base = tonumber(ARGV[5] or '0')
if v > base then base = v end
local nxt = base + tonumber(ARGV[1])
if nxt > tonumber(ARGV[2]) then
  if cur then return '0 ' .. cur .. ' ' .. string.format('%d', redis.call('PEXPIRETIME', KEYS[1])) end
  return '0 0 -2'
end
nxt = string.format('%d', nxt)
local mode = ARGV[4]
if string.sub(mode, 1, 8) == 'KEEPTTL ' then
  if cur then
    redis.call('SET', KEYS[1], nxt, 'KEEPTTL')
    return '1 ' .. nxt .. ' ' .. string.format('%d', redis.call('PEXPIRETIME', KEYS[1]))
  end
  mode = string.sub(mode, 9)
end
redis.call('SET', KEYS[1], nxt, mode, ARGV[3])
if mode == 'PXAT' then return '1 ' .. nxt .. ' ' .. ARGV[3] end
return '1 ' .. nxt .. ' ' .. string.format('%d', redis.call('PEXPIRETIME', KEYS[1]))
`;

/** No ARGV → 'value expiresAtMs', or nil when missing (Redis drops expired keys itself). */
export const getLua = `
local cur = redis.call('GET', KEYS[1])
if not cur then return nil end
return cur .. ' ' .. string.format('%d', redis.call('PEXPIRETIME', KEYS[1]))
`;
