import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startSlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";

const ALICE = "U0ALICE";
const RANDOM = "C0RANDOM";

let now: number;
let sandbox: SlackSandbox;

beforeEach(async () => {
  now = Date.parse("2026-05-04T10:00:00Z");
  sandbox = await startSlackSandbox({
    users: [{ id: ALICE, name: "alice" }],
    channels: [{ id: RANDOM, name: "random", botIsMember: false }],
    now: () => now,
  });
});

afterEach(async () => {
  await sandbox.close();
});

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
};

describe("response_url endpoints on the sandbox", () => {
  it("posts in_channel replies even where the bot was never invited", async () => {
    const url = sandbox.createResponseUrl({ kind: "commands", channel: RANDOM, user: ALICE });
    expect(await post(url, { response_type: "in_channel", text: "reviews-12 started by alice" })).toEqual({
      status: 200,
      text: "ok",
    });
    expect(sandbox.messages(RANDOM)).toMatchObject([
      { text: "reviews-12 started by alice", user: sandbox.identity.botUserId },
    ]);
  });

  it("takes five posts, then refuses", async () => {
    const url = sandbox.createResponseUrl({ kind: "commands", channel: RANDOM, user: ALICE });
    for (let i = 0; i < 5; i += 1) expect((await post(url, { text: `reply ${i}` })).status).toBe(200);
    expect((await post(url, { text: "one too many" })).status).toBe(404);
    expect(sandbox.ephemerals({ user: ALICE })).toHaveLength(5);
  });

  it("expires after thirty minutes", async () => {
    const url = sandbox.createResponseUrl({ kind: "commands", channel: RANDOM, user: ALICE });
    now += 30 * 60 * 1000 + 1;
    expect(await post(url, { text: "late" })).toEqual({ status: 404, text: "expired_url" });
  });

  it("refuses invalid blocks and empty replies, and unknown URLs", async () => {
    const url = sandbox.createResponseUrl({ kind: "commands", channel: RANDOM, user: ALICE });
    const tooMany = Array.from({ length: 51 }, () => ({ type: "divider" }));
    expect(await post(url, { text: "t", blocks: tooMany })).toEqual({ status: 400, text: "invalid_blocks" });
    expect(await post(url, { text: "" })).toEqual({ status: 400, text: "no_text" });
    expect((await post(`${sandbox.url}/commands/T0SANDBOX/1/nope`, { text: "t" })).status).toBe(404);
    expect(sandbox.responses().map((r) => r.outcome)).toEqual(["rejected", "rejected", "rejected"]);
  });

  it("deletes the message a button was on", async () => {
    sandbox.addChannel({ id: "C0DEPLOYS", name: "deploys" });
    const message = sandbox.postAsUser("C0DEPLOYS", ALICE, "a message with a button");
    const url = sandbox.createResponseUrl({
      kind: "actions",
      channel: "C0DEPLOYS",
      user: ALICE,
      messageTs: message.ts,
    });
    expect((await post(url, { delete_original: true })).status).toBe(200);
    expect(sandbox.messages("C0DEPLOYS")).toEqual([]);
  });
});
