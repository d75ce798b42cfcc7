import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startKubeSandbox } from "../../src/sandbox/kube/server.ts";
import type { KubeSandbox } from "../../src/sandbox/kube/server.ts";
import { waitFor } from "../support/engine.ts";
import { healthPort, ownRedisServer, spawnCanarybot } from "./processes.ts";

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
    const redis = await ownRedisServer({ appendOnly: true });
    cleanups.push(() => redis.cleanup());
    await redis.start();
    let kube: KubeSandbox | undefined = await startKubeSandbox({ scenario: "bookinfo" });
    cleanups.push(() => kube?.close() ?? Promise.resolve());
    const dir = await mkdtemp(join(tmpdir(), "canarybot-readyz-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await kube.writeKubeconfig(join(dir, "kubeconfig"));

    const env = {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      REDIS_URL: redis.url,
      KUBECONFIG: join(dir, "kubeconfig"),
      LOG_LEVEL: "info",
    };
    const worker = await spawnCanarybot(["worker", "--metrics-port", "0"], env, "worker ready");
    cleanups.push(() => worker.kill());
    const port = healthPort(worker.output());
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await flipsTo(port, 200, "ready at start");

    await redis.stop();
    const redisAway = await flipsTo(port, 503, "unready without Redis");
    expect((await readyz(port)).body.failing).toEqual(["redis"]);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200); // alive all the same
    await redis.start();
    const redisBack = await flipsTo(port, 200, "ready with Redis back");

    await kube.close();
    kube = undefined;
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
