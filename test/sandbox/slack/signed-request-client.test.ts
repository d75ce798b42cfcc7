import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import type { BlockAction, SlashCommand } from "@slack/bolt";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { slackSignature } from "../../../sandbox/slack/request-signing.ts";
import { createSignedRequestClient } from "../../../sandbox/slack/signed-request-client.ts";
import type { SignedRequestClient } from "../../../sandbox/slack/signed-request-client.ts";
import { startSlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import { sandboxClient, startBoltApp } from "./support.ts";
import type { RunningBoltApp } from "./support.ts";

const SECRET = randomBytes(16).toString("hex");
const ALICE = { id: "U0ALICE", name: "alice" };
const DEPLOYS = { id: "C0DEPLOYS", name: "deploys" };

interface Received {
  command: SlashCommand;
  retryNum: number | undefined;
  retryReason: string | undefined;
}

let sandbox: SlackSandbox;
let bolt: RunningBoltApp;
let client: SignedRequestClient;
let commands: Received[];
let clicks: BlockAction[];

const promoteMessage = {
  text: "reviews-12 at 25%",
  blocks: [
    { type: "section", text: { type: "mrkdwn", text: "*reviews-12* at 25%" } },
    {
      type: "actions",
      block_id: "rollout-actions",
      elements: [
        {
          type: "button",
          text: { type: "plain_text", text: "Promote" },
          action_id: "promote",
          value: "reviews-12:7",
        },
      ],
    },
  ],
};

beforeEach(async () => {
  commands = [];
  clicks = [];
  sandbox = await startSlackSandbox({ users: [ALICE], channels: [DEPLOYS] });
  bolt = await startBoltApp(sandbox, SECRET, (app) => {
    app.command("/canary", async ({ command, ack, respond, context, client: web }) => {
      await ack();
      commands.push({ command, retryNum: context.retryNum, retryReason: context.retryReason });
      if (command.text === "form") {
        await web.views.open({
          trigger_id: command.trigger_id,
          view: { type: "modal", title: { type: "plain_text", text: "Start a canary" }, blocks: [] },
        });
      } else {
        await respond(`Starting ${command.text}`);
      }
    });
    app.action<BlockAction>("promote", async ({ ack, body, respond }) => {
      await ack();
      clicks.push(body);
      await respond({ replace_original: true, text: "reviews-12 promoted" });
    });
  });
  client = createSignedRequestClient({ endpoint: bolt.endpoint, signingSecret: SECRET, slack: sandbox });
});

afterEach(async () => {
  await bolt.stop();
  await sandbox.close();
});

describe("signed requests into a real Bolt app", () => {
  it("delivers a slash command Bolt accepts, and records the respond() reply as an ephemeral message", async () => {
    const sent = await client.slashCommand({
      text: "start reviews --canary v2",
      userId: ALICE.id,
      channelId: DEPLOYS.id,
    });
    expect(sent.status).toBe(200);
    expect(commands).toHaveLength(1);
    expect(commands[0]!.command).toMatchObject({
      command: "/canary",
      text: "start reviews --canary v2",
      user_id: ALICE.id,
      user_name: "alice",
      channel_id: DEPLOYS.id,
      channel_name: "deploys",
      team_id: sandbox.identity.teamId,
      api_app_id: sandbox.identity.appId,
      is_enterprise_install: "false",
      response_url: sent.responseUrl,
      trigger_id: sent.triggerId,
    });
    expect(sandbox.ephemerals({ channel: DEPLOYS.id, user: ALICE.id })).toMatchObject([
      { text: "Starting start reviews --canary v2", via: "response_url" },
    ]);
    expect(sandbox.responses()).toMatchObject([{ url: sent.responseUrl, outcome: "ephemeral", status: 200 }]);
    // Bolt's own WebClient verified the token against the sandbox, not slack.com.
    expect(sandbox.calls("auth.test")).toMatchObject([{ ok: true }]);
  });

  it("is refused with 401 when the signature is wrong, and the listener never runs", async () => {
    const sent = await client.slashCommand(
      { text: "status", userId: ALICE.id, channelId: DEPLOYS.id },
      { badSignature: true },
    );
    expect(sent.status).toBe(401);
    expect(commands).toEqual([]);
  });

  it("is refused with 401 when signed six minutes ago, accepted when four", async () => {
    const old = await client.slashCommand(
      { text: "status", userId: ALICE.id, channelId: DEPLOYS.id },
      { timestampOffsetSeconds: -360 },
    );
    expect(old.status).toBe(401);
    const recent = await client.slashCommand(
      { text: "status", userId: ALICE.id, channelId: DEPLOYS.id },
      { timestampOffsetSeconds: -240 },
    );
    expect(recent.status).toBe(200);
    expect(commands).toHaveLength(1);
  });

  it("passes Slack's retry headers through to the listener's context", async () => {
    await client.slashCommand(
      { text: "status", userId: ALICE.id, channelId: DEPLOYS.id },
      { retryNum: 1, retryReason: "http_timeout" },
    );
    expect(commands[0]).toMatchObject({ retryNum: 1, retryReason: "http_timeout" });
  });

  it("brings a trigger_id the app can open a modal with", async () => {
    const sent = await client.slashCommand({ text: "form", userId: ALICE.id, channelId: DEPLOYS.id });
    expect(sent.status).toBe(200);
    expect(sandbox.views()).toMatchObject([
      { triggerId: sent.triggerId, user: ALICE.id, view: { title: { text: "Start a canary" } } },
    ]);
  });

  it("sends an Enterprise Grid org-wide command the way Slack does", async () => {
    const sent = await client.slashCommand({
      text: "list",
      userId: ALICE.id,
      channelId: DEPLOYS.id,
      enterprise: { id: "E0GRID", name: "Sandbox Org" },
      isEnterpriseInstall: true,
    });
    expect(sent.status).toBe(200);
    expect(commands[0]!.command).toMatchObject({
      enterprise_id: "E0GRID",
      enterprise_name: "Sandbox Org",
      is_enterprise_install: "true",
    });
  });

  it("clicks a posted button: Bolt gets Slack's block_actions payload and respond() replaces the message", async () => {
    const { ts } = await sandboxClient(sandbox, sandbox.botToken).chat.postMessage({
      channel: DEPLOYS.id,
      ...promoteMessage,
    });
    const sent = await client.clickButton({
      channel: DEPLOYS.id,
      messageTs: ts!,
      actionId: "promote",
      userId: ALICE.id,
    });
    expect(sent.status).toBe(200);
    expect(clicks[0]).toMatchObject({
      type: "block_actions",
      user: { id: ALICE.id, username: "alice" },
      team: { id: sandbox.identity.teamId },
      container: { type: "message", message_ts: ts, channel_id: DEPLOYS.id, is_ephemeral: false },
      channel: { id: DEPLOYS.id, name: "deploys" },
      message: { ts, text: "reviews-12 at 25%", bot_id: sandbox.identity.botId },
      response_url: sent.responseUrl,
      trigger_id: sent.triggerId,
      actions: [
        {
          action_id: "promote",
          block_id: "rollout-actions",
          value: "reviews-12:7",
          type: "button",
          text: { type: "plain_text", text: "Promote" },
        },
      ],
    });
    expect(clicks[0]!.actions[0]!.action_ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(sandbox.message(DEPLOYS.id, ts!)).toMatchObject({ text: "reviews-12 promoted", updates: 1 });
    expect(sandbox.responses()).toMatchObject([{ outcome: "replaced" }]);
  });

  it("clicks a button on an ephemeral message without a message field, as Slack does", async () => {
    const { message_ts: ts } = await sandboxClient(sandbox, sandbox.botToken).chat.postEphemeral({
      channel: DEPLOYS.id,
      user: ALICE.id,
      ...promoteMessage,
    });
    await client.clickButton({ channel: DEPLOYS.id, messageTs: ts!, actionId: "promote", userId: ALICE.id });
    expect(clicks[0]!.container).toMatchObject({ is_ephemeral: true, message_ts: ts });
    expect(clicks[0]).not.toHaveProperty("message");
    expect(sandbox.ephemerals({ user: ALICE.id })).toMatchObject([{ ts, text: "reviews-12 promoted" }]);
  });

  it("will not click a button the message does not have", async () => {
    const { ts } = await sandboxClient(sandbox, sandbox.botToken).chat.postMessage({
      channel: DEPLOYS.id,
      text: "no buttons",
    });
    await expect(
      client.clickButton({ channel: DEPLOYS.id, messageTs: ts!, actionId: "promote", userId: ALICE.id }),
    ).rejects.toThrow(/no button "promote"/);
  });
});

describe("the wire format", () => {
  it("is a form body in Slack's field order, signed over the exact bytes", async () => {
    const seen: { headers: IncomingHttpHeaders; body: string }[] = [];
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        seen.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
      const raw = createSignedRequestClient({
        endpoint,
        signingSecret: SECRET,
        slack: sandbox,
        now: () => 1_800_000_000_000,
      });
      await raw.slashCommand({ text: "pause reviews-12", userId: ALICE.id, channelId: DEPLOYS.id });
      const [{ headers, body }] = seen as [(typeof seen)[0]];
      expect(headers["content-type"]).toBe("application/x-www-form-urlencoded");
      expect(headers["x-slack-request-timestamp"]).toBe("1800000000");
      expect(headers["x-slack-signature"]).toBe(slackSignature(SECRET, 1_800_000_000, body));
      expect([...new URLSearchParams(body).keys()]).toEqual([
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
      ]);
      expect(body).toContain("&command=%2Fcanary&text=pause+reviews-12&");
    } finally {
      server.close();
    }
  });
});
