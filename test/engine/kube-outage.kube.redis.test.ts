import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { meshService, startedPast } from "../support/mesh-services.ts";
import { recordWeights } from "../support/route-weights.ts";

const SERVICES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];
const STEPS = [10, 30, 60, 100];

/**
 * Issue 9: the Kubernetes API answers 500 for a while in the middle of many rollouts. Rollouts hold at their weight
 * through it, then continue; no VirtualService skips or repeats a step.
 */
describe("a Kubernetes outage mid-run", () => {
  let h: EngineHarness;

  beforeEach(async () => {
    h = await engineHarness("kube-outage");
    h.kube.seed(SERVICES.flatMap(meshService));
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it("given six rollouts, when every VirtualService write answers 500 for a while, then each holds and then walks its exact plan to promotion", async () => {
    await h.worker();
    const runtime = h.runtime();
    const recorders = SERVICES.map((service) => recordWeights(h.kube, "default", service, "v1", "v2"));
    // The outage begins once every rollout is past its first step, and ends after it has refused many writes.
    const ids = await startedPast(runtime, SERVICES, STEPS, 400, 30);
    const outage = h.kube.faults.add({ resource: "virtualservices", method: "PATCH", errors: 1_000_000 });
    const weightsAtOutage = await Promise.all(
      ids.map(async (id) => (await runtime.store.get(id))?.appliedWeight),
    );
    await waitFor(
      "60 refused writes",
      () => (h.kube.requests.all().filter((record) => record.faulted).length >= 60 ? true : undefined),
      30_000,
    );
    // Held: nothing moved while the API refused.
    const during = await Promise.all(ids.map(async (id) => (await runtime.store.get(id))?.appliedWeight));
    expect(during).toEqual(weightsAtOutage);
    h.kube.faults.remove(outage);

    for (const id of ids) {
      await waitFor(
        `${id} promoted`,
        async () => ((await runtime.store.get(id))?.phase === "promoted" ? true : undefined),
        60_000,
      );
    }
    for (const recorder of recorders) {
      expect(recorder.stop()).toEqual(["v1=100", "v1=90,v2=10", "v1=70,v2=30", "v1=40,v2=60", "v2=100"]);
    }
    for (const id of ids) {
      const steps = (await runtime.store.audit(id)).filter((entry) => entry.action === "step");
      expect(steps.map((entry) => entry.canaryWeight)).toEqual(STEPS);
    }
  });
});
