import { Queue } from "bullmq";
import cron from "node-cron";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadEnvConfig } from "../../src/config/env.ts";
import { DEFAULT_NOTIFICATION_QUEUE } from "../../src/jobs/notification-job.ts";
import { bullConnection } from "../../src/jobs/tick-job.ts";
import type { TickWorker } from "../../src/jobs/tick-worker.ts";
import { createLogger } from "../../src/logger.ts";
import { startWorker } from "../../src/runtime.ts";
import { Phase } from "../../src/rollout/types.ts";
import { previousDay } from "../../src/schedule/daily-digest.ts";
import type { DigestPlan } from "../../src/schedule/daily-digest.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { REDIS_URL } from "../support/redis.ts";
import { makeRollout } from "../support/rollouts.ts";

const PLAN: DigestPlan = { service: "reviews", channel: "C0REVIEWS", at: "09:00", timezone: "Europe/Berlin" };

/** The wall-clock time a moment shows in Berlin, `09:00`. */
const berlinClock = (at: Date): string =>
  new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", hour: "2-digit", minute: "2-digit" }).format(
    at,
  );

describe("the daily digest's node-cron job in a worker", () => {
  let h: EngineHarness;
  let worker: TickWorker | undefined;
  let queue: Queue;

  beforeEach(async () => {
    h = await engineHarness("digest-cron");
    queue = new Queue(DEFAULT_NOTIFICATION_QUEUE, {
      connection: bullConnection(REDIS_URL, "queue"),
      prefix: h.env.CANARYBOT_PREFIX,
    });
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
    await queue.obliterate({ force: true });
    await queue.close();
    await h.cleanup();
  });

  it("is scheduled at the digest's time in its zone, queues yesterday's digest when it fires, and goes with the worker", async () => {
    const runtime = h.runtime();
    const yesterday = previousDay(Date.now(), PLAN.timezone);
    await runtime.store.create(
      makeRollout({
        id: "reviews-1",
        phase: Phase.Progressing,
        startedBy: "U0ALICE1",
        createdAt: yesterday.from + 3_600_000,
        updatedAt: yesterday.from + 3_600_000,
      }),
    );
    worker = startWorker(runtime, loadEnvConfig(h.env), createLogger("silent"), [PLAN]);
    await worker.waitUntilReady();

    const task = [...cron.getTasks().values()].find((candidate) => candidate.name === "digest reviews");
    expect(task?.getPattern()).toBe("0 9 * * *");
    const next = task?.getNextRun();
    expect(next && berlinClock(next)).toBe("09:00");
    expect(next!.getTime() - Date.now()).toBeLessThanOrEqual(25 * 3_600_000);

    // Fire it now instead of waiting for 09:00: the job runs the digest with the clock's time.
    await task!.execute();
    const job = await waitFor(
      "the digest job",
      async () => (await queue.getJob(`digest.reviews.${yesterday.date}`)) ?? undefined,
    );
    expect(job.data).toMatchObject({
      kind: "digest",
      channel: "C0REVIEWS",
      digest: `reviews.${yesterday.date}`,
    });
    expect(JSON.stringify(job.data)).toContain("*reviews-1*");

    await worker.close();
    worker = undefined;
    expect([...cron.getTasks().values()].some((candidate) => candidate.name === "digest reviews")).toBe(
      false,
    );
  }, 60_000);
});
