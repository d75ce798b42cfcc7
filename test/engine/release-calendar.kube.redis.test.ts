import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { recordWeights } from "../support/route-weights.ts";

/** Issue 9.1: release windows hold steps, freezes refuse starts. Time is injected: nothing waits for a weekday. */
describe("release windows and freezes", () => {
  let h: EngineHarness;

  beforeEach(async () => {
    h = await engineHarness("calendar");
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it("given office-hours windows, when a step falls due on Friday evening, then the weight holds until Monday's opening and the rollout goes on from there", async () => {
    let now = Date.UTC(2026, 11, 25, 18, 0); // Friday 19:00 in Berlin
    const monday = Date.UTC(2026, 11, 28, 8, 0); // 09:00 in Berlin
    const runtime = h.runtime({ decorate: (deps) => ({ ...deps, clock: { now: () => now } }) });
    await h.worker(runtime);

    const weights = recordWeights(h.kube, "default", "reviews", "v1", "v2");
    const started = await runtime.service.start({
      target: {
        namespace: "default",
        service: "reviews",
        virtualService: "reviews",
        host: "reviews",
        canarySubset: "v2",
      },
      plan: {
        steps: [10, 50, 100],
        intervalMs: 200,
        approvalGates: [],
        twoPersonRule: false,
        windows: [{ cron: "* 9-16 * * 1-5", timezone: "Europe/Berlin" }],
      },
      by: "cli:alice",
    });
    const held = await waitFor("the window hold", async () => {
      const rollout = await runtime.store.get(started.id);
      return rollout?.heldUntil === monday ? rollout : undefined;
    });
    expect(held).toMatchObject({ phase: "progressing", appliedWeight: 10 });
    // Several more ticks come and go while the window is shut; the weight stays.
    const holdTick = held.tick;
    await waitFor("more held ticks", async () =>
      (await runtime.store.get(started.id))!.tick >= holdTick + 3 ? true : undefined,
    );
    expect((await runtime.store.get(started.id))?.appliedWeight).toBe(10);

    now = monday;
    await waitFor(`${started.id} promoted`, async () =>
      (await runtime.store.get(started.id))?.phase === "promoted" ? true : undefined,
    );
    expect(weights.stop()).toEqual(["v1=100", "v1=90,v2=10", "v1=50,v2=50", "v2=100"]);
    const holds = (await runtime.store.audit(started.id)).filter((entry) => entry.action === "window-hold");
    expect(holds).toHaveLength(1);
    expect(holds[0]?.detail).toBe("outside its release windows until 2026-12-28 08:00 UTC");
  });

  it("given a freeze now, when someone starts from the command line, then it is refused with the reason, and --ignore-freeze starts it with the break-glass in the audit", async () => {
    const config = join(h.kubeconfigPath, "..", "canarybot.yaml");
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    await writeFile(
      config,
      `services:\n  reviews:\n    freezes: [{ from: "${from}", to: "${to}", reason: holiday freeze }]\n`,
    );

    const refused = await h.cli("--config", config, "start", "reviews", "--canary", "v2", "--interval", "1s");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("reviews is frozen until");
    expect(refused.stderr).toContain("holiday freeze");
    expect(h.kube.get("VirtualService", "default", "reviews")?.spec).toMatchObject({
      http: [{ route: [{ destination: { subset: "v1" } }] }],
    });

    const forced = await h.cli(
      "--config",
      config,
      "start",
      "reviews",
      "--canary",
      "v2",
      "--interval",
      "1s",
      "--ignore-freeze",
      "--as",
      "carol",
    );
    expect(forced.code).toBe(0);
    const id = /^(\S+) started/.exec(forced.stdout)?.[1] ?? "";
    const [first] = await h.runtime().store.audit(id);
    expect(first).toMatchObject({ action: "start", actor: "cli:carol" });
    expect(first?.detail).toContain('started during the freeze "holiday freeze" with --ignore-freeze');
  });
});
