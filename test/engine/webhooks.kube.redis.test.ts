import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RolloutStore } from "../../src/rollout/ports.ts";
import type { AuditEntry } from "../../src/rollout/types.ts";
import { startWebhookSandbox } from "../../sandbox/webhooks/index.ts";
import type { WebhookSandbox } from "../../sandbox/webhooks/index.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { uniqueName } from "../support/redis.ts";
import { recordWeights } from "../support/route-weights.ts";

const SECRET = "16688eb5e9f289f1991c";
const DOCUMENTED = JSON.parse(
  readFileSync(resolve(import.meta.dirname, "../fixtures/flagger/webhook-payload.json"), "utf8"),
) as Record<string, unknown>;

type EventBody = { phase: string; metadata: Record<string, string> };

type HookSpec = { name: string; type: string; path: string; retries?: number; timeout?: string };

/**
 * Issue 10's webhooks end to end: the CLI and a worker against real Redis and the Kubernetes sandbox, the service's
 * webhooks from the config file, answered by the webhook sandbox (scripted answers and flagger-loadtester's gates).
 */
describe("webhooks", () => {
  let h: EngineHarness;
  let hooks: WebhookSandbox;
  let store: RolloutStore | undefined;

  beforeEach(async () => {
    h = await engineHarness("webhooks");
    hooks = await startWebhookSandbox();
    store = undefined;
  });
  afterEach(async () => {
    await hooks.close();
    await h.cleanup();
  });

  /** The reviews service in a config file with these webhooks (each carrying a secret in its metadata). */
  const configure = async (specs: HookSpec[]): Promise<void> => {
    const path = join(tmpdir(), `${uniqueName("webhooks-config")}.yaml`);
    const webhooks = specs.map((spec) => ({
      name: spec.name,
      type: spec.type,
      url: `${hooks.url}${spec.path}`,
      timeout: spec.timeout ?? "2s",
      retries: spec.retries ?? 0,
      metadata: { token: SECRET, cmd: `test ${spec.name}` },
    }));
    await writeFile(path, JSON.stringify({ services: { reviews: { webhooks } } }));
    h.env.CANARYBOT_CONFIG = path;
  };
  const start = (...args: string[]) => h.start("reviews", "--canary", "v2", "--as", "alice", ...args);
  /** The audit trail with its details (`history --json` leaves them out). */
  const history = async (id: string): Promise<AuditEntry[]> => {
    store ??= h.runtime().store;
    return store.audit(id);
  };
  const untilPhase = (id: string, phase: string, timeoutMs = 30_000) => h.untilPhase(id, phase, timeoutMs);
  const untilRequests = (path: string, count: number, timeoutMs = 30_000) =>
    waitFor(
      `${count} requests to ${path}`,
      () => (hooks.requests(path).length >= count ? true : undefined),
      timeoutMs,
    );
  const reviews = () => recordWeights(h.kube, "default", "reviews", "v1", "v2");

  it("given a pre-rollout hook answering 500, then the rollout fails at the failure limit with the route never touched", async () => {
    hooks.script("/hooks/smoke", [{ status: 500, body: `smoke test failed, token=${SECRET}` }]);
    await configure([{ name: "smoke", type: "pre-rollout", path: "/hooks/smoke" }]);
    await h.worker();
    const original = h.kube.get("VirtualService", "default", "reviews");
    const recorder = reviews();

    const id = await start("--steps", "10,50,100", "--interval", "300ms");
    await untilPhase(id, "failed");

    expect(recorder.stop()).toEqual(["v1=100"]);
    expect(h.kube.get("VirtualService", "default", "reviews")).toStrictEqual(original);
    expect(hooks.requests("/hooks/smoke")).toHaveLength(2);
    const trail = await history(id);
    const calls = trail.filter((entry) => entry.action === "webhook");
    expect(calls).toHaveLength(2);
    expect(calls[0]?.detail).toMatch(
      /^pre-rollout "smoke" → 500 in \d+ ms: smoke test failed, token=\[redacted\]$/,
    );
    expect(trail.at(-1)).toMatchObject({ action: "failed", toPhase: "failed", canaryWeight: 0 });
    expect(trail.at(-1)?.detail).toContain("2 failed checks (limit 2) before any traffic");
    expect(JSON.stringify(trail)).not.toContain(SECRET);
    expect((await h.cli("status", id)).stdout).not.toContain(SECRET);
  });

  it("given a rollout hook that fails twice, then the canary is rolled back at the failure limit", async () => {
    hooks.script("/", [{ status: 500, body: "hey: connection refused" }]);
    await configure([{ name: "load test", type: "rollout", path: "/" }]);
    await h.worker();
    const recorder = reviews();

    const id = await start("--steps", "10,50,100", "--interval", "300ms");
    await untilPhase(id, "rolled-back");

    expect(recorder.stop()).toEqual(["v1=100", "v1=90,v2=10", "v1=100"]);
    expect(hooks.requests("/")).toHaveLength(2);
    const rollback = (await history(id)).find((entry) => entry.action === "rollback");
    expect(rollback?.detail).toContain("2 failed checks (limit 2): webhook load test");
  });

  it("given a loadtester rollout hook, then it receives Flagger's body and the command, on every tick", async () => {
    await configure([{ name: "load test", type: "rollout", path: "/" }]);
    await h.worker();

    const id = await start("--steps", "10,50,100", "--interval", "300ms");
    await untilPhase(id, "promoted");

    expect(hooks.commands().map((command) => [command.name, command.namespace, command.cmd])).toEqual([
      ["reviews", "default", "test load test"],
      ["reviews", "default", "test load test"],
    ]);
    const body = hooks.requests("/")[0]?.body as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(Object.keys(DOCUMENTED));
    expect(body).toEqual({
      name: "reviews",
      namespace: "default",
      phase: "Progressing",
      checksum: expect.stringMatching(/^[0-9a-f]{8}$/) as string,
      metadata: { token: SECRET, cmd: "test load test" },
    });
  });

  it("given a confirm-promotion hook on the loadtester's gate, then the rollout holds at the last step until the gate opens", async () => {
    await configure([{ name: "promotion gate", type: "confirm-promotion", path: "/gate/check" }]);
    await h.worker();
    const recorder = reviews();

    const id = await start("--steps", "10,50,100", "--interval", "300ms");
    await untilRequests("/gate/check", 3);
    expect(await h.status(id)).toMatchObject({ phase: "progressing", canaryWeight: 50, stepIndex: 1 });
    expect(
      hooks.requests("/gate/check").map((request) => (request.body as { phase: string }).phase),
    ).toContain("WaitingPromotion");

    const opened = await fetch(`${hooks.url}/gate/open`, {
      method: "POST",
      body: JSON.stringify({ name: "reviews", namespace: "default" }),
    });
    expect(opened.status).toBe(202);
    await untilPhase(id, "promoted");

    expect(recorder.stop()).toEqual(["v1=100", "v1=90,v2=10", "v1=50,v2=50", "v2=100"]);
    const holds = (await history(id)).filter((entry) => entry.action === "hook-hold");
    expect(holds).toHaveLength(1);
    expect(holds[0]?.detail).toBe('waiting for confirm-promotion "promotion gate" (403: Forbidden)');
  });

  it("given a rollback hook, when it starts answering 200, then the next tick rolls back", async () => {
    await configure([
      { name: "rollback gate", type: "rollback", path: "/rollback/check" },
      // Holds the rollout at 10%, so that only the rollback hook can end it.
      { name: "traffic gate", type: "confirm-traffic-increase", path: "/gate/check" },
    ]);
    await h.worker();
    const recorder = reviews();
    const id = await start("--steps", "10,50,100", "--interval", "300ms");
    await untilRequests("/rollback/check", 2);

    await fetch(`${hooks.url}/rollback/open`, {
      method: "POST",
      body: JSON.stringify({ name: "reviews", namespace: "default" }),
    });
    await untilPhase(id, "rolled-back");

    // The sandbox records requests in the order it serves them: every check after the open was answered 200.
    const served = hooks.requests().map((request) => request.path);
    const afterOpen = served.slice(served.indexOf("/rollback/open"));
    expect(afterOpen.filter((path) => path === "/rollback/check")).toHaveLength(1);
    expect(recorder.stop()).toEqual(["v1=100", "v1=90,v2=10", "v1=100"]);
    const rollback = (await history(id)).find((entry) => entry.action === "rollback");
    expect(rollback).toMatchObject({ actor: "canarybot" });
    expect(rollback?.detail).toBe('rollback requested by the rollback webhook "rollback gate"');
  });

  it("given event and post-rollout hooks, then every phase change reaches the event hook in order, and the post-rollout result is recorded", async () => {
    hooks.script("/hooks/notify", [{ status: 503, body: "telegram is down" }]);
    await configure([
      { name: "events", type: "event", path: "/hooks/events" },
      { name: "notify", type: "post-rollout", path: "/hooks/notify" },
    ]);
    await h.worker();

    const id = await start("--steps", "10,100", "--interval", "300ms");
    await untilPhase(id, "promoted");
    await waitFor("the post-rollout result in the audit", async () =>
      (await history(id)).some((entry) => entry.detail?.startsWith('post-rollout "notify"'))
        ? true
        : undefined,
    );

    const events = hooks.requests("/hooks/events").map((request) => request.body as EventBody);
    expect(events.map((event) => event.phase)).toEqual(["Progressing", "Promoting", "Succeeded"]);
    for (const event of events) {
      expect(Object.keys(event)).toEqual(Object.keys(DOCUMENTED));
      expect(event.metadata).toMatchObject({ token: SECRET, eventType: "Normal" });
      expect(event.metadata.eventMessage).toMatch(new RegExp(`^${id} `));
    }
    const stamps = events.map((event) => Number(event.metadata.timestamp));
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
    expect(
      hooks.requests("/hooks/notify").map((request) => (request.body as { phase: string }).phase),
    ).toEqual(["Succeeded"]);
    const trail = await history(id);
    expect(trail.find((entry) => entry.detail?.startsWith('post-rollout "notify"'))?.detail).toMatch(
      /→ 503 in \d+ ms: telegram is down$/,
    );
    expect((await h.status(id)).phase).toBe("promoted");
  });
});
