import type { ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, Redis } from "ioredis";
import { redisReadiness } from "../../src/ops/readiness.ts";
import { createRedisClient } from "../../src/store/redis-client.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import { runGatedRollout } from "../support/gated-rollout.ts";
import type { EngineHarness } from "../support/engine.ts";
import { freePort } from "../support/processes.ts";
import { startRedisCluster, startRedisSentinel } from "../support/redis-topologies.ts";
import { runBin } from "../support/serve-process.ts";
import type { ClusterSetup, SentinelSetup } from "../support/redis-topologies.ts";

/**
 * A short rollout run by the real service, CLI and tick worker (store, Lua scripts, lock, tick queue, sweeper and
 * scheduled-start runner) against Redis reached through Sentinel or as a Cluster, servers started by the test.
 */
let h: EngineHarness | undefined;
let sentinel: SentinelSetup | undefined;
let cluster: ClusterSetup | undefined;

afterEach(async () => {
  await h?.cleanup();
  await sentinel?.cleanup();
  await cluster?.cleanup();
  h = undefined;
  sentinel = undefined;
  cluster = undefined;
});

describe("Redis through Sentinel (redis+sentinel://)", () => {
  it("runs a rollout to its promotion, and goes on across a failover to the replica", async () => {
    sentinel = await startRedisSentinel();
    h = await engineHarness("sentinel");
    h.env.REDIS_URL = sentinel.url;
    const setup = sentinel;
    const started = Date.now();
    let failedOverAt = 0;
    const id = await runGatedRollout(h, async () => {
      const before = Date.now();
      await setup.failover();
      failedOverAt = Date.now();
      console.log(
        `SENTINEL FAILOVER until the Sentinel named the replica primary: ${failedOverAt - before} ms`,
      );
    });
    console.log(
      `approval and promotion on the new primary: ${Date.now() - failedOverAt} ms (whole test ${Date.now() - started} ms)`,
    );
    // The end of the rollout was written to the primary the Sentinel named after the failover: the former replica.
    const promoted = new Redis(setup.replicaPort, "127.0.0.1", {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
    });
    try {
      await promoted.connect();
      expect((await promoted.role())[0]).toBe("master");
      const saved = await promoted.hget(`${h.env.CANARYBOT_PREFIX}:rollout:${id}`, "json");
      expect(JSON.parse(saved ?? "{}")).toMatchObject({ id, phase: "promoted" });
    } finally {
      promoted.disconnect();
    }
    const ready = redisReadiness(setup.url, `${h.env.CANARYBOT_PREFIX}:marker`);
    try {
      await waitFor("readiness through the sentinel", () =>
        ready.check().then(
          () => true,
          () => undefined,
        ),
      );
    } finally {
      await ready.close();
    }
  }, 120_000);
});

describe("Redis Cluster (redis+cluster://)", () => {
  it("runs a rollout to its promotion with every key in the slot of the prefix's hash tag", async () => {
    cluster = await startRedisCluster(3);
    h = await engineHarness("cluster");
    h.env.REDIS_URL = cluster.url;
    h.env.CANARYBOT_PREFIX = `{${h.env.CANARYBOT_PREFIX}}`;
    await runGatedRollout(h);

    const client = createRedisClient(cluster.url, { role: "one-shot", onError: () => undefined });
    try {
      if (!(client instanceof Cluster)) throw new Error("a redis+cluster:// URL must give a Cluster client");
      const slot = Number(await client.call("CLUSTER", "KEYSLOT", h.env.CANARYBOT_PREFIX));
      const masters = client.nodes("master");
      const perNode = await Promise.all(masters.map((node) => node.dbsize()));
      // Only the node that owns a slot counts its keys.
      const counted = await Promise.all(
        masters.map(async (node) => Number(await node.call("CLUSTER", "COUNTKEYSINSLOT", String(slot)))),
      );
      const inSlot = counted.reduce((sum, count) => sum + count, 0);
      // Rollout, audit, claims, locks and the tick queue: all in one slot, so on one of the three nodes.
      expect(inSlot).toBeGreaterThan(5);
      expect(perNode.reduce((sum, count) => sum + count, 0)).toBe(inSlot);
      expect(perNode.filter((count) => count > 0)).toHaveLength(1);
    } finally {
      client.disconnect();
    }
  }, 120_000);

  it("refuses a prefix without a hash tag before connecting, in one line", async () => {
    cluster = await startRedisCluster(3);
    h = await engineHarness("cluster-untagged");
    h.env.REDIS_URL = cluster.url;
    const result = await h.cli("list");
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringContaining("CANARYBOT_PREFIX: with Redis Cluster it must be a hash tag in braces"),
    ]);
  }, 60_000);
});

describe("a one-shot command when no Sentinel or Cluster node answers", () => {
  it.each([
    ["redis+sentinel://127.0.0.1:PORT/mymaster", "no Sentinel answers"],
    ["redis+cluster://127.0.0.1:PORT", "no Cluster node answers"],
  ])(
    "%s: exits 2 with one line saying so",
    async (form, reason) => {
      const url = form.replace("PORT", String(await freePort()));
      const children: ChildProcess[] = [];
      const env = { PATH: process.env.PATH ?? "", REDIS_URL: url, CANARYBOT_PREFIX: "{unreachable}" };
      const result = await runBin(env, children, "list");
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split("\n")).toEqual([`Redis at ${url} unreachable: ${reason}`]);
    },
    30_000,
  );
});
