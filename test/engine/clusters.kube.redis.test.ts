import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTickSweeper } from "../../src/jobs/tick-sweeper.ts";
import { createLogger } from "../../src/logger.ts";
import type { Runtime } from "../../src/runtime.ts";
import type { StartRequest } from "../../src/rollout/types.ts";
import { startKubeSandbox } from "../../sandbox/kube/server.ts";
import type { KubeSandbox } from "../../sandbox/kube/server.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { recordWeights } from "../support/route-weights.ts";

/**
 * Issue 7.8: two clusters (staging and production, or an old worker left on another kubeconfig), one Redis. A
 * rollout records the cluster it was started on; only that cluster's workers step it.
 */
describe("a worker never acts on a cluster it was not started for", () => {
  let h: EngineHarness;
  let other: KubeSandbox;
  let dir: string;

  beforeEach(async () => {
    h = await engineHarness("clusters");
    other = await startKubeSandbox({ scenario: "bookinfo" });
    dir = await mkdtemp(join(tmpdir(), "canarybot-clusters-"));
  });
  afterEach(async () => {
    await h.cleanup();
    await other.close();
    await rm(dir, { recursive: true, force: true });
  });

  const runtimeFor = async (kube: KubeSandbox, name: string): Promise<Runtime> => {
    const kubeconfig = join(dir, name);
    await kube.writeKubeconfig(kubeconfig);
    return h.runtime({ env: { KUBECONFIG: kubeconfig, CANARYBOT_SWEEP_MS: "200" } });
  };
  const work = async (runtime: Runtime) => {
    await h.worker(runtime, { CANARYBOT_SWEEP_MS: "200" });
  };
  const request = (canary: string): StartRequest => ({
    target: {
      namespace: "default",
      service: "reviews",
      virtualService: "reviews",
      host: "reviews",
      canarySubset: canary,
    },
    plan: { steps: [10, 50, 100], intervalMs: 300, approvalGates: [], twoPersonRule: false },
    by: "cli:alice",
  });

  it("given two workers on two sandboxes and one Redis, when each cluster runs a rollout, then each is stepped only by its own cluster's worker", async () => {
    const staging = await runtimeFor(h.kube, "staging");
    const production = await runtimeFor(other, "production");
    expect(staging.cluster.server).not.toBe(production.cluster.server);
    await work(staging);
    await work(production);

    const stagingWeights = recordWeights(h.kube, "default", "reviews", "v1", "v2");
    const productionWeights = recordWeights(other, "default", "reviews", "v1", "v3");
    const onStaging = await staging.service.start(request("v2"));
    const onProduction = await production.service.start(request("v3"));
    expect(onStaging.cluster).toEqual(staging.cluster);
    expect(onProduction.cluster).toEqual(production.cluster);

    for (const [runtime, id] of [
      [staging, onStaging.id],
      [production, onProduction.id],
    ] as const) {
      await waitFor(`${id} promoted`, async () =>
        (await runtime.store.get(id))?.phase === "promoted" ? true : undefined,
      );
    }
    // The exact plan on each cluster, and never the other cluster's canary: no worker crossed over.
    const [first, ...rest] = stagingWeights.stop();
    expect(first).toBe("v1=100");
    expect(rest.every((weights) => !weights.includes("v3"))).toBe(true);
    expect(rest.map((weights) => weights.replace(/^v1=\d+,/, ""))).toEqual(["v2=10", "v2=50", "v2=100"]);
    const [, ...productionRest] = productionWeights.stop();
    expect(productionRest.map((weights) => weights.replace(/^v1=\d+,/, ""))).toEqual([
      "v3=10",
      "v3=50",
      "v3=100",
    ]);
    const actions = [
      ...(await staging.store.audit(onStaging.id)),
      ...(await staging.store.audit(onProduction.id)),
    ].map((entry) => entry.action);
    expect(actions).not.toContain("drift");
  });

  it("given a rollout on production, when a process configured for staging acts on it, then it is refused naming the context to use", async () => {
    const staging = await runtimeFor(h.kube, "staging");
    const production = await runtimeFor(other, "production");
    const started = await production.service.start(request("v2"));

    const refused = await staging.service
      .act(started.id, { type: "rollback", by: "cli:bob", reason: "wrong place" })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refused).toMatchObject({ code: "wrong_cluster" });
    expect(String((refused as Error).message)).toContain(production.cluster.server);
    expect((await production.store.get(started.id))?.phase).toBe("progressing");
  });

  it("given no worker for a rollout's cluster, when its tick is three intervals overdue, then another cluster's sweeper makes the rollout say so", async () => {
    const staging = await runtimeFor(h.kube, "staging");
    const production = await runtimeFor(other, "production");
    const started = await production.service.start(request("v2"));

    // Time is injected: the sweeper sees the moment an hour later instead of waiting for it.
    const sweeper = startTickSweeper({
      store: staging.store,
      ensure: (rolloutId, tick) => staging.scheduler.ensure(rolloutId, tick),
      reportOverdue: (rolloutId, tick, detail) => staging.service.tickOverdue(rolloutId, tick, detail),
      claim: () => Promise.resolve(true),
      serves: (rollout) => staging.service.foreignReason(rollout) === undefined,
      clock: { now: () => Date.now() + 3_600_000 },
      logger: createLogger("silent"),
      everyMs: 3_600_000,
    });
    h.onCleanup(() => sweeper.close());
    await sweeper.sweepOnce();

    const overdue = await production.store.get(started.id);
    expect(overdue?.overdue?.detail).toContain(`no worker for cluster ${production.cluster.server}`);
    expect(overdue?.phase).toBe("progressing");
    expect((await staging.store.audit(started.id)).map((entry) => entry.action)).toContain("overdue");
  });
});
