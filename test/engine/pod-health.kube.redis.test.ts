import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { rawRequest } from "../support/kube-sandbox.ts";
import { recordWeights } from "../support/route-weights.ts";

/**
 * Issue 10.4: a canary whose pods stop being ready is rolled back once its progress deadline passes, with no metrics
 * at all (no Prometheus is configured): the pods alone decide. A short deadline stands in for Flagger's 10 minutes.
 */
describe("canary pods must stay healthy", () => {
  let h: EngineHarness;
  beforeEach(async () => {
    h = await engineHarness("pod-health");
  });
  afterEach(async () => {
    await h.cleanup();
  });

  const MANY_STEPS = "5,10,15,20,25,30,35,40,45,50,55,60,65,70,75,80,85,90,95,100";
  /** Twenty quick steps under a 1s progress deadline: the deadline comes long before the last step. */
  const startWithDeadline = () =>
    h.start(
      "reviews",
      "--canary",
      "v2",
      "--steps",
      MANY_STEPS,
      "--interval",
      "250ms",
      "--progress-deadline",
      "1s",
      "--as",
      "alice",
    );

  it("given a rollout with a 1s progress deadline, when its canary's pods turn unready, then it is rolled back saying why and the route is restored", async () => {
    const original = structuredClone(h.kube.get("VirtualService", "default", "reviews"));
    const weights = recordWeights(h.kube, "default", "reviews", "v1", "v2");
    await h.worker();
    const id = await startWithDeadline();
    const runtime = h.runtime();
    await waitFor("a healthy look at the pods", async () => {
      const pods = (await runtime.store.get(id))?.pods;
      return pods && "ready" in pods.observed && pods.observed.ready === 1 ? true : undefined;
    });

    // Over the sandbox's HTTP control, as a person at a terminal would.
    const unready = await rawRequest(h.kube, "POST", "/_sandbox/pods", {
      token: null,
      body: { labels: { app: "reviews", version: "v2" }, ready: false },
    });
    expect(unready.status).toBe(200);

    const ended = await waitFor("the rollback", async () => {
      const rollout = await runtime.store.get(id);
      return rollout?.phase === "rolled-back" ? rollout : undefined;
    });
    expect(ended.outcome?.by).toBe("canarybot");
    expect(ended.outcome?.reason).toMatch(
      /^canary pods unhealthy for \d+(ms|s) \(progress deadline 1s\): 0\/1 pods ready \(CrashLoopBackOff\)$/,
    );
    // It never got to promote: the deadline came long before the last of its twenty steps.
    expect(ended.stepIndex).toBeLessThan(19);
    expect(h.kube.get("VirtualService", "default", "reviews")?.spec).toEqual(original?.spec);
    const audit = await runtime.store.audit(id);
    const actions = audit.map((entry) => entry.action);
    expect(actions).toEqual(expect.arrayContaining(["pods-unhealthy", "rollback", "rolled-back"]));
    expect(actions.indexOf("pods-unhealthy")).toBeLessThan(actions.indexOf("rollback"));
    // From the first unhealthy look to the rollback the weight held: the last weight before the restore is that one.
    const held = audit.find((entry) => entry.action === "pods-unhealthy")?.canaryWeight ?? -1;
    expect(weights.stop().slice(-2)).toEqual([`v1=${100 - held},v2=${held}`, "v1=100"]);
    // The pods were read as preflight finds them: the canary subset's labels, in the rollout's namespace.
    const podReads = h.kube.requests
      .all()
      .filter((request) => request.path.startsWith("/api/v1/namespaces/default/pods"));
    expect(podReads.length).toBeGreaterThan(0);
    const selectors = podReads.map((request) =>
      new URL(request.path, h.kube.url).searchParams.get("labelSelector"),
    );
    expect(selectors.every((selector) => /(^|,)version=v2(,|$)/.test(selector ?? ""))).toBe(true);
  });

  it("given pods that restart at every look while ready, then the crash loop rolls the canary back too", async () => {
    await h.worker();
    const id = await startWithDeadline();
    const runtime = h.runtime();
    let restarts = 0;
    const ended = await waitFor("the rollback", async () => {
      const rollout = await runtime.store.get(id);
      if (rollout?.phase === "rolled-back") return rollout;
      const seen = rollout?.pods?.observed;
      // One restart after each look, whatever the timing: the next look always finds a new one.
      if (seen && "restarts" in seen && seen.restarts === restarts) {
        h.kube.changePods({ namespace: "default", labels: { app: "reviews", version: "v2" }, restarts: 1 });
        restarts++;
      }
      return undefined;
    });
    expect(ended.outcome?.reason).toMatch(/progress deadline 1s\): \d+ restarts? since the last look$/);
  });
});
