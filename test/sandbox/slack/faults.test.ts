import { ErrorCode } from "@slack/web-api";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startSlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import { sandboxClient } from "./support.ts";

const CHANNEL = "C0DEPLOYS";

let sandbox: SlackSandbox;

beforeEach(async () => {
  sandbox = await startSlackSandbox({ channels: [{ id: CHANNEL, name: "deploys" }] });
});

afterEach(async () => {
  await sandbox.close();
});

const statuses = (method: string) => sandbox.calls(method).map((call) => call.status);

describe("fault injection", () => {
  it("answers 429 with Retry-After and ratelimited for the next calls of one method", async () => {
    sandbox.rateLimit({ method: "chat.update", count: 1, retryAfterSeconds: 7 });
    const call = () =>
      fetch(`${sandbox.apiUrl}chat.update`, {
        method: "POST",
        headers: { authorization: `Bearer ${sandbox.botToken}` },
        body: new URLSearchParams({ channel: CHANNEL, ts: "1.2", text: "x" }),
      });
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(await limited.json()).toEqual({ ok: false, error: "ratelimited" });
    expect((await call()).status).toBe(200);
  });

  it("lets WebClient wait out a rate limit and succeed", async () => {
    sandbox.rateLimit({ method: "chat.postMessage", count: 1, retryAfterSeconds: 1 });
    const client = sandboxClient(sandbox, sandbox.botToken, { retryConfig: { retries: 2, minTimeout: 0 } });
    const started = Date.now();
    const result = await client.chat.postMessage({ channel: CHANNEL, text: "after the limit" });
    expect(result.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(statuses("chat.postMessage")).toEqual([429, 200]);
    expect(sandbox.messages(CHANNEL)).toHaveLength(1);
  });

  it("surfaces the limit to a client that rejects rate-limited calls", async () => {
    sandbox.rateLimit({ method: "chat.postMessage", count: 1, retryAfterSeconds: 30 });
    const client = sandboxClient(sandbox, sandbox.botToken, { rejectRateLimitedCalls: true });
    await expect(client.chat.postMessage({ channel: CHANNEL, text: "x" })).rejects.toMatchObject({
      code: ErrorCode.RateLimitedError,
      retryAfter: 30,
    });
  });

  it("fails every method with an HTTP status during an outage, then recovers", async () => {
    sandbox.outage({ count: 2, status: 503 });
    const client = sandboxClient(sandbox, sandbox.botToken);
    await expect(client.auth.test()).rejects.toMatchObject({ code: ErrorCode.HTTPError, statusCode: 503 });
    await expect(client.chat.postMessage({ channel: CHANNEL, text: "x" })).rejects.toMatchObject({
      statusCode: 503,
    });
    expect((await client.chat.postMessage({ channel: CHANNEL, text: "x" })).ok).toBe(true);
  });

  it("lets WebClient retry through a short outage of one method", async () => {
    sandbox.outage({ method: "chat.update", count: 1, status: 502 });
    const client = sandboxClient(sandbox, sandbox.botToken, { retryConfig: { retries: 1, minTimeout: 0 } });
    const { ts } = await client.chat.postMessage({ channel: CHANNEL, text: "a" });
    expect((await client.chat.update({ channel: CHANNEL, ts: ts!, text: "b" })).ok).toBe(true);
    expect(statuses("chat.update")).toEqual([502, 200]);
  });

  it("answers a chosen platform error until the faults are cleared", async () => {
    sandbox.failWith({ method: "chat.postMessage", error: "msg_too_long" });
    const client = sandboxClient(sandbox, sandbox.botToken);
    await expect(client.chat.postMessage({ channel: CHANNEL, text: "x" })).rejects.toMatchObject({
      code: ErrorCode.PlatformError,
      data: { ok: false, error: "msg_too_long" },
    });
    await expect(client.chat.postMessage({ channel: CHANNEL, text: "x" })).rejects.toMatchObject({
      data: { error: "msg_too_long" },
    });
    sandbox.clearFaults();
    expect((await client.chat.postMessage({ channel: CHANNEL, text: "x" })).ok).toBe(true);
  });
});
