import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { recordWeights } from "../support/route-weights.ts";
import { startCanarybot } from "../support/processes.ts";

/** How long the Kubernetes API holds each VirtualService PATCH: the tick in hand when SIGTERM arrives. */
const PATCH_DELAY_MS = 3_000;

describe("SIGTERM to `canarybot worker` during a tick", () => {
  let h: EngineHarness;
  beforeEach(async () => {
    h = await engineHarness("sigterm");
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it("finishes the tick in hand, exits 0 within 10 s, and a new worker goes on with no step skipped or repeated", async () => {
    const worker = await startCanarybot(["worker"], "worker ready", { env: { ...h.env, LOG_LEVEL: "info" } });
    try {
      const recorder = recordWeights(h.kube, "default", "reviews", "v1", "v2");
      const id = await h.start("reviews", "--canary", "v2", "--steps", "10,50,100", "--interval", "1s");
      const reads = () =>
        h.kube.requests
          .all()
          .filter((request) => request.method === "GET" && request.path.includes("/virtualservices/reviews"))
          .length;
      const before = reads();
      h.kube.faults.add({ method: "PATCH", resource: "virtualservices", delayMs: PATCH_DELAY_MS });
      // The tick reads the route, then patches it: once it has read, its PATCH is held by the API.
      await waitFor("the next tick to read the route", () => (reads() > before ? true : undefined));
      void worker.stop();
      const { code, afterMs } = await worker.exited;
      expect(code, worker.output()).toBe(0);
      console.log(`SIGTERM during a held PATCH of ${PATCH_DELAY_MS} ms: exited after ${afterMs} ms`);
      expect(afterMs).toBeLessThan(10_000);
      // It waited for the held PATCH rather than dropping it: the step it was taking is on the route and saved.
      expect(afterMs).toBeGreaterThan(PATCH_DELAY_MS / 2);
      expect(recorder.sequence).toEqual(["v1=100", "v1=90,v2=10", "v1=50,v2=50"]);
      const saved = await h.runtime().store.get(id);
      expect(saved?.appliedWeight).toBe(50);

      h.kube.faults.clear();
      await h.worker();
      await waitFor(
        "promoted by the next worker",
        async () => ((await h.runtime().store.get(id))?.phase === "promoted" ? true : undefined),
        60_000,
      );
      expect(recorder.stop()).toEqual(["v1=100", "v1=90,v2=10", "v1=50,v2=50", "v2=100"]);
      // Each weight was entered once in the audit: no step repeated by the retried or resumed tick.
      const weights = (await h.runtime().store.audit(id)).map((entry) => entry.canaryWeight);
      expect(weights.filter((weight, index) => weight !== weights[index - 1])).toEqual([0, 10, 50, 100]);
    } finally {
      await worker.stop("SIGKILL");
    }
  }, 120_000);
});
