import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../support/engine.ts";
import { meshService } from "../support/mesh-services.ts";
import { recordWeights } from "../support/route-weights.ts";
import { runBin } from "../support/serve-process.ts";
import { workerOnOwnRedis } from "../support/own-redis.ts";

const SERVICES = ["alpha", "bravo", "charlie"];

type Readyz = { status: number; checks: Record<string, string> };

/** Issue 9: Redis restarted mid-run, with its append-only file (everything kept) and without (everything lost). */
describe("Redis restarted in the middle of rollouts", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const setUp = async (appendOnly: boolean, interval = "3s") => {
    const { redis, kube, worker, env, port } = await workerOnOwnRedis(
      {
        appendOnly,
        scenario: "empty",
        seed: SERVICES.flatMap(meshService),
        env: { CANARYBOT_MIN_INTERVAL_MS: "100", CANARYBOT_SWEEP_MS: "300" },
      },
      cleanups,
    );
    const readyz = async (): Promise<Readyz> => {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: response.status, ...((await response.json()) as { checks: Record<string, string> }) };
    };
    await waitFor("ready", async () => ((await readyz()).status === 200 ? true : undefined));
    const cli = (...args: string[]) => runBin({ ...env, LOG_LEVEL: "warn" }, [], ...args);
    // Recorded before the starts: on a busy machine a first rollout can step on while the others start.
    const recorders = SERVICES.map((service) => recordWeights(kube, "default", service, "v1", "v2"));
    cleanups.push(() => {
      for (const recorder of recorders) recorder.stop();
      return Promise.resolve();
    });
    for (const service of SERVICES) {
      const started = await cli(
        "start",
        service,
        "--canary",
        "v2",
        "--steps",
        "10,50,100",
        "--interval",
        interval,
      );
      expect(started.code).toBe(0);
    }
    return { redis, kube, worker, readyz, cli, recorders };
  };

  it(
    "with its append-only file, the rollouts go on from where they were, each on its exact plan",
    { timeout: 120_000 },
    async () => {
      const { redis, worker, cli, recorders } = await setUp(true);
      // The restart must fall in the middle of a rollout for the test to say anything.
      expect(recorders.some((recorder) => !recorder.sequence.includes("v2=100"))).toBe(true);
      await redis.stop();
      await redis.start();
      for (const service of SERVICES) {
        await waitFor(
          `${service} promoted`,
          async () =>
            (JSON.parse((await cli("status", service, "--json")).stdout) as { phase: string }).phase ===
            "promoted"
              ? true
              : undefined,
          90_000,
        );
      }
      for (const recorder of recorders) {
        expect(recorder.stop()).toEqual(["v1=100", "v1=90,v2=10", "v1=50,v2=50", "v2=100"]);
      }
      expect(worker.child.exitCode).toBeNull();
    },
  );

  it(
    "without it, everything is lost: the worker stays up, /readyz says why, and no route is written from a guess",
    { timeout: 120_000 },
    async () => {
      // Steps a minute apart: no tick is under way when Redis goes. (One that had read its rollout just before
      // would take the step it had decided on, a step of the plan; this test is about what happens after.)
      const { redis, kube, worker, readyz } = await setUp(false, "60s");
      const before = SERVICES.map((service) =>
        JSON.stringify(kube.get("VirtualService", "default", service)?.spec),
      );
      const writes = () =>
        kube.requests.all().filter((request) => request.method === "PATCH" || request.method === "PUT")
          .length;
      await redis.stop();
      await redis.start();
      const unready = await waitFor("/readyz to say Redis lost the data", async () => {
        const answer = await readyz();
        return answer.status === 503 && answer.checks.redis?.includes("lost canarybot's data")
          ? answer
          : undefined;
      });
      expect(unready.checks.redis).toContain("no route is written from a guess");
      // Seconds later (fifteen sweeps): nobody wrote a route, the worker lives, and it still says why.
      const writesAfterLoss = writes();
      const from = Date.now();
      await waitFor("three step intervals", () => (Date.now() - from > 4_500 ? true : undefined));
      expect(writes()).toBe(writesAfterLoss);
      expect(
        SERVICES.map((service) => JSON.stringify(kube.get("VirtualService", "default", service)?.spec)),
      ).toEqual(before);
      expect(worker.child.exitCode).toBeNull();
      expect((await readyz()).status).toBe(503);
    },
  );
});
