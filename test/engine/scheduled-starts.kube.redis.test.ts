import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseStartTime } from "../../src/schedule/local-time.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";

/** Issue 9.1: `start --at` schedules a start, `list` shows it, `cancel` drops it, and it starts once among replicas. */
describe("scheduled starts", () => {
  let h: EngineHarness;

  beforeEach(async () => {
    h = await engineHarness("scheduled");
  });
  afterEach(async () => {
    await h.cleanup();
  });

  const inSeconds = (seconds: number): string => new Date(Date.now() + seconds * 1000).toISOString();

  it("given a start scheduled from the command line, when three replicas run, then it starts exactly once at its time", async () => {
    const scheduled = await h.cli(
      "start",
      "reviews",
      "--canary",
      "v2",
      "--interval",
      "1s",
      "--at",
      inSeconds(2),
      "--as",
      "alice",
    );
    expect(scheduled.code).toBe(0);
    const id = /^(\S+) scheduled/.exec(scheduled.stdout)?.[1];
    expect(id).toBe("reviews@1");
    expect(h.kube.get("VirtualService", "default", "reviews")?.spec).toMatchObject({
      http: [{ route: [{ destination: { subset: "v1" } }] }],
    });
    expect((await h.cli("list")).stdout).toContain("reviews@1 scheduled: reviews → v2");

    for (let replica = 0; replica < 3; replica += 1)
      await h.worker(h.runtime(), { CANARYBOT_SWEEP_MS: "100" });
    const store = h.runtime().store;
    const started = await waitFor("the scheduled start", async () => {
      const history = await store.history({ service: "reviews" });
      return history.length > 0 ? history : undefined;
    });
    // Several sweeps of three replicas later, still one rollout, started by the person who scheduled it.
    await waitFor("the next step", async () =>
      (await store.get(started[0]!.id))!.stepIndex >= 1 ? true : undefined,
    );
    expect(await store.history({ service: "reviews" })).toHaveLength(1);
    expect(started[0]).toMatchObject({ startedBy: "cli:alice" });
    expect((await h.cli("list")).stdout).not.toContain("reviews@1 scheduled");
  });

  it("given a scheduled start, when it is cancelled, then it is gone from the list and cancelling again says there is none", async () => {
    await h.cli("start", "reviews", "--canary", "v2", "--at", inSeconds(3600));
    const cancelled = await h.cli("cancel", "reviews@1");
    expect(cancelled).toMatchObject({ code: 0 });
    expect(cancelled.stdout).toContain("cancelled reviews@1");
    expect((await h.cli("list")).stdout).not.toContain("reviews@1");
    const again = await h.cli("cancel", "reviews@1");
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("no scheduled start reviews@1 (list shows the scheduled ones)\n");
  });

  it("refuses a time that has passed, a zone that does not exist, and a start that could not run now", async () => {
    const past = await h.cli("start", "reviews", "--canary", "v2", "--at", "2020-01-01 09:00");
    expect(past).toMatchObject({
      code: 1,
      stderr: "at: 2020-01-01 09:00 has passed; start now without --at\n",
    });
    const zone = await h.cli("start", "reviews", "--canary", "v2", "--at", "2030-01-01 09:00 Mars/Olympus");
    expect(zone.stderr).toContain("Mars/Olympus is not an IANA time zone");
    const nowhere = await h.cli("start", "reviews", "--canary", "v9", "--at", inSeconds(3600));
    expect(nowhere.code).toBe(1);
    expect((await h.cli("list")).stdout).not.toContain("scheduled:");
  });
});

describe("parseStartTime", () => {
  const now = Date.UTC(2026, 10, 28, 12, 0);
  it.each([
    ["2026-12-01 09:00 Europe/Berlin", Date.UTC(2026, 11, 1, 8, 0)],
    ["2027-07-01 09:00 Europe/Berlin", Date.UTC(2027, 6, 1, 7, 0)],
    ["2026-12-01 09:00", Date.UTC(2026, 11, 1, 9, 0)],
    ["2026-12-01T09:00:00+01:00", Date.UTC(2026, 11, 1, 8, 0)],
    ["2026-12-01 09:00 America/New_York", Date.UTC(2026, 11, 1, 14, 0)],
  ])("reads %s", (text, expected) => {
    expect(parseStartTime(text, now)).toEqual({ ok: true, value: expected });
  });
});
