import { describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS } from "../../src/rollout/start-request.ts";
import {
  messageBlockProblems,
  messageTextProblems,
  modalViewProblems,
} from "../../sandbox/slack/block-kit-limits.ts";
import {
  ActionId,
  buttonValue,
  messageLink,
  parseButtonValue,
  progressBar,
  renderAlert,
  renderRolloutMessage,
  renderSnapshotReply,
} from "../../src/slack/render-rollout-message.ts";
import type { SlackMessage } from "../../src/slack/render-rollout-message.ts";
import type { Reply } from "../../src/slack/replies.ts";
import { errorReply, helpReply, listReply, statusReply } from "../../src/slack/replies.ts";
import { staleness } from "../../src/slack/handlers.ts";
import { formErrors, readStartModal, renderStartModal } from "../../src/slack/start-modal.ts";
import { Phase } from "../../src/rollout/types.ts";
import type { CheckResult, MetricsSnapshot, Rollout } from "../../src/rollout/types.ts";
import { FIXTURE_NOW, makeRollout } from "../support/rollouts.ts";

const WORKSPACE = "https://acme.slack.com/";

const SNAPSHOT: MetricsSnapshot = {
  at: FIXTURE_NOW,
  windowSeconds: 60,
  canaryWeight: 25,
  canary: { requestRate: 3.14159, successRate: 0.9, p99Ms: 720, requests: 188 },
  stable: { requestRate: 9.5, successRate: 0.999, p99Ms: 110, requests: 570 },
};

const CHECKS: CheckResult[] = [
  { name: "request-volume", status: "pass", value: 188, threshold: ">= 50 requests" },
  { name: "success-rate", status: "fail", value: 0.9, threshold: ">= 99% (critical below 90%)" },
  { name: "p99-latency", status: "fail", value: 720, threshold: "<= 500ms" },
  { name: "p99-vs-stable", status: "inconclusive", threshold: "<= 1.25x stable" },
];

/** Every message we render must be one Slack accepts. */
function valid<T extends SlackMessage | Reply>(message: T): T {
  expect(messageBlockProblems(message.blocks ?? [])).toEqual([]);
  expect(messageTextProblems(message.text)).toEqual([]);
  return message;
}

function actions(message: SlackMessage): { action_id?: string; value?: string; confirm?: unknown }[] {
  const block = message.blocks.find((candidate) => candidate.type === "actions") as
    { elements: { action_id?: string; value?: string; confirm?: unknown }[] } | undefined;
  return block?.elements ?? [];
}

function allText(message: SlackMessage | Reply): string {
  return JSON.stringify(message.blocks);
}

const progressing = makeRollout({
  id: "reviews-3",
  version: 17,
  startedBy: "U0ALICE1",
  target: { stableSubset: "v1", canarySubset: "v2" },
  plan: { steps: [5, 10, 25, 50, 100] },
  stepIndex: 2,
  appliedWeight: 25,
  nextTickAt: FIXTURE_NOW + 45_000,
  report: { channel: "C0DEPLOYS" },
});
const MESSAGE = { channel: "C0DEPLOYS", ts: "1735732800.000100" };

describe("renderRolloutMessage", () => {
  it("shows the service, stable → canary, id, starter, progress, phase and when the next step is due", () => {
    const message = valid(renderRolloutMessage(progressing, FIXTURE_NOW));
    expect(message.text).toBe("reviews-3: reviews v1 → v2, progressing, 25% · step 3/5");
    expect(message.blocks).toMatchObject([
      { type: "header", text: { type: "plain_text", text: "reviews: v1 → v2" } },
      {
        type: "section",
        text: {
          type: "mrkdwn",
          text: expect.stringMatching(
            /^\*reviews-3\* · `default\/reviews` · started by <@U0ALICE1>/,
          ) as string,
        },
      },
      {
        type: "section",
        text: { text: "`█████░░░░░░░░░░░░░░░` *25% · step 3/5*\n*Phase:* :arrow_forward: progressing" },
      },
      {
        type: "section",
        text: { text: "Next step due <!date^1735732845^{time_secs}|12:00:45 UTC> (in 45s)" },
      },
      { type: "actions", block_id: "rollout_actions" },
    ]);
  });

  it("shows the canary's pods as the last tick saw them, with a warning while they are unhealthy", () => {
    const healthy = {
      ...progressing,
      pods: { at: FIXTURE_NOW, observed: { pods: 2, ready: 2, restarts: 0 } },
    };
    expect(valid(renderRolloutMessage(healthy, FIXTURE_NOW)).blocks).toContainEqual({
      type: "context",
      elements: [{ type: "mrkdwn", text: "pods 2/2 ready, 0 restarts" }],
    });
    const observed = { pods: 2, ready: 0, restarts: 7, waiting: "CrashLoopBackOff" };
    const problem = "0/2 pods ready (CrashLoopBackOff)";
    const unhealthy = {
      ...progressing,
      pods: { at: FIXTURE_NOW, observed, unhealthySince: FIXTURE_NOW, problem },
    };
    const text = allText(valid(renderRolloutMessage(unhealthy, FIXTURE_NOW)));
    expect(text).toContain(`:warning: pods unhealthy since 12:00 UTC: ${problem}; rolls back at 12:10 UTC`);
    expect(text).toContain("Holding at 25% until the canary's pods are healthy.");
  });

  it("offers Promote, Pause and Rollback while progressing; Promote and Rollback ask for confirmation", () => {
    const buttons = actions(renderRolloutMessage(progressing, FIXTURE_NOW));
    expect(buttons).toMatchObject([
      {
        action_id: ActionId.Promote,
        value: "reviews-3@17",
        confirm: { confirm: { text: "Promote" } },
      },
      { action_id: ActionId.Pause, value: "reviews-3@17" },
      {
        action_id: ActionId.Rollback,
        value: "reviews-3@17",
        style: "danger",
        confirm: { title: { text: "Roll back reviews-3?" }, style: "danger" },
      },
    ]);
    expect(buttons[1]).not.toHaveProperty("confirm");
  });

  it.each([
    [Phase.AwaitingApproval, [ActionId.Approve, ActionId.Promote, ActionId.Pause, ActionId.Rollback]],
    [Phase.HeaderStage, [ActionId.Approve, ActionId.Promote, ActionId.Pause, ActionId.Rollback]],
    [Phase.Paused, [ActionId.Promote, ActionId.Resume, ActionId.Rollback]],
    [Phase.Preflight, []],
    [Phase.RollingBack, []],
    [Phase.Promoted, []],
    [Phase.RolledBack, []],
    [Phase.Failed, []],
  ])("in %s offers %j", (phase, expected) => {
    const rollout = makeRollout({
      phase,
      plan: { headerMatch: { name: "qa", value: "canary-test" } },
      outcome: { at: FIXTURE_NOW, by: "U0BOB001", reason: "why not" },
    });
    const message = valid(renderRolloutMessage(rollout, FIXTURE_NOW));
    expect(actions(message).map((button) => button.action_id)).toEqual(expected);
    if (expected.length === 0) expect(message.blocks.some((block) => block.type === "actions")).toBe(false);
  });

  it("says whose approval it waits for, and explains the header stage", () => {
    const awaiting = makeRollout({
      phase: Phase.AwaitingApproval,
      startedBy: "U0ALICE1",
      plan: { twoPersonRule: true },
    });
    expect(allText(renderRolloutMessage(awaiting, FIXTURE_NOW))).toContain(
      "Holding at 5% until someone other than <@U0ALICE1> approves.",
    );
    const header = makeRollout({
      phase: Phase.HeaderStage,
      stepIndex: -1,
      target: { canarySubset: "v2" },
      plan: { headerMatch: { name: "qa", value: "canary-test" }, twoPersonRule: true },
    });
    expect(allText(renderRolloutMessage(header, FIXTURE_NOW))).toContain(
      "Only requests with `qa: canary-test` reach *v2*. Approve by someone other than <@U123> to start shifting weight.",
    );
  });

  it("shows the latest canary-vs-stable numbers with a pass/fail mark per check", () => {
    const judged = {
      ...progressing,
      lastVerdict: { status: "fail" as const, checks: CHECKS, snapshot: SNAPSHOT },
    };
    const message = valid(renderRolloutMessage(judged, FIXTURE_NOW));
    expect(message.blocks).toContainEqual({
      type: "section",
      fields: [
        { type: "mrkdwn", text: "*canary v2*\n90% ok · p99 720ms · 3.14 req/s" },
        { type: "mrkdwn", text: "*stable v1*\n99.9% ok · p99 110ms · 9.5 req/s" },
      ],
    });
    expect(message.blocks).toContainEqual({
      type: "section",
      text: {
        type: "mrkdwn",
        text:
          "*Verdict: fail*\n" +
          ":white_check_mark: *request-volume* 188 (&gt;= 50 requests)\n" +
          ":x: *success-rate* 90% (&gt;= 99% (critical below 90%))\n" +
          ":x: *p99-latency* 720ms (&lt;= 500ms)\n" +
          ":grey_question: *p99-vs-stable* no data (&lt;= 1.25x stable)",
      },
    });
  });

  it("shows a finished rollout's outcome and no buttons", () => {
    const promoted = makeRollout({
      phase: Phase.Promoted,
      stepIndex: 3,
      outcome: { at: FIXTURE_NOW, by: "U0BOB001", reason: "promoted by U0BOB001" },
      approvals: [{ by: "U0BOB001", at: FIXTURE_NOW, stepIndex: 1 }],
      target: { canarySubset: "v2" },
    });
    const message = valid(renderRolloutMessage(promoted, FIXTURE_NOW));
    expect(allText(message)).toContain(
      ":white_check_mark: *Promoted* by <@U0BOB001> at <!date^1735732800^{time_secs}|12:00:00 UTC>. All traffic on *v2*: promoted by <@U0BOB001>",
    );
    expect(allText(message)).toContain(":ballot_box_with_check: approved by <@U0BOB001> at 25%");
    expect(actions(message)).toEqual([]);
    const rolledBack = makeRollout({
      phase: Phase.RolledBack,
      startedBy: "cli:alice",
      outcome: { at: FIXTURE_NOW, by: "canarybot", reason: "success-rate 0.8 vs >= 99%" },
    });
    const text = allText(valid(renderRolloutMessage(rolledBack, FIXTURE_NOW)));
    expect(text).toContain("started by cli:alice");
    expect(text).toContain(":leftwards_arrow_with_hook: *Rolled back* by canarybot");
    expect(text).toContain("success-rate 0.8 vs &gt;= 99%");
  });

  it("escapes what people typed, so a reason cannot ping the channel", () => {
    const paused = makeRollout({ phase: Phase.Paused, reason: "paused by U0BOB001: <!channel> look & see" });
    const text = allText(valid(renderRolloutMessage(paused, FIXTURE_NOW)));
    expect(text).toContain("Paused: paused by <@U0BOB001>: &lt;!channel&gt; look &amp; see");
  });

  it("shows each webhook's latest call with its status, duration and a short answer, secrets redacted", () => {
    const held = makeRollout({
      phase: Phase.Progressing,
      waitingFor: 'confirm-promotion "promotion gate" (403: Forbidden)',
      hookResults: [
        { name: "load", type: "rollout", ok: true, status: 202, durationMs: 41, attempts: 1, answer: "" },
        {
          name: "smoke",
          type: "pre-rollout",
          ok: false,
          status: 500,
          durationMs: 12_400,
          attempts: 3,
          answer: `boom: token=abcdefgh12345678 ${"x".repeat(400)}`,
        },
        {
          name: "events",
          type: "event",
          ok: false,
          durationMs: 10_000,
          attempts: 1,
          answer: "no answer within 10000 ms",
        },
      ],
    });
    const text = allText(valid(renderRolloutMessage(held, FIXTURE_NOW)));
    expect(text).toContain("*Webhooks*");
    expect(text).toContain('Waiting for confirm-promotion \\"promotion gate\\" (403: Forbidden)');
    expect(text).toContain(":white_check_mark: rollout *load* → 202 in 41ms");
    expect(text).toContain(":x: pre-rollout *smoke* → 500 in 12s (3 attempts): boom: token=[redacted]");
    expect(text).not.toContain("abcdefgh12345678");
    expect(text).toMatch(/x{90}… \(\d+ more characters\)/);
    expect(text).not.toMatch(/x{121}/);
    expect(text).toContain(":x: event *events* → no answer in 10s: no answer within 10000 ms");
  });

  it("shows no webhook section for a rollout without hooks, and no wait once it has ended", () => {
    expect(allText(renderRolloutMessage(progressing, FIXTURE_NOW))).not.toContain("Webhooks");
    const ended = makeRollout({ phase: Phase.Promoted, waitingFor: 'confirm-promotion "gate" (403)' });
    expect(allText(renderRolloutMessage(ended, FIXTURE_NOW))).not.toContain("Waiting for");
  });

  it("stays within Slack's limits whatever the plan holds", () => {
    const big = makeRollout({
      id: `${"x".repeat(60)}-1`,
      target: { service: "s".repeat(200), stableSubset: "a".repeat(300), canarySubset: "b".repeat(300) },
      reason: "r".repeat(5000),
      phase: Phase.Paused,
      lastVerdict: {
        status: "fail",
        snapshot: SNAPSHOT,
        checks: Array.from({ length: 60 }, (_, i) => ({
          name: `custom-${i}`,
          status: "fail" as const,
          value: i,
          threshold: "t".repeat(100),
        })),
      },
      approvals: Array.from({ length: 40 }, (_, i) => ({ by: `U0USER${i}X`, at: FIXTURE_NOW, stepIndex: 0 })),
    });
    valid(renderRolloutMessage(big, FIXTURE_NOW));
    valid(renderAlert(big, "a".repeat(4000), { onCall: "S0ONCALL1", link: "https://x" }));
    valid(renderSnapshotReply(big, "t".repeat(4000)));
  });
});

describe("button values", () => {
  it("carry the rollout id and the version, and read back", () => {
    expect(buttonValue({ id: "reviews-3", version: 17 })).toBe("reviews-3@17");
    expect(parseButtonValue("reviews-3@17")).toEqual({ id: "reviews-3", version: 17 });
    expect(parseButtonValue("clicked")).toBeUndefined();
    expect(parseButtonValue(undefined)).toBeUndefined();
  });
});

describe("renderAlert", () => {
  it("mentions the starter and the on-call group, names each failing check with value and threshold, links the message", () => {
    const rollout: Rollout = {
      ...progressing,
      lastVerdict: { status: "fail", checks: CHECKS, snapshot: SNAPSHOT },
    };
    const link = messageLink({ channel: "C0DEPLOYS", ts: "1735732800.000100" }, WORKSPACE);
    expect(link).toBe("https://acme.slack.com/archives/C0DEPLOYS/p1735732800000100");
    const alert = valid(
      renderAlert(rollout, "reviews-3 is rolling back automatically: success-rate 0.9", {
        onCall: "S0ONCALL1",
        link,
      }),
    );
    expect(alert.text).toBe(
      ":rotating_light: reviews-3 is rolling back automatically: success-rate 0.9 (cc <@U0ALICE1> <!subteam^S0ONCALL1>)",
    );
    expect(alert.blocks).toMatchObject([
      {
        type: "section",
        text: {
          text: expect.stringContaining(
            "*reviews-3* · reviews v1 → v2\nreviews-3 is rolling back automatically",
          ) as string,
        },
      },
      {
        type: "section",
        text: {
          text:
            "*Checks that did not pass*\n:x: *success-rate* 90% (&gt;= 99% (critical below 90%))\n" +
            ":x: *p99-latency* 720ms (&lt;= 500ms)\n:grey_question: *p99-vs-stable* no data (&lt;= 1.25x stable)",
        },
      },
      {
        type: "context",
        elements: [{ text: `cc <@U0ALICE1> <!subteam^S0ONCALL1> · <${link}|rollout message>` }],
      },
    ]);
  });

  it("mentions a user on-call as a user, and a CLI starter as plain text", () => {
    const alert = valid(
      renderAlert(makeRollout({ startedBy: "cli:alice" }), "drift", { onCall: "U0ONCALL1" }),
    );
    expect(alert.text).toBe(":rotating_light: drift (cc cli:alice <@U0ONCALL1>)");
  });
});

describe("renderSnapshotReply", () => {
  it("puts the canary-vs-stable table in a code block", () => {
    const rollout = {
      ...progressing,
      snapshots: [SNAPSHOT],
      lastVerdict: { status: "fail" as const, checks: CHECKS, snapshot: SNAPSHOT },
    };
    const reply = valid(renderSnapshotReply(rollout, "success-rate 0.9 vs >= 99%"));
    expect(reply.blocks[0]).toMatchObject({
      text: { text: "*reviews-3* at 25% · step 3/5 · verdict *fail*" },
    });
    expect(reply.blocks[1]).toMatchObject({
      text: {
        text: expect.stringMatching(/^```reviews-3 at .*\n.*v2 +v1\n.*requests\/s +3\.14 +9\.5/s) as string,
      },
    });
  });
});

describe("replies and the start form", () => {
  it("renders replies Slack accepts", () => {
    valid(errorReply("no", "usage"));
    valid(helpReply());
    valid(helpReply("start"));
    valid(listReply([progressing, makeRollout()], WORKSPACE, new Map([[progressing.id, MESSAGE]])));
    const status = valid(statusReply(progressing, FIXTURE_NOW, WORKSPACE, MESSAGE));
    expect((status.blocks ?? []).some((block) => block.type === "actions")).toBe(false);
    expect(allText(status)).toContain("https://acme.slack.com/archives/C0DEPLOYS/p1735732800000100|message");
  });

  it("builds a start form Slack accepts and reads its submission back", () => {
    const view = renderStartModal({
      services: ["ratings", "reviews"],
      defaults: BUILTIN_DEFAULTS,
      channel: "C0DEPLOYS",
    });
    expect(modalViewProblems(view)).toEqual([]);
    expect(
      modalViewProblems(renderStartModal({ services: [], defaults: BUILTIN_DEFAULTS, channel: "C1" })),
    ).toEqual([]);
    const submitted = readStartModal({
      private_metadata: view.private_metadata ?? "",
      state: {
        values: {
          service: { value: { selected_option: { value: "reviews" } } },
          canary: { value: { value: " v2 " } },
          steps: { value: { value: "10,100" } },
          interval: { value: { value: null } },
          approve_at: { value: { value: "" } },
        },
      },
    });
    expect(submitted).toEqual({
      channel: "C0DEPLOYS",
      options: { service: "reviews", canary: "v2", steps: "10,100" },
    });
    expect(
      formErrors([
        { field: "steps", message: "5 after 10: steps must be strictly increasing" },
        { field: "interval", message: "must be at least 1s" },
        { field: "--host", message: "the target of reviews comes from the config file" },
      ]),
    ).toEqual({
      steps: "5 after 10: steps must be strictly increasing",
      interval: "must be at least 1s",
      service: "--host: the target of reviews comes from the config file",
    });
  });

  it("draws a progress bar of 20 cells", () => {
    expect(progressBar(0)).toBe("░".repeat(20));
    expect(progressBar(100)).toBe("█".repeat(20));
    expect(progressBar(50)).toBe(`${"█".repeat(10)}${"░".repeat(10)}`);
  });
});

describe("the weight the route carries", () => {
  const rollingBack = makeRollout({
    phase: Phase.RollingBack,
    plan: { steps: [10, 20, 50, 100] },
    stepIndex: 1,
    appliedWeight: 20,
    outcome: { at: FIXTURE_NOW, by: "canarybot", reason: "success-rate 80% vs >= 99%" },
  });

  it("shows a pending write as `from → to`, and the bar at what the route carries", () => {
    const message = valid(renderRolloutMessage(rollingBack, FIXTURE_NOW));
    expect(message.text).toContain("rolling-back, 20% → 0% · back from step 2/4");
    expect(allText(message)).toContain(`\`${progressBar(20)}\` *20% → 0% · back from step 2/4*`);
    const holding = makeRollout({
      phase: Phase.AwaitingApproval,
      plan: { steps: [10, 50, 100], approvalGates: [50] },
      stepIndex: 1,
      appliedWeight: 10,
    });
    expect(allText(valid(renderRolloutMessage(holding, FIXTURE_NOW)))).toContain(
      "Holding at 10% → 50% until",
    );
  });

  it("says how long a restore has been failing, how often it was tried, and the last error, escaped", () => {
    const since = Date.UTC(2025, 0, 1, 14, 2, 0);
    const failing = {
      ...rollingBack,
      restoreFailure: {
        attempts: 8,
        since,
        lastError: "VirtualService default/reviews: 503 <html>&c",
        alertedAt: since,
      },
    };
    const message = valid(renderRolloutMessage(failing, FIXTURE_NOW));
    expect(allText(message)).toContain(
      `:warning: *Restore failing* since <!date^${since / 1000}^{time}|14:02 UTC>, 8 attempts: VirtualService default/reviews: 503 &lt;html&gt;&amp;c`,
    );
    expect(allText(valid(renderRolloutMessage(rollingBack, FIXTURE_NOW)))).not.toContain("Restore failing");
  });

  it("says when a step waits for its release window, and when nobody is stepping the rollout", () => {
    const opens = Date.UTC(2026, 11, 28, 8, 0);
    const held = makeRollout({
      stepIndex: 0,
      appliedWeight: 5,
      heldUntil: opens,
      nextTickAt: FIXTURE_NOW + 60_000,
    });
    expect(allText(valid(renderRolloutMessage(held, FIXTURE_NOW)))).toContain(
      `Holding at 5%: outside its release windows until <!date^${opens / 1000}^{date_short_pretty} {time}|2026-12-28 08:00 UTC>.`,
    );
    const overdue = makeRollout({
      nextTickAt: FIXTURE_NOW - 600_000,
      overdue: { tick: 0, since: FIXTURE_NOW, detail: "no worker for cluster https://prod:6443 is running" },
    });
    expect(allText(valid(renderRolloutMessage(overdue, FIXTURE_NOW)))).toContain(
      ":warning: *Not being stepped*: no worker for cluster https://prod:6443 is running",
    );
  });

  it("tells a stale click the weight the route carries", () => {
    expect(staleness({ ...rollingBack, version: 9 }, 3)).toBe(
      "reviews-1 has moved on since that message was drawn (now rolling-back at 20% → 0%); look at the updated message and try again.",
    );
  });
});
