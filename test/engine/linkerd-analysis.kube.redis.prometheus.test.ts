import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MeshSandbox } from "../../sandbox/mesh/mesh-sandbox.ts";
import { engineHarness } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { rolloutReader, startJudgedMesh } from "../support/judged-mesh.ts";
import { meshService } from "../support/mesh-services.ts";
import type { TestPrometheus } from "../support/prometheus.ts";
import { recordWeights } from "../support/route-weights.ts";

/**
 * Issue 10's Linkerd acceptance: rollouts of services configured with `metrics: linkerd`, judged by the Linkerd
 * proxy's metrics (response_total, response_latency_ms) that a real Prometheus scrapes from the mesh sandbox, with
 * the thresholds and steps of the Istio tests (analysis.kube.redis.prometheus.test.ts). The sandbox serves no Istio
 * series, so a rollout judged by Istio's queries would find no data and pause rather than promote.
 */
describe("rollouts judged by Linkerd metrics through a real Prometheus", () => {
  let h: EngineHarness;
  let mesh: MeshSandbox;
  let prometheus: TestPrometheus;
  const meshed = ["web-ok", "web-errors", "web-slow"];

  beforeAll(async () => {
    h = await engineHarness("linkerd-analysis", { objects: meshed.flatMap(meshService) });
    ({ mesh, prometheus } = await startJudgedMesh(h, {
      services: meshed,
      metrics: "linkerd",
      subsets: {
        // Tight latencies, so that sampling noise never looks like a regression.
        "*": { errorRate: 0, latencyMs: { p50: 20, p99: 30 } },
        "web-errors/v2": { errorRate: 0.05 },
        "web-slow/v2": { latencyMs: { p50: 60, p99: 300 } },
      },
    }));
    const config = join(h.env.HOME ?? "/tmp", `${h.env.CANARYBOT_PREFIX ?? "linkerd"}.yaml`);
    const services = Object.fromEntries(meshed.map((name) => [name, { metrics: "linkerd" }]));
    await writeFile(config, JSON.stringify({ services }));
    h.env.CANARYBOT_CONFIG = config;
    await h.worker();
  }, 90_000);
  afterAll(async () => {
    await prometheus?.stop();
    await mesh?.close();
    await h?.cleanup();
  });

  const start = (service: string): Promise<string> =>
    h.start(service, "--canary", "v2", "--steps", "20,50,100", "--interval", "2s", "--as", "alice");
  const { rollout, settles: settlesIn, history } = rolloutReader(() => h);
  const settles = (id: string) => settlesIn(id, ["promoted", "rolled-back", "paused"]);

  it("promotes a healthy canary, each step judged on its Deployment's inbound responses", async () => {
    const id = await start("web-ok");
    expect(await settles(id)).toBe("promoted");

    const done = await rollout(id);
    expect(done.plan.analysis?.metrics).toEqual({ mesh: "linkerd" });
    expect(done.snapshots.map((snapshot) => snapshot.canaryWeight)).toEqual(expect.arrayContaining([20, 50]));
    for (const snapshot of done.snapshots) {
      expect(snapshot.canary.requests).toBeGreaterThanOrEqual(20);
      expect(snapshot.canary.successRate).toBe(1);
      expect(snapshot.canary.errors).toBe(0);
      expect(snapshot.stable.p99Ms).toBeGreaterThan(0);
    }
    expect(
      (await history(id)).filter((entry) => entry.action === "step").map((entry) => entry.canaryWeight),
    ).toEqual([20, 50, 100]);

    const shown = await h.cli("snapshot", id, "--chart", join(h.env.HOME ?? "/tmp", `${id}.png`));
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/success rate/);
  }, 90_000);

  it("rolls back a canary returning 5% errors at the failed-check limit, with the judge's error counts, restoring the route exactly", async () => {
    const original = h.kube.get("VirtualService", "default", "web-errors");
    const recorder = recordWeights(h.kube, "default", "web-errors", "v1");
    const id = await start("web-errors");
    expect(await settles(id)).toBe("rolled-back");
    recorder.stop();

    const judged = (await history(id))
      .map((entry) => entry.action)
      .filter((action) => ["hold", "rollback"].includes(action));
    expect(judged.at(-1)).toBe("rollback");
    const done = await rollout(id);
    // On a busy machine a window of ~150 canary requests can read below the 90% critical floor: rolled back at once.
    expect(done.outcome?.reason).toMatch(
      /^(2 failed checks \(limit 2\)|critical breach): success-rate \d+(\.\d+)?% vs ≥ 99%/,
    );
    const failing = done.snapshots.at(-1);
    expect(failing?.canary.errors).toBeGreaterThan(0);
    const vsStable = done.lastVerdict?.checks.find((check) => check.name === "error-rate-vs-stable");
    // The rollback is the absolute check's (above). The relative one is a binomial test on the window's counts: on a
    // loaded machine the window holds fewer requests, and 5% errors on a few dozen may not be worse than stable with
    // 95% confidence. Either way the judge's counts are what it says.
    expect(["fail", "inconclusive"]).toContain(vsStable?.status);
    expect(vsStable?.detail).toContain(
      `${failing?.canary.errors} of ${failing?.canary.requests} canary requests failed`,
    );
    expect(recorder.sequence.slice(0, 2)).toEqual(["v1=100", "v1=80,v2=20"]);
    expect(recorder.sequence.at(-1)).toBe("v1=100");
    expect(h.kube.get("VirtualService", "default", "web-errors")?.spec).toStrictEqual(original?.spec);
  }, 90_000);

  it("rolls back a canary three times slower than stable, by the rank test on Linkerd's latency buckets", async () => {
    const id = await start("web-slow");
    expect(await settles(id)).toBe("rolled-back");
    const done = await rollout(id);
    expect(done.outcome?.reason).toMatch(/p99-vs-stable \d+(\.\d+)?ms vs ≤ 1\.25x stable \(\d+(\.\d+)?ms\)/);
    // Too few canary requests for a measured p99 to decide (fewer than 500): the rank test on the buckets did.
    const p99 = done.lastVerdict?.checks.find((check) => check.name === "p99-vs-stable");
    expect(p99?.detail).toMatch(/slower than stable with 95% confidence \(Mann-Whitney p/);
  }, 90_000);
});
