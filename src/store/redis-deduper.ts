import type { RedisClient } from "./redis-client.ts";

/**
 * Claims that make a delivery or an action happen once across every replica: `SET key NX PX ttl` in the shared
 * Redis. The first claim wins; a Slack redelivery (X-Slack-Retry-Num) or a second replica sees the claim and
 * does nothing.
 */
export type Deduper = {
  /** true for the first claim of `key` within `ttlMs`. */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** Give a claim back (the action it guarded was refused, so a retry of it is welcome). */
  release(key: string): Promise<void>;
};

export class RedisDeduper implements Deduper {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  /** `prefix` is the deployment's key prefix (`canarybot:`); keys live under `<prefix>slack:dedupe:`. */
  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis;
    this.#prefix = `${prefix}slack:dedupe:`;
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const result = await this.#redis.set(this.#prefix + key, "1", "PX", ttlMs, "NX");
    return result === "OK";
  }

  async release(key: string): Promise<void> {
    await this.#redis.del(this.#prefix + key);
  }
}
