import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/program.ts";
import { sendSignedRequest } from "../../sandbox/slack/signed-request-client.ts";
import { REDIS_URL } from "../support/redis.ts";
import { ALICE, botHarness, commandBody, waitFor } from "../support/bot-harness.ts";
import type { BotHarness } from "../support/bot-harness.ts";

/** Hostile or odd requests, each correctly signed as Slack signs, through real HTTP to `canarybot serve`. */
let h: BotHarness;

beforeAll(async () => {
  h = await botHarness("slack-hostile");
});

afterAll(async () => {
  await h?.cleanup();
});

const signed = (body: string, options: Parameters<typeof sendSignedRequest>[3] = {}) =>
  sendSignedRequest(h.endpoint, h.signingSecret, body, options);

/** The process still answers: /healthz, and a command gets its reply. */
async function stillServing(): Promise<void> {
  expect((await fetch(new URL("/healthz", h.endpoint))).status).toBe(200);
  const before = h.ephemerals(ALICE).length;
  expect(await h.command(ALICE, "help")).toBe(200);
  await waitFor("a reply to /canary help", () => h.ephemerals(ALICE).length > before || undefined);
}

describe("hostile or odd Slack input never takes canarybot serve down", () => {
  it("answers 400 to a signed body that is not an object (JSON null, payload=null, arrays, strings)", async () => {
    const bodies: [string, string][] = [
      ["null", "application/json"],
      ["[]", "application/json"],
      ['"x"', "application/json"],
      ["payload=null", "application/x-www-form-urlencoded"],
      ["payload=7", "application/x-www-form-urlencoded"],
      ["payload=%5B%5D", "application/x-www-form-urlencoded"],
    ];
    for (const [body, contentType] of bodies) {
      const response = await signed(body, { contentType });
      expect({ body, status: response.status }).toEqual({ body, status: 400 });
    }
    await stillServing();
  });

  it("treats a slash command without `text` as an empty one: the help", async () => {
    const form = new URLSearchParams(commandBody(h.slack, { user: ALICE, text: "" }));
    form.delete("text");
    const before = h.ephemerals(ALICE).length;
    expect((await signed(form.toString())).status).toBe(200);
    const reply = await waitFor("a reply to a command without text", () => h.ephemerals(ALICE)[before]);
    expect(reply.text).not.toMatch(/Something went wrong/);
    expect(JSON.stringify(reply.blocks)).toContain("moves traffic from a service");
  });

  it("refuses a command over Slack's own limits with a reply, and a body bigger than Slack sends at once", async () => {
    const long = await signed(commandBody(h.slack, { user: ALICE, text: `status ${"x".repeat(45_000)}` }));
    expect(long.status).toBe(200);
    expect(JSON.parse(long.body)).toMatchObject({
      response_type: "ephemeral",
      text: expect.stringMatching(/too long.*40,000 characters.*nothing was done/i) as string,
    });
    const huge = await signed(commandBody(h.slack, { user: ALICE, text: "x".repeat(1_000_000) }));
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body)).toMatchObject({
      text: expect.stringMatching(/larger than Slack sends.*nothing was done/i) as string,
    });
    await stillServing();
  });

  it("answers Slack's unsigned ssl_check with 200 and acts on nothing in it", async () => {
    const before = h.ephemerals(ALICE).length;
    const response = await fetch(h.endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `ssl_check=1&${commandBody(h.slack, { user: ALICE, text: "help" })}`,
    });
    expect(response.status).toBe(200);
    await stillServing();
    expect(h.ephemerals(ALICE).length).toBe(before + 1);
  });

  it("rejects timestamps more than 5 minutes off either way, and takes one within them", async () => {
    const body = () => commandBody(h.slack, { user: ALICE, text: "help" });
    expect((await signed(body(), { timestampOffsetSeconds: 400 })).status).toBe(401);
    expect((await signed(body(), { timestampOffsetSeconds: -400 })).status).toBe(401);
    expect((await signed(body(), { timestampOffsetSeconds: 200 })).status).toBe(200);
  });
});

describe("canarybot serve against an unreachable Slack API", () => {
  it("says the API is unreachable and exits 2 (an outside system), not that the token was refused", async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const apiUrl = `http://127.0.0.1:${port}/api/`;
    const env = {
      HOME: "/nonexistent",
      REDIS_URL,
      CANARYBOT_PREFIX: "slack-unreachable-unused",
      KUBECONFIG: h.kubeconfigPath,
      LOG_LEVEL: "silent",
      SLACK_BOT_TOKEN: h.slack.botToken,
      SLACK_SIGNING_SECRET: h.signingSecret,
      SLACK_API_URL: apiUrl,
      PORT: "0",
    };
    let stderr = "";
    const started = Date.now();
    const code = await runCli(["serve", "--no-worker"], {
      stdout: () => undefined,
      stderr: (text) => {
        stderr += text;
      },
      env,
      stopSignal: () => new Promise(() => undefined),
    });
    expect({ code, stderr }).toEqual({
      code: 2,
      stderr: `Slack API at ${apiUrl} unreachable (connect ECONNREFUSED 127.0.0.1:${port}); check SLACK_API_URL and the network\n`,
    });
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
