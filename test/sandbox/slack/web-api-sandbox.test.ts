import type { WebClient } from "@slack/web-api";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { startSlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox, SlackSandboxOptions } from "../../../sandbox/slack/web-api-sandbox.ts";
import { sandboxClient } from "./support.ts";

const ALICE = { id: "U0ALICE", name: "alice", realName: "Alice Liddell", tz: "Europe/Berlin" };
const BOB = { id: "W0BOB", name: "bob", realName: "Bob Builder", tz: "America/New_York" };
const CAROL = { id: "U0CAROL", name: "carol" };
const DEPLOYS = { id: "C0DEPLOYS", name: "deploys", members: [ALICE.id, BOB.id] };

const seed: SlackSandboxOptions = {
  users: [ALICE, BOB, CAROL],
  channels: [
    DEPLOYS,
    { id: "C0RANDOM", name: "random", botIsMember: false },
    { id: "G0SECRET", name: "secret-releases", isPrivate: true },
    { id: "G0HIDDEN", name: "hidden", isPrivate: true, botIsMember: false },
  ],
  usergroups: [{ id: "S0APPROVERS", handle: "release-approvers", users: [ALICE.id, BOB.id] }],
};

const TS = /^\d{10}\.\d{6}$/;

let sandbox: SlackSandbox;
let client: WebClient;

function webClient(token: string | undefined, target: SlackSandbox = sandbox): WebClient {
  return sandboxClient(target, token);
}

const section = (text: string) => ({ type: "section", text: { type: "mrkdwn", text } });

beforeEach(async () => {
  sandbox = await startSlackSandbox(seed);
  client = webClient(sandbox.botToken);
});

afterEach(async () => {
  await sandbox.close();
});

describe("Slack Web API sandbox with the real WebClient", () => {
  it("answers auth.test with the bot's identity", async () => {
    const result = await client.auth.test();
    expect(result).toMatchObject({
      ok: true,
      team_id: sandbox.identity.teamId,
      user_id: sandbox.identity.botUserId,
      bot_id: sandbox.identity.botId,
    });
  });

  it("posts, updates, replies in the thread and sends an ephemeral message", async () => {
    const posted = await client.chat.postMessage({
      channel: DEPLOYS.id,
      text: "reviews-12 started",
      blocks: [section("*reviews-12* at 10%")],
    });
    expect(posted).toMatchObject({ ok: true, channel: DEPLOYS.id, message: { text: "reviews-12 started" } });
    expect(posted.ts).toMatch(TS);

    const updated = await client.chat.update({
      channel: DEPLOYS.id,
      ts: posted.ts!,
      text: "reviews-12 at 25%",
      blocks: [section("*reviews-12* at 25%")],
    });
    expect(updated).toMatchObject({ ok: true, ts: posted.ts, text: "reviews-12 at 25%" });

    const reply = await client.chat.postMessage({
      channel: DEPLOYS.id,
      thread_ts: posted.ts!,
      text: "snapshot",
    });
    const ephemeral = await client.chat.postEphemeral({
      channel: DEPLOYS.id,
      user: ALICE.id,
      text: "only you",
    });
    expect(ephemeral.message_ts).toMatch(TS);

    const [message, ...others] = sandbox.messages(DEPLOYS.id);
    expect(others).toEqual([]);
    expect(message).toMatchObject({ ts: posted.ts, text: "reviews-12 at 25%", updates: 1 });
    expect(message!.blocks).toMatchObject([section("*reviews-12* at 25%")]);
    expect(sandbox.replies(DEPLOYS.id, posted.ts!)).toMatchObject([{ ts: reply.ts, text: "snapshot" }]);
    expect(sandbox.ephemerals({ user: ALICE.id })).toMatchObject([{ channel: DEPLOYS.id, text: "only you" }]);
  });

  it("keeps the blocks when chat.update omits them and gives every block a block_id", async () => {
    const posted = await client.chat.postMessage({ channel: DEPLOYS.id, text: "t", blocks: [section("a")] });
    await client.chat.update({ channel: DEPLOYS.id, ts: posted.ts!, text: "t2" });
    const [block] = sandbox.message(DEPLOYS.id, posted.ts!)!.blocks as { block_id: string }[];
    expect(block).toMatchObject(section("a"));
    expect(block!.block_id).toMatch(/^\S{1,255}$/);
  });

  it("refuses updates to unknown messages and to messages the bot did not write", async () => {
    await expect(
      client.chat.update({ channel: DEPLOYS.id, ts: "1700000000.000001", text: "x" }),
    ).rejects.toMatchObject({ data: { ok: false, error: "message_not_found" } });
    const human = sandbox.postAsUser(DEPLOYS.id, ALICE.id, "hello");
    await expect(client.chat.update({ channel: DEPLOYS.id, ts: human.ts, text: "x" })).rejects.toMatchObject({
      data: { error: "cant_update_message" },
    });
  });

  it("resolves channels the way Slack does for a bot without chat:write.public", async () => {
    await expect(client.chat.postMessage({ channel: "C0NOPE", text: "x" })).rejects.toMatchObject({
      data: { error: "channel_not_found" },
    });
    await expect(client.chat.postMessage({ channel: "C0RANDOM", text: "x" })).rejects.toMatchObject({
      data: { error: "not_in_channel" },
    });
    await expect(client.chat.postMessage({ channel: "G0HIDDEN", text: "x" })).rejects.toMatchObject({
      data: { error: "channel_not_found" },
    });
    expect(await client.chat.postMessage({ channel: "#deploys", text: "by name" })).toMatchObject({
      channel: DEPLOYS.id,
    });
    expect(await client.chat.postMessage({ channel: "G0SECRET", text: "private" })).toMatchObject({
      ok: true,
    });
  });

  it("lets a token with chat:write.public post in public channels it is not in", async () => {
    const open = await startSlackSandbox({ ...seed, scopes: ["chat:write", "chat:write.public"] });
    try {
      const result = await webClient(open.botToken, open).chat.postMessage({
        channel: "C0RANDOM",
        text: "x",
      });
      expect(result).toMatchObject({ ok: true, channel: "C0RANDOM" });
    } finally {
      await open.close();
    }
  });

  it("asks for text or blocks and truncates text past 40,000 characters with a warning", async () => {
    await expect(client.chat.postMessage({ channel: DEPLOYS.id, text: "" })).rejects.toMatchObject({
      data: { error: "no_text" },
    });
    const long = await client.chat.postMessage({ channel: DEPLOYS.id, text: "x".repeat(40_001) });
    expect(long.response_metadata?.warnings).toEqual(["message_truncated"]);
    expect(sandbox.message(DEPLOYS.id, long.ts!)!.text).toHaveLength(40_000);
  });

  it("refuses an ephemeral message to someone outside the channel", async () => {
    await expect(
      client.chat.postEphemeral({ channel: DEPLOYS.id, user: CAROL.id, text: "psst" }),
    ).rejects.toMatchObject({ data: { error: "user_not_in_channel" } });
  });

  it("answers invalid_auth for a wrong token and not_authed for none", async () => {
    await expect(webClient("xoxb-wrong").auth.test()).rejects.toMatchObject({
      data: { error: "invalid_auth" },
    });
    await expect(webClient(undefined).auth.test()).rejects.toMatchObject({ data: { error: "not_authed" } });
    expect(sandbox.calls("auth.test").map((call) => call.error)).toEqual(["invalid_auth", "not_authed"]);
  });

  it("lists a user group's members and refuses an unknown group", async () => {
    expect(await client.usergroups.users.list({ usergroup: "S0APPROVERS" })).toMatchObject({
      ok: true,
      users: [ALICE.id, BOB.id],
    });
    await expect(client.usergroups.users.list({ usergroup: "S0NOPE" })).rejects.toMatchObject({
      data: { error: "no_such_subteam" },
    });
  });

  it("describes users with their time zone and channels with the bot's membership", async () => {
    // The bot itself calls neither method (its token lacks these scopes); the emulator serves them for tools.
    const wide = await startSlackSandbox({ ...seed, scopes: ["users:read", "channels:read", "groups:read"] });
    const client = webClient(wide.botToken, wide);
    onTestFinished(() => wide.close());
    const { user } = await client.users.info({ user: ALICE.id });
    expect(user).toMatchObject({
      id: ALICE.id,
      name: "alice",
      real_name: "Alice Liddell",
      tz: "Europe/Berlin",
    });
    expect([3600, 7200]).toContain(user!.tz_offset);
    await expect(client.users.info({ user: "U0NOPE" })).rejects.toMatchObject({
      data: { error: "user_not_found" },
    });

    expect((await client.conversations.info({ channel: "C0RANDOM" })).channel).toMatchObject({
      name: "random",
      is_channel: true,
      is_member: false,
    });
    expect((await client.conversations.info({ channel: "G0SECRET" })).channel).toMatchObject({
      is_private: true,
      is_member: true,
    });
    await expect(client.conversations.info({ channel: "G0HIDDEN" })).rejects.toMatchObject({
      data: { error: "channel_not_found" },
    });
  });

  it("reports a missing scope as Slack does, naming the one needed", async () => {
    const narrow = await startSlackSandbox({ ...seed, scopes: ["commands", "chat:write", "channels:read"] });
    try {
      const narrowClient = webClient(narrow.botToken, narrow);
      await expect(narrowClient.usergroups.users.list({ usergroup: "S0APPROVERS" })).rejects.toMatchObject({
        data: {
          error: "missing_scope",
          needed: "usergroups:read",
          provided: "commands,chat:write,channels:read",
        },
      });
      await expect(narrowClient.conversations.info({ channel: "G0SECRET" })).rejects.toMatchObject({
        data: { error: "missing_scope", needed: "groups:read" },
      });
    } finally {
      await narrow.close();
    }
  });

  it("opens a modal once per trigger_id and refuses unknown or expired ones", async () => {
    let now = Date.parse("2026-05-04T10:00:00Z");
    const timed = await startSlackSandbox({ ...seed, now: () => now });
    try {
      const timedClient = webClient(timed.botToken, timed);
      const view = {
        type: "modal" as const,
        callback_id: "rollback",
        title: { type: "plain_text" as const, text: "Roll back reviews-12" },
        submit: { type: "plain_text" as const, text: "Roll back" },
        blocks: [section("Why?")],
      };
      const trigger = timed.createTriggerId(ALICE.id);
      const opened = await timedClient.views.open({ trigger_id: trigger, view });
      expect(opened.view).toMatchObject({
        type: "modal",
        callback_id: "rollback",
        root_view_id: opened.view!.id,
      });
      expect(timed.views()).toMatchObject([
        { triggerId: trigger, user: ALICE.id, view: { callback_id: "rollback" } },
      ]);
      await expect(timedClient.views.open({ trigger_id: trigger, view })).rejects.toMatchObject({
        data: { error: "exchanged_trigger_id" },
      });
      await expect(timedClient.views.open({ trigger_id: "111.222.xxx", view })).rejects.toMatchObject({
        data: { error: "invalid_trigger_id" },
      });
      const late = timed.createTriggerId(ALICE.id);
      now += 3_001;
      await expect(timedClient.views.open({ trigger_id: late, view })).rejects.toMatchObject({
        data: { error: "expired_trigger_id" },
      });
    } finally {
      await timed.close();
    }
  });

  it("takes JSON bodies with the token in the Authorization header only", async () => {
    const post = (headers: Record<string, string>, body: Record<string, unknown>) =>
      fetch(`${sandbox.apiUrl}chat.postMessage`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
      }).then((response) => response.json() as Promise<Record<string, unknown>>);
    const json = "application/json; charset=utf-8";
    expect(
      await post(
        { "content-type": json, authorization: `Bearer ${sandbox.botToken}` },
        {
          channel: DEPLOYS.id,
          text: "json",
          blocks: [section("as an array")],
        },
      ),
    ).toMatchObject({ ok: true, message: { blocks: [section("as an array")] } });
    expect(
      await post({ "content-type": json }, { token: sandbox.botToken, channel: DEPLOYS.id, text: "x" }),
    ).toEqual({ ok: false, error: "not_authed" });
    expect(
      await post(
        { "content-type": "application/json", authorization: `Bearer ${sandbox.botToken}` },
        {
          channel: DEPLOYS.id,
          text: "x",
        },
      ),
    ).toMatchObject({ ok: true, response_metadata: { warnings: ["missing_charset"] } });
  });

  it("accepts the token as a form field and answers unknown methods", async () => {
    const form = (method: string, fields: Record<string, string>) =>
      fetch(`${sandbox.apiUrl}${method}`, { method: "POST", body: new URLSearchParams(fields) }).then(
        (response) => response.json() as Promise<Record<string, unknown>>,
      );
    expect(await form("auth.test", { token: sandbox.botToken })).toMatchObject({ ok: true });
    expect(await form("chat.delete", { token: sandbox.botToken })).toEqual({
      ok: false,
      error: "unknown_method",
    });
  });

  it("logs every call with its outcome", async () => {
    await client.chat.postMessage({ channel: DEPLOYS.id, text: "one" });
    await client.chat.postMessage({ channel: "C0NOPE", text: "two" }).catch(() => undefined);
    expect(sandbox.calls().map(({ method, ok, error }) => ({ method, ok, error }))).toEqual([
      { method: "chat.postMessage", ok: true, error: undefined },
      { method: "chat.postMessage", ok: false, error: "channel_not_found" },
    ]);
    expect(sandbox.calls()[0]!.args).toEqual({ channel: DEPLOYS.id, text: "one" });
  });
});
