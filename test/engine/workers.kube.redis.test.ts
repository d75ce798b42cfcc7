import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuditJson, RolloutStatusJson } from "../../src/commands/render-text.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { meshService } from "../support/mesh-services.ts";
import { recordWeights } from "../support/route-weights.ts";

/** The weight sequence a plan must produce, nothing skipped, nothing repeated. */
function expectedSequence(steps: number[]): string[] {
  // At 100% the route is one destination to v2, as a person writes it.
  return [
    "v1=100",
    ...steps.map((weight) => (weight === 100 ? "v2=100" : `v1=${100 - weight},v2=${weight}`)),
  ];
}

describe("workers as separate processes on one Redis", () => {
  let h: EngineHarness;

  beforeEach(async () => {
    h = await engineHarness("workers");
  });
  afterEach(async () => {
    await h.cleanup();
  });

  const start = (service: string, steps: number[], interval: string): Promise<string> =>
    h.start(service, "--canary", "v2", "--steps", steps.join(","), "--interval", interval, "--as", "alice");

  const phaseOf = async (id: string): Promise<string> =>
    (JSON.parse((await h.cli("status", id, "--json")).stdout) as RolloutStatusJson).phase;

  it("two worker processes, 20 rollouts with 200 ms intervals: every VirtualService follows its plan exactly", async () => {
    const services = Array.from({ length: 20 }, (_, index) => `svc-${String(index + 1).padStart(2, "0")}`);
    h.kube.seed(services.flatMap(meshService));
    const workers = [await h.spawnWorker(), await h.spawnWorker()];
    const steps = [10, 25, 50, 75, 100];
    const recorders = services.map((service) => recordWeights(h.kube, "default", service, "v1", "v2"));

    const ids = await Promise.all(services.map((service) => start(service, steps, "200ms")));
    await waitFor(
      "all 20 rollouts promoted",
      async () =>
        (await Promise.all(ids.map(phaseOf))).every((phase) => phase === "promoted") ? true : undefined,
      60_000,
    );

    for (const [index, recorder] of recorders.entries()) {
      expect(recorder.stop(), services[index]).toEqual(expectedSequence(steps));
    }
    for (const id of ids) {
      const history = JSON.parse((await h.cli("history", id, "--json")).stdout) as AuditJson[];
      expect(
        history.filter((entry) => entry.action === "step").map((entry) => entry.canaryWeight),
        id,
      ).toEqual(steps);
    }
    // Both processes took part: the work really was shared, not done by one while the other idled.
    for (const worker of workers) expect(worker.log()).toContain('"event":"tick"');
  }, 90_000);

  it("kill -9 of the worker mid-rollout: a new worker completes it with no step skipped", async () => {
    const first = await h.spawnWorker();
    const steps = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    const recorder = recordWeights(h.kube, "default", "reviews", "v1", "v2");
    const id = await start("reviews", steps, "300ms");
    await waitFor("the route at 30%", () => (recorder.sequence.includes("v1=70,v2=30") ? true : undefined));
    await first.kill9();

    // Nobody moves the route while no worker runs: a tick falls due, and passes with the weight held.
    const held = recorder.sequence.length;
    const { store } = h.runtime();
    const due = (await store.get(id))?.nextTickAt ?? Date.now();
    await waitFor("a tick overdue with no worker", () => (Date.now() > due + 300 ? true : undefined));
    expect(recorder.sequence).toHaveLength(held);
    expect(await phaseOf(id)).toBe("progressing");

    await h.spawnWorker();
    // A worker killed inside a tick leaves its job and rollout locks to expire (30 s each) before the retry.
    await waitFor(
      "promoted after the restart",
      async () => ((await phaseOf(id)) === "promoted" ? true : undefined),
      90_000,
    );
    expect(recorder.stop()).toEqual(expectedSequence(steps));
  }, 120_000);
});
