import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Logger } from "../../src/rollout/ports.ts";
import { Phase } from "../../src/rollout/types.ts";
import type { Rollout } from "../../src/rollout/types.ts";
import { startSlackSandbox } from "../../src/sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../src/sandbox/slack/web-api-sandbox.ts";
import { createNotifierClient, SlackNotifier } from "../../src/slack/slack-notifier.ts";
import type { SlackNotifierOptions } from "../../src/slack/slack-notifier.ts";
import { makeRollout } from "../support/rollouts.ts";

const CHANNEL = "C0DEPLOYS";
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

const silent: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silent,
};

let sandbox: SlackSandbox;
let notifier: SlackNotifier;

function notifierWith(options: Partial<SlackNotifierOptions> = {}): SlackNotifier {
  notifier = new SlackNotifier({
    client: createNotifierClient({ token: sandbox.botToken, slackApiUrl: sandbox.apiUrl, timeoutMs: 2_000 }),
    logger: silent,
    maxBackoffMs: 100,
    firstPostTimeoutMs: 2_000,
    ...options,
  });
  return notifier;
}

/** The rollout at `version`, as the service passes it: the report ts known once the service stored it. */
function at(version: number, overrides: Partial<Rollout> = {}): Rollout {
  return makeRollout({
    id: "reviews-7",
    version,
    startedBy: "U0ALICE1",
    target: { stableSubset: "v1", canarySubset: "v2" },
    report: { channel: CHANNEL },
    ...overrides,
  });
}

const statuses = (method: string) => sandbox.calls(method).map((call) => call.status);
const buttonValues = (blocks: unknown[] | undefined): string[] =>
  JSON.stringify(blocks ?? [])
    .match(/"value":"[^"]+"/g)
    ?.map((match) => match.slice(9, -1)) ?? [];

beforeEach(async () => {
  sandbox = await startSlackSandbox({ channels: [{ id: CHANNEL, name: "deploys" }] });
});

afterEach(async () => {
  await notifier.close(1_000);
  await sandbox.close();
});

describe("SlackNotifier.update", () => {
  it("posts the message once, then updates it in place", async () => {
    notifierWith();
    const where = await notifier.update(at(3));
    expect(where).toEqual({ channel: CHANNEL, ts: expect.any(String) as string });
    // The service stores the report (version 4) and passes it from then on.
    const stored = at(4, { report: { channel: CHANNEL, ts: where!.ts } });
    await notifier.update({ ...stored, version: 5, stepIndex: 1, appliedWeight: 25 });
    await notifier.idle();
    const [message] = sandbox.messages(CHANNEL);
    expect(sandbox.messages(CHANNEL)).toHaveLength(1);
    expect(message!.text).toBe("reviews-7: reviews v1 → v2, progressing, 25% · step 2/4");
    expect(message!.updates).toBe(1);
    expect(statuses("chat.postMessage")).toEqual([200]);
    expect(statuses("chat.update")).toEqual([200]);
    expect(buttonValues(message!.blocks)).toEqual(["reviews-7@5", "reviews-7@5", "reviews-7@5"]);
  });

  it("draws the first message's buttons with the version the store will hold once the report is saved", async () => {
    notifierWith();
    const where = await notifier.update(at(3));
    const [message] = sandbox.messages(CHANNEL);
    // The service saves { report } next, as version 4: a click on these buttons must find 4.
    expect(buttonValues(message!.blocks)).toEqual(["reviews-7@4", "reviews-7@4", "reviews-7@4"]);
    expect(where?.ts).toBe(message!.ts);
  });

  it("waits out a 429 on chat.update for its Retry-After, then sends the latest state", async () => {
    notifierWith();
    const where = await notifier.update(at(1));
    sandbox.rateLimit({ method: "chat.update", count: 1, retryAfterSeconds: 1 });
    const started = Date.now();
    const report = { channel: CHANNEL, ts: where!.ts };
    const returned = await notifier.update(at(2, { report, stepIndex: 1, appliedWeight: 25 }));
    expect(returned).toEqual(report);
    expect(Date.now() - started).toBeLessThan(200); // the rollout is not kept waiting
    await new Promise((resolve) => setTimeout(resolve, 100));
    await notifier.update(at(3, { report, stepIndex: 2, appliedWeight: 50 }));
    await notifier.idle();
    const calls = sandbox.calls("chat.update");
    expect(calls.map((call) => call.status)).toEqual([429, 200]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(1_000);
    // Only the latest state went out after the wait: the 25% one was superseded while waiting.
    expect(sandbox.messages(CHANNEL)[0]!.text).toContain("50% · step 3/4");
  });

  it("never makes the rollout wait through an outage, and shows only the latest state when Slack is back", async () => {
    notifierWith();
    const where = await notifier.update(at(1));
    const report = { channel: CHANNEL, ts: where!.ts };
    sandbox.outage({ method: "chat.update", status: 503 });
    const started = Date.now();
    for (let version = 2; version <= 11; version += 1) {
      await notifier.update(at(version, { report, stepIndex: version % 4, appliedWeight: 5 }));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(Date.now() - started).toBeLessThan(1_000);
    const failedWhileDown = sandbox.calls("chat.update").length;
    sandbox.clearFaults();
    await notifier.update(at(12, { report, phase: Phase.Promoted, stepIndex: 3, appliedWeight: 100 }));
    await notifier.idle();
    const after = sandbox.calls("chat.update").slice(failedWhileDown);
    // No backlog: one update when Slack came back (two at most if one was in flight as it did).
    expect(after.filter((call) => call.status === 200).length).toBeLessThanOrEqual(2);
    expect(sandbox.messages(CHANNEL)[0]!.text).toBe("reviews-7: reviews v1 → v2, promoted, 100% · step 4/4");
    // Ten states were produced while Slack was down, far fewer calls went out.
    expect(failedWhileDown).toBeLessThan(10);
  });

  it("returns without the ts when the first post is slow, and posts once when Slack is back", async () => {
    notifierWith({ firstPostTimeoutMs: 200 });
    sandbox.outage({ method: "chat.postMessage", status: 500 });
    const started = Date.now();
    expect(await notifier.update(at(1))).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(600);
    expect(await notifier.update(at(2, { stepIndex: 1, appliedWeight: 25 }))).toBeUndefined();
    sandbox.clearFaults();
    await notifier.idle();
    expect(sandbox.messages(CHANNEL)).toHaveLength(1);
    expect(sandbox.messages(CHANNEL)[0]!.text).toContain("25% · step 2/4");
    // From now on the ts is known: the next update returns it, so the service can store it.
    expect(await notifier.update(at(3, { stepIndex: 2, appliedWeight: 50 }))).toEqual({
      channel: CHANNEL,
      ts: sandbox.messages(CHANNEL)[0]!.ts,
    });
  });

  it("posts a new message when the old one is gone", async () => {
    notifierWith();
    const where = await notifier.update(at(1));
    sandbox.failWith({ method: "chat.update", error: "message_not_found", count: 1 });
    await notifier.update(at(2, { report: { channel: CHANNEL, ts: where!.ts } }));
    await notifier.idle();
    expect(sandbox.messages(CHANNEL)).toHaveLength(2);
    const ts = sandbox.messages(CHANNEL)[1]!.ts;
    expect(await notifier.update(at(3, { report: { channel: CHANNEL, ts: where!.ts } }))).toEqual({
      channel: CHANNEL,
      ts,
    });
  });

  it("does nothing for a rollout that reports nowhere (started from the CLI)", async () => {
    notifierWith();
    expect(await notifier.update(at(1, { report: undefined }))).toBeUndefined();
    await notifier.alert(at(1, { report: undefined }), "x");
    await notifier.idle();
    expect(sandbox.calls()).toEqual([]);
  });
});

describe("SlackNotifier.snapshot and alert", () => {
  it("threads a snapshot reply with the table and uploads the chart with the external upload API", async () => {
    notifierWith({ chart: () => Promise.resolve(PNG) });
    const where = await notifier.update(at(1));
    const rollout = at(2, {
      report: { channel: CHANNEL, ts: where!.ts },
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
    await notifier.snapshot(rollout, "success-rate 1 vs >= 99%");
    await notifier.idle();
    const replies = sandbox.replies(CHANNEL, where!.ts);
    expect(replies[0]!.text).toBe("reviews-7 at 5% · step 1/4: pass. success-rate 1 vs &gt;= 99%");
    expect(JSON.stringify(replies[0]!.blocks)).toContain("```reviews-7 at");
    const [file] = sandbox.files();
    expect(file).toMatchObject({
      filename: "reviews-7-step-1.png",
      completed: true,
      channel: CHANNEL,
      threadTs: where!.ts,
    });
    expect(file!.bytes!.equals(PNG)).toBe(true);
    expect(sandbox.calls().map((call) => call.method)).toEqual(
      expect.arrayContaining(["files.getUploadURLExternal", "files.completeUploadExternal"]),
    );
    expect(sandbox.calls("files.upload")).toEqual([]);
  });

  it("posts an alert at the top level, mentioning the starter and the on-call, linking the rollout message", async () => {
    notifierWith({ onCallFor: (service) => (service === "reviews" ? "S0ONCALL1" : undefined) });
    const where = await notifier.update(at(1));
    await notifier.alert(
      at(2, { report: { channel: CHANNEL, ts: where!.ts } }),
      "reviews-7 paused at 5%, holding the weight: drift",
    );
    await notifier.idle();
    const alert = sandbox.messages(CHANNEL)[1]!;
    expect(alert.threadTs).toBeUndefined();
    expect(alert.text).toBe(
      ":rotating_light: reviews-7 paused at 5%, holding the weight: drift (cc <@U0ALICE1> <!subteam^S0ONCALL1>)",
    );
    expect(JSON.stringify(alert.blocks)).toContain(
      `https://canarybot-sandbox.slack.com/archives/${CHANNEL}/p${where!.ts.replace(".", "")}|rollout message`,
    );
  });
});
