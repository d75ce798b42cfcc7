import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/program.ts";
import type { AuditJson, RolloutStatusJson } from "../../src/commands/render-text.ts";
import { RedisRolloutStore } from "../../src/store/redis-rollout-store.ts";
import { REDIS_URL, redisTestContext } from "../support/redis.ts";
import type { RedisTestContext } from "../support/redis.ts";
import { FIXTURE_NOW, makeRollout } from "../support/rollouts.ts";

/** Issue 7 item 6: `history` for a person and for a script, of a rollout or of a service. */
describe("canarybot history", () => {
  let ctx: RedisTestContext;
  const cli = async (...args: string[]) => {
    let stdout = "";
    let stderr = "";
    const code = await runCli(args, {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      env: { REDIS_URL, CANARYBOT_PREFIX: ctx.prefix.slice(0, -1), HOME: "/nonexistent" },
      stopSignal: () => new Promise(() => undefined),
    });
    return { code, stdout, stderr };
  };

  beforeAll(async () => {
    ctx = await redisTestContext("cli-history");
    const store = new RedisRolloutStore(ctx.redis, { prefix: ctx.prefix });
    const finished = makeRollout({ id: "reviews-1", phase: "rolled-back", appliedWeight: 0 });
    await store.create({ ...finished, phase: "progressing" });
    await store.save(finished, finished.version);
    await store.create(makeRollout({ id: "reviews-2", createdAt: FIXTURE_NOW + 1 }));
    const base = {
      rolloutId: "reviews-1",
      fromPhase: "progressing",
      toPhase: "progressing",
      canaryWeight: 5,
    } as const;
    await store.appendAudit({
      ...base,
      at: FIXTURE_NOW,
      actor: "cli:someone-with-a-long-name@example.com",
      action: "start",
    });
    await store.appendAudit({
      ...base,
      at: FIXTURE_NOW + 60_000,
      actor: "canarybot",
      action: "rollback",
      toPhase: "rolling-back",
      canaryWeight: 0,
      detail: "critical breach: success-rate 88.2% vs ≥ 99%",
      checks: [
        { name: "success-rate", status: "fail", value: 0.882, unit: "share", threshold: "≥ 99%" },
        { name: "p99-latency", status: "pass", value: 130, unit: "ms", threshold: "≤ 500ms" },
        { name: "p99-vs-stable", status: "inconclusive", unit: "ms", threshold: "≤ 1.25x stable" },
      ],
    });
  });
  afterAll(async () => {
    await ctx?.cleanup();
  });

  it("--json carries the reason and each check's value and threshold in one unit", async () => {
    const result = await cli("history", "reviews-1", "--json");
    expect(result.code).toBe(0);
    const entries = JSON.parse(result.stdout) as AuditJson[];
    expect(entries[1]).toMatchObject({
      action: "rollback",
      reason: "critical breach: success-rate 88.2% vs ≥ 99%",
      checks: [
        { name: "success-rate", value: 88.2, unit: "%", threshold: "≥ 99%", passed: false, status: "fail" },
        { name: "p99-latency", value: 130, unit: "ms", threshold: "≤ 500ms", passed: true, status: "pass" },
        { name: "p99-vs-stable", value: null, unit: "ms", threshold: "≤ 1.25x stable", passed: false },
      ],
    });
    expect(entries[0]).not.toHaveProperty("reason");
  });

  it("as text, has a header and keeps its columns aligned for a long actor", async () => {
    const lines = (await cli("history", "reviews-1")).stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^AT\s+ACTOR\s+ACTION/);
    expect(lines.map((line) => line.search(/ACTION|start|rollback/))).toEqual([
      lines[0]?.indexOf("ACTION"),
      lines[0]?.indexOf("ACTION"),
      lines[0]?.indexOf("ACTION"),
    ]);
  });

  it("of a service lists its rollouts, newest first", async () => {
    const text = await cli("history", "reviews");
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+VIRTUALSERVICE\s+PHASE/);
    expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual(["reviews-2", "reviews-1"]);
    const json = JSON.parse((await cli("history", "reviews", "--json")).stdout) as RolloutStatusJson[];
    expect(json.map((rollout) => [rollout.id, rollout.phase])).toEqual([
      ["reviews-2", "progressing"],
      ["reviews-1", "rolled-back"],
    ]);
  });

  it("of something unknown says so and exits 1", async () => {
    expect(await cli("history", "nothing")).toEqual({
      code: 1,
      stdout: "",
      stderr: "no rollout or service named nothing\n",
    });
  });

  it("status and list have column headers", async () => {
    for (const command of ["status", "list"]) {
      const lines = (await cli(command)).stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^ID\s+VIRTUALSERVICE\s+PHASE\s+WEIGHT · STEP\s+SUBSETS\s+STARTED BY\s+WHY$/);
      expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual(["reviews-2"]);
    }
  });
});
