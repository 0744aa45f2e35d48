// Limits of the Redis backend that a configuration checks before any Redis driver loads (exported from the root).

/** Most seed nodes `clusterUrls` takes (the client learns the rest of the cluster from them). */
export const redisClusterSeedsMax = 16;
