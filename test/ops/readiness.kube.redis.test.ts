import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../support/engine.ts";
import { workerOnOwnRedis } from "../support/own-redis.ts";

/** How soon /readyz must follow Redis or the Kubernetes API away and back. */
const FLIP_MS = 5_000;

async function readyz(port: number): Promise<{ status: number; body: { failing: string[] } }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as { failing: string[] } };
}

/** Polls /readyz until it answers `status`; returns how long that took. */
async function flipsTo(port: number, status: number, what: string): Promise<number> {
  const from = Date.now();
  await waitFor(what, async () => ((await readyz(port)).status === status ? true : undefined), 30_000);
  return Date.now() - from;
}

describe("/healthz and /readyz of `canarybot worker --metrics-port`", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("turns unready within 5 s of Redis or the Kubernetes API going away, and ready again when Redis is back", async () => {
    // Persistent, so Redis comes back with canarybot's data: an empty one keeps /readyz red on purpose.
    const { redis, closeKube, port } = await workerOnOwnRedis(
      { appendOnly: true, scenario: "bookinfo" },
      cleanups,
    );
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await flipsTo(port, 200, "ready at start");

    await redis.stop();
    const redisAway = await flipsTo(port, 503, "unready without Redis");
    expect((await readyz(port)).body.failing).toEqual(["redis"]);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200); // alive all the same
    await redis.start();
    const redisBack = await flipsTo(port, 200, "ready with Redis back");

    await closeKube();
    const kubeAway = await flipsTo(port, 503, "unready without the Kubernetes API");
    expect((await readyz(port)).body.failing).toEqual(["kubernetes"]);

    console.log(
      `readyz flips: redis away ${redisAway} ms, back ${redisBack} ms; kubernetes away ${kubeAway} ms`,
    );
    expect(redisAway).toBeLessThan(FLIP_MS);
    expect(redisBack).toBeLessThan(FLIP_MS);
    expect(kubeAway).toBeLessThan(FLIP_MS);
  });
});
