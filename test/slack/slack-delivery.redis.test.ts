import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { QueuedNotifier } from "../../src/jobs/notification-queue.ts";
import { createNotificationWorker } from "../../src/jobs/notification-worker.ts";
import type { NotificationWorker } from "../../src/jobs/notification-worker.ts";
import { RedisDeliveryRecords } from "../../src/notify/delivery-records.ts";
import type { Logger, Notifier } from "../../src/rollout/ports.ts";
import { Phase } from "../../src/rollout/types.ts";
import type { Rollout } from "../../src/rollout/types.ts";
import { startSlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import { createNotifierClient, SlackDeliverer } from "../../src/slack/slack-notifier.ts";
import type { SlackDelivererOptions } from "../../src/slack/slack-notifier.ts";
import { RedisRolloutLock } from "../../src/store/redis-lock.ts";
import { RedisRolloutStore } from "../../src/store/redis-rollout-store.ts";
import { waitFor } from "../support/engine.ts";
import { redisTestContext } from "../support/redis.ts";
import type { RedisTestContext } from "../support/redis.ts";
import { makeRollout } from "../support/rollouts.ts";

const CHANNEL = "C0DEPLOYS";
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

type Line = { message: string; meta: object };
const lines: Line[] = [];
const logger: Logger = {
  info: () => undefined,
  warn: (meta, message) => lines.push({ meta, message }),
  error: (meta, message) => lines.push({ meta, message }),
  child: () => logger,
};

/** What the CLI logs for rollouts that report to no channel. */
const unrouted: Notifier & { told: string[] } = {
  told: [],
  update: (rollout) => Promise.resolve(void unrouted.told.push(`update ${rollout.id}`)),
  snapshot: (rollout) => Promise.resolve(void unrouted.told.push(`snapshot ${rollout.id}`)),
  alert: (rollout) => Promise.resolve(void unrouted.told.push(`alert ${rollout.id}`)),
};

let ctx: RedisTestContext;
let sandbox: SlackSandbox;
let store: RedisRolloutStore;
let records: RedisDeliveryRecords;
let notifier: QueuedNotifier;
let worker: NotificationWorker | undefined;
let deliverer: SlackDeliverer;

/** The queue's name under the test's own BullMQ prefix (its keys are deleted with the prefix). */
const bullPrefix = (): string => ctx.prefix.slice(0, -1);

/** A deliverer, and (unless `run: false`) the worker that feeds it from the queue, as serve runs them. */
function deliver(options: Partial<SlackDelivererOptions> & { run?: boolean } = {}): void {
  const { run = true, ...overrides } = options;
  deliverer = new SlackDeliverer({
    client: createNotifierClient({ token: sandbox.botToken, slackApiUrl: sandbox.apiUrl, timeoutMs: 2_000 }),
    store,
    deliveryLock: new RedisRolloutLock(ctx.redis, { prefix: `${ctx.prefix}delivery-` }),
    records,
    logger,
    ...overrides,
  });
  if (!run) return;
  worker = createNotificationWorker({
    connection: ctx.redis.options,
    prefix: bullPrefix(),
    deliver: (jobId, job) => deliverer.deliver(jobId, job),
    logger,
    maxBackoffMs: 100,
  });
}

/** Save a change to the stored rollout, as the service does, and tell the notifier. */
async function change(overrides: Partial<Rollout>): Promise<Rollout> {
  const current = (await store.get("reviews-7"))!;
  const saved = await store.save({ ...current, ...overrides }, current.version);
  await notifier.update(saved);
  return saved;
}

/** Nothing left to deliver: every job delivered, dropped or given up. */
async function drained(): Promise<void> {
  await waitFor("the notification queue to drain", async () =>
    (await notifier.pending()) === 0 ? true : undefined,
  );
}

const stored = async (): Promise<Rollout> => (await store.get("reviews-7"))!;
const statuses = (method: string) => sandbox.calls(method).map((call) => call.status);
const buttonValues = (blocks: unknown[] | undefined): string[] =>
  JSON.stringify(blocks ?? [])
    .match(/"value":"[^"]+"/g)
    ?.map((match) => match.slice(9, -1)) ?? [];

beforeEach(async () => {
  lines.length = 0;
  unrouted.told.length = 0;
  ctx = await redisTestContext("delivery");
  sandbox = await startSlackSandbox({ channels: [{ id: CHANNEL, name: "deploys" }] });
  store = new RedisRolloutStore(ctx.redis, { prefix: ctx.prefix });
  records = new RedisDeliveryRecords(ctx.redis, { prefix: ctx.prefix });
  notifier = new QueuedNotifier({ connection: ctx.redis.options, prefix: bullPrefix(), unrouted });
  await store.create(
    makeRollout({
      id: "reviews-7",
      version: 3,
      startedBy: "U0ALICE1",
      target: { stableSubset: "v1", canarySubset: "v2" },
      report: { channel: CHANNEL },
    }),
  );
});

afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await notifier.close();
  await sandbox.close();
  await ctx.cleanup();
});

describe("the rollout message, delivered from the queue", () => {
  it("is posted once, recorded beside the rollout, then updated in place with the newest state", async () => {
    deliver();
    const before = await stored();
    await notifier.update(before);
    await drained();
    const [message] = sandbox.messages(CHANNEL);
    const afterPost = await stored();
    // Where the message lives is a delivery record: recording it is no change of the rollout, whose version the
    // buttons carry as it is.
    expect(await records.message("reviews-7")).toEqual({ channel: CHANNEL, ts: message!.ts });
    expect(afterPost).toEqual(before);
    expect(buttonValues(message!.blocks)).toEqual(Array(3).fill(`reviews-7@${before.version}`));

    const next = await change({ stepIndex: 1, appliedWeight: 25 });
    await drained();
    expect(sandbox.messages(CHANNEL)).toHaveLength(1);
    expect(sandbox.messages(CHANNEL)[0]!.text).toBe(
      "reviews-7: reviews v1 → v2, progressing, 25% · step 2/4",
    );
    expect(sandbox.messages(CHANNEL)[0]!.updates).toBe(1);
    expect(buttonValues(sandbox.messages(CHANNEL)[0]!.blocks)[0]).toBe(`reviews-7@${next.version}`);
    expect(statuses("chat.postMessage")).toEqual([200]);
    expect(statuses("chat.update")).toEqual([200]);
  });

  it("waits out a 429 for its Retry-After, then shows only the newest state", async () => {
    deliver();
    await notifier.update(await stored());
    await drained();
    sandbox.rateLimit({ method: "chat.update", count: 1, retryAfterSeconds: 1 });
    const started = Date.now();
    await change({ stepIndex: 1, appliedWeight: 25 });
    expect(Date.now() - started).toBeLessThan(1_000); // the rollout does not wait out the Retry-After
    await waitFor("the 429", () => (statuses("chat.update").includes(429) ? true : undefined));
    await change({ stepIndex: 2, appliedWeight: 50 });
    await drained();
    const calls = sandbox.calls("chat.update");
    expect(calls.map((call) => call.status)).toEqual([429, 200]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(1_000);
    // Only the newest state went out after the wait: the 25% one was superseded while waiting.
    expect(sandbox.messages(CHANNEL)[0]!.text).toContain("50% · step 3/4");
  });

  it("makes no call while a rate limit holds, not even from a delivery already under way", async () => {
    deliver();
    await notifier.update(await stored());
    await drained();
    sandbox.rateLimit({ method: "chat.update", count: 1, retryAfterSeconds: 1 });
    // The update and the alert run at once; the alert waits for the rollout's delivery lock, then meets the limit.
    const paused = await change({ phase: Phase.Paused, reason: "drift" });
    await notifier.alert(paused, "reviews-7 paused at 5%, holding the weight: drift");
    await drained();
    const [firstPost, ...after] = sandbox.calls().filter((call) => call.method.startsWith("chat."));
    expect(firstPost).toMatchObject({ method: "chat.postMessage", status: 200 });
    const rateLimited = sandbox.calls("chat.update")[0]!;
    expect(rateLimited.status).toBe(429);
    const later = after.filter((call) => call.at > rateLimited.at);
    expect(later.length).toBeGreaterThan(0);
    for (const call of later) expect(call.at - rateLimited.at).toBeGreaterThanOrEqual(1_000);
    expect(sandbox.messages(CHANNEL).map((message) => message.text)).toEqual([
      expect.stringContaining("paused"),
      expect.stringContaining(":rotating_light: reviews-7 paused at 5%"),
    ]);
  });

  it("never makes the rollout wait through an outage, and shows the newest state without a backlog when Slack is back", async () => {
    deliver();
    await notifier.update(await stored());
    await drained();
    sandbox.outage({ method: "chat.update", status: 503 });
    const started = Date.now();
    for (let step = 0; step < 10; step += 1) {
      await change({ stepIndex: step % 4, appliedWeight: 5 });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(Date.now() - started).toBeLessThan(5_000); // waiting on Slack would never end: it is down
    const failedWhileDown = sandbox.calls("chat.update").length;
    sandbox.clearFaults();
    await change({ phase: Phase.Promoted, stepIndex: 3, appliedWeight: 100 });
    await drained();
    const after = sandbox.calls("chat.update").slice(failedWhileDown);
    // Pending updates coalesced: one update when Slack came back (two if one was in flight as it did).
    expect(after.filter((call) => call.status === 200).length).toBeLessThanOrEqual(2);
    expect(sandbox.messages(CHANNEL)[0]!.text).toBe("reviews-7: reviews v1 → v2, promoted, 100% · step 4/4");
    expect(failedWhileDown).toBeLessThan(10);
  });

  it("posts the first message once when Slack comes back from an outage", async () => {
    deliver();
    sandbox.outage({ method: "chat.postMessage", status: 500 });
    await notifier.update(await stored());
    await waitFor("a failed post", () => (statuses("chat.postMessage").length >= 2 ? true : undefined));
    await change({ stepIndex: 1, appliedWeight: 25 });
    sandbox.clearFaults();
    await drained();
    expect(sandbox.messages(CHANNEL)).toHaveLength(1);
    expect(sandbox.messages(CHANNEL)[0]!.text).toContain("25% · step 2/4");
    expect((await records.message("reviews-7"))?.ts).toBe(sandbox.messages(CHANNEL)[0]!.ts);
  });

  it("posts a new message when the old one is gone, and records it", async () => {
    deliver();
    await notifier.update(await stored());
    await drained();
    sandbox.failWith({ method: "chat.update", error: "message_not_found", count: 1 });
    await change({ stepIndex: 1, appliedWeight: 25 });
    await drained();
    expect(sandbox.messages(CHANNEL)).toHaveLength(2);
    expect((await records.message("reviews-7"))?.ts).toBe(sandbox.messages(CHANNEL)[1]!.ts);
  });

  it("drops a notification Slack refuses for good after one call, saying so once", async () => {
    deliver();
    sandbox.failWith({ method: "chat.postMessage", error: "not_in_channel" });
    await notifier.update(await stored());
    await drained();
    expect(statuses("chat.postMessage")).toEqual([200]); // Slack answers ok:false with HTTP 200
    expect(sandbox.calls("chat.postMessage")[0]!.error).toBe("not_in_channel");
    expect(lines.filter((line) => line.message === "notification dropped")).toHaveLength(1);
    expect(JSON.stringify(lines)).toContain("not_in_channel");
  });

  it("leaves rollouts that report to no channel to the log, queueing nothing", async () => {
    deliver();
    const cli = makeRollout({ id: "reviews-8", report: undefined });
    await notifier.update(cli);
    await notifier.alert(cli, "x");
    expect(await notifier.pending()).toBe(0);
    expect(unrouted.told).toEqual(["update reviews-8", "alert reviews-8"]);
    expect(sandbox.calls()).toEqual([]);
  });

  it("delivers what was queued while no deliverer ran, once one starts", async () => {
    await notifier.update(await stored());
    await notifier.alert(await stored(), "reviews-7 paused at 5%, holding the weight: drift");
    expect(await notifier.pending()).toBe(2);
    deliver();
    await drained();
    const texts = sandbox.messages(CHANNEL).map((message) => message.text);
    expect(texts).toHaveLength(2);
    expect(texts[0]).toMatch(/^reviews-7: /);
    expect(texts[1]).toMatch(/drift/);
  });
});

describe("alerts and snapshot replies, delivered once", () => {
  it("posts an alert at the top level, mentioning the starter and the on-call, linking the rollout message", async () => {
    deliver({ onCallFor: (service) => (service === "reviews" ? "S0ONCALL1" : undefined) });
    await notifier.update(await stored());
    await notifier.alert(await stored(), "reviews-7 paused at 5%, holding the weight: drift");
    await drained();
    const [message, alert] = sandbox.messages(CHANNEL);
    expect(alert!.threadTs).toBeUndefined();
    expect(alert!.text).toBe(
      ":rotating_light: reviews-7 paused at 5%, holding the weight: drift (cc <@U0ALICE1> <!subteam^S0ONCALL1>)",
    );
    expect(JSON.stringify(alert!.blocks)).toContain(
      `https://canarybot-sandbox.slack.com/archives/${CHANNEL}/p${message!.ts.replace(".", "")}|rollout message`,
    );
  });

  it("threads a snapshot reply with the table and uploads the chart with the external upload API", async () => {
    deliver({ chart: () => Promise.resolve(PNG) });
    await notifier.update(await stored());
    const judged = await change({
      snapshots: [
        {
          at: Date.now(),
          windowSeconds: 60,
          canaryWeight: 5,
          canary: { requestRate: 1, successRate: 1, p99Ms: 10, requests: 60 },
          stable: { requestRate: 19, successRate: 1, p99Ms: 9, requests: 1140 },
        },
      ],
      lastVerdict: {
        status: "pass",
        checks: [{ name: "success-rate", status: "pass", value: 1, threshold: ">= 99%" }],
      },
    });
    await notifier.snapshot(judged, "success-rate 1 vs >= 99%");
    await drained();
    const where = (await records.message("reviews-7"))!;
    const replies = sandbox.replies(CHANNEL, where.ts);
    expect(replies[0]!.text).toBe("reviews-7 at 5% · step 1/4: pass. success-rate 1 vs &gt;= 99%");
    expect(JSON.stringify(replies[0]!.blocks)).toContain("```reviews-7 at");
    const [file] = sandbox.files();
    expect(file).toMatchObject({
      filename: "reviews-7-step-1.png",
      completed: true,
      channel: CHANNEL,
      threadTs: where.ts,
    });
    expect(file!.bytes!.equals(PNG)).toBe(true);
    expect(sandbox.calls("files.upload")).toEqual([]);
  });

  it("a job run again after a crash between posting and finishing posts nothing twice", async () => {
    // BullMQ hands a job whose worker died to another worker: the same job id is delivered twice.
    deliver({ run: false });
    const rollout = await stored();
    await deliverer.deliver("rollout.reviews-7.alert.a", {
      kind: "alert",
      rolloutId: rollout.id,
      text: "drift",
    });
    await deliverer.deliver("rollout.reviews-7.alert.a", {
      kind: "alert",
      rolloutId: rollout.id,
      text: "drift",
    });
    const snapshot = { kind: "snapshot", rolloutId: rollout.id, text: "t", at: Date.now() } as const;
    await deliverer.deliver("rollout.reviews-7.snapshot.b", snapshot);
    await deliverer.deliver("rollout.reviews-7.snapshot.b", snapshot);
    expect(sandbox.messages(CHANNEL).map((message) => message.text.slice(0, 30))).toEqual([
      expect.stringMatching(/^reviews-7: /),
      expect.stringMatching(/drift/),
    ]);
    expect(sandbox.replies(CHANNEL, (await records.message("reviews-7"))!.ts)).toHaveLength(1);
    // A different alert is a different job: it is posted.
    await deliverer.deliver("rollout.reviews-7.alert.c", {
      kind: "alert",
      rolloutId: rollout.id,
      text: "drift",
    });
    expect(sandbox.messages(CHANNEL)).toHaveLength(3);
  });

  it("a message a crashed process posted and recorded is not posted again", async () => {
    deliver({ run: false });
    const client = createNotifierClient({ token: sandbox.botToken, slackApiUrl: sandbox.apiUrl });
    const posted = await client.chat.postMessage({
      channel: CHANNEL,
      text: "reviews-7: posted, then the process died",
    });
    await records.messagePosted("reviews-7", { channel: CHANNEL, ts: posted.ts! }, 4);
    await deliverer.deliver("rollout.reviews-7.message", { kind: "message", rolloutId: "reviews-7" });
    expect(sandbox.messages(CHANNEL)).toHaveLength(1);
    expect(await records.message("reviews-7")).toEqual({ channel: CHANNEL, ts: posted.ts });
    expect(statuses("chat.postMessage")).toEqual([200]); // the test's own post only
  });
});
