import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnvConfig } from "../../src/config/env.ts";
import { createLogger } from "../../src/logger.ts";
import type { AuditEntry, Rollout } from "../../src/rollout/types.ts";
import { startKubeSandbox } from "../../sandbox/kube/server.ts";
import type { KubeSandbox } from "../../sandbox/kube/server.ts";
import { createEnvelopeClient } from "../../sandbox/slack/envelope-client.ts";
import type { EnvelopeClient } from "../../sandbox/slack/envelope-client.ts";
import { createSignedRequestClient } from "../../sandbox/slack/signed-request-client.ts";
import type { SignedRequestClient, SignedSendOptions } from "../../sandbox/slack/signed-request-client.ts";
import type { EphemeralMessage, SlackMessage } from "../../sandbox/slack/slack-workspace.ts";
import { startSlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import { startServe } from "../../src/serve.ts";
import type { ServeHandle } from "../../src/serve.ts";
import { waitFor } from "./engine.ts";
import { REDIS_URL, connectRedis, deleteKeysWithPrefix, uniqueName } from "./redis.ts";

export const ALICE = { id: "U0ALICE1", name: "alice" };
export const BOB = { id: "U0BOB001", name: "bob" };
export const CAROL = { id: "U0CAROL1", name: "carol" };
export const MALLORY = { id: "U0MALLRY", name: "mallory" };
export const SRE = "S0SRE0001";
export const ONCALL = "S0ONCALL1";
export const DEPLOYS = { id: "C0DEPLOYS", name: "deploys" };
export const RANDOM = { id: "C0RANDOM1", name: "random" };
/** A channel that has not invited the bot. */
export const LOBBY = { id: "C0LOBBY01", name: "lobby", botIsMember: false };

/** Alice and Bob start; the SRE group (Bob) approves and promotes; Carol rolls back; Mallory does nothing. */
export const CONFIG = `
services:
  reviews:
    channels: [${DEPLOYS.id}]
    starters: [${ALICE.id}, ${BOB.id}]
    approvers: [${SRE}]
    rollbackers: [${CAROL.id}, ${SRE}]
    onCall: ${ONCALL}
  ratings:
    channels: [${DEPLOYS.id}]
`;

/**
 * canarybot as `canarybot serve` runs it (Bolt in HTTP mode, or Socket Mode with `transport: "socket"`, and an
 * in-process worker), against the Slack sandbox, the Kubernetes sandbox (bookinfo) and real Redis under a prefix of
 * the test's own.
 */
export type BotHarness = {
  slack: SlackSandbox;
  kube: KubeSandbox;
  bot: ServeHandle;
  /** HTTP mode: signed requests to `endpoint`. */
  client: SignedRequestClient;
  /** Socket Mode: envelopes on the bot's websocket. */
  envelopes: EnvelopeClient;
  /** HTTP mode only ("" in Socket Mode). */
  endpoint: string;
  signingSecret: string;
  kubeconfigPath: string;
  /** The Redis key prefix (CANARYBOT_PREFIX) the bot runs under: a command line beside it uses the same. */
  prefix: string;
  /** `/canary <text>` typed by `user` in `channel` (default #deploys): the HTTP status, or 200 once acked in Socket Mode. */
  command(
    user: { id: string },
    text: string,
    channel?: { id: string },
    options?: SignedSendOptions,
  ): Promise<number>;
  click(
    user: { id: string },
    message: SlackMessage,
    actionId: string,
    options?: SignedSendOptions,
  ): Promise<number>;
  /** The rollout message of a rollout (the top-level bot message naming it). */
  message(id: string): SlackMessage | undefined;
  waitForMessage(id: string, what: string, check: (message: SlackMessage) => boolean): Promise<SlackMessage>;
  /** Ephemeral replies to a user, newest last. */
  ephemerals(user: { id: string }): readonly EphemeralMessage[];
  waitForEphemeral(user: { id: string }, pattern: RegExp): Promise<EphemeralMessage>;
  rollout(id: string): Promise<Rollout | undefined>;
  audit(id: string): Promise<AuditEntry[]>;
  cleanup(): Promise<void>;
};

export async function botHarness(
  label: string,
  options: { config?: string | null; env?: Record<string, string>; transport?: "http" | "socket" } = {},
): Promise<BotHarness> {
  const probe = await connectRedis();
  const signingSecret = randomBytes(16).toString("hex");
  const slack = await startSlackSandbox({
    users: [ALICE, BOB, CAROL, MALLORY],
    channels: [DEPLOYS, RANDOM, LOBBY],
    usergroups: [
      { id: SRE, handle: "sre", users: [BOB.id] },
      { id: ONCALL, handle: "oncall", users: [CAROL.id] },
    ],
  });
  const kube = await startKubeSandbox({ scenario: "bookinfo" });
  const dir = await mkdtemp(join(tmpdir(), "canarybot-bot-"));
  const kubeconfigPath = join(dir, "kubeconfig");
  await kube.writeKubeconfig(kubeconfigPath);
  let configPath: string | undefined;
  if (options.config !== null) {
    configPath = join(dir, "canarybot.yaml");
    await writeFile(configPath, options.config ?? CONFIG);
  }
  const prefix = uniqueName(label);
  const socket = options.transport === "socket";
  const processEnv: Record<string, string> = {
    HOME: dir,
    REDIS_URL,
    CANARYBOT_PREFIX: prefix,
    CANARYBOT_MIN_INTERVAL_MS: "50",
    KUBECONFIG: kubeconfigPath,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    SLACK_BOT_TOKEN: slack.botToken,
    // Socket Mode needs no signing secret: the app-level token opens the connection.
    ...(socket ? { SLACK_APP_TOKEN: slack.appToken } : { SLACK_SIGNING_SECRET: signingSecret }),
    SLACK_API_URL: slack.apiUrl,
    PORT: "0",
    ...options.env,
  };
  const env = loadEnvConfig(processEnv);
  const bot = await startServe({
    env,
    processEnv,
    logger: createLogger(env.LOG_LEVEL),
    kubeconfigPath,
    ...(configPath ? { configPath } : {}),
    mode: { slack: true, worker: true },
    stopSignal: new Promise(() => undefined),
  });
  const endpoint = socket ? "" : `http://127.0.0.1:${bot.port}/slack/events`;
  const client = createSignedRequestClient({ endpoint, signingSecret, slack });
  const envelopes = createEnvelopeClient({ slack });

  const message = (id: string): SlackMessage | undefined =>
    slack
      .messages(DEPLOYS.id)
      .concat(slack.messages(RANDOM.id))
      .find((candidate) => candidate.text.startsWith(`${id}: `));

  return {
    slack,
    kube,
    bot,
    client,
    envelopes,
    endpoint,
    signingSecret,
    kubeconfigPath,
    prefix,
    async command(user, text, channel = DEPLOYS, sendOptions) {
      if (socket) {
        await envelopes.slashCommand({ text, userId: user.id, channelId: channel.id });
        return 200;
      }
      const sent = await client.slashCommand({ text, userId: user.id, channelId: channel.id }, sendOptions);
      return sent.status;
    },
    async click(user, target, actionId, sendOptions) {
      const input = { channel: target.channel, messageTs: target.ts, actionId, userId: user.id };
      if (socket) {
        await envelopes.clickButton(input);
        return 200;
      }
      return (await client.clickButton(input, sendOptions)).status;
    },
    message,
    waitForMessage: (id, what, check) =>
      waitFor(`${id}'s message: ${what}`, () => {
        const found = message(id);
        return found && check(found) ? found : undefined;
      }),
    ephemerals: (user) => slack.ephemerals({ user: user.id }),
    waitForEphemeral: (user, pattern) =>
      waitFor(`an ephemeral reply to ${user.id} matching ${pattern}`, () =>
        slack.ephemerals({ user: user.id }).find((reply) => pattern.test(reply.text)),
      ),
    rollout: (id) => bot.runtime.store.get(id),
    audit: (id) => bot.runtime.store.audit(id),
    async cleanup() {
      await bot.close();
      await kube.close();
      await slack.close();
      await deleteKeysWithPrefix(probe, `${prefix}:`);
      probe.disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Buttons on a message: `action_id → value`. */
export function buttonsOf(message: SlackMessage): Record<string, string> {
  const found: Record<string, string> = {};
  for (const block of (message.blocks ?? []) as {
    type: string;
    elements?: { action_id?: string; value?: string }[];
  }[]) {
    if (block.type !== "actions") continue;
    for (const element of block.elements ?? [])
      if (element.action_id) found[element.action_id] = element.value ?? "";
  }
  return found;
}

/** A `block_actions` payload for a click on a button with this value, exactly as the client builds one. */
export function clickPayload(
  slack: SlackSandbox,
  input: { user: { id: string; name: string }; message: SlackMessage; actionId: string; value: string },
): Record<string, unknown> {
  const { user, message } = input;
  return {
    type: "block_actions",
    user: { id: user.id, username: user.name, name: user.name, team_id: slack.identity.teamId },
    api_app_id: slack.identity.appId,
    token: "sandboxVerificationToken00",
    container: { type: "message", message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
    trigger_id: slack.createTriggerId(user.id),
    team: { id: slack.identity.teamId, domain: slack.identity.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: message.channel, name: "deploys" },
    message: {
      type: "message",
      user: message.user,
      text: message.text,
      ts: message.ts,
      blocks: message.blocks ?? [],
    },
    state: { values: {} },
    response_url: slack.createResponseUrl({
      kind: "actions",
      channel: message.channel,
      user: user.id,
      messageTs: message.ts,
    }),
    actions: [
      {
        action_id: input.actionId,
        block_id: "rollout_actions",
        text: { type: "plain_text", text: input.actionId },
        value: input.value,
        type: "button",
        action_ts: (Date.now() / 1000).toFixed(6),
      },
    ],
  };
}

/** A slash command's form body, as the client builds one, for sending the same delivery twice. */
export function commandBody(
  slack: SlackSandbox,
  input: { user: { id: string; name: string }; text: string; channel?: { id: string; name: string } },
): string {
  const channel = input.channel ?? DEPLOYS;
  return new URLSearchParams({
    token: "sandboxVerificationToken00",
    team_id: slack.identity.teamId,
    team_domain: slack.identity.teamDomain,
    channel_id: channel.id,
    channel_name: channel.name,
    user_id: input.user.id,
    user_name: input.user.name,
    command: "/canary",
    text: input.text,
    api_app_id: slack.identity.appId,
    is_enterprise_install: "false",
    response_url: slack.createResponseUrl({ kind: "commands", channel: channel.id, user: input.user.id }),
    trigger_id: slack.createTriggerId(input.user.id),
  }).toString();
}

export { waitFor };
