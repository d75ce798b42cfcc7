import { describe, expect, it } from "vitest";
import { CanaryError, ErrorCode } from "../../src/errors.ts";
import type { PodHealthProbe } from "../../src/rollout/ports.ts";
import type { PodHealth, Target } from "../../src/rollout/types.ts";
import { fakeWorld, serviceIn } from "../support/fakes.ts";
import { FIXTURE_NOW, makeTarget } from "../support/rollouts.ts";

/** A probe that answers what the test says, and remembers what it was asked. */
class ScriptedProbe implements PodHealthProbe {
  answer: PodHealth | Error = { pods: 1, ready: 1, restarts: 0 };
  readonly asked: { target: Target; labels: Record<string, string> }[] = [];

  async observe(target: Target, labels: Record<string, string>): Promise<PodHealth> {
    this.asked.push({ target, labels });
    return this.answer instanceof Error ? Promise.reject(this.answer) : Promise.resolve(this.answer);
  }
}

function serviceWith(probe: ScriptedProbe) {
  const world = fakeWorld(FIXTURE_NOW);
  return { world, service: serviceIn(world, { pods: probe }) };
}

const START = {
  target: makeTarget({ stableSubset: "v1", canarySubset: "v2", context: "workloads", meshContext: "mesh" }),
  plan: {
    steps: [10, 50, 100],
    intervalMs: 60_000,
    approvalGates: [],
    twoPersonRule: false,
    progressDeadlineMs: 120_000,
  },
  by: "cli:alice",
};

describe("the service looks at the canary's pods on every tick", () => {
  it("asks the probe for the target's canary subset, and a probe that fails is recorded as unreadable, deciding nothing", async () => {
    const probe = new ScriptedProbe();
    const { world, service } = serviceWith(probe);
    const started = await service.start(START);
    probe.answer = new CanaryError(ErrorCode.KubernetesUnavailable, "pods: connection reset", {
      retryable: true,
    });
    world.clock.advance(60_000);
    await service.tick(started.id, started.tick);

    expect(probe.asked.map((call) => call.target)).toEqual([
      expect.objectContaining({ context: "workloads", meshContext: "mesh", canarySubset: "v2" }),
    ]);
    const after = await world.store.get(started.id);
    expect(after?.pods).toEqual({
      at: FIXTURE_NOW + 60_000,
      observed: { unreadable: "pods: connection reset" },
    });
    // Nothing was decided on it: the rollout stepped on as its plan says.
    expect(after?.stepIndex).toBe(1);
  });

  it("holds the weight while the pods are unhealthy and rolls back, restoring the route, once the deadline has passed", async () => {
    const probe = new ScriptedProbe();
    const { world, service } = serviceWith(probe);
    const started = await service.start(START);
    probe.answer = { pods: 1, ready: 0, restarts: 5, waiting: "CrashLoopBackOff" };
    for (let look = 0; look < 3; look++) {
      world.clock.advance(60_000);
      const rollout = await world.store.get(started.id);
      await service.tick(started.id, rollout?.tick ?? -1);
    }
    const ended = await world.store.get(started.id);
    expect(ended?.phase).toBe("rolled-back");
    expect(ended?.outcome?.reason).toBe(
      "canary pods unhealthy for 2m (progress deadline 2m): 0/1 pods ready (CrashLoopBackOff)",
    );
    expect(world.router.changes.map((change) => `${change.how} ${change.route.canaryWeight}`)).toEqual([
      "set-weights 10",
      "restore 0",
    ]);
    expect(world.notifier.alerts.map((alert) => alert.text)).toEqual([
      expect.stringContaining(
        "canary pods unhealthy: 0/1 pods ready (CrashLoopBackOff); rolls back unless healthy by",
      ),
      expect.stringContaining("is rolling back automatically: canary pods unhealthy for 2m"),
    ]);
  });
});
