export type { RedisBackendOptions } from './redis-backend.js';
export { redisBackend, redisKeyPrefixBytesMax, redisRetriesPerRequestMax } from './redis-backend.js';
