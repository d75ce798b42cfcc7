import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisRolloutStore } from "../../src/store/redis-rollout-store.ts";
import { UNREACHABLE_KUBECONFIG, closedPort, runCanarybot } from "../support/cli-process.ts";
import { REDIS_URL, redisTestContext } from "../support/redis.ts";
import type { RedisTestContext } from "../support/redis.ts";
import { FIXTURE_NOW, makeRollout } from "../support/rollouts.ts";

/** Issue 7 item 3: every command finishes or exits with its code within seconds of knowing it cannot. */
const WITHIN_MS = 10_000;

describe("without any Kubernetes configuration", () => {
  let ctx: RedisTestContext;
  let home: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    ctx = await redisTestContext("cli-nokube");
    home = await mkdtemp(join(tmpdir(), "canarybot-home-"));
    // No KUBECONFIG, a HOME without .kube/config, not in a cluster: no Kubernetes configuration anywhere.
    env = { HOME: home, REDIS_URL, CANARYBOT_PREFIX: ctx.prefix.slice(0, -1) };
    const store = new RedisRolloutStore(ctx.redis, { prefix: ctx.prefix });
    const snapshot = {
      at: FIXTURE_NOW,
      windowSeconds: 60,
      canaryWeight: 5,
      canary: { requests: 120, successRate: 0.995, p99Ms: 80 },
      stable: { requests: 2400, successRate: 0.999, p99Ms: 70 },
    };
    await store.create(makeRollout({ snapshots: [snapshot] }));
    await store.appendAudit({
      at: FIXTURE_NOW,
      rolloutId: "reviews-1",
      actor: "cli:alice",
      action: "start",
      fromPhase: "preflight",
      toPhase: "preflight",
      canaryWeight: 0,
    });
  });
  afterAll(async () => {
    await ctx?.cleanup();
    await rm(home, { recursive: true, force: true });
  });

  it.each([
    [["status"], /reviews-1/],
    [["list", "--json"], /"id": "reviews-1"/],
    [["history", "reviews-1"], /cli:alice\s+start/],
    [["snapshot", "reviews-1"], /success rate\s+99\.5%/],
  ])("%j reads Redis only and answers", async (args, shown) => {
    const result = await runCanarybot(args, env);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(shown);
    expect(result.code).toBe(0);
    expect(result.ms).toBeLessThan(WITHIN_MS);
  });

  it.each([[["start", "reviews", "--canary", "v2"]], [["worker"]], [["rollback", "reviews-1"]]])(
    "%j says there is no kubeconfig and exits 1",
    async (args) => {
      const result = await runCanarybot(args, env);
      expect(result.stderr).toMatch(
        /^no Kubernetes configuration found: pass --kubeconfig, set KUBECONFIG.*\n$/,
      );
      expect(result.code).toBe(1);
      expect(result.ms).toBeLessThan(WITHIN_MS);
    },
  );
});

describe("with Redis refusing connections", () => {
  let home: string;
  let env: Record<string, string>;
  let url: string;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "canarybot-home-"));
    const kubeconfig = join(home, "kubeconfig");
    await writeFile(kubeconfig, UNREACHABLE_KUBECONFIG);
    url = `redis://127.0.0.1:${await closedPort()}`;
    env = { HOME: home, REDIS_URL: url, KUBECONFIG: kubeconfig };
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it.each([
    [["status"]],
    [["list"]],
    [["history", "reviews-1"]],
    [["snapshot", "reviews"]],
    [["start", "reviews", "--canary", "v2", "--stable", "v1"]],
    [["rollback", "reviews-1"]],
    [["wait", "reviews-1"]],
  ])("%j prints one line saying so and exits 2", async (args) => {
    const result = await runCanarybot(args, env);
    expect(result.stderr).toBe(`Redis at ${url} unreachable: connection refused\n`);
    expect(result.stdout).toBe("");
    expect(result.code).toBe(2);
    expect(result.ms).toBeLessThan(WITHIN_MS);
  });
});
