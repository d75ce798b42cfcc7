import { describe, expect, it } from "vitest";
import { digestEntry, isOnDigestDay } from "../../src/rollout/daily-digest.ts";
import type { DigestEntry } from "../../src/rollout/daily-digest.ts";
import { Phase } from "../../src/rollout/types.ts";
import type { AuditEntry } from "../../src/rollout/types.ts";
import { messageBlockProblems, messageTextProblems } from "../../sandbox/slack/block-kit-limits.ts";
import { renderDigest } from "../../src/slack/render-digest.ts";
import { makeRollout } from "../support/rollouts.ts";

const DAY = { from: Date.parse("2026-12-04T23:00:00Z"), to: Date.parse("2026-12-05T23:00:00Z") };
const at = (time: string): number => Date.parse(`2026-12-05T${time}:00Z`);

function audit(rolloutId: string, entries: Partial<AuditEntry>[]): AuditEntry[] {
  return entries.map((entry) => ({
    at: at("09:00"),
    rolloutId,
    actor: "canarybot",
    action: "tick",
    fromPhase: Phase.Progressing,
    toPhase: Phase.Progressing,
    canaryWeight: 5,
    ...entry,
  }));
}

function entry(overrides: Partial<DigestEntry>): DigestEntry {
  return {
    id: "reviews-3",
    stable: "v1",
    canary: "v2",
    phase: Phase.Promoted,
    weight: 100,
    startedBy: "U0ALICE1",
    startedAt: at("08:15"),
    endedAt: at("10:40"),
    approvedBy: [],
    ...overrides,
  };
}

describe("digestEntry", () => {
  it("names who approved (each once, refusals left out), when it ended and who decided why", () => {
    const rollout = makeRollout({
      id: "reviews-3",
      phase: Phase.RolledBack,
      appliedWeight: 0,
      startedBy: "U0ALICE1",
      createdAt: at("08:00"),
      updatedAt: at("12:00"),
      target: { stableSubset: "v1", canarySubset: "v2" },
      outcome: { at: at("11:00"), by: "U0CAROL1", reason: "error rate 7% > 1%" },
    });
    const log = audit("reviews-3", [
      { action: "start", actor: "U0ALICE1", fromPhase: Phase.Preflight, toPhase: Phase.Preflight },
      { action: "approve", actor: "U0BOB001" },
      { action: "refused:approve", actor: "U0ALICE1" },
      { action: "approve", actor: "U0BOB001" },
      { action: "rollback", actor: "U0CAROL1", at: at("11:00"), toPhase: Phase.RollingBack },
      { action: "route-restored", at: at("11:01"), fromPhase: Phase.RollingBack, toPhase: Phase.RolledBack },
    ]);
    expect(digestEntry(rollout, log)).toEqual({
      id: "reviews-3",
      stable: "v1",
      canary: "v2",
      phase: Phase.RolledBack,
      weight: 0,
      startedBy: "U0ALICE1",
      startedAt: at("08:00"),
      endedAt: at("11:01"),
      approvedBy: ["U0BOB001"],
      outcome: { by: "U0CAROL1", reason: "error rate 7% > 1%" },
    });
  });

  it("belongs to the day it started or ended in, not to one it only spanned", () => {
    expect(isOnDigestDay(entry({ startedAt: DAY.from - 1, endedAt: DAY.from }), DAY)).toBe(true);
    expect(isOnDigestDay(entry({ startedAt: DAY.to - 1, endedAt: undefined }), DAY)).toBe(true);
    expect(isOnDigestDay(entry({ startedAt: DAY.from - 10, endedAt: DAY.to }), DAY)).toBe(false);
    expect(isOnDigestDay(entry({ startedAt: DAY.from - 10, endedAt: undefined }), DAY)).toBe(false);
  });
});

describe("renderDigest", () => {
  const digest = {
    service: "reviews",
    date: "2026-12-05",
    timezone: "Europe/Berlin",
    entries: [
      entry({
        id: "reviews-3",
        approvedBy: ["U0BOB001", "cli:dana"],
        outcome: { by: "U0BOB001", reason: "" },
      }),
      entry({
        id: "reviews-4",
        phase: Phase.RolledBack,
        weight: 0,
        startedAt: at("13:00"),
        endedAt: at("13:20"),
        outcome: { by: "U0CAROL1", reason: "p99 <900 ms> & climbing, see U0DAVE01" },
      }),
      entry({
        id: "reviews-5",
        phase: Phase.Progressing,
        weight: 25,
        startedAt: at("20:00"),
        endedAt: undefined,
      }),
    ],
  };

  it("sums the day up, then tells each rollout: outcome, who started, approved and rolled back, and why", () => {
    const message = renderDigest(digest);
    expect(message.text).toBe(
      ":calendar: *reviews* on 2026-12-05 (Europe/Berlin): 3 rollouts, 1 promoted, 1 rolled-back, 1 live",
    );
    expect(message.blocks).toHaveLength(4);
    const texts = message.blocks.map((block) => (block as { text: { text: string } }).text.text);
    // Times on the digest's wall clock: 08:15 UTC is 09:15 in Berlin.
    expect(texts[1]).toBe(
      "*reviews-3* `v1` → `v2`: :white_check_mark: promoted by <@U0BOB001>\n" +
        "started by <@U0ALICE1> at 09:15, ended at 11:40\n" +
        "approved by <@U0BOB001>, cli:dana",
    );
    // A reason is escaped, and a user id in it becomes a mention.
    expect(texts[2]).toContain(
      ":leftwards_arrow_with_hook: rolled back by <@U0CAROL1>: p99 &lt;900 ms&gt; &amp; climbing, see <@U0DAVE01>",
    );
    expect(texts[3]).toContain("still :arrow_forward: progressing at 25%");
    expect(texts[3]).not.toContain("ended at");
  });

  it("is valid Block Kit, and stays within Slack's 50 blocks on a busy day", () => {
    const busy = { ...digest, entries: Array.from({ length: 60 }, (_, n) => entry({ id: `reviews-${n}` })) };
    for (const message of [renderDigest(digest), renderDigest(busy)]) {
      expect(messageBlockProblems(message.blocks)).toEqual([]);
      expect(messageTextProblems(message.text)).toEqual([]);
    }
    const blocks = renderDigest(busy).blocks;
    expect(blocks).toHaveLength(47);
    expect(JSON.stringify(blocks.at(-1))).toContain("and 15 more");
  });
});
