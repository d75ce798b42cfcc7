import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CanaryError, ErrorCode } from "../../src/errors.ts";
import { RedisRolloutLock } from "../../src/store/redis-lock.ts";
import { redisTestContext } from "../support/redis.ts";
import type { RedisTestContext } from "../support/redis.ts";

let ctx: RedisTestContext;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  ctx = await redisTestContext("lock"); // fails with instructions when Redis is down
  cleanups.push(() => ctx.cleanup());
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("RedisRolloutLock", () => {
  it("never lets two holders overlap: 10 contenders over two connections", async () => {
    const other = await ctx.connect();
    const locks = [
      new RedisRolloutLock(ctx.redis, { prefix: ctx.prefix, retryDelayMs: 5 }),
      new RedisRolloutLock(other, { prefix: ctx.prefix, retryDelayMs: 5 }),
    ];
    const spans: { enter: number; exit: number }[] = [];
    let inside = 0;
    let maxInside = 0;

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        locks[i % 2]!.withLock("reviews-1", async () => {
          inside += 1;
          maxInside = Math.max(maxInside, inside);
          const enter = performance.now();
          await sleep(15);
          const exit = performance.now();
          inside -= 1;
          spans.push({ enter, exit });
          return i;
        }),
      ),
    );

    expect(results.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(maxInside).toBe(1);
    spans.sort((a, b) => a.enter - b.enter);
    for (let i = 1; i < spans.length; i += 1) {
      expect(spans[i]!.enter).toBeGreaterThanOrEqual(spans[i - 1]!.exit);
    }
    expect(await ctx.redis.exists(`${ctx.prefix}lock:reviews-1`)).toBe(0);
  });

  it("does not serialize different rollouts", async () => {
    const lock = new RedisRolloutLock(ctx.redis, { prefix: ctx.prefix });
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      ["reviews-1", "reviews-2", "ratings-1"].map((id) =>
        lock.withLock(id, async () => {
          inside += 1;
          maxInside = Math.max(maxInside, inside);
          await sleep(30);
          inside -= 1;
        }),
      ),
    );
    expect(maxInside).toBe(3);
  });

  it("releases the lock when fn throws, and passes the error through", async () => {
    const lock = new RedisRolloutLock(ctx.redis, { prefix: ctx.prefix });
    await expect(lock.withLock("reviews-1", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await ctx.redis.exists(`${ctx.prefix}lock:reviews-1`)).toBe(0);
    expect(await lock.withLock("reviews-1", () => Promise.resolve("again"))).toBe("again");
  });

  it("cannot be released by someone who does not hold it", async () => {
    const key = `${ctx.prefix}lock:reviews-1`;
    const lock = new RedisRolloutLock(ctx.redis, { prefix: ctx.prefix, ttlMs: 200, renewEveryMs: 50 });
    const other = new RedisRolloutLock(await ctx.connect(), { prefix: ctx.prefix, ttlMs: 200, waitMs: 0 });

    await lock.withLock("reviews-1", async () => {
      // Another holder's lock lapses while a newcomer takes it; the first holder's release must not free it.
      const stolenToken = "someone-else";
      await ctx.redis.set(key, stolenToken, "PX", 5_000);
      const refused = await other
        .withLock("reviews-1", () => Promise.resolve("ran"))
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(CanaryError);
      expect((refused as CanaryError).code).toBe(ErrorCode.Locked);
    });

    expect(await ctx.redis.get(key)).toBe("someone-else");
  });

  it("gives up waiting with a retryable `locked` error", async () => {
    const lock = new RedisRolloutLock(ctx.redis, { prefix: ctx.prefix, waitMs: 150 });
    let entered = false;
    await lock.withLock("reviews-1", async () => {
      const started = performance.now();
      const error = await lock
        .withLock("reviews-1", () => {
          entered = true;
          return Promise.resolve();
        })
        .catch((e: unknown) => e);
      const waited = performance.now() - started;
      expect(error).toBeInstanceOf(CanaryError);
      expect((error as CanaryError).code).toBe(ErrorCode.Locked);
      expect((error as CanaryError).retryable).toBe(true);
      expect((error as CanaryError).message).toContain("reviews-1");
      expect(waited).toBeGreaterThanOrEqual(140);
      expect(waited).toBeLessThan(1_000);
    });
    expect(entered).toBe(false);
  });

  it("expires a lock whose holder vanished, so others are not stuck", async () => {
    // A crashed process: it took the lock and never released it.
    await ctx.redis.set(`${ctx.prefix}lock:reviews-1`, "crashed-holder", "PX", 100);
    const lock = new RedisRolloutLock(ctx.redis, { prefix: ctx.prefix, waitMs: 2_000 });
    const started = performance.now();
    expect(await lock.withLock("reviews-1", () => Promise.resolve("mine"))).toBe("mine");
    expect(performance.now() - started).toBeGreaterThanOrEqual(80);
  });

  it("renews the lock while a long fn runs, past its TTL", async () => {
    // A TTL of several renewals: on a busy machine a renewal timer may fire late, and the lock must not lapse then.
    const lock = new RedisRolloutLock(ctx.redis, { prefix: ctx.prefix, ttlMs: 600, renewEveryMs: 100 });
    const rival = new RedisRolloutLock(await ctx.connect(), { prefix: ctx.prefix, waitMs: 0 });
    await lock.withLock("reviews-1", async () => {
      await sleep(1_500);
      const error = await rival.withLock("reviews-1", () => Promise.resolve()).catch((e: unknown) => e);
      expect((error as CanaryError).code).toBe(ErrorCode.Locked);
    });
    expect(await ctx.redis.exists(`${ctx.prefix}lock:reviews-1`)).toBe(0);
  });

  it("tells when the lock was lost while fn ran", async () => {
    const lost: string[] = [];
    const lock = new RedisRolloutLock(ctx.redis, {
      prefix: ctx.prefix,
      ttlMs: 100,
      renewEveryMs: 30,
      onLockLost: (id) => lost.push(id),
    });
    await lock.withLock("reviews-1", async () => {
      await ctx.redis.del(`${ctx.prefix}lock:reviews-1`);
      await sleep(80);
    });
    expect(lost).toEqual(["reviews-1"]);
  });
});
