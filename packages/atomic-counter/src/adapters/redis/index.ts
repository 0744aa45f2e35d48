export type { RedisBackendOptions } from './redis-backend.js';
export {
  redisBackend,
  redisBatchOpsDefault,
  redisBatchOpsMax,
  redisClusterSeedsMax,
  redisCommandRetriesDefault,
  redisCommandRetriesMax,
  redisCommandTimeoutMsDefault,
  redisCommandTimeoutMsMax,
  redisConnectTimeoutMsDefault,
  redisConnectTimeoutMsMax,
  redisKeyPrefixBytesMax,
  redisReconnectDelayCapMsDefault,
  redisReconnectDelayCapMsMax,
  redisReconnectDelayMsFirst,
} from './redis-backend.js';
