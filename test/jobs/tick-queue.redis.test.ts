import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CanaryError, ErrorCode } from "../../src/errors.ts";
import { bullConnection, tickJobId } from "../../src/jobs/tick-job.ts";
import { BullMqTickScheduler } from "../../src/jobs/tick-queue.ts";
import { createTickWorker } from "../../src/jobs/tick-worker.ts";
import type { TickHandler, TickWorker, TickWorkerOptions } from "../../src/jobs/tick-worker.ts";
import { REDIS_URL, redisTestContext } from "../support/redis.ts";
import type { RedisTestContext } from "../support/redis.ts";

let ctx: RedisTestContext;
let scheduler: BullMqTickScheduler;
let workers: TickWorker[];
const cleanups: (() => Promise<void>)[] = [];

type Exhausted = { rolloutId: string; tick: number; error: unknown };

async function startWorker(
  handler: TickHandler,
  options: Partial<TickWorkerOptions> & { exhausted?: Exhausted[] } = {},
): Promise<TickWorker> {
  const { exhausted = [], ...rest } = options;
  const worker = createTickWorker({
    connection: REDIS_URL,
    queueName: ctx.queueName,
    handler,
    onExhausted: (rolloutId, tick, error) => {
      exhausted.push({ rolloutId, tick, error });
    },
    ...rest,
  });
  workers.push(worker);
  await worker.waitUntilReady();
  return worker;
}

// Generous: the machine may be loaded; a met condition returns at once.
async function until(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await sleep(5);
  }
}

/**
 * Resolves once the queue holds no job waiting, delayed or running: what could still run has run, so "it ran
 * once" is a fact about the queue, not about how long the test slept.
 */
async function drained(timeoutMs = 60_000): Promise<void> {
  const queue = new Queue(ctx.queueName, { connection: bullConnection(REDIS_URL, "queue") });
  try {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const counts = await queue.getJobCounts("waiting", "delayed", "active", "prioritized");
      if (Object.values(counts).every((n) => n === 0)) return;
      if (performance.now() > deadline) throw new Error(`the queue still holds ${JSON.stringify(counts)}`);
      await sleep(5);
    }
  } finally {
    await queue.close();
  }
}

describe("tickJobId", () => {
  it("names tick jobs with dots, never colons", () => {
    expect(tickJobId("reviews-12", 7)).toBe("rollout.reviews-12.tick.7");
    expect(() => tickJobId("a:b", 1)).toThrow(CanaryError);
    expect(() => tickJobId("reviews-1", -1)).toThrow(CanaryError);
  });
});

describe("tick queue and worker", () => {
  beforeEach(async () => {
    ctx = await redisTestContext("ticks"); // fails with instructions when Redis is down
    cleanups.push(() => ctx.cleanup());
    workers = [];
    scheduler = new BullMqTickScheduler({
      connection: REDIS_URL,
      queueName: ctx.queueName,
      attempts: 3,
      backoffDelayMs: 10,
    });
    cleanups.push(async () => {
      await scheduler.obliterate();
      await scheduler.close();
    });
    cleanups.push(async () => {
      await Promise.all(workers.map((w) => w.close()));
    });
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("runs a delayed tick once, at about its delay", async () => {
    const runs: { rolloutId: string; tick: number; at: number }[] = [];
    await startWorker((rolloutId, tick) => {
      runs.push({ rolloutId, tick, at: performance.now() });
      return Promise.resolve();
    });

    const scheduledAt = performance.now();
    await scheduler.schedule("reviews-1", 1, 300);
    await until(() => runs.length === 1);
    await drained();

    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ rolloutId: "reviews-1", tick: 1 });
    const lateness = runs[0]!.at - scheduledAt;
    expect(lateness).toBeGreaterThanOrEqual(290);
    expect(lateness).toBeLessThan(10_000); // late only by the machine's load
  });

  it("runs the same (rollout, tick) once however often it is scheduled", async () => {
    const runs: string[] = [];
    await scheduler.schedule("reviews-1", 4, 50);
    await scheduler.schedule("reviews-1", 4, 50);
    await startWorker((rolloutId, tick) => {
      runs.push(`${rolloutId}#${tick}`);
      return Promise.resolve();
    });
    await until(() => runs.length >= 1);
    // After it ran, a late duplicate (a retried service call) is still a no-op.
    await scheduler.schedule("reviews-1", 4, 0);
    await scheduler.schedule("reviews-1", 5, 0);
    await until(() => runs.length >= 2);
    await drained();

    expect(runs).toEqual(["reviews-1#4", "reviews-1#5"]);
  });

  it("retries a retryable failure with backoff until it succeeds", async () => {
    const exhausted: Exhausted[] = [];
    let calls = 0;
    let done = false;
    await startWorker(
      () => {
        calls += 1;
        if (calls < 3) {
          return Promise.reject(
            new CanaryError(ErrorCode.KubernetesUnavailable, "API server 503", { retryable: true }),
          );
        }
        done = true;
        return Promise.resolve();
      },
      { exhausted },
    );
    await scheduler.schedule("reviews-1", 1, 0);
    await until(() => done);
    await drained();

    expect(calls).toBe(3);
    expect(exhausted).toEqual([]);
  });

  it("does not retry a non-retryable failure, and reports it once", async () => {
    const exhausted: Exhausted[] = [];
    let calls = 0;
    const failure = new CanaryError(ErrorCode.Forbidden, "RBAC: cannot patch virtualservices");
    await startWorker(
      () => {
        calls += 1;
        return Promise.reject(failure);
      },
      { exhausted },
    );
    await scheduler.schedule("reviews-1", 2, 0);
    await until(() => exhausted.length === 1);
    await drained();

    expect(calls).toBe(1);
    expect(exhausted).toEqual([{ rolloutId: "reviews-1", tick: 2, error: failure }]);
  });

  it("calls onExhausted once when a retryable failure uses up its attempts", async () => {
    const exhausted: Exhausted[] = [];
    let calls = 0;
    await startWorker(
      () => {
        calls += 1;
        return Promise.reject(new Error(`socket hang up ${calls}`));
      },
      { exhausted },
    );
    await scheduler.schedule("reviews-1", 3, 0);
    await until(() => exhausted.length === 1);
    await drained();

    expect(calls).toBe(3);
    expect(exhausted).toHaveLength(1);
    expect(exhausted[0]).toMatchObject({ rolloutId: "reviews-1", tick: 3 });
    expect((exhausted[0]!.error as Error).message).toBe("socket hang up 3");
  });

  it("hands each job to exactly one of two workers (200 jobs)", async () => {
    const seen = new Map<string, number>();
    const byWorker = [0, 0];
    const handler = (index: number): TickHandler => {
      return async (rolloutId, tick) => {
        const key = `${rolloutId}#${tick}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        byWorker[index]! += 1;
        await sleep(1);
      };
    };
    await startWorker(handler(0), { concurrency: 8 });
    await startWorker(handler(1), { concurrency: 8 });

    await Promise.all(
      Array.from({ length: 200 }, (_, i) => scheduler.schedule(`svc${i % 20}-${i % 7}`, i, 0)),
    );
    await until(() => [...seen.values()].reduce((a, b) => a + b, 0) >= 200, 10_000);
    await drained();

    expect(seen.size).toBe(200);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(byWorker[0]! + byWorker[1]!).toBe(200);
  });

  it("close() waits for the running tick to finish", async () => {
    let started = false;
    let finished = false;
    const worker = await startWorker(async () => {
      started = true;
      await sleep(300);
      finished = true;
    });
    await scheduler.schedule("reviews-1", 1, 0);
    await until(() => started);

    await worker.close();
    expect(finished).toBe(true);
  });
});
