import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readManifests } from "../../sandbox/kube/fixtures.ts";
import { istioFixturePath } from "../support/fixtures.ts";
import type { AuditJson } from "../../src/commands/render-text.ts";
import { engineHarness } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { recordWeights, routeWeights } from "../support/route-weights.ts";

/**
 * Issue 2's acceptance: the CLI and workers against a real Redis and the Kubernetes sandbox over HTTPS, driven
 * by the real @kubernetes/client-node.
 */
describe("rollout engine", () => {
  let h: EngineHarness;

  beforeEach(async () => {
    h = await engineHarness("engine");
  });
  afterEach(async () => {
    await h.cleanup();
  });

  /** `canarybot start` with the words of one command line. */
  const startRollout = (line: string): Promise<string> => h.start(...line.split(" "));
  const reviews = () => routeWeights(h.kube.get("VirtualService", "default", "reviews"), "v1");

  it("given bookinfo, when reviews starts with steps 10,50,100 every 1s, then the route moves 90/10 → 50/50 → all to v2 and ends promoted", async () => {
    await h.worker();
    const recorder = recordWeights(h.kube, "default", "reviews", "v1", "v2");
    const id = await startRollout("reviews --canary v2 --steps 10,50,100 --interval 1s --as alice");

    await h.untilPhase(id, "promoted");
    expect(recorder.stop()).toEqual(["v1=100", "v1=90,v2=10", "v1=50,v2=50", "v2=100"]);

    const history = JSON.parse((await h.cli("history", id, "--json")).stdout) as AuditJson[];
    expect(history.filter((entry) => entry.action === "step").map((entry) => entry.canaryWeight)).toEqual([
      10, 50, 100,
    ]);
    expect(history[0]).toMatchObject({ action: "start", actor: "cli:alice" });
    expect(history.at(-1)).toMatchObject({ action: "promoted", toPhase: "promoted", canaryWeight: 100 });
    expect((await h.status(id)).canaryWeight).toBe(100);
  });

  it("given a rollout at 10%, when paused, then the weight holds while its due tick passes, and resume continues from there", async () => {
    await h.worker();
    const id = await startRollout("reviews --canary v2 --steps 10,50,100 --interval 1s --as alice");
    expect(reviews()).toBe("v1=90,v2=10");
    const paused = await h.cli("pause", id, "--as", "bob", "--reason", "checking dashboards");
    expect(paused.code).toBe(0);

    const recorder = recordWeights(h.kube, "default", "reviews", "v1");
    // The tick that was due after the pause has been taken, and no other is scheduled: the weight holds.
    await h.ticksSettled(id);
    expect(recorder.stop()).toEqual(["v1=90,v2=10"]);
    expect(await h.status(id)).toMatchObject({ phase: "paused", canaryWeight: 10, stepIndex: 0 });

    const resumeRecorder = recordWeights(h.kube, "default", "reviews", "v1", "v2");
    expect((await h.cli("resume", id, "--as", "bob")).code).toBe(0);
    await h.untilPhase(id, "promoted");
    expect(resumeRecorder.stop()).toEqual(["v1=90,v2=10", "v1=50,v2=50", "v2=100"]);
  });

  it("given a multi-route VirtualService from the fixtures, when rolled back at 50%, then the object is deep-equal to the original apart from server metadata", async () => {
    const [multiRoute] = readManifests(
      istioFixturePath("samples/bookinfo-networking/virtual-service-reviews-test-v2.yaml"),
    );
    h.kube.put(multiRoute);
    const original = h.kube.get("VirtualService", "default", "reviews");
    await h.worker();
    const id = await startRollout("reviews --stable v1 --canary v3 --steps 50,100 --interval 1h --as alice");
    expect(routeWeights(h.kube.get("VirtualService", "default", "reviews"), "v1")).toBe("v1=50,v3=50");

    const rolledBack = await h.cli("rollback", id, "--as", "bob", "--reason", "p99 looks off");
    expect(rolledBack.code).toBe(0);
    await h.untilPhase(id, "rolled-back");

    const restored = h.kube.get("VirtualService", "default", "reviews");
    expect(restored?.spec).toStrictEqual(original?.spec);
    expect(JSON.stringify(restored?.spec)).toBe(JSON.stringify(original?.spec));
    const { resourceVersion: _before, generation: _g1, ...metaBefore } = original?.metadata ?? {};
    const { resourceVersion: _after, generation: _g2, ...metaAfter } = restored?.metadata ?? {};
    expect(metaAfter).toStrictEqual(metaBefore);
  });

  it("given --approve-at 50 and the two-person rule, the rollout holds at 50% until someone other than the starter approves", async () => {
    await h.worker();
    const id = await startRollout(
      "reviews --canary v2 --steps 10,50,100 --interval 1s --approve-at 50 --as alice",
    );
    await h.untilPhase(id, "awaiting-approval");
    expect(reviews()).toBe("v1=50,v2=50");

    const own = await h.cli("approve", id, "--as", "alice");
    expect(own.code).toBe(1);
    expect(own.stderr).toMatch(/two-person rule/);
    await h.ticksSettled(id);
    expect(await h.status(id)).toMatchObject({ phase: "awaiting-approval", canaryWeight: 50 });
    expect(reviews()).toBe("v1=50,v2=50");

    expect((await h.cli("approve", id, "--as", "bob")).code).toBe(0);
    await h.untilPhase(id, "promoted");
    const history = JSON.parse((await h.cli("history", id, "--json")).stdout) as AuditJson[];
    expect(history.map((entry) => `${entry.actor} ${entry.action}`)).toEqual(
      expect.arrayContaining(["cli:alice refused:approve", "cli:bob approve"]),
    );
  });

  it("refuses a second start on the same VirtualService, naming the live rollout", async () => {
    const id = await startRollout("reviews --canary v2 --interval 1h --as alice");
    const second = await h.cli("start", "reviews", "--canary", "v3", "--as", "bob");
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(id);
    expect(second.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("given three 409s in a row on the VirtualService, the step still lands exactly once", async () => {
    await h.worker();
    const id = await startRollout(
      "reviews --canary v2 --steps 10,50,100 --interval 1s --approve-at 50 --as alice",
    );
    h.kube.faults.add({ method: "PATCH", resource: "virtualservices", conflicts: 3 });
    const recorder = recordWeights(h.kube, "default", "reviews", "v1");
    const versions = new Set<string>();
    const watch = setInterval(() => {
      versions.add(h.kube.get("VirtualService", "default", "reviews")?.metadata.resourceVersion ?? "");
    }, 2);
    await h.untilPhase(id, "awaiting-approval");
    clearInterval(watch);
    expect(recorder.stop()).toEqual(["v1=90,v2=10", "v1=50,v2=50"]);
    // One write for the step to 50%: the resourceVersion moved exactly once.
    expect(versions.size).toBe(2);
    const patches = h.kube.requests.all().filter((request) => request.method === "PATCH");
    expect(patches.filter((request) => request.status === 409)).toHaveLength(3);
  });

  it("given someone edits the route behind the bot's back, the rollout pauses with reason drift and does not overwrite it", async () => {
    await h.worker();
    const id = await startRollout("reviews --canary v2 --steps 10,50,100 --interval 1s --as alice");
    const live = h.kube.get("VirtualService", "default", "reviews");
    const edited = structuredClone(live) as unknown as { spec: { http: { route: { weight?: number }[] }[] } };
    const route = edited.spec.http[0]?.route ?? [];
    if (route[0]) route[0].weight = 70;
    if (route[1]) route[1].weight = 30;
    h.kube.put(edited);

    await h.untilPhase(id, "paused");
    const shown = await h.cli("status", id);
    expect(shown.stdout).toMatch(/drift/);
    await h.ticksSettled(id);
    expect(reviews()).toBe("v1=70,v2=30");
  });

  it("refuses at preflight, naming what is missing, and leaves the VirtualService untouched", async () => {
    const before = h.kube.get("VirtualService", "default", "reviews")?.metadata.resourceVersion;
    const cases: [string[], RegExp][] = [
      [["nope", "--canary", "v2", "--stable", "v1"], /VirtualService default\/nope not found/],
      [["reviews", "--canary", "v9"], /no subset 'v9'/],
    ];
    for (const [args, message] of cases) {
      const refused = await h.cli("start", ...args, "--as", "alice");
      expect(refused.code, args.join(" ")).toBe(1);
      expect(refused.stderr).toMatch(message);
    }
    h.kube.delete("DestinationRule", "default", "reviews");
    const noRule = await h.cli("start", "reviews", "--canary", "v2", "--as", "alice");
    expect(noRule.code).toBe(1);
    expect(noRule.stderr).toMatch(/DestinationRule/);
    expect(h.kube.get("VirtualService", "default", "reviews")?.metadata.resourceVersion).toBe(before);
  });

  it("refuses a canary with no ready pod at preflight", async () => {
    const deployment = h.kube.get("Deployment", "default", "reviews-v2") as
      { status: { readyReplicas?: number } } | undefined;
    if (!deployment) throw new Error("bookinfo has reviews-v2");
    deployment.status.readyReplicas = 0;
    h.kube.put(deployment);
    const before = h.kube.get("VirtualService", "default", "reviews")?.metadata.resourceVersion;
    const refused = await h.cli("start", "reviews", "--canary", "v2", "--as", "alice");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/v2.*no ready pod/);
    expect(h.kube.get("VirtualService", "default", "reviews")?.metadata.resourceVersion).toBe(before);
  });

  it("answers invalid input with exit 1 and the reason on one line", async () => {
    const cases: [string[], RegExp][] = [
      [["start", "reviews", "--canary", "v2", "--steps", "10,5,100"], /strictly increasing/],
      [["start", "reviews", "--canary", "v2", "--steps", "abc"], /steps: "abc"/],
      [["start", "reviews", "--canary", "v2", "--interval", "0s"], /interval/],
      [["start", "reviews", "--canary", "v2", "--bogus"], /unknown option '--bogus'/],
      [["start", "reviews"], /--canary/],
      [["frobnicate"], /unknown command/],
    ];
    for (const [args, message] of cases) {
      const result = await h.cli(...args);
      expect(result.code, args.join(" ")).toBe(1);
      expect(result.stderr, args.join(" ")).toMatch(message);
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
  });

  it("--dry-run prints the plan and the exact route change, and changes nothing", async () => {
    const before = h.kube.get("VirtualService", "default", "reviews");
    const dry = await h.cli("start", "reviews", "--canary", "v2", "--steps", "10,50,100", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/10 → 50 → 100/);
    expect(dry.stdout).toMatch(/v2/);
    expect(h.kube.get("VirtualService", "default", "reviews")).toStrictEqual(before);
    expect(JSON.parse((await h.cli("list", "--json")).stdout)).toEqual([]);
  });
});
