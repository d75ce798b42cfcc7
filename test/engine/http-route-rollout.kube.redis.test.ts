import { dirname } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type MeshSandboxOptions } from "../../sandbox/mesh/index.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { backendWeights, kubectl } from "../support/kubectl.ts";
import { meshOn } from "../support/kube-sandbox.ts";

type HttpRoute = {
  metadata: { resourceVersion: string };
  spec: { parentRefs?: unknown; rules: Record<string, unknown>[] };
};

/**
 * Issue 10's Gateway API acceptance: the CLI and a worker against a real Redis and the Kubernetes sandbox serving
 * Gateway API's HTTPRoute CRD, every weight read back by the real kubectl.
 */
describe("HTTPRoute rollout", () => {
  let h: EngineHarness;
  let k: ReturnType<typeof kubectl>;

  beforeEach(async () => {
    h = await engineHarness("httproute", { scenario: "bookinfo-gateway-api" });
    k = kubectl(h.kubeconfigPath, dirname(h.kubeconfigPath));
  });
  afterEach(async () => {
    await h.cleanup();
  });

  /** `canarybot start reviews --http-route reviews --canary reviews-v2 … --as alice`. */
  const startReviews = (...args: string[]) =>
    h.start("reviews", "--http-route", "reviews", "--canary", "reviews-v2", ...args, "--as", "alice");
  /** The mesh sandbox on the engine's cluster, stepped by hand: the traffic the live HTTPRoute makes. */
  const meshTraffic = async (options: Partial<MeshSandboxOptions>, ms: number) => {
    const mesh = await meshOn(h.kube, {
      namespace: "default",
      services: ["reviews"],
      autoAdvance: false,
      ...options,
    });
    try {
      mesh.advance(ms);
      return { totals: mesh.totals(), metrics: await mesh.metrics() };
    } finally {
      await mesh.close();
    }
  };
  const reviews = async () => (await k.getJson("httproute", "reviews")) as HttpRoute;
  const weights = async () => backendWeights(await reviews(), "reviews-v1", "reviews-v2");

  it("given reviews-v1 → reviews-v2 with steps 10,50,100 and gates at 10 and 50, kubectl reads 90/10, 50/50, then everything on reviews-v2", async () => {
    await h.worker();
    const before = await reviews();
    const id = await startReviews("--steps", "10,50,100", "--interval", "1s", "--approve-at", "10,50");
    await h.untilPhase(id, "awaiting-approval");
    expect(await weights()).toBe("reviews-v1=90,reviews-v2=10");
    // The mesh follows the weights: about a tenth of 6,000 requests reach reviews-v2, seen as version v2.
    const { totals, metrics } = await meshTraffic({ rps: 100 }, 60_000);
    const split = totals.services.reviews?.subsets ?? {};
    expect(totals.requests).toBe(6000);
    expect(split["reviews-v2"]?.requests).toBeGreaterThan(480);
    expect(split["reviews-v2"]?.requests).toBeLessThan(720);
    const canaryLines = metrics
      .split("\n")
      .filter(
        (line) => line.startsWith("istio_requests_total{") && line.includes('destination_version="v2"'),
      );
    expect(canaryLines.length).toBeGreaterThan(0);
    expect(canaryLines.every((line) => line.includes('destination_service_name="reviews"'))).toBe(true);
    expect((await h.cli("approve", id, "--as", "bob")).code).toBe(0);
    await waitFor("50%", async () => ((await h.status(id)).canaryWeight === 50 ? true : undefined));
    await h.untilPhase(id, "awaiting-approval");
    expect(await weights()).toBe("reviews-v1=50,reviews-v2=50");
    expect((await h.cli("approve", id, "--as", "bob")).code).toBe(0);
    await h.untilPhase(id, "promoted");

    const after = await reviews();
    // The rule a person writes: one backendRef to the new version, everything else as it was.
    expect(after.spec.rules).toEqual([{ backendRefs: [{ name: "reviews-v2", port: 9080 }] }]);
    expect(after.spec.parentRefs).toEqual(before.spec.parentRefs);
    expect((await h.status(id)).canaryWeight).toBe(100);
  });

  it("given a header stage, only x-canary: 1 goes to reviews-v2 while the managed rule keeps everything on reviews-v1", async () => {
    const id = await startReviews("--header", "x-canary=1", "--interval", "1h");
    expect((await h.status(id)).phase).toBe("header-stage");
    const rules = (await reviews()).spec.rules;
    expect(rules).toEqual([
      {
        name: "canarybot-header-reviews-v2",
        matches: [
          {
            path: { type: "PathPrefix", value: "/" },
            headers: [{ type: "Exact", name: "x-canary", value: "1" }],
          },
        ],
        backendRefs: [{ name: "reviews-v2", port: 9080, weight: 1 }],
      },
      { backendRefs: [{ name: "reviews-v1", port: 9080 }] },
    ]);
    // In the mesh: every request with the header, and only those, reaches reviews-v2.
    const { totals } = await meshTraffic(
      { rps: 100, headers: [{ name: "x-canary", value: "1", share: 0.2 }] },
      20_000,
    );
    const split = totals.services.reviews?.subsets ?? {};
    expect(split["reviews-v2"]).toMatchObject({ withoutHeaders: 0, withHeaders: totals.withHeaders });
    expect(split["reviews-v1"]).toMatchObject({ withHeaders: 0, withoutHeaders: totals.withoutHeaders });
    expect(totals.withHeaders).toBeGreaterThan(0);
  });

  it("given a hand edit of the HTTPRoute at 10%, the rollout pauses with drift and leaves the edit alone", async () => {
    await h.worker();
    const id = await startReviews("--steps", "10,50,100", "--interval", "2s");
    expect(await weights()).toBe("reviews-v1=90,reviews-v2=10");
    const edit = [
      { op: "replace", path: "/spec/rules/0/backendRefs/0/weight", value: 70 },
      { op: "replace", path: "/spec/rules/0/backendRefs/1/weight", value: 30 },
    ];
    const patched = await k.run(
      "patch",
      "httproute",
      "reviews",
      "--type",
      "json",
      "-p",
      JSON.stringify(edit),
    );
    expect(patched.code, patched.stderr).toBe(0);

    await h.untilPhase(id, "paused");
    const shown = await h.cli("status", id);
    expect(shown.stdout).toMatch(/drift/);
    expect(shown.stdout).toMatch(/HTTPRoute default\/reviews/);
    await h.ticksSettled(id);
    expect(await weights()).toBe("reviews-v1=70,reviews-v2=30");
  });

  it("given a rollout taken through its header stage to 50%, a rollback restores the HTTPRoute's spec byte for byte", async () => {
    await h.worker();
    const original = JSON.stringify((await reviews()).spec);
    const id = await startReviews(
      "--stable",
      "reviews-v1",
      "--header",
      "x-canary=1",
      "--steps",
      "10,50,100",
      "--interval",
      "1s",
      "--approve-at",
      "50",
    );
    expect(JSON.stringify((await reviews()).spec)).not.toBe(original);
    expect((await h.cli("approve", id, "--as", "bob")).code).toBe(0);
    await waitFor("50%", async () => ((await h.status(id)).canaryWeight === 50 ? true : undefined));
    expect(await weights()).toBe("reviews-v1=50,reviews-v2=50");

    const rolledBack = await h.cli("rollback", id, "--as", "bob", "--reason", "reviews-v2 looks off");
    expect(rolledBack.code, rolledBack.stderr).toBe(0);
    expect((await h.status(id)).phase).toBe("rolled-back");
    expect(JSON.stringify((await reviews()).spec)).toBe(original);
  });

  it("given three 409s in a row on the HTTPRoute, the step to 50% still lands exactly once", async () => {
    await h.worker();
    const id = await startReviews("--steps", "10,50,100", "--interval", "1s", "--approve-at", "50");
    h.kube.faults.add({ method: "PATCH", resource: "httproutes", conflicts: 3 });
    const versions = new Set<string>();
    const watch = setInterval(() => {
      versions.add(h.kube.get("HTTPRoute", "default", "reviews")?.metadata.resourceVersion ?? "");
    }, 2);
    await h.untilPhase(id, "awaiting-approval");
    clearInterval(watch);
    expect(await weights()).toBe("reviews-v1=50,reviews-v2=50");
    expect(versions.size).toBe(2);
    const patches = h.kube.requests.all().filter((request) => request.method === "PATCH");
    expect(patches.filter((request) => request.status === 409)).toHaveLength(3);
  });

  it("previews the first change with --dry-run and writes nothing", async () => {
    const before = (await reviews()).metadata.resourceVersion;
    const dry = await h.cli(
      "start",
      "reviews",
      "--http-route",
      "reviews",
      "--canary",
      "reviews-v2",
      "--steps",
      "25,100",
      "--dry-run",
      "--as",
      "alice",
    );
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("Target: default/reviews reviews-v1 → reviews-v2");
    expect(dry.stdout).toContain(
      "HTTPRoute default/reviews unnamed rule rules[0]: reviews-v1=1 → reviews-v1=75, reviews-v2=25",
    );
    expect((await reviews()).metadata.resourceVersion).toBe(before);
  });

  it("refuses at preflight a backend Service that does not exist or has no ready pod, touching nothing", async () => {
    const before = (await reviews()).metadata.resourceVersion;
    const missing = await h.cli(
      "start",
      "reviews",
      "--http-route",
      "reviews",
      "--canary",
      "reviews-v9",
      "--as",
      "alice",
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Service reviews-v9 not found/);

    const pod = h.kube
      .list("Pod", "default")
      .find((candidate) => candidate.metadata.labels?.version === "v3");
    const unready = structuredClone(pod) as unknown as {
      status: { conditions: { type: string; status: string }[] };
    };
    for (const condition of unready.status.conditions)
      if (condition.type === "Ready") condition.status = "False";
    h.kube.put(unready);
    const notReady = await h.cli(
      "start",
      "reviews",
      "--http-route",
      "reviews",
      "--canary",
      "reviews-v3",
      "--as",
      "alice",
    );
    expect(notReady.code).toBe(1);
    expect(notReady.stderr).toMatch(/Service reviews-v3 \(app=reviews,version=v3\) has no ready pods/);
    expect((await reviews()).metadata.resourceVersion).toBe(before);
  });
});
