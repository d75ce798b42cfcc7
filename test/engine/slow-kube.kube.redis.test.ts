import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { allTrafficTo, reviewsHttp } from "../support/releases.ts";

/**
 * The Kubernetes API answering after 90 s (issue 8.4): a CLI action costs one operation budget, not the
 * router's retries times anything, and the route ends where the rollout says once the API answers again.
 */
describe("a Kubernetes API delayed by 90 s", () => {
  let h: EngineHarness;

  beforeEach(async () => {
    h = await engineHarness("slow-kube");
    // Set before anything opens a runtime: the worker and every CLI command read them.
    h.env.KUBE_REQUEST_TIMEOUT_MS = "400";
    h.env.KUBE_OPERATION_BUDGET_MS = "1500";
    await h.worker();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it("a CLI rollback returns within the configured budget, and the restore lands once the API answers", async () => {
    const id = await h.start("reviews", "--canary", "v2", "--steps", "10,100", "--interval", "1h");
    const fault = h.kube.faults.add({ resource: "virtualservices", delayMs: 90_000 });

    const started = Date.now();
    const rollback = await h.cli("rollback", id, "--as", "bob", "--reason", "slow API");
    const ms = Date.now() - started;
    // One budget (1.5 s) for the restore, plus Redis and process overhead on a loaded machine; not 90 s, not 54 s.
    expect(ms).toBeLessThan(6_000);
    expect(rollback.stdout + rollback.stderr).not.toMatch(/\n\s+at /);
    expect((await h.status(id)).phase).toBe("rolling-back");

    h.kube.faults.remove(fault);
    await waitFor(
      `${id} rolled back`,
      async () => ((await h.status(id)).phase === "rolled-back" ? true : undefined),
      30_000,
    );
    expect(JSON.parse(reviewsHttp(h.kube))).toEqual(allTrafficTo("v1"));
  }, 60_000);

  it("a tick costs one budget per attempt: the rollout pauses holding its weight within the job's retries, not minutes", async () => {
    const id = await h.start("reviews", "--canary", "v2", "--steps", "10,100", "--interval", "300ms");
    const fault = h.kube.faults.add({ resource: "virtualservices", delayMs: 90_000 });
    const started = Date.now();
    const paused = await waitFor(
      `${id} paused`,
      async () => {
        const shown = await h.status(id);
        return shown.phase === "paused" ? shown : undefined;
      },
      60_000,
    );
    const ms = Date.now() - started;
    // Five job attempts of at most one 1.5 s budget each, and the job's backoff (1 + 2 + 4 + 8 s), with slack.
    expect(ms).toBeLessThan(5 * 1_500 + 15_000 + 10_000);
    expect(paused.canaryWeight).toBe(10);
    const history = (await h.cli("history", id)).stdout;
    expect(history).toMatch(
      /kubernetes_unavailable: VirtualService default\/reviews: set weights failed: the Kubernetes API did not answer in time/,
    );

    h.kube.faults.remove(fault);
    expect(JSON.parse(reviewsHttp(h.kube))).toEqual([
      {
        route: [
          { destination: { host: "reviews", subset: "v1" }, weight: 90 },
          { destination: { host: "reviews", subset: "v2" }, weight: 10 },
        ],
      },
    ]);
  }, 90_000);
});
