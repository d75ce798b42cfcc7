import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WebhookCall } from "../../src/rollout/ports.ts";
import { FlaggerPhase, HookType } from "../../src/rollout/types.ts";
import type { Webhook } from "../../src/rollout/types.ts";
import { startWebhookSandbox } from "../../sandbox/webhooks/index.ts";
import type { WebhookSandbox } from "../../sandbox/webhooks/index.ts";
import { HttpWebhookCaller } from "../../src/webhooks/http-webhook-caller.ts";

const FIXTURES = resolve(import.meta.dirname, "../fixtures/flagger");
const readFixture = (name: string): unknown => JSON.parse(readFileSync(resolve(FIXTURES, name), "utf8"));

/** The adapter against a real HTTP server: the webhook sandbox. */
describe("HttpWebhookCaller", () => {
  let sandbox: WebhookSandbox;
  const caller = new HttpWebhookCaller({ backoffMs: () => 10, maxAnswerChars: 40 });

  beforeEach(async () => {
    sandbox = await startWebhookSandbox();
  });
  afterEach(async () => {
    await sandbox.close();
  });

  const hook = (overrides: Partial<Webhook> = {}): Webhook => ({
    name: "smoke",
    type: HookType.PreRollout,
    url: `${sandbox.url}/hooks/smoke`,
    timeoutMs: 2_000,
    retries: 0,
    ...overrides,
  });
  const call = (overrides: Partial<WebhookCall> = {}): WebhookCall => ({
    hook: hook(),
    name: "reviews",
    namespace: "default",
    phase: FlaggerPhase.Progressing,
    checksum: "0badc0de",
    ...overrides,
  });

  it("given Flagger's documented example, when called, then the request body is the documented payload byte for byte", async () => {
    const documented = readFixture("webhook-payload.json");
    const metadata = { test: "all", token: "16688eb5e9f289f1991c" };

    const result = await caller.call(
      call({ hook: hook({ metadata }), name: "podinfo", namespace: "test", checksum: "85d557f47b" }),
    );

    expect(result).toMatchObject({ ok: true, status: 200, attempts: 1, answer: "ok" });
    const [received] = sandbox.requests("/hooks/smoke");
    expect(JSON.stringify(received?.body)).toBe(JSON.stringify(documented));
  });

  it("given an event hook with metadata of its own, then the body has the documented event shape, Flagger's keys winning", async () => {
    const documented = readFixture("event-payload.json") as { metadata: Record<string, string> };
    const events = hook({ type: HookType.Event, metadata: { cluster: "flagger-test", eventType: "mine" } });

    await caller.call(
      call({
        hook: events,
        phase: FlaggerPhase.Failed,
        event: { message: "rolled back", type: "Warning", at: 1700000000123 },
      }),
    );

    const body = sandbox.requests("/hooks/smoke")[0]?.body as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(Object.keys(documented));
    expect(body.metadata).toEqual({
      cluster: "flagger-test",
      eventMessage: "rolled back",
      eventType: "Warning",
      timestamp: "1700000000123",
    });
    expect(Object.keys(body.metadata as object)).toEqual(
      expect.arrayContaining(Object.keys(documented.metadata)),
    );
  });

  it("given no metadata, then the body leaves it out as Flagger does", async () => {
    await caller.call(call());

    expect(sandbox.requests("/hooks/smoke")[0]?.body).toEqual({
      name: "reviews",
      namespace: "default",
      phase: "Progressing",
      checksum: "0badc0de",
    });
  });

  it("given two 500s and retries: 2, then the third attempt's 200 is the answer", async () => {
    sandbox.script("/hooks/smoke", [
      { status: 500, body: "down" },
      { status: 502 },
      { status: 200, body: "passed" },
    ]);

    const result = await caller.call(call({ hook: hook({ retries: 2 }) }));

    expect(result).toMatchObject({ ok: true, status: 200, attempts: 3, answer: "passed" });
    expect(sandbox.requests("/hooks/smoke")).toHaveLength(3);
  });

  it("given a 403, then it is not retried: a closed gate is an answer, not a fault", async () => {
    sandbox.script("/hooks/smoke", [{ status: 403, body: "Forbidden" }]);

    const result = await caller.call(call({ hook: hook({ retries: 3 }) }));

    expect(result).toMatchObject({ ok: false, status: 403, attempts: 1, answer: "Forbidden" });
  });

  it("given a 203, then it fails: Flagger counts only 200-202 as success", async () => {
    sandbox.script("/hooks/smoke", [{ status: 203 }]);

    expect((await caller.call(call())).ok).toBe(false);
  });

  it("given a hook slower than its timeout, then the call ends at the timeout with no status", async () => {
    sandbox.script("/hooks/smoke", [{ status: 200, delayMs: 3_000 }]);

    const result = await caller.call(call({ hook: hook({ timeoutMs: 200 }) }));

    expect(result).toMatchObject({ ok: false, attempts: 1, answer: "no answer within 200 ms" });
    expect(result.status).toBeUndefined();
    expect(result.durationMs).toBeLessThan(2_000);
  });

  it("given an answer that echoes the metadata's secret and goes on, then the answer is redacted and cut short", async () => {
    const secret = "16688eb5e9f289f1991c";
    sandbox.script("/hooks/smoke", [{ status: 500, body: `bad token ${secret}\n${"x".repeat(200)}` }]);

    const result = await caller.call(call({ hook: hook({ metadata: { token: secret } }) }));

    expect(result.answer).not.toContain(secret);
    expect(result.answer).toMatch(/^bad token \[redacted\] x+… \(\d+ more characters\)$/);
    expect(result.answer.startsWith("bad token [redacted] ".padEnd(40, "x"))).toBe(true);
  });

  it("given nothing listening, then the call fails with the connection error, after its retries", async () => {
    const port = await freePort();

    const result = await caller.call(call({ hook: hook({ url: `http://127.0.0.1:${port}/`, retries: 1 }) }));

    expect(result).toMatchObject({ ok: false, attempts: 2 });
    expect(result.answer).toContain("ECONNREFUSED");
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}
