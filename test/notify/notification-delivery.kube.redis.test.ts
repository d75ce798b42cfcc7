import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { QueuedNotifier } from "../../src/jobs/notification-queue.ts";
import { startKubeSandbox } from "../../sandbox/kube/server.ts";
import type { KubeSandbox } from "../../sandbox/kube/server.ts";
import { createSignedRequestClient } from "../../sandbox/slack/signed-request-client.ts";
import type { SlackMessage } from "../../sandbox/slack/slack-workspace.ts";
import { startSlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import { waitFor } from "../support/engine.ts";
import { runBin, spawnServe } from "../support/serve-process.ts";
import type { ServeProcess } from "../support/serve-process.ts";
import { REDIS_URL, connectRedis, deleteKeysWithPrefix, uniqueName } from "../support/redis.ts";

const ALICE = { id: "U0ALICE1", name: "alice" };
const DEPLOYS = { id: "C0DEPLOYS", name: "deploys" };
const GATED = "start reviews --canary v2 --steps 10,50,100 --approve-at 10 --interval 200ms";

type Serve = ServeProcess;

let kube: KubeSandbox;
let slack: SlackSandbox;
let dir: string;
let env: Record<string, string>;
let signingSecret: string;
let queue: QueuedNotifier;
const children: ChildProcess[] = [];

beforeEach(async () => {
  const probe = await connectRedis(); // fails with how to start Redis when there is none
  probe.disconnect();
  kube = await startKubeSandbox({ scenario: "bookinfo" });
  slack = await startSlackSandbox({ users: [ALICE], channels: [DEPLOYS] });
  dir = await mkdtemp(join(tmpdir(), "canarybot-delivery-"));
  await kube.writeKubeconfig(join(dir, "kubeconfig"));
  signingSecret = randomBytes(16).toString("hex");
  env = {
    PATH: process.env.PATH ?? "",
    HOME: dir,
    REDIS_URL,
    CANARYBOT_PREFIX: uniqueName("delivery"),
    CANARYBOT_MIN_INTERVAL_MS: "50",
    KUBECONFIG: join(dir, "kubeconfig"),
    LOG_LEVEL: "info",
  };
  queue = new QueuedNotifier({
    connection: REDIS_URL,
    prefix: env.CANARYBOT_PREFIX,
    unrouted: silentNotifier,
  });
});

afterEach(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.length = 0;
  await queue.close();
  await kube.close();
  await slack.close();
  const redis = await connectRedis();
  await deleteKeysWithPrefix(redis, `${env.CANARYBOT_PREFIX}:`);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

const silentNotifier = {
  update: () => Promise.resolve(),
  snapshot: () => Promise.resolve(),
  alert: () => Promise.resolve(),
};

/** `canarybot serve` with the bot token, as Slack's app would run it. */
function startServe(): Promise<Serve> {
  return spawnServe(
    {
      ...env,
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: signingSecret,
      SLACK_API_URL: slack.apiUrl,
    },
    children,
  );
}

/** A `canarybot` command as a person types it on the command line: no Slack token, the same Redis. */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runBin({ ...env, LOG_LEVEL: "warn" }, children, ...args);
}

const rolloutMessage = (): SlackMessage | undefined =>
  slack.messages(DEPLOYS.id).find((message) => message.text.startsWith("reviews-1: "));
const alerts = (): SlackMessage[] =>
  slack.messages(DEPLOYS.id).filter((message) => message.text.includes("reviews-1 is rolling back"));
const hasButtons = (message: SlackMessage): boolean =>
  JSON.stringify(message.blocks ?? []).includes('"button"');

/** Alice starts the gated rollout from Slack; resolves when its message shows it waiting at 10%. */
async function startFromSlack(serve: Serve): Promise<void> {
  const client = createSignedRequestClient({
    endpoint: `http://127.0.0.1:${serve.port}/slack/events`,
    signingSecret,
    slack,
  });
  const sent = await client.slashCommand({ text: GATED, userId: ALICE.id, channelId: DEPLOYS.id });
  expect(sent.status).toBe(200);
  await waitFor("the rollout message waiting for approval at 10%", () => {
    const message = rolloutMessage();
    return message?.text.includes("awaiting-approval, 10%") && hasButtons(message) ? message : undefined;
  });
}

async function rolledBackInSlack(): Promise<SlackMessage> {
  return waitFor(
    "the rollout message to show the rollback, without buttons, and the alert",
    () => {
      const message = rolloutMessage();
      const done = message?.text.includes(", rolled-back,") && !hasButtons(message);
      return done && alerts().length > 0 ? message : undefined;
    },
    60_000,
  );
}

/** Two `canarybot` processes start per test (three for the restart); generous for a loaded two-core machine. */
const PROCESS_TEST_TIMEOUT_MS = 120_000;

describe("every action reaches the channel, whichever process took it", () => {
  it(
    "a rollback on the command line while serve runs updates the message and posts the alert",
    { timeout: PROCESS_TEST_TIMEOUT_MS },
    async () => {
      const serve = await startServe();
      await startFromSlack(serve);

      const rollback = await cli(
        "rollback",
        "reviews-1",
        "--as",
        "carol",
        "--reason",
        "Slack buttons broken",
      );
      expect(rollback.code).toBe(0);

      const message = await rolledBackInSlack();
      expect(message.text).toContain(", rolled-back,");
      const [alert] = alerts();
      expect(alert!.text).toContain(
        "reviews-1 is rolling back, requested by cli:carol: Slack buttons broken",
      );
      expect(alert!.threadTs).toBeUndefined();
      await waitFor("the queue to drain", async () => ((await queue.pending()) === 0 ? true : undefined));
      expect(alerts()).toHaveLength(1);
      expect(slack.messages(DEPLOYS.id).filter((m) => m.text.startsWith("reviews-1: "))).toHaveLength(1);
    },
  );

  it(
    "a serve killed between enqueue and delivery delivers after its restart, once",
    { timeout: PROCESS_TEST_TIMEOUT_MS },
    async () => {
      const first = await startServe();
      await startFromSlack(first);
      const updatesBefore = slack.calls("chat.update").length;

      // Slack is down: serve takes the jobs, fails to deliver, and waits to retry; then it is killed.
      slack.outage({ status: 503 });
      expect((await cli("rollback", "reviews-1", "--as", "carol")).code).toBe(0);
      await waitFor("serve to try delivering the rollback", () =>
        slack.calls("chat.update").length > updatesBefore ? true : undefined,
      );
      first.child.kill("SIGKILL");
      await first.exited;
      slack.clearFaults();
      expect(rolloutMessage()!.text).toContain("awaiting-approval, 10%");
      expect(alerts()).toEqual([]);
      expect(await queue.pending()).toBeGreaterThan(0);

      await startServe();
      const message = await rolledBackInSlack();
      expect(message.text).toContain(", rolled-back,");
      await waitFor(
        "the queue to drain",
        async () => ((await queue.pending()) === 0 ? true : undefined),
        60_000,
      );
      expect(alerts()).toHaveLength(1);
      // Nothing was posted twice: the message, the approval gate's alert and the rollback's, once each.
      const posted = slack
        .calls("chat.postMessage")
        .filter((call) => call.ok)
        .map((call) => String(call.args.text));
      expect(posted).toHaveLength(3);
      expect(new Set(posted).size).toBe(posted.length);
      expect(slack.messages(DEPLOYS.id).filter((m) => m.text.startsWith("reviews-1: "))).toHaveLength(1);
    },
  );
});
