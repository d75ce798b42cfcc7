import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CanaryError } from "../../src/errors.ts";
import { ErrorCode } from "../../src/errors.ts";
import { targetKey } from "../../src/rollout/target.ts";
import { Phase } from "../../src/rollout/types.ts";
import type { AuditEntry, Rollout } from "../../src/rollout/types.ts";
import { RedisRolloutStore } from "../../src/store/redis-rollout-store.ts";
import { FIXTURE_NOW, makeRollout } from "../support/rollouts.ts";
import { waitFor } from "../support/engine.ts";
import { rejection } from "../support/errors.ts";
import { redisTestContext } from "../support/redis.ts";
import type { RedisTestContext } from "../support/redis.ts";

let ctx: RedisTestContext;
const cleanups: (() => Promise<void>)[] = [];
let store: RedisRolloutStore;

beforeEach(async () => {
  ctx = await redisTestContext("store"); // fails with instructions when Redis is down
  cleanups.push(() => ctx.cleanup());
  store = new RedisRolloutStore(ctx.redis, { prefix: ctx.prefix });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function auditEntry(rolloutId: string, n: number): AuditEntry {
  return {
    at: FIXTURE_NOW + n,
    rolloutId,
    actor: "U123",
    action: `event-${n}`,
    fromPhase: Phase.Progressing,
    toPhase: Phase.Progressing,
    canaryWeight: 5,
  };
}

describe("RedisRolloutStore", () => {
  it("creates and reads back a rollout, claiming its target", async () => {
    const rollout = makeRollout({ baseline: { route: { name: "primary" } } });
    await store.create(rollout);

    expect(await store.get(rollout.id)).toEqual(rollout);
    expect(await store.get("reviews-404")).toBeUndefined();
    expect(await store.activeFor(targetKey(rollout.target, rollout.cluster))).toBe(rollout.id);
    expect(await store.activeFor("~/default/ratings")).toBeUndefined();
  });

  it("saves with a version check: the saved rollout carries version + 1, a stale version is refused", async () => {
    const rollout = makeRollout({ version: 1 });
    await store.create(rollout);

    const saved = await store.save({ ...rollout, stepIndex: 1, appliedWeight: 25 }, 1);
    expect(saved.version).toBe(2);
    expect(await store.get(rollout.id)).toEqual(saved);

    const error = await rejection(store.save({ ...rollout, stepIndex: 2, appliedWeight: 50 }, 1));
    expect(error.code).toBe(ErrorCode.StaleVersion);
    expect(error.message).toContain("reviews-1");
    expect((await store.get(rollout.id))?.appliedWeight).toBe(25);
  });

  it("refuses to save a rollout that was never created", async () => {
    const error = await rejection(store.save(makeRollout({ id: "reviews-9" }), 1));
    expect(error.code).toBe(ErrorCode.NotFound);
  });

  it("refuses a second live rollout on the same target, naming the first", async () => {
    await store.create(
      makeRollout({ id: "reviews-3", phase: Phase.Progressing, stepIndex: 1, appliedWeight: 25 }),
    );

    const error = await rejection(store.create(makeRollout({ id: "reviews-4", plan: { steps: [10, 100] } })));
    expect(error.code).toBe(ErrorCode.AlreadyActive);
    expect(error.retryable).toBe(false);
    expect(error.message).toBe("reviews-3 is already live on default/reviews (progressing, 25%)");
    expect(await store.get("reviews-4")).toBeUndefined();
  });

  it("lets rollouts on different targets (namespace, virtual service, cluster context) run side by side", async () => {
    await store.create(makeRollout({ id: "reviews-1" }));
    await store.create(makeRollout({ id: "reviews-2", target: { namespace: "staging" } }));
    await store.create(makeRollout({ id: "reviews-3", target: { context: "eu-west" } }));
    await store.create(
      makeRollout({ id: "ratings-1", target: { service: "ratings", virtualService: "ratings" } }),
    );

    expect((await store.listActive()).map((r) => r.id).sort()).toEqual([
      "ratings-1",
      "reviews-1",
      "reviews-2",
      "reviews-3",
    ]);
  });

  it("frees the target when a rollout reaches a terminal phase, so a new one can start", async () => {
    const first = makeRollout({ id: "reviews-1" });
    await store.create(first);
    await store.save({ ...first, phase: Phase.RollingBack }, 1);
    expect(await store.activeFor(targetKey(first.target, first.cluster))).toBe("reviews-1");

    await store.save({ ...first, phase: Phase.RolledBack, appliedWeight: 0 }, 2);
    expect(await store.activeFor(targetKey(first.target, first.cluster))).toBeUndefined();
    expect(await store.listActive()).toEqual([]);

    const second = makeRollout({ id: "reviews-2", createdAt: FIXTURE_NOW + 1000 });
    await store.create(second);
    expect(await store.activeFor(targetKey(second.target, second.cluster))).toBe("reviews-2");

    // Saving the finished one again (e.g. a refused event's bookkeeping) leaves the new claim alone.
    await store.save({ ...first, phase: Phase.RolledBack, appliedWeight: 0 }, 3);
    expect(await store.activeFor(targetKey(second.target, second.cluster))).toBe("reviews-2");
  });

  it("writes a new rollout's first audit entries with its claim, and none when the claim is refused", async () => {
    const rollout = makeRollout();
    await store.create(rollout, [auditEntry(rollout.id, 0)]);
    await rejection(store.create({ ...rollout, id: "reviews-2" }, [auditEntry("reviews-2", 0)]));
    expect((await store.audit(rollout.id)).map((entry) => entry.action)).toEqual(["event-0"]);
    expect(await store.audit("reviews-2")).toEqual([]);
  });

  it("appends a change's audit entries in the same step as the save, and none when the save is refused", async () => {
    const rollout = makeRollout({ version: 1 });
    await store.create(rollout);

    await store.save({ ...rollout, stepIndex: 1 }, 1, [auditEntry(rollout.id, 1), auditEntry(rollout.id, 2)]);
    await rejection(store.save({ ...rollout, stepIndex: 2 }, 1, [auditEntry(rollout.id, 3)]));

    expect((await store.audit(rollout.id)).map((entry) => entry.action)).toEqual(["event-1", "event-2"]);
  });

  it("gives finished rollouts and their audit log a retention TTL, and none while live", async () => {
    const rollout = makeRollout();
    await store.create(rollout);
    await store.appendAudit(auditEntry(rollout.id, 1));
    expect(await ctx.redis.pttl(`${ctx.prefix}rollout:${rollout.id}`)).toBe(-1);
    expect(await ctx.redis.pttl(`${ctx.prefix}audit:${rollout.id}`)).toBe(-1);

    await store.save({ ...rollout, phase: Phase.Promoted }, 1);
    const day = 24 * 3600 * 1000;
    // The rollout (history lists it) for 90 days, its audit log for 30.
    for (const [key, days] of [
      [`rollout:${rollout.id}`, 90],
      [`audit:${rollout.id}`, 30],
    ] as const) {
      const ttl = await ctx.redis.pttl(ctx.prefix + key);
      expect(ttl).toBeGreaterThan(days * day - 60_000);
      expect(ttl).toBeLessThanOrEqual(days * day);
    }
  });

  it("trims audit entries older than the audit retention as new ones are appended", async () => {
    const rollout = makeRollout();
    await store.create(rollout);
    // Entries written 40 and 20 days ago (stream ids are their times).
    const day = 24 * 3600 * 1000;
    const key = `${ctx.prefix}audit:${rollout.id}`;
    await ctx.redis.xadd(
      key,
      `${Date.now() - 40 * day}-0`,
      "entry",
      JSON.stringify(auditEntry(rollout.id, 0)),
    );
    await ctx.redis.xadd(
      key,
      `${Date.now() - 20 * day}-0`,
      "entry",
      JSON.stringify(auditEntry(rollout.id, 1)),
    );
    await store.save(rollout, 1, [auditEntry(rollout.id, 2)]);
    expect((await store.audit(rollout.id)).map((entry) => entry.action)).toEqual(["event-1", "event-2"]);
    await store.appendAudit(auditEntry(rollout.id, 3));
    expect((await store.audit(rollout.id)).map((entry) => entry.action)).toEqual([
      "event-1",
      "event-2",
      "event-3",
    ]);
    const keepAll = new RedisRolloutStore(ctx.redis, { prefix: ctx.prefix, auditRetentionMs: null });
    await ctx.redis.del(key);
    await ctx.redis.xadd(
      key,
      `${Date.now() - 400 * day}-0`,
      "entry",
      JSON.stringify(auditEntry(rollout.id, 0)),
    );
    await keepAll.appendAudit(auditEntry(rollout.id, 4));
    expect((await store.audit(rollout.id)).map((entry) => entry.action)).toEqual(["event-0", "event-4"]);
  });

  it("forgets expired rollouts in history and heals a claim left by a rollout that is gone", async () => {
    const short = new RedisRolloutStore(ctx.redis, { prefix: ctx.prefix, finishedRetentionMs: 50 });
    const old = makeRollout({ id: "reviews-1" });
    await short.create(old);
    await short.save({ ...old, phase: Phase.Failed }, 1);
    const orphan = makeRollout({ id: "reviews-2", createdAt: FIXTURE_NOW + 1 });
    await short.create(orphan);
    await ctx.redis.del(`${ctx.prefix}rollout:reviews-2`); // someone deleted it by hand; its claim stays
    // The finished rollout's 50 ms retention runs out.
    await waitFor("reviews-1 to expire", async () =>
      (await ctx.redis.exists(`${ctx.prefix}rollout:reviews-1`)) === 0 ? true : undefined,
    );

    expect(await short.history({})).toEqual([]);
    expect(await ctx.redis.zcard(`${ctx.prefix}history`)).toBe(0);

    await short.create(makeRollout({ id: "reviews-3", createdAt: FIXTURE_NOW + 2 }));
    expect(await short.activeFor(targetKey(orphan.target, orphan.cluster))).toBe("reviews-3");
    expect((await short.listActive()).map((r) => r.id)).toEqual(["reviews-3"]);
  });

  it("lets exactly one of 20 concurrent saves at the same version win, across two clients", async () => {
    const other = await ctx.connect();
    const storeB = new RedisRolloutStore(other, { prefix: ctx.prefix });
    const rollout = makeRollout({ version: 1 });
    await store.create(rollout);

    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? store : storeB).save({ ...rollout, tick: i + 1, reason: `writer ${i}` }, 1),
      ),
    );

    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    for (const r of lost) expect((r.reason as CanaryError).code).toBe(ErrorCode.StaleVersion);
    const stored = await store.get(rollout.id);
    expect(stored).toEqual((won[0] as PromiseFulfilledResult<Rollout>).value);
    expect(stored?.version).toBe(2);
  });

  it("lets exactly one of two concurrent creates on one target win", async () => {
    const other = await ctx.connect();
    const storeB = new RedisRolloutStore(other, { prefix: ctx.prefix });
    const results = await Promise.allSettled([
      store.create(makeRollout({ id: "reviews-1" })),
      storeB.create(makeRollout({ id: "reviews-2" })),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const [rejected] = results.filter((r) => r.status === "rejected");
    expect((rejected?.reason as CanaryError).code).toBe(ErrorCode.AlreadyActive);
  });

  it("keeps the audit log in append order", async () => {
    const entries = Array.from({ length: 25 }, (_, i) => auditEntry("reviews-1", i));
    for (const entry of entries) await store.appendAudit(entry);
    await store.appendAudit({ ...auditEntry("reviews-2", 0), detail: "other rollout" });

    expect(await store.audit("reviews-1")).toEqual(entries);
    expect(await store.audit("reviews-2")).toHaveLength(1);
    expect(await store.audit("reviews-3")).toEqual([]);
  });

  it("lists history newest first, filtered by service and namespace, bounded by limit", async () => {
    const specs = [
      { id: "reviews-1", target: { service: "reviews" }, phase: Phase.Promoted },
      { id: "ratings-1", target: { service: "ratings", virtualService: "ratings" } },
      { id: "reviews-2", target: { service: "reviews", namespace: "staging" } },
      { id: "reviews-3", target: { service: "reviews" } },
      { id: "details-1", target: { service: "details", virtualService: "details", namespace: "staging" } },
    ] as const;
    for (const [i, spec] of specs.entries()) {
      const rollout = makeRollout({ id: spec.id, target: spec.target, createdAt: FIXTURE_NOW + i * 1000 });
      await store.create(rollout);
      if ("phase" in spec) await store.save({ ...rollout, phase: spec.phase }, rollout.version);
    }
    const ids = (rollouts: Rollout[]) => rollouts.map((r) => r.id);

    expect(ids(await store.history({}))).toEqual([
      "details-1",
      "reviews-3",
      "reviews-2",
      "ratings-1",
      "reviews-1",
    ]);
    expect(ids(await store.history({ limit: 2 }))).toEqual(["details-1", "reviews-3"]);
    expect(ids(await store.history({ service: "reviews" }))).toEqual(["reviews-3", "reviews-2", "reviews-1"]);
    expect(ids(await store.history({ service: "reviews", namespace: "default" }))).toEqual([
      "reviews-3",
      "reviews-1",
    ]);
    expect(ids(await store.history({ service: "reviews", namespace: "default", limit: 1 }))).toEqual([
      "reviews-3",
    ]);
    expect(ids(await store.history({ namespace: "staging" }))).toEqual(["details-1", "reviews-2"]);
    expect(await store.history({ service: "nobody" })).toEqual([]);
    expect(ids(await store.listActive())).toEqual(["ratings-1", "reviews-2", "reviews-3", "details-1"]);
    expect((await store.history({ service: "reviews", limit: 3 }))[2]?.phase).toBe(Phase.Promoted);
  });

  it("allocates short ids per service", async () => {
    expect(await store.nextId("reviews")).toBe("reviews-1");
    expect(await store.nextId("reviews")).toBe("reviews-2");
    expect(await store.nextId("ratings")).toBe("ratings-1");
    const many = await Promise.all(Array.from({ length: 20 }, () => store.nextId("reviews")));
    expect(new Set(many).size).toBe(20);
  });

  it("translates a Redis error reply at the boundary", async () => {
    await ctx.redis.set(`${ctx.prefix}rollout:reviews-1`, "not a hash");
    const error = await rejection(store.get("reviews-1"));
    expect(error.code).toBe(ErrorCode.Internal);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/read rollout reviews-1 failed: WRONGTYPE/);
  });

  it("reports an unreachable Redis as a retryable error", async () => {
    const gone = await ctx.connect();
    gone.disconnect();
    const error = await rejection(new RedisRolloutStore(gone, { prefix: ctx.prefix }).get("reviews-1"));
    expect(error.code).toBe(ErrorCode.Internal);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^Redis at redis:\/\/[\w.]+:\d+ unreachable: /);
  });
});
