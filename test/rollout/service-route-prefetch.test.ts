import { describe, expect, it } from "vitest";
import type { HumanEvent } from "../../src/rollout/types.ts";
import { fakeWorld, serviceIn } from "../support/fakes.ts";
import { FIXTURE_NOW, makePlan, makeTarget } from "../support/rollouts.ts";

function started() {
  const world = fakeWorld(FIXTURE_NOW);
  const service = serviceIn(world);
  const rollout = service.start({
    target: makeTarget({ stableSubset: "v1", canarySubset: "v2" }),
    plan: makePlan({ steps: [10, 50, 100], approvalGates: [], twoPersonRule: false }),
    by: "cli:starter",
  });
  return { world, service, rollout };
}

const event = (type: HumanEvent["type"]): HumanEvent => ({ type, by: "cli:operator", reason: "test" });

describe("a person's action reads the route ahead of the lock when it will write the route", () => {
  it.each(["rollback", "promote"] as const)("%s, given the rollout as the caller saw it", async (type) => {
    const { world, service, rollout } = started();
    const seen = await rollout;
    await service.act(seen.id, event(type), seen);
    expect(world.router.prefetched).toEqual([seen.target]);
  });

  it.each(["pause", "approve"] as const)("not %s, which writes no route at once", async (type) => {
    const { world, service, rollout } = started();
    const seen = await rollout;
    await service.act(seen.id, event(type), seen).catch(() => undefined);
    expect(world.router.prefetched).toEqual([]);
  });

  it("not without the caller's view of the rollout (the CLI), nor for a finished one", async () => {
    const { world, service, rollout } = started();
    const seen = await rollout;
    await service.act(seen.id, event("rollback"));
    const finished = await world.store.get(seen.id);
    await service.act(seen.id, event("rollback"), finished).catch(() => undefined);
    expect(world.router.prefetched).toEqual([]);
    expect(finished?.phase).toBe("rolled-back");
  });
});
