import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { engineHarness } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { addReviewsV4, allTrafficTo, reviewsHttp } from "../support/releases.ts";

/**
 * A team that ships every week, from the command line: each release starts from the route the last one left,
 * with no hand edit in between (issue 7.2). The CLI and a worker against real Redis and the Kubernetes sandbox.
 */
describe("release after release from the CLI", () => {
  let h: EngineHarness;

  beforeEach(async () => {
    h = await engineHarness("releases");
    await h.worker();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  const untilPhase = (id: string, phase: string) => h.untilPhase(id, phase, 30_000);
  const http = () => JSON.parse(reviewsHttp(h.kube)) as unknown;

  /** `start reviews --canary <subset>` with no --stable: the stable subset is read from the route as it is. */
  const ship = async (canary: string): Promise<string> => {
    const id = await h.start("reviews", "--canary", canary, "--steps", "50,100", "--interval", "200ms");
    await untilPhase(id, "promoted");
    return id;
  };

  it("v1→v2 promoted, v2→v3 promoted, v3→v4 rolled back, v3→v4 promoted: each route is what the next start needs", async () => {
    const v2 = await ship("v2");
    expect(http()).toEqual(allTrafficTo("v2"));
    expect(await h.status(v2)).toMatchObject({ stableSubset: "v1", canarySubset: "v2", canaryWeight: 100 });

    const v3 = await ship("v3");
    expect(http()).toEqual(allTrafficTo("v3"));
    expect(await h.status(v3)).toMatchObject({ stableSubset: "v2", canarySubset: "v3" });

    await addReviewsV4(h.kube);
    const promotedV3 = reviewsHttp(h.kube);
    const held = await h.start("reviews", "--canary", "v4", "--steps", "10,100", "--interval", "1h");
    expect(http()).toEqual([
      {
        route: [
          { destination: { host: "reviews", subset: "v3" }, weight: 90 },
          { destination: { host: "reviews", subset: "v4" }, weight: 10 },
        ],
      },
    ]);
    const rolledBack = await h.cli("rollback", held, "--as", "bob", "--reason", "v4 misbehaves");
    expect(rolledBack.code).toBe(0);
    await untilPhase(held, "rolled-back");
    expect(reviewsHttp(h.kube)).toBe(promotedV3);

    const v4 = await ship("v4");
    expect(http()).toEqual(allTrafficTo("v4"));
    expect(await h.status(v4)).toMatchObject({ stableSubset: "v3", canarySubset: "v4" });
  }, 90_000);

  it("starts the next release from the route an earlier version left on promotion (v1=0, v2=100)", async () => {
    const vs = h.kube.get("VirtualService", "default", "reviews")!;
    const leftOver = [
      {
        route: [
          { destination: { host: "reviews", subset: "v1" }, weight: 0 },
          { destination: { host: "reviews", subset: "v2" }, weight: 100 },
        ],
      },
    ];
    h.kube.put({ ...vs, spec: { ...(vs.spec as object), http: leftOver } });

    const dryRun = await h.cli("start", "reviews", "--canary", "v3", "--steps", "50,100", "--dry-run");
    expect(dryRun.stderr).toBe("");
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain("v1=0, v2=100 → v1=0, v2=50, v3=50");

    const v3 = await ship("v3");
    expect(await h.status(v3)).toMatchObject({ stableSubset: "v2", canarySubset: "v3" });
    expect(http()).toEqual(allTrafficTo("v3"));
  }, 60_000);
});
