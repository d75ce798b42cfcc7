import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadImage } from "@napi-rs/canvas";
import type { MeshSandbox } from "../../sandbox/mesh/mesh-sandbox.ts";
import { engineHarness } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { rolloutReader, startJudgedMesh } from "../support/judged-mesh.ts";
import { meshService } from "../support/mesh-services.ts";
import type { TestPrometheus } from "../support/prometheus.ts";
import { recordWeights } from "../support/route-weights.ts";

/**
 * Issue 3's acceptance: rollouts judged by Istio metrics that a real Prometheus scrapes from the mesh sandbox,
 * whose traffic follows the VirtualService the rollout moves in the Kubernetes sandbox.
 */
describe("rollouts judged by a real Prometheus", () => {
  let h: EngineHarness;
  let mesh: MeshSandbox;
  let prometheus: TestPrometheus;
  const meshed = ["svc-ok", "svc-errors", "svc-slow", "svc-blind"];

  beforeAll(async () => {
    h = await engineHarness("analysis", { objects: [...meshed, "svc-quiet"].flatMap(meshService) });
    ({ mesh, prometheus } = await startJudgedMesh(h, {
      services: meshed,
      subsets: {
        // Tight latencies, so that sampling noise never looks like a regression.
        "*": { errorRate: 0, latencyMs: { p50: 20, p99: 30 } },
        "svc-errors/v2": { errorRate: 0.05 },
        "svc-slow/v2": { latencyMs: { p50: 60, p99: 300 } },
      },
    }));
    await h.worker();
  }, 90_000);
  afterAll(async () => {
    await prometheus?.stop();
    await mesh?.close();
    await h?.cleanup();
  });

  const start = (service: string, ...extra: string[]): Promise<string> =>
    h.start(service, "--canary", "v2", "--steps", "20,50,100", "--interval", "2s", "--as", "alice", ...extra);

  const { rollout, settles, history } = rolloutReader(() => h);

  it("promotes a healthy canary, with a snapshot for every step it judged", async () => {
    const id = await start("svc-ok");
    expect(await settles(id, ["promoted", "paused", "rolled-back"])).toBe("promoted");

    const done = await rollout(id);
    expect(done.snapshots.map((snapshot) => snapshot.canaryWeight)).toEqual(expect.arrayContaining([20, 50]));
    for (const snapshot of done.snapshots) {
      expect(snapshot.canary.requests).toBeGreaterThanOrEqual(20);
      expect(snapshot.canary.successRate).toBe(1);
      expect(snapshot.stable.p99Ms).toBeGreaterThan(0);
    }
    const trail = await history(id);
    expect(trail.filter((entry) => entry.action === "step").map((entry) => entry.canaryWeight)).toEqual([
      20, 50, 100,
    ]);

    const chartFile = join(h.env.HOME ?? "/tmp", `${id}.png`);
    const shown = await h.cli("snapshot", id, "--chart", chartFile);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/success rate/);
    const image = await loadImage(await readFile(chartFile));
    expect([image.width, image.height]).toEqual([800, 400]);
  }, 90_000);

  it("rolls back a canary returning 5% errors within the failed-check limit, restoring the route exactly", async () => {
    const original = h.kube.get("VirtualService", "default", "svc-errors");
    const recorder = recordWeights(h.kube, "default", "svc-errors", "v1");
    const id = await start("svc-errors");
    expect(await settles(id, ["rolled-back", "promoted", "paused"])).toBe("rolled-back");
    recorder.stop();

    const done = await rollout(id);
    // Failed checks before the rollback: exactly the failure limit (2), one held and the next rolled back.
    // A tick whose window is too thin to judge is inconclusive and counts for nothing. Under heavy load a
    // canary's first error series can still be too young for rate() to see, so a first step may pass.
    const trail = await history(id);
    const judged = trail
      .map((entry) => entry.action)
      .filter((action) => ["hold", "rollback"].includes(action));
    expect(judged).toEqual(["hold", "rollback"]);
    expect(trail.find((entry) => entry.action === "rollback")?.actor).toBe("canarybot");
    expect(done.outcome?.reason).toMatch(/2 failed checks \(limit 2\): success-rate 9\d(\.\d+)?% vs ≥ 99%/);
    expect(recorder.sequence.slice(0, 2)).toEqual(["v1=100", "v1=80,v2=20"]);
    expect(recorder.sequence.at(-1)).toBe("v1=100");
    expect(h.kube.get("VirtualService", "default", "svc-errors")?.spec).toStrictEqual(original?.spec);
  }, 90_000);

  it("rolls back a canary whose p99 is three times the stable p99, naming latency and the values", async () => {
    const id = await start("svc-slow");
    expect(await settles(id, ["rolled-back", "promoted", "paused"])).toBe("rolled-back");
    const done = await rollout(id);
    expect(done.outcome?.reason).toMatch(/p99-vs-stable \d+(\.\d+)?ms vs ≤ 1\.25x stable \(\d+(\.\d+)?ms\)/);
  }, 90_000);

  it("pauses with the reason when Prometheus stops mid-rollout, and never promotes", async () => {
    const id = await start("svc-blind");
    await prometheus.kill();
    try {
      expect(await settles(id, ["paused", "promoted", "rolled-back"])).toBe("paused");
      const paused = await rollout(id);
      expect(paused.reason).toMatch(/inconclusive 3 times in a row: .*metrics unavailable/);
      expect(paused.stepIndex).toBe(0);
    } finally {
      await prometheus.start();
    }
  }, 90_000);

  it("finds no traffic to the canary inconclusive, then pauses", async () => {
    const id = await start("svc-quiet");
    expect(await settles(id, ["paused", "promoted", "rolled-back"])).toBe("paused");
    const paused = await rollout(id);
    expect(paused.reason).toMatch(/inconclusive 3 times in a row: request-volume/);
    expect(paused.lastVerdict?.status).toBe("inconclusive");
  }, 90_000);
});
