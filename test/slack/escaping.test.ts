import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_DEFAULTS } from "../../src/rollout/start-request.ts";
import { SUBCOMMANDS } from "../../src/commands/parse-command.ts";
import type { DryRun } from "../../src/rollout/service.ts";
import { Phase } from "../../src/rollout/types.ts";
import type { AuditEntry, CheckResult, MetricsSnapshot, Rollout } from "../../src/rollout/types.ts";
import {
  messageBlockProblems,
  messageTextProblems,
  modalViewProblems,
} from "../../sandbox/slack/block-kit-limits.ts";
import { codeBlock, date, link, mrkdwn, mention, truncate } from "../../src/slack/mrkdwn.ts";
import {
  renderAlert,
  renderRolloutMessage,
  renderSnapshotReply,
} from "../../src/slack/render-rollout-message.ts";
import {
  actedReply,
  auditReply,
  dryRunReply,
  errorReply,
  helpReply,
  listReply,
  startedReply,
  statusReply,
} from "../../src/slack/replies.ts";
import type { Reply } from "../../src/slack/replies.ts";
import { renderStartModal } from "../../src/slack/start-modal.ts";
import { FIXTURE_NOW, makeRollout } from "../support/rollouts.ts";

/** Text that Slack would read as control sequences if it reached Slack raw. */
const HOSTILE = "<!channel> & <@U0EVE001> <https://evil.example|click> a<b>c";

const SNAPSHOT: MetricsSnapshot = {
  at: FIXTURE_NOW,
  windowSeconds: 60,
  canaryWeight: 25,
  canary: { requestRate: 2, successRate: 0.8, p99Ms: 900, requests: 120 },
  stable: { requestRate: 9, successRate: 0.999, p99Ms: 100, requests: 540 },
  unavailable: `prometheus said ${HOSTILE}`,
};

const CHECKS: CheckResult[] = [
  { name: "success-rate", status: "fail", value: 0.8, threshold: ">= 99% (critical below 90%)" },
  { name: `custom <${HOSTILE}>`, status: "inconclusive", threshold: `< 5 & > 1 ${HOSTILE}` },
];

/** Where a hostile rollout's message lives: the lists and the status link to it. */
const MESSAGE = { channel: "C0DEPLOYS", ts: "1735732800.000100" };

function hostile(overrides: Partial<Rollout> = {}): Rollout {
  return makeRollout({
    id: "reviews-9",
    startedBy: "cli:<bob&co>",
    target: { namespace: "a&b", virtualService: "<vs>", stableSubset: "v1<old>", canarySubset: "v2&new" },
    plan: {
      steps: [10, 50, 100],
      approvalGates: [50],
      twoPersonRule: true,
      headerMatch: { name: "x-canary", value: HOSTILE },
    },
    stepIndex: 1,
    appliedWeight: 10,
    reason: HOSTILE,
    nextTickAt: FIXTURE_NOW + 30_000,
    snapshots: [SNAPSHOT],
    lastVerdict: { status: "fail", checks: CHECKS, snapshot: SNAPSHOT },
    approvals: [{ by: "cli:<carol>", at: FIXTURE_NOW, stepIndex: 0 }],
    report: { channel: "C0DEPLOYS" },
    outcome: { at: FIXTURE_NOW, by: "U0ALICE1", reason: HOSTILE },
    restoreFailure: {
      attempts: 8,
      since: FIXTURE_NOW,
      lastError: `VirtualService <a&b>: ${HOSTILE}`,
      alertedAt: FIXTURE_NOW,
    },
    waitingFor: `confirm-promotion "${HOSTILE}" (403: ${HOSTILE})`,
    hookResults: Array.from({ length: 32 }, (_, i) => ({
      name: `hook-${i} ${HOSTILE}`,
      type: "rollout" as const,
      ok: i % 2 === 0,
      status: 500,
      durationMs: 1_234,
      attempts: 2,
      answer: `${HOSTILE} ${"y".repeat(400)}`,
    })),
    ...overrides,
  });
}

const AUDIT: AuditEntry[] = [
  {
    at: FIXTURE_NOW,
    rolloutId: "reviews-9",
    actor: "cli:<bob&co>",
    action: "refused:approve",
    fromPhase: Phase.AwaitingApproval,
    toPhase: Phase.AwaitingApproval,
    canaryWeight: 10,
    detail: HOSTILE,
  },
];

const DRY_RUN: DryRun = {
  plan: hostile().plan,
  target: hostile().target,
  change: `route <a&b>: v1<old> 100 -> 90, v2&new 0 -> 10 ${HOSTILE}`,
};

type Kind = { kind: string; message: Reply };

/** Every kind of message and reply canarybot sends, each with hostile text wherever text can come from. */
function everyMessage(): Kind[] {
  const kinds: Kind[] = Object.values(Phase).map((phase) => ({
    kind: `the rollout message (${phase})`,
    message: renderRolloutMessage(hostile({ phase }), FIXTURE_NOW),
  }));
  kinds.push(
    {
      kind: "a snapshot reply",
      message: renderSnapshotReply(hostile(), `success-rate 0.8 vs >= 99% ${HOSTILE}`),
    },
    {
      kind: "an alert",
      message: renderAlert(hostile(), `rolled back: ${HOSTILE}`, {
        onCall: "S0ONCALL1",
        link: "https://acme.slack.com/archives/C0DEPLOYS/p1?a=1&b=<2>",
      }),
    },
    { kind: "help", message: helpReply() },
    ...SUBCOMMANDS.map((topic) => ({ kind: `help on ${topic}`, message: helpReply(topic) })),
    {
      kind: "an error with its usage",
      message: errorReply(`No rollout or service \`${HOSTILE}\``, "/canary status <id>"),
    },
    {
      kind: "the list",
      message: listReply(
        [hostile(), hostile({ id: "reviews-10" })],
        "https://acme.slack.com/",
        new Map([["reviews-9", MESSAGE]]),
      ),
    },
    { kind: "a status", message: statusReply(hostile(), FIXTURE_NOW, "https://acme.slack.com/", MESSAGE) },
    { kind: "the audit trail", message: auditReply("reviews-9", AUDIT) },
    { kind: "refused starts", message: auditReply(`start:${HOSTILE}`, AUDIT) },
    { kind: "a dry run", message: dryRunReply(DRY_RUN) },
    { kind: "a start", message: startedReply(hostile({ report: { channel: "C0DEPLOYS" } }), false) },
    { kind: "an action done", message: actedReply(hostile(), "approve") },
  );
  return kinds;
}

/** What a reader sees: entities decoded, control sequences left as they are. */
function shown(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

describe("every message canarybot sends passes the sandbox's Block Kit validator", () => {
  it.each(everyMessage())("$kind", ({ message }) => {
    expect(messageTextProblems(message.text)).toEqual([]);
    expect(messageBlockProblems(message.blocks ?? [])).toEqual([]);
  });

  it("the start form", () => {
    expect(
      modalViewProblems(
        renderStartModal({ services: ["reviews"], defaults: BUILTIN_DEFAULTS, channel: "C1" }),
      ),
    ).toEqual([]);
  });

  it("shows what was written instead of losing it: usage placeholders, table operators, reasons", () => {
    expect(shown(JSON.stringify(helpReply("status").blocks))).toContain("/canary status [<id>|<service>]");
    const table = shown(JSON.stringify(renderSnapshotReply(hostile(), "x").blocks));
    expect(table).toContain(">=");
    const paused = renderRolloutMessage(hostile({ phase: Phase.Paused }), FIXTURE_NOW);
    expect(shown(JSON.stringify(paused.blocks))).toContain(`Paused: ${HOSTILE}`);
    // Nothing the bot did not mean reaches Slack as a control sequence: no @channel, no link.
    expect(JSON.stringify(paused.blocks)).not.toContain("<!channel>");
    expect(JSON.stringify(paused.blocks)).not.toContain("<https://evil");
  });
});

describe("the mrkdwn builder", () => {
  it("escapes plain strings and template literals, and passes only its own control sequences", () => {
    expect(String(mrkdwn`a < b & ${"<c>"} ${mention("U0ALICE1")}`)).toBe(
      "a &lt; b &amp; &lt;c&gt; <@U0ALICE1>",
    );
    expect(String(mention("cli:<x>"))).toBe("cli:&lt;x&gt;");
    expect(String(link("https://x.example/?a=1&b=2", "a & b"))).toBe(
      "<https://x.example/?a=1&amp;b=2|a &amp; b>",
    );
    expect(String(date(FIXTURE_NOW, "{time}", "12:00 <UTC>"))).toBe(
      "<!date^1735732800^{time}|12:00 &lt;UTC&gt;>",
    );
  });

  it("never cuts an entity or a control sequence in two", () => {
    const text = mrkdwn`${"x".repeat(8)}&${mention("U0ALICE1")}`; // x×8 &amp; <@U0ALICE1>
    for (let limit = 1; limit <= text.toString().length + 1; limit += 1) {
      expect(messageTextProblems(String(truncate(text, limit)))).toEqual([]);
      expect(messageTextProblems(String(codeBlock(text, limit)))).toEqual([]);
    }
  });

  it("is the only place in src/slack that writes a mrkdwn text object", () => {
    const dir = join(import.meta.dirname, "../../src/slack");
    const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((file) =>
      file.endsWith(".ts"),
    );
    expect(files).toContain("listeners/actions.ts");
    const writers = files.filter(
      (file) => file !== "mrkdwn.ts" && /type: "mrkdwn"/.test(readFileSync(join(dir, file), "utf8")),
    );
    expect(writers).toEqual([]);
  });
});
