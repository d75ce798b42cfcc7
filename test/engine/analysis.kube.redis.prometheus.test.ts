import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadImage } from "@napi-rs/canvas";
import { KubeConfig } from "@kubernetes/client-node";
import type { AuditJson, RolloutStatusJson } from "../../src/commands/render-text.ts";
import type { Rollout } from "../../src/rollout/types.ts";
import { startMeshSandbox } from "../../src/sandbox/mesh/mesh-sandbox.ts";
import type { MeshSandbox } from "../../src/sandbox/mesh/mesh-sandbox.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { meshService } from "../support/mesh-services.ts";
import { startPrometheus, waitForIstioRates } from "../support/prometheus.ts";
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
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(h.kube.kubeconfig);
    mesh = await startMeshSandbox({
      kubeConfig,
      namespace: "default",
      services: meshed,
      rps: 200,
      pollMs: 100,
      subsets: {
        // Tight latencies, so that sampling noise never looks like a regression.
        "*": { errorRate: 0, latencyMs: { p50: 20, p99: 30 } },
        "svc-errors/v2": { errorRate: 0.05 },
        "svc-slow/v2": { latencyMs: { p50: 60, p99: 300 } },
      },
    });
    prometheus = await startPrometheus({
      targets: [new URL(mesh.metricsUrl).host],
      scrapeIntervalSeconds: 1,
    });
    // Prometheus takes a few seconds to scrape for the first time; judge nothing before it has rates.
    await waitForIstioRates(prometheus);
    h.env.PROMETHEUS_URL = prometheus.url;
    h.env.PROMETHEUS_SCRAPE_INTERVAL_SECONDS = "1";
    await h.worker();
  }, 90_000);
  afterAll(async () => {
    await prometheus?.stop();
    await mesh?.close();
    await h?.cleanup();
  });

  const start = (service: string, ...extra: string[]): Promise<string> =>
    h.start(service, "--canary", "v2", "--steps", "20,50,100", "--interval", "2s", "--as", "alice", ...extra);

  const rollout = async (id: string): Promise<Rollout> => {
    const found = await h.runtime().store.get(id);
    if (!found) throw new Error(`${id} is gone`);
    return found;
  };
  const settles = (id: string, phases: string[]) =>
    waitFor(
      `${id} to reach ${phases.join(" or ")}`,
      async () => {
        const shown = JSON.parse((await h.cli("status", id, "--json")).stdout) as RolloutStatusJson;
        return phases.includes(shown.phase) ? shown.phase : undefined;
      },
      60_000,
    );

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
    const history = JSON.parse((await h.cli("history", id, "--json")).stdout) as AuditJson[];
    expect(history.filter((entry) => entry.action === "step").map((entry) => entry.canaryWeight)).toEqual([
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
    const history = JSON.parse((await h.cli("history", id, "--json")).stdout) as AuditJson[];
    const judged = history
      .map((entry) => entry.action)
      .filter((action) => ["hold", "rollback"].includes(action));
    expect(judged).toEqual(["hold", "rollback"]);
    expect(history.find((entry) => entry.action === "rollback")?.actor).toBe("canarybot");
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
