import type { RedisClient } from "./redis-client.ts";
import { withRedis } from "./redis-errors.ts";

/**
 * Claim `key` for `ttlMs` unless someone holds it: how one of many processes gets to do a periodic job (a sweep)
 * once per period. Nobody releases it; it lapses, so a claimer that dies mid-job costs one period at most.
 */
export async function claimPeriod(redis: RedisClient, key: string, ttlMs: number): Promise<boolean> {
  const reply = await withRedis(`claim ${key}`, () => redis.set(key, "1", "PX", Math.max(1, ttlMs), "NX"));
  return reply === "OK";
}
