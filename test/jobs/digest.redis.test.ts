import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { startDigestRunner } from "../../src/jobs/digest-runner.ts";
import type { DigestRunner } from "../../src/jobs/digest-runner.ts";
import { QueuedNotifier } from "../../src/jobs/notification-queue.ts";
import { createNotificationWorker } from "../../src/jobs/notification-worker.ts";
import type { NotificationWorker } from "../../src/jobs/notification-worker.ts";
import { RedisDeliveryRecords } from "../../src/notify/delivery-records.ts";
import type { Logger, Notifier } from "../../src/rollout/ports.ts";
import { Phase } from "../../src/rollout/types.ts";
import type { AuditEntry, Rollout } from "../../src/rollout/types.ts";
import { messageBlockProblems } from "../../sandbox/slack/block-kit-limits.ts";
import { startSlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import type { DigestPlan } from "../../src/schedule/daily-digest.ts";
import { createNotifierClient, SlackDeliverer } from "../../src/slack/slack-notifier.ts";
import { claimPeriod } from "../../src/store/redis-claim.ts";
import { RedisRolloutLock } from "../../src/store/redis-lock.ts";
import { RedisRolloutStore } from "../../src/store/redis-rollout-store.ts";
import { waitFor } from "../support/engine.ts";
import { redisTestContext } from "../support/redis.ts";
import type { RedisTestContext } from "../support/redis.ts";
import { makeRollout } from "../support/rollouts.ts";

const REVIEWS = "C0REVIEWS";
const RATINGS = "C0RATINGS";
const PLANS: DigestPlan[] = [
  { service: "reviews", channel: REVIEWS, at: "09:00", timezone: "Europe/Berlin" },
  { service: "ratings", channel: RATINGS, at: "09:00", timezone: "Europe/Berlin" },
];
/** The firing: 09:00 on 6 December in Berlin. Yesterday there ran from 4 Dec 23:00 to 5 Dec 23:00 UTC. */
const FIRING = Date.parse("2026-12-06T08:00:00Z");
const at = (iso: string): number => Date.parse(iso);

const quiet: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => quiet,
};
const unrouted: Notifier = {
  update: () => Promise.resolve(),
  snapshot: () => Promise.resolve(),
  alert: () => Promise.resolve(),
};

/** One replica: its own Redis connection, store, claim and notification queue, as each `serve` has. */
type Replica = { runner: DigestRunner; notifier: QueuedNotifier };

let ctx: RedisTestContext;
let sandbox: SlackSandbox;
let replicas: Replica[] = [];
let delivery: NotificationWorker | undefined;
const bullPrefix = (): string => ctx.prefix.slice(0, -1);

function replica(redis: Redis): Replica {
  const notifier = new QueuedNotifier({ connection: ctx.redis.options, prefix: bullPrefix(), unrouted });
  const runner = startDigestRunner({
    plans: PLANS,
    store: new RedisRolloutStore(redis, { prefix: ctx.prefix }),
    claim: (name, ttlMs) => claimPeriod(redis, `${ctx.prefix}${name}`, ttlMs),
    queue: (digest, channel, message) => notifier.digest(digest, channel, message),
    clock: { now: () => FIRING },
    logger: quiet,
    schedule: false,
  });
  return { runner, notifier };
}

/** Store a rollout as the service would have left it: created live, then saved in its phase with its audit. */
async function seed(store: RedisRolloutStore, rollout: Rollout, audit: Partial<AuditEntry>[]): Promise<void> {
  const entries = audit.map((entry) => ({
    at: rollout.createdAt,
    rolloutId: rollout.id,
    actor: rollout.startedBy,
    action: "start",
    fromPhase: Phase.Preflight,
    toPhase: Phase.Preflight,
    canaryWeight: 0,
    ...entry,
  }));
  await store.create({ ...rollout, phase: Phase.Progressing }, entries.slice(0, 1));
  const created = (await store.get(rollout.id))!;
  await store.save({ ...rollout, version: created.version }, created.version, entries.slice(1));
}

beforeEach(async () => {
  ctx = await redisTestContext("digest");
  sandbox = await startSlackSandbox({
    channels: [
      { id: REVIEWS, name: "reviews" },
      { id: RATINGS, name: "ratings" },
    ],
  });
  const store = new RedisRolloutStore(ctx.redis, { prefix: ctx.prefix });
  const day = (time: string): number => at(`2026-12-05T${time}Z`);
  await seed(
    store,
    makeRollout({
      id: "reviews-1",
      phase: Phase.Promoted,
      appliedWeight: 100,
      startedBy: "U0ALICE1",
      createdAt: day("08:00:00"),
      updatedAt: day("09:30:00"),
      target: { service: "reviews", stableSubset: "v1", canarySubset: "v2", virtualService: "reviews-a" },
      outcome: { at: day("09:29:00"), by: "canarybot", reason: "" },
    }),
    [
      {},
      { action: "approve", actor: "U0BOB001", at: day("08:30:00"), fromPhase: Phase.AwaitingApproval },
      { action: "tick", actor: "canarybot", at: day("09:30:00"), toPhase: Phase.Promoted, canaryWeight: 100 },
    ],
  );
  await seed(
    store,
    makeRollout({
      id: "reviews-2",
      phase: Phase.RolledBack,
      appliedWeight: 0,
      startedBy: "U0ALICE1",
      createdAt: day("14:00:00"),
      updatedAt: day("14:20:00"),
      target: { service: "reviews", stableSubset: "v2", canarySubset: "v3", virtualService: "reviews-b" },
      outcome: { at: day("14:19:00"), by: "U0CAROL1", reason: "checkout <errors> & retries" },
    }),
    [
      {},
      {
        action: "route-restored",
        at: day("14:20:00"),
        fromPhase: Phase.RollingBack,
        toPhase: Phase.RolledBack,
      },
    ],
  );
  // Started the day before yesterday and still live: not yesterday's.
  await seed(
    store,
    makeRollout({
      id: "reviews-0",
      phase: Phase.Progressing,
      createdAt: at("2026-12-04T10:00:00Z"),
      updatedAt: FIRING - 60_000,
      target: { service: "reviews", virtualService: "reviews-c" },
    }),
    [{}],
  );
  await seed(
    store,
    makeRollout({
      id: "ratings-1",
      phase: Phase.Progressing,
      appliedWeight: 25,
      startedBy: "U0DAVE01",
      // 23:30 UTC on 4 December is 00:30 on the 5th in Berlin: yesterday there, though not in UTC.
      createdAt: at("2026-12-04T23:30:00Z"),
      updatedAt: FIRING - 60_000,
      target: { service: "ratings", stableSubset: "v1", canarySubset: "v2", virtualService: "ratings" },
    }),
    [{}],
  );
  replicas = await Promise.all([1, 2, 3].map(async () => replica(await ctx.connect())));
  const deliverer = new SlackDeliverer({
    client: createNotifierClient({ token: sandbox.botToken, slackApiUrl: sandbox.apiUrl, timeoutMs: 2_000 }),
    store,
    deliveryLock: new RedisRolloutLock(ctx.redis, { prefix: `${ctx.prefix}delivery-` }),
    records: new RedisDeliveryRecords(ctx.redis, { prefix: ctx.prefix }),
    logger: quiet,
  });
  delivery = createNotificationWorker({
    connection: ctx.redis.options,
    prefix: bullPrefix(),
    deliver: (jobId, job) => deliverer.deliver(jobId, job),
    logger: quiet,
    maxBackoffMs: 100,
  });
});

afterEach(async () => {
  await delivery?.close();
  for (const { runner, notifier } of replicas) {
    await runner.close();
    await notifier.close();
  }
  await sandbox.close();
  await ctx.cleanup();
});

async function drained(): Promise<void> {
  await waitFor("the notification queue to drain", async () =>
    (await replicas[0]!.notifier.pending()) === 0 ? true : undefined,
  );
}

describe("the daily digest, with three replicas firing at once", () => {
  it("posts exactly one digest per service's channel, telling yesterday's rollouts in the digest's zone", async () => {
    await Promise.all(replicas.map(({ runner }) => runner.runAll(FIRING)));
    await drained();

    const reviews = sandbox.messages(REVIEWS);
    const ratings = sandbox.messages(RATINGS);
    expect(reviews).toHaveLength(1);
    expect(ratings).toHaveLength(1);
    expect(sandbox.calls("chat.postMessage").filter((call) => call.status === 200)).toHaveLength(2);

    const [digest] = reviews;
    expect(digest!.text).toBe(
      ":calendar: *reviews* on 2026-12-05 (Europe/Berlin): 2 rollouts, 1 promoted, 1 rolled-back",
    );
    const body = JSON.stringify(digest!.blocks);
    expect(body).toContain("*reviews-1* `v1` → `v2`: :white_check_mark: promoted by canarybot");
    // 08:00 UTC is 09:00 in Berlin.
    expect(body).toContain("started by <@U0ALICE1> at 09:00, ended at 10:30");
    expect(body).toContain("approved by <@U0BOB001>");
    expect(body).toContain("rolled back by <@U0CAROL1>: checkout &lt;errors&gt; &amp; retries");
    expect(body).not.toContain("reviews-0");
    expect(messageBlockProblems(digest!.blocks ?? [])).toEqual([]);
    expect(JSON.stringify(ratings[0]!.blocks)).toContain(
      "*ratings-1* `v1` → `v2`: still :arrow_forward: progressing at 25%",
    );

    // A replica firing late (or again) for the same day posts nothing more.
    await replicas[2]!.runner.runAll(FIRING + 30 * 60_000);
    await drained();
    expect(sandbox.messages(REVIEWS)).toHaveLength(1);
    expect(sandbox.messages(RATINGS)).toHaveLength(1);
  });

  it("posts nothing for a day without rollouts", async () => {
    const nextWeek = FIRING + 7 * 24 * 3600_000;
    await Promise.all(replicas.map(({ runner }) => runner.runAll(nextWeek)));
    await drained();
    expect(sandbox.messages(REVIEWS)).toHaveLength(0);
    expect(sandbox.calls("chat.postMessage")).toHaveLength(0);
  });
});
