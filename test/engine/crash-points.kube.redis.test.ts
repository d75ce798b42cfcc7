import { Queue } from "bullmq";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tickJobId } from "../../src/jobs/tick-job.ts";
import type { Runtime } from "../../src/runtime.ts";
import { DEFAULT_ANALYSIS_POLICY } from "../../src/metrics/analysis.ts";
import type { Analyzer, RolloutStore } from "../../src/rollout/ports.ts";
import type { ServiceDeps } from "../../src/rollout/service.ts";
import type { StartRequest } from "../../src/rollout/types.ts";
import { targetKey } from "../../src/rollout/target.ts";
import type { Rollout } from "../../src/rollout/types.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { REDIS_URL } from "../support/redis.ts";

/**
 * Issue 8.1: a process that dies right after saving a state (before it schedules the state's tick, writes the route
 * or tells anyone) must not strand the rollout. Each case runs the operation in a "dying" runtime whose store throws
 * right after the chosen save succeeded, checks that nothing is queued for the saved tick (so only the sweeper can
 * heal it), then starts a healthy worker, as a restart would, and waits for the end state and the route to match.
 */
class SimulatedCrash extends Error {
  override readonly name = "SimulatedCrash";
}

type CrashCase = {
  name: string;
  /** Which save the process dies after. */
  after: (saved: Rollout) => boolean;
  /** Drive the dying runtime to that save; resolves once the crash happened. */
  drive: (dying: Runtime, id: () => Promise<string>) => Promise<unknown>;
  analysis?: boolean;
  /** Route writes fail while the dying runtime runs (the restore retry case). */
  failRouteWrites?: boolean;
  end: "promoted" | "rolled-back" | "paused";
};

const TARGET = {
  namespace: "default",
  service: "reviews",
  virtualService: "reviews",
  host: "reviews",
  canarySubset: "v2",
};

function startRequest(analysis: boolean): StartRequest {
  return {
    target: TARGET,
    plan: {
      steps: [50, 100],
      intervalMs: 300,
      approvalGates: [],
      twoPersonRule: false,
      ...(analysis ? { analysis: { ...DEFAULT_ANALYSIS_POLICY, failureLimit: 1 } } : {}),
    },
    by: "cli:crash-test",
  };
}

/** A verdict that rolls back at once: the automatic rollback's trigger, without a metrics pipeline. */
const FAILING: Analyzer = {
  analyze: () =>
    Promise.resolve({
      status: "fail",
      checks: [{ name: "success-rate", status: "fail", value: 0.5, threshold: ">= 99%", critical: true }],
    }),
};

const byRollback = (reason: string) => ({ type: "rollback", by: "cli:bob", reason }) as const;

const CASES: CrashCase[] = [
  {
    name: "start: after the first step is saved",
    after: (saved) => saved.phase === "progressing" && saved.stepIndex === 0,
    drive: (dying) => dying.service.start(startRequest(false)),
    end: "promoted",
  },
  {
    name: "a scheduled step: after the next weight is saved by a worker",
    after: (saved) => saved.stepIndex === 1 && saved.appliedWeight === 50,
    drive: async (dying) => {
      await dying.service.start(startRequest(false));
      return "worker";
    },
    end: "promoted",
  },
  {
    name: "pause: after the pause is saved",
    after: (saved) => saved.phase === "paused",
    drive: async (dying, id) => dying.service.act(await id(), { type: "pause", by: "cli:bob" }),
    end: "paused",
  },
  {
    name: "resume: after the resume is saved",
    after: (saved) =>
      saved.phase === "progressing" && saved.resumeTo === undefined && saved.approvals.length === 0,
    drive: async (dying, id) => dying.service.act(await id(), { type: "resume", by: "cli:bob" }),
    end: "promoted",
  },
  {
    name: "rollback: after rolling-back is saved, before the restore",
    after: (saved) => saved.phase === "rolling-back",
    drive: async (dying, id) => dying.service.act(await id(), byRollback("bad canary")),
    end: "rolled-back",
  },
  {
    name: "automatic rollback: after a critical verdict's rollback is saved by a worker",
    after: (saved) => saved.phase === "rolling-back",
    drive: async (dying) => {
      await dying.service.start(startRequest(true));
      return "worker";
    },
    analysis: true,
    end: "rolled-back",
  },
  {
    name: "restore retry: after a failed restore's retry is saved",
    after: (saved) => saved.restoreFailure !== undefined,
    drive: async (dying, id) => dying.service.act(await id(), byRollback("bad canary")),
    failRouteWrites: true,
    end: "rolled-back",
  },
];

describe("a crash right after a save never strands a rollout (issue 8.1)", () => {
  let h: EngineHarness;

  beforeEach(async () => {
    h = await engineHarness("crash");
  });
  afterEach(async () => {
    await h.cleanup();
  });

  const sweepingEvery = (sweepMs: number) => ({ CANARYBOT_SWEEP_MS: String(sweepMs) });
  const open = (decorate?: (deps: ServiceDeps) => ServiceDeps, sweepMs = 60_000): Runtime =>
    h.runtime({ env: sweepingEvery(sweepMs), ...(decorate ? { decorate } : {}) });
  const worker = (runtime: Runtime, sweepMs: number) => h.worker(runtime, sweepingEvery(sweepMs));
  const baseline = () => structuredClone(h.kube.get("VirtualService", "default", "reviews")?.spec);

  it.each(CASES)("$name", async (crash) => {
    const before = baseline();
    const healthy = open(undefined, 200);
    // Rollouts that must already exist when the crash comes (pause, resume, rollbacks) start in a healthy process.
    let startedId: string | undefined;
    const existing = async (): Promise<string> => {
      if (startedId) return startedId;
      const started = await healthy.service.start(startRequest(false));
      if (crash.name.startsWith("resume")) {
        await healthy.service.act(started.id, { type: "pause", by: "cli:bob" });
      }
      startedId = started.id;
      return started.id;
    };

    let crashed: Rollout | undefined;
    let dyingWorker: (() => Promise<void>) | undefined;
    const dying = open((deps) => ({
      ...deps,
      ...(crash.analysis ? { analyzer: FAILING } : {}),
      store: withSave(deps.store, async (rollout, version, audit) => {
        const saved = await deps.store.save(rollout, version, audit);
        if (!crashed && crash.after(saved)) {
          crashed = saved;
          // The process is gone: its worker takes nothing more.
          void dyingWorker?.();
          throw new SimulatedCrash(`died after saving ${saved.id} v${saved.version}`);
        }
        return saved;
      }),
    }));
    // Prepare before the dying process exists as far as the others are concerned.
    const needsExisting = !["start", "a scheduled step", "automatic rollback"].some((prefix) =>
      crash.name.startsWith(prefix),
    );
    if (needsExisting) await existing();

    const faultId = crash.failRouteWrites
      ? h.kube.faults.add({ resource: "virtualservices", method: "PATCH", errors: 1_000_000 })
      : undefined;
    const outcome = await crash.drive(dying, existing).catch((error: unknown) => error);
    if (outcome === "worker") {
      dyingWorker = await worker(dying, 60_000);
      await waitFor("the crash", () => crashed, 20_000);
    } else {
      expect(outcome).toBeInstanceOf(SimulatedCrash);
    }
    await dyingWorker?.();
    if (faultId !== undefined) h.kube.faults.remove(faultId);
    const stranded = crashed as Rollout;

    // Nothing is queued for the tick the saved state waits for: without the sweeper it would never come.
    if (stranded.nextTickAt !== undefined) {
      const queue = new Queue(healthy.scheduler.queueName, {
        connection: { url: REDIS_URL },
        prefix: h.env.CANARYBOT_PREFIX,
      });
      h.onCleanup(() => queue.close());
      const job = await queue.getJob(tickJobId(stranded.id, stranded.tick));
      expect(job).toBeUndefined();
    }

    // The restart: a healthy worker, whose sweeper finds the overdue tick.
    await worker(healthy, 200);
    const ended = await waitFor(
      `${stranded.id} to end ${crash.end}`,
      async () => {
        const rollout = await healthy.store.get(stranded.id);
        return rollout?.phase === crash.end ? rollout : undefined;
      },
      30_000,
    );

    const http = h.kube.get("VirtualService", "default", "reviews")?.spec;
    if (crash.end === "rolled-back") {
      expect(http).toEqual(before);
      expect(ended.appliedWeight).toBe(0);
    } else if (crash.end === "promoted") {
      expect(canaryShare(http)).toBe(100);
      expect(ended.appliedWeight).toBe(100);
    } else {
      // A pause holds the weight the route carries; resuming it from a healthy process still finishes it.
      expect(canaryShare(http)).toBe(ended.appliedWeight);
      await healthy.service.act(ended.id, { type: "resume", by: "cli:bob" });
      await waitFor(`${ended.id} promoted`, async () =>
        (await healthy.store.get(ended.id))?.phase === "promoted" ? true : undefined,
      );
    }
    const actions = (await healthy.store.audit(stranded.id)).map((entry) => entry.action);
    expect(actions[0]).toBe("start");
  });

  it("given a rollback whose restore keeps failing, when a person rolls back again, then the restore is retried at once", async () => {
    const before = baseline();
    const runtime = open();
    const started = await runtime.service.start(startRequest(false));
    const faultId = h.kube.faults.add({ resource: "virtualservices", method: "PATCH", errors: 1_000_000 });
    const failing = await runtime.service.act(started.id, byRollback("bad canary"));
    expect(failing).toMatchObject({ phase: "rolling-back", restoreFailure: { attempts: 1 } });

    h.kube.faults.remove(faultId);
    const retried = await runtime.service.act(started.id, byRollback("try again"));
    expect(retried.phase).toBe("rolled-back");
    expect(h.kube.get("VirtualService", "default", "reviews")?.spec).toEqual(before);
    const actions = (await runtime.store.audit(started.id)).map((entry) => entry.action);
    expect(actions).toContain("rollback-retry");
  });

  it("given a rollback whose restore keeps failing, when the VirtualService is deleted, then it ends rolled back and frees the target", async () => {
    const runtime = open();
    const started = await runtime.service.start(startRequest(false));
    const faultId = h.kube.faults.add({ resource: "virtualservices", method: "PATCH", errors: 1_000_000 });
    await runtime.service.act(started.id, byRollback("bad canary"));
    h.kube.faults.remove(faultId);
    h.kube.delete("VirtualService", "default", "reviews");

    const ended = await runtime.service.act(started.id, byRollback("try again"));
    expect(ended.phase).toBe("rolled-back");
    expect(ended.outcome?.reason).toContain("nothing left to restore");
    expect(await runtime.store.activeFor(targetKey(started.target, started.cluster))).toBeUndefined();
  });
});

/** The real store with its `save` replaced; every other call goes to the store itself. */
function withSave(store: RolloutStore, save: RolloutStore["save"]): RolloutStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === "save") return save;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The canary's share of the managed route to `reviews`: 100 for a route to v2 alone. */
function canaryShare(spec: unknown): number {
  const http = (spec as { http?: { route?: { destination?: { subset?: string }; weight?: number }[] }[] })
    .http;
  const route = (http ?? []).find((candidate) =>
    (candidate.route ?? []).some((destination) => destination.destination?.subset === "v2"),
  );
  if (!route) return 0;
  const destinations = route.route ?? [];
  const canary = destinations.find((destination) => destination.destination?.subset === "v2");
  return canary?.weight ?? (destinations.length === 1 ? 100 : 0);
}
