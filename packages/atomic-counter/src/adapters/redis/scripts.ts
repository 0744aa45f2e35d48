/**
 * Lua scripts of the Redis backend. Each single-key script touches only KEYS[1] (Redis Cluster safe) and runs as
 * one atomic step; the batch scripts run several single-key operations in one step on one Redis (never on a Cluster,
 * where the keys live on different slots). Values stay integers ≤ 2^53 − 1, so Lua's doubles hold them exactly; sums that pass
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

/**
 * increment(key, by, mode, at, valueMax) → 'value', or '-1' when the sum would pass valueMax (nothing written).
 */
const incrementFn = `
local function increment(key, by, mode, at, valueMax)
  local cur = redis.call('GET', key)
  if cur then
    if tonumber(cur) + tonumber(by) > tonumber(valueMax) then return '-1' end
    return string.format('%d', redis.call('INCRBY', key, by))
  end
  redis.call('SET', key, by, mode, at)
  return by
end
`;

/**
 * advance(key, by, max, at, mode, floor) → 'applied value expiresAtMs' ('0 0 -2' when refused on a missing key).
 * The value moves from max(current, floor) by `by` unless that passes `max`; mode 'KEEPTTL PX' / 'KEEPTTL PXAT'
 * keeps an existing key's expiry.
 */
const advanceFn = `
local function advance(key, by, max, at, mode, floor)
  local cur = redis.call('GET', key)
  local v = 0
  if cur then v = tonumber(cur) end
  local base = tonumber(floor or '0')
  if v > base then base = v end
  local nxt = base + tonumber(by)
  if nxt > tonumber(max) then
    if cur then return '0 ' .. cur .. ' ' .. string.format('%d', redis.call('PEXPIRETIME', key)) end
    return '0 0 -2'
  end
  nxt = string.format('%d', nxt)
  if string.sub(mode, 1, 8) == 'KEEPTTL ' then
    if cur then
      redis.call('SET', key, nxt, 'KEEPTTL')
      return '1 ' .. nxt .. ' ' .. string.format('%d', redis.call('PEXPIRETIME', key))
    end
    mode = string.sub(mode, 9)
  end
  redis.call('SET', key, nxt, mode, at)
  if mode == 'PXAT' then return '1 ' .. nxt .. ' ' .. at end
  return '1 ' .. nxt .. ' ' .. string.format('%d', redis.call('PEXPIRETIME', key))
end
`;

/** ARGV: by, mode, at, valueMax → `increment` of KEYS[1]. */
export const incrementLua = `${incrementFn}return increment(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])`;

/** ARGV: by, max, at, mode[, floor] → `advance` of KEYS[1]. */
export const advanceLua = `${advanceFn}return advance(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])`;

/**
 * The loop of a batch: KEYS[i] with the ARGV slice of op i (`argsPerOp` each), one after the other in one atomic
 * step; each op's reply, or 'E <message>' for an op whose Redis call failed (the others still apply).
 */
const batchLoop = (name: string, argsPerOp: number) => `
local out = {}
for i = 1, #KEYS do
  local b = (i - 1) * ${argsPerOp}
  local ok, res = pcall(${name}, KEYS[i], ${Array.from({ length: argsPerOp }, (_, k) => `ARGV[b + ${k + 1}]`).join(', ')})
  if ok then
    out[i] = res
  elseif type(res) == 'table' and res.err then
    out[i] = 'E ' .. res.err
  else
    out[i] = 'E ' .. tostring(res)
  end
end
return out
`;

/** Batched increments: KEYS = the keys, ARGV = (by, mode, at, valueMax) per key → one reply per key. */
export const incrementBatchLua = `${incrementFn}${batchLoop('increment', 4)}`;

/** Batched advances: KEYS = the keys, ARGV = (by, max, at, mode, floor) per key → one reply per key. */
export const advanceBatchLua = `${advanceFn}${batchLoop('advance', 5)}`;

/** No ARGV → 'value expiresAtMs', or nil when missing (Redis drops expired keys itself). */
export const getLua = `
local cur = redis.call('GET', KEYS[1])
if not cur then return nil end
return cur .. ' ' .. string.format('%d', redis.call('PEXPIRETIME', KEYS[1]))
`;
