import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Rollout } from "../../src/rollout/types.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness, WorkerProcess } from "../support/engine.ts";

const USERNAME = "canary-reader";
const PASSWORD = "pr0m-S3cret-pw";
const BASIC = Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64");

/**
 * Issue 8 item 6: a Prometheus (or the proxy in front of it) that echoes the request's Authorization header in its
 * 401 must not get our basic-auth credential into the verdict, the stored rollout, the audit trail or the logs.
 * The real PrometheusClient and analyzer run in a `canarybot worker` child process against an echoing stub.
 */
describe("an upstream that echoes our credentials", () => {
  let h: EngineHarness;
  let stub: Server;
  let worker: WorkerProcess;
  const seen: string[] = [];

  beforeAll(async () => {
    stub = createServer((request, response) => {
      const authorization = request.headers.authorization ?? "";
      seen.push(authorization);
      response.writeHead(401, { "content-type": "text/plain" });
      response.end(
        `401 Unauthorized: credentials rejected: Authorization: ${authorization}\n` +
          `request headers: map[Accept:[application/json] Authorization:[${authorization}]]\n` +
          `decoded user ${USERNAME}:${PASSWORD}`,
      );
    });
    await new Promise<void>((listening) => stub.listen(0, "127.0.0.1", listening));
    h = await engineHarness("redact");
    Object.assign(h.env, {
      PROMETHEUS_URL: `http://127.0.0.1:${(stub.address() as AddressInfo).port}`,
      PROMETHEUS_USERNAME: USERNAME,
      PROMETHEUS_PASSWORD: PASSWORD,
      PROMETHEUS_SCRAPE_INTERVAL_SECONDS: "0.1",
    });
    worker = await h.spawnWorker();
  }, 60_000);
  afterAll(async () => {
    await h?.cleanup();
    await new Promise((closed) => stub?.close(closed));
  });

  it("keeps it out of the verdict, the stored rollout, the audit, the CLI's output and the worker's log", async () => {
    const id = await h.start("reviews", "--canary", "v2", "--steps", "50,100", "--interval", "300ms");
    const store = h.runtime().store;
    // Three inconclusive ticks in a row (Prometheus refuses every query) pause the rollout with the reason.
    const paused = await waitFor(
      `${id} to pause on inconclusive metrics`,
      async () => {
        const rollout = await store.get(id);
        return rollout?.phase === "paused" ? rollout : undefined;
      },
      30_000,
    );
    // The stub really was sent the credential and echoed it: otherwise this test proves nothing.
    expect(seen).toContain(`Basic ${BASIC}`);
    expect(paused.reason).toMatch(/HTTP 401/);
    expect(paused.reason).toContain("[redacted]");

    const stored: Rollout | undefined = await store.get(id);
    const surfaces = {
      verdict: JSON.stringify(paused.lastVerdict),
      rollout: JSON.stringify(stored),
      audit: JSON.stringify(await store.audit(id)),
      history: (await h.cli("history", id, "--json")).stdout + (await h.cli("history", id)).stdout,
      status: (await h.cli("status", id)).stdout,
      log: worker.log(),
    };
    expect(surfaces.verdict).toContain("HTTP 401");
    expect(surfaces.log).toContain("HTTP 401");
    for (const [where, text] of Object.entries(surfaces)) {
      for (const secret of [PASSWORD, BASIC]) {
        expect(text.includes(secret), `${where} contains the credential`).toBe(false);
      }
    }
  }, 60_000);
});
