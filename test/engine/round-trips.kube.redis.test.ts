import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Runtime } from "../../src/runtime.ts";
import type { Plan, Rollout, TargetSpec } from "../../src/rollout/types.ts";
import { engineHarness } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { countByName, recordRedisCommands, takeKubeRequests } from "../support/round-trips.ts";

// Given one runtime as `openRuntime` builds it, on a real Redis and the Kubernetes sandbox, warmed up (connections,
// Lua scripts and API discovery are paid once per process), when a rollout is started, ticked, paused, resumed and
// rolled back, then each operation costs exactly the Redis commands and Kubernetes requests pinned here. Counts
// are deterministic: an extra round trip fails this test, however fast the machine. bench/round-trips.bench.ts
// prints the same counts, with the commands Redis runs inside the scripts, and times a Rollback click.

const PLAN: Plan = {
  steps: [10, 20, 50, 100],
  intervalMs: 3_600_000,
  approvalGates: [],
  twoPersonRule: false,
};
/** No stable subset named: read off the route, as `/canary start reviews` does. */
const SPEC: TargetSpec = {
  namespace: "default",
  service: "reviews",
  virtualService: "reviews",
  host: "reviews",
  canarySubset: "v2",
};
/** Reported to a channel, as a start from Slack is: notifications go through the BullMQ queue. */
const REPORT = { report: { channel: "C0RELEASES" } };

let h: EngineHarness;
let runtime: Runtime;
let redis: ReturnType<typeof recordRedisCommands>;

beforeAll(async () => {
  h = await engineHarness("round-trips");
  runtime = h.runtime();
  const warm = await runtime.service.start({ target: SPEC, plan: PLAN, by: "cli:test", ...REPORT });
  await runtime.service.act(warm.id, { type: "rollback", by: "cli:test", reason: "warm-up" });
  redis = recordRedisCommands();
});

afterAll(async () => {
  redis.stop();
  await h.cleanup();
});

type Cost = { redis: Record<string, number>; kube: Record<string, number> };

async function costOf(operation: () => Promise<unknown>): Promise<Cost> {
  redis.take();
  takeKubeRequests(h.kube);
  await operation();
  return { redis: countByName(redis.take()), kube: takeKubeRequests(h.kube) };
}

async function stored(id: string): Promise<Rollout> {
  const rollout = await runtime.store.get(id);
  if (!rollout) throw new Error(`${id} is gone`);
  return rollout;
}

describe("round trips per operation", () => {
  let id = "";

  it("start: the route read twice (the stable subset, preflight), written once; the rollout never re-read", async () => {
    const cost = await costOf(async () => {
      id = (await runtime.service.start({ target: SPEC, plan: PLAN, by: "cli:test", ...REPORT })).id;
    });
    // GET: the claim; INCR: the id; SET: the lock. EVALSHA: create, save preflight, schedule the tick, save the
    // confirmed weight, release the lock, queue the message update.
    expect(cost.redis).toEqual({ GET: 1, INCR: 1, SET: 1, EVALSHA: 6 });
    // The VirtualService twice, DestinationRules, Deployments and the Service once each; one PATCH.
    expect(cost.kube).toEqual({ GET: 5, PATCH: 1 });
    expect((await stored(id)).appliedWeight).toBe(10);
  });

  it("a tick that moves a step: one GET of the route, the canary's pods, one PATCH, the rollout loaded once", async () => {
    const { tick } = await stored(id);
    const cost = await costOf(() => runtime.service.tick(id, tick));
    // SET: the lock; HGET: the load. EVALSHA: save the step, schedule the next tick, save the confirmed weight,
    // release the lock, queue the message update.
    expect(cost.redis).toEqual({ SET: 1, HGET: 1, EVALSHA: 5 });
    // GET: the VirtualService once, and the pod health check: the LIST of the canary's pods and, on a rollout's
    // first tick (kept a minute after), the Service selector that narrows it.
    expect(cost.kube).toEqual({ GET: 3, PATCH: 1 });
    expect((await stored(id)).appliedWeight).toBe(20);
  });

  it("a stale tick: lock, load, unlock", async () => {
    const cost = await costOf(() => runtime.service.tick(id, 1));
    expect(cost).toEqual({ redis: { SET: 1, HGET: 1, EVALSHA: 1 }, kube: {} });
  });

  it("pause and resume: one load each; the resume reads the route once", async () => {
    const paused = await costOf(() => runtime.service.act(id, { type: "pause", by: "cli:test" }));
    // EVALSHA: save, release, queue the update; the resume schedules the next tick too.
    expect(paused).toEqual({ redis: { SET: 1, HGET: 1, EVALSHA: 3 }, kube: {} });
    const resumed = await costOf(() => runtime.service.act(id, { type: "resume", by: "cli:test" }));
    expect(resumed.redis).toEqual({ SET: 1, HGET: 1, EVALSHA: 4 });
    expect(resumed.kube).toEqual({ GET: 1 });
  });

  it("rollback: one load, the route read and written once, the history indexes swept in one round trip", async () => {
    const cost = await costOf(() =>
      runtime.service.act(id, { type: "rollback", by: "cli:test", reason: "pinned" }),
    );
    // EVALSHA: save rolling-back, save rolled-back, release, queue the update and the alert; ZRANGEBYSCORE: the
    // three history indexes, pipelined.
    expect(cost.redis).toEqual({ SET: 1, HGET: 1, EVALSHA: 6, ZRANGEBYSCORE: 3 });
    expect(cost.kube).toEqual({ GET: 1, PATCH: 1 });
    expect((await stored(id)).phase).toBe("rolled-back");
  });
});

// The HTTPRoute router shares its reads the same way: its route object is read once per tick as well.
describe("round trips of an HTTPRoute rollout", () => {
  let gateway: EngineHarness;

  beforeAll(async () => {
    gateway = await engineHarness("round-trips-httproute", { scenario: "bookinfo-gateway-api" });
  });
  afterAll(async () => {
    await gateway.cleanup();
  });

  const routeRequests = () => {
    const counts: Record<string, number> = {};
    for (const record of gateway.kube.requests.all()) {
      if (record.path.includes("/httproutes/reviews"))
        counts[record.method] = (counts[record.method] ?? 0) + 1;
    }
    gateway.kube.requests.clear();
    return counts;
  };

  it("start reads the HTTPRoute twice (the stable backend, preflight) and a tick once, each writing it once", async () => {
    const { service, store } = gateway.runtime();
    const target: TargetSpec = { ...SPEC, router: "httproute", canarySubset: "reviews-v2" };
    gateway.kube.requests.clear();
    const { id } = await service.start({ target, plan: PLAN, by: "cli:test" });
    expect(routeRequests()).toEqual({ GET: 2, PATCH: 1 });
    const started = await store.get(id);
    await service.tick(id, started?.tick ?? -1);
    expect(routeRequests()).toEqual({ GET: 1, PATCH: 1 });
    expect((await store.get(id))?.appliedWeight).toBe(20);
  });
});
