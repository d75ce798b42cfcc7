import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { recordWeights } from "../support/route-weights.ts";
import { MESH_ONLY, meshAndWorkloads, requestedPaths } from "../support/two-clusters.ts";
import type { TwoClusters } from "../support/two-clusters.ts";

/**
 * Issue 10.6: a managed mesh (Alibaba Cloud ASM, an external Istio control plane) keeps the VirtualService and
 * DestinationRules in its own cluster, the Deployments and pods run in another. The service's `meshContext` names the
 * first, its `context` the second; each request goes to the cluster that holds what it reads or writes.
 */
describe("mesh and workloads in different clusters", () => {
  let h: EngineHarness;
  let clusters: TwoClusters;
  let dir: string;

  beforeEach(async () => {
    h = await engineHarness("mesh-workloads", MESH_ONLY);
    dir = await mkdtemp(join(tmpdir(), "canarybot-two-clusters-"));
    clusters = await meshAndWorkloads(h, dir);
    await h.worker();
  });
  afterEach(async () => {
    await h.cleanup();
    await clusters.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("given a service with a meshContext and a context, when a rollout promotes, then it writes only the mesh's VirtualService and checks pods only in the workloads' cluster", async () => {
    const weights = recordWeights(clusters.mesh, "default", "reviews", "v1", "v2");
    const id = await h.start("reviews", "--canary", "v2", "--steps", "10,50,100", "--interval", "200ms");
    const runtime = h.runtime();
    const promoted = await waitFor("the promotion", async () => {
      const rollout = await runtime.store.get(id);
      return rollout?.phase === "promoted" ? rollout : undefined;
    });
    expect(weights.stop().slice(1)).toEqual(["v1=90,v2=10", "v1=50,v2=50", "v2=100"]);
    // The rollout belongs to the mesh's cluster: its claim and its cluster are the mesh's API server.
    expect(promoted.cluster?.server).toBe(clusters.mesh.url);
    expect(promoted.target).toMatchObject({ context: "workloads", meshContext: "mesh" });
    expect(promoted.pods?.observed).toEqual({ pods: 1, ready: 1, restarts: 0 });

    const mesh = requestedPaths(clusters.mesh);
    const workloads = requestedPaths(clusters.workloads);
    expect(mesh).toContain("PATCH /apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews");
    expect(mesh).toContain("GET /apis/networking.istio.io/v1/namespaces/default/destinationrules");
    expect(mesh.filter((path) => /\/(pods|deployments|services)\b/.test(path))).toEqual([]);
    expect(workloads).toContain("GET /apis/apps/v1/namespaces/default/deployments");
    expect(workloads).toContain("GET /api/v1/namespaces/default/pods");
    expect(workloads.filter((path) => path.includes("networking.istio.io/v1/"))).toEqual([]);
    expect(workloads.filter((path) => !path.startsWith("GET "))).toEqual([]);
  });

  it("given a canary made unready in the workloads' cluster, then the rollout is rolled back after its deadline and the mesh's route restored", async () => {
    const original = structuredClone(clusters.mesh.get("VirtualService", "default", "reviews"));
    const id = await h.start(
      "reviews",
      "--canary",
      "v2",
      "--steps",
      "5,10,15,20,25,30,35,40,45,50,55,60,65,70,75,80,85,90,95,100",
      "--interval",
      "250ms",
      "--progress-deadline",
      "1s",
    );
    clusters.workloads.changePods({
      namespace: "default",
      labels: { app: "reviews", version: "v2" },
      ready: false,
    });
    const runtime = h.runtime();
    const ended = await waitFor("the rollback", async () => {
      const rollout = await runtime.store.get(id);
      return rollout?.phase === "rolled-back" ? rollout : undefined;
    });
    expect(ended.outcome?.reason).toMatch(/progress deadline 1s\): 0\/1 pods ready \(CrashLoopBackOff\)$/);
    expect(clusters.mesh.get("VirtualService", "default", "reviews")?.spec).toEqual(original?.spec);
  });
});
