import type { types } from "@slack/bolt";
import { snapshotTable } from "../commands/render-text.ts";
import { formatMs, formatPercent } from "../metrics/analysis.ts";
import { describeProgress, describeWeight, isTerminal } from "../rollout/plan.ts";
import { describePods } from "../rollout/pod-health.ts";
import { formatUtc, formatUtcDateTime, formatUtcTime } from "../rollout/time-text.ts";
import { CheckStatus, Phase } from "../rollout/types.ts";
import type { CheckResult, HookResult, MetricsSnapshot, Rollout, SubsetMetrics } from "../rollout/types.ts";
import { redact } from "../redact.ts";
import {
  bold,
  code,
  codeBlock,
  context,
  date,
  escape,
  fieldsSection,
  join,
  link,
  mrkdwn,
  mention,
  mentionGroup,
  message,
  mrkdwnText,
  section,
  TextLimit,
  withMentions,
} from "./mrkdwn.ts";
import type { KnownBlock, Mrkdwn, SlackMessage } from "./mrkdwn.ts";

export type { KnownBlock, SlackMessage } from "./mrkdwn.ts";
type Button = types.Button;

/** The rollout message's buttons. Constants: Bolt listeners match on them. */
export const ActionId = {
  Approve: "canary_approve",
  Promote: "canary_promote",
  Pause: "canary_pause",
  Resume: "canary_resume",
  Rollback: "canary_rollback",
} as const;
export type ActionId = (typeof ActionId)[keyof typeof ActionId];

export const ACTION_EVENTS: Readonly<
  Record<ActionId, "approve" | "promote" | "pause" | "resume" | "rollback">
> = {
  [ActionId.Approve]: "approve",
  [ActionId.Promote]: "promote",
  [ActionId.Pause]: "pause",
  [ActionId.Resume]: "resume",
  [ActionId.Rollback]: "rollback",
};

export function isActionId(value: string): value is ActionId {
  return Object.hasOwn(ACTION_EVENTS, value);
}

/** `reviews-3@17`: the rollout and the state version the message showed, so a stale click is noticed. */
export function buttonValue(rollout: Pick<Rollout, "id" | "version">): string {
  return `${rollout.id}@${rollout.version}`;
}

export function parseButtonValue(value: string | undefined): { id: string; version: number } | undefined {
  const match = /^([a-z0-9][-a-z0-9.]*)@(\d+)$/.exec(value ?? "");
  if (!match?.[1] || match[2] === undefined) return undefined;
  return { id: match[1], version: Number(match[2]) };
}

/** Slack's link to a message: `https://<workspace>.slack.com/archives/<channel>/p<ts without the dot>`. */
export function messageLink(
  report: { channel: string; ts: string },
  workspaceUrl = "https://slack.com/",
): string {
  const base = workspaceUrl.endsWith("/") ? workspaceUrl : `${workspaceUrl}/`;
  return `${base}archives/${report.channel}/p${report.ts.replace(".", "")}`;
}

/** A time every reader sees in their own zone, with a UTC fallback. */
function slackTime(ms: number): Mrkdwn {
  return date(ms, "{time_secs}", `${formatUtcTime(ms)} UTC`);
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours}h` : `${hours}h ${minutes % 60}m`;
}

const BAR_CELLS = 20;

/** `████░░░░░░░░░░░░░░░░` for 20%. */
export function progressBar(weight: number): string {
  const filled = Math.max(0, Math.min(BAR_CELLS, Math.round((weight / 100) * BAR_CELLS)));
  return `${"█".repeat(filled)}${"░".repeat(BAR_CELLS - filled)}`;
}

/** A phase for people, with its emoji. */
export const PHASE_LABEL: Readonly<Record<Phase, string>> = {
  [Phase.Preflight]: ":mag: preflight",
  [Phase.HeaderStage]: ":test_tube: header stage",
  [Phase.Progressing]: ":arrow_forward: progressing",
  [Phase.Paused]: ":double_vertical_bar: paused",
  [Phase.AwaitingApproval]: ":raised_hand: awaiting approval",
  [Phase.Promoted]: ":white_check_mark: promoted",
  [Phase.RollingBack]: ":rewind: rolling back",
  [Phase.RolledBack]: ":leftwards_arrow_with_hook: rolled back",
  [Phase.Failed]: ":x: failed",
};

const MARK: Readonly<Record<CheckStatus, string>> = {
  [CheckStatus.Pass]: ":white_check_mark:",
  [CheckStatus.Fail]: ":x:",
  [CheckStatus.Inconclusive]: ":grey_question:",
};

/** A check's value in its own unit. */
export function formatCheckValue(check: CheckResult): string {
  const { value } = check;
  if (value === undefined) return "no data";
  switch (check.name) {
    case "success-rate":
    case "error-rate-vs-stable":
      return formatPercent(value);
    case "p99-latency":
      return formatMs(value);
    case "p99-vs-stable":
      return `${Math.round(value * 100) / 100}x`;
    case "request-volume":
      return String(Math.round(value));
    default:
      return String(Math.round(value * 1000) / 1000);
  }
}

/** `:x: success-rate 91% (>= 99%)` */
export function checkLine(check: CheckResult): Mrkdwn {
  return mrkdwn`${MARK[check.status]} ${bold(check.name)} ${formatCheckValue(check)} (${check.threshold})`;
}

function subsetSummary(metrics: SubsetMetrics): string {
  const parts = [
    metrics.successRate === undefined ? undefined : `${formatPercent(metrics.successRate)} ok`,
    metrics.p99Ms === undefined ? undefined : `p99 ${formatMs(metrics.p99Ms)}`,
    metrics.requestRate === undefined ? undefined : `${Math.round(metrics.requestRate * 100) / 100} req/s`,
  ].filter((part) => part !== undefined);
  return parts.length > 0 ? parts.join(" · ") : "no data";
}

function button(
  rollout: Rollout,
  actionId: ActionId,
  label: string,
  extra: Partial<Pick<Button, "style" | "confirm">> = {},
): Button {
  return {
    type: "button",
    action_id: actionId,
    text: { type: "plain_text", text: label, emoji: true },
    value: buttonValue(rollout),
    ...extra,
  };
}

function confirm(title: string, text: Mrkdwn, verb: string, style?: "danger"): Button["confirm"] {
  return {
    title: { type: "plain_text", text: title.slice(0, 100) },
    text: mrkdwnText(text, TextLimit.confirm),
    confirm: { type: "plain_text", text: verb },
    deny: { type: "plain_text", text: "Cancel" },
    ...(style ? { style } : {}),
  };
}

/** The buttons a phase offers; a finished rollout (or one rolling back) offers none. */
function buttons(rollout: Rollout): Button[] {
  const { id, target } = rollout;
  const promote = button(rollout, ActionId.Promote, "Promote", {
    confirm: confirm(
      `Promote ${id}?`,
      mrkdwn`All traffic goes to ${bold(target.canarySubset)} now, skipping the remaining steps.`,
      "Promote",
    ),
  });
  const rollback = button(rollout, ActionId.Rollback, "Rollback", {
    style: "danger",
    confirm: confirm(
      `Roll back ${id}?`,
      mrkdwn`All traffic goes back to ${bold(target.stableSubset)}: the route is restored exactly as it was before the rollout.`,
      "Roll back",
      "danger",
    ),
  });
  const approve = button(rollout, ActionId.Approve, "Approve", { style: "primary" });
  const pause = button(rollout, ActionId.Pause, "Pause");
  const resume = button(rollout, ActionId.Resume, "Resume");
  switch (rollout.phase) {
    case Phase.HeaderStage:
    case Phase.AwaitingApproval:
      return [approve, promote, pause, rollback];
    case Phase.Progressing:
      return [promote, pause, rollback];
    case Phase.Paused:
      return [promote, resume, rollback];
    case Phase.Preflight:
    case Phase.RollingBack:
    case Phase.Promoted:
    case Phase.RolledBack:
    case Phase.Failed:
      return [];
  }
}

/** "Restore failing since 14:02 UTC, 8 attempts: <the last error>", while a rollback cannot restore the route. */
function restoreFailureLine(rollout: Rollout): Mrkdwn | undefined {
  const failure = rollout.restoreFailure;
  if (!failure) return undefined;
  const since = date(failure.since, "{time}", formatUtc(failure.since));
  const attempts = `${failure.attempts} attempt${failure.attempts === 1 ? "" : "s"}`;
  return mrkdwn`:warning: ${bold("Restore failing")} since ${since}, ${attempts}: ${failure.lastError}`;
}

/** What happens next, in words: the next step's time, whose approval is awaited, why it is paused. */
function nextLine(rollout: Rollout, now: number): Mrkdwn | undefined {
  const { plan } = rollout;
  switch (rollout.phase) {
    case Phase.Preflight:
      return escape("Checking the route, the subsets and their pods…");
    case Phase.HeaderStage: {
      const header = plan.headerMatch;
      const who = plan.twoPersonRule ? mrkdwn` by someone other than ${mention(rollout.startedBy)}` : "";
      return header
        ? mrkdwn`Only requests with ${code(`${header.name}: ${header.value}`)} reach ${bold(rollout.target.canarySubset)}. Approve${who} to start shifting weight.`
        : undefined;
    }
    case Phase.Progressing: {
      if (rollout.overdue) return mrkdwn`:warning: ${bold("Not being stepped")}: ${rollout.overdue.detail}`;
      if (rollout.pods?.unhealthySince !== undefined) {
        return mrkdwn`Holding at ${describeWeight(rollout)} until the canary's pods are healthy.`;
      }
      if (rollout.heldUntil !== undefined) {
        const opens = date(
          rollout.heldUntil,
          "{date_short_pretty} {time}",
          formatUtcDateTime(rollout.heldUntil),
        );
        return mrkdwn`Holding at ${describeWeight(rollout)}: outside its release windows until ${opens}.`;
      }
      if (rollout.nextTickAt === undefined) return undefined;
      const wait = rollout.nextTickAt - now;
      const what = rollout.stepIndex >= plan.steps.length - 1 ? "Promotion" : "Next step";
      return wait <= 0
        ? mrkdwn`${what} due now`
        : mrkdwn`${what} due ${slackTime(rollout.nextTickAt)} (in ${formatDuration(wait)})`;
    }
    case Phase.AwaitingApproval: {
      const who = plan.twoPersonRule ? mrkdwn`someone other than ${mention(rollout.startedBy)}` : "someone";
      return mrkdwn`Holding at ${describeWeight(rollout)} until ${who} approves.`;
    }
    case Phase.Paused:
      return rollout.reason ? mrkdwn`Paused: ${withMentions(rollout.reason)}` : escape("Paused");
    case Phase.RollingBack: {
      const why = rollout.outcome ? mrkdwn` (${withMentions(rollout.outcome.reason)})` : "";
      const failing = restoreFailureLine(rollout);
      return mrkdwn`Restoring the route to ${bold(rollout.target.stableSubset)}…${why}${failing ? mrkdwn`\n${failing}` : ""}`;
    }
    case Phase.Promoted:
    case Phase.RolledBack:
    case Phase.Failed:
      return undefined;
  }
}

function outcomeLine(rollout: Rollout): Mrkdwn {
  const { outcome, target } = rollout;
  const by = outcome ? mrkdwn` by ${mention(outcome.by)}` : "";
  const when = outcome ? mrkdwn` at ${slackTime(outcome.at)}` : "";
  const why = outcome?.reason ? mrkdwn`: ${withMentions(outcome.reason)}` : "";
  if (rollout.phase === Phase.Promoted) {
    return mrkdwn`:white_check_mark: *Promoted*${by}${when}. All traffic on ${bold(target.canarySubset)}${why}`;
  }
  if (rollout.phase === Phase.RolledBack) {
    return mrkdwn`:leftwards_arrow_with_hook: *Rolled back*${by}${when}. The route is back on ${bold(target.stableSubset)}${why}`;
  }
  return mrkdwn`:x: *Failed*${when}${why}`;
}

function latestSnapshot(rollout: Rollout): MetricsSnapshot | undefined {
  return rollout.lastVerdict?.snapshot ?? rollout.snapshots.at(-1);
}

function metricBlocks(rollout: Rollout): KnownBlock[] {
  const snapshot = latestSnapshot(rollout);
  const checks = rollout.lastVerdict?.checks ?? [];
  if (!snapshot && checks.length === 0) return [];
  const blocks: KnownBlock[] = [];
  const { canarySubset, stableSubset } = rollout.target;
  if (snapshot) {
    blocks.push(
      fieldsSection([
        mrkdwn`*canary ${canarySubset}*\n${subsetSummary(snapshot.canary)}`,
        mrkdwn`*stable ${stableSubset}*\n${subsetSummary(snapshot.stable)}`,
      ]),
    );
  }
  const lines = [
    ...(snapshot?.unavailable ? [mrkdwn`:warning: metrics unavailable: ${snapshot.unavailable}`] : []),
    ...checks.map(checkLine),
  ];
  if (lines.length > 0) {
    const verdict = rollout.lastVerdict ? mrkdwn`*Verdict: ${rollout.lastVerdict.status}*\n` : "";
    blocks.push(section(mrkdwn`${verdict}${join(lines, "\n")}`));
  }
  return blocks;
}

/** Webhook calls shown on the message: the latest of each hook, newest last; the audit keeps every call. */
const SHOWN_HOOK_RESULTS = 8;
/** Characters of a hook's answer on the message (the audit keeps 300). */
const SHOWN_ANSWER_CHARS = 120;

/** `:x: rollout *load* → 500 in 41 ms (2 attempts): boom`. The answer is redacted again: older rollouts stored more. */
export function hookResultLine(result: HookResult): Mrkdwn {
  const status = result.status === undefined ? "no answer" : String(result.status);
  const attempts = result.attempts > 1 ? ` (${result.attempts} attempts)` : "";
  const answer = result.answer === "" ? "" : `: ${redact(result.answer, [], SHOWN_ANSWER_CHARS)}`;
  const took = result.durationMs < 1_000 ? formatMs(result.durationMs) : formatDuration(result.durationMs);
  return mrkdwn`${result.ok ? MARK[CheckStatus.Pass] : MARK[CheckStatus.Fail]} ${result.type} ${bold(result.name)} → ${status} in ${took}${attempts}${answer}`;
}

/** What the webhooks said: the gate that holds the rollout, then each hook's latest call. */
function hookBlocks(rollout: Rollout): KnownBlock[] {
  const results = (rollout.hookResults ?? []).slice(-SHOWN_HOOK_RESULTS);
  const waiting = rollout.waitingFor && !isTerminal(rollout.phase) ? rollout.waitingFor : undefined;
  if (results.length === 0 && waiting === undefined) return [];
  const lines = [
    ...(waiting === undefined ? [] : [mrkdwn`:hourglass_flowing_sand: Waiting for ${redact(waiting)}`]),
    ...results.map(hookResultLine),
  ];
  return [section(mrkdwn`*Webhooks*\n${join(lines, "\n")}`)];
}

function approvalsLine(rollout: Rollout): Mrkdwn | undefined {
  if (rollout.approvals.length === 0) return undefined;
  return join(
    rollout.approvals.map((approval) => {
      const weight = rollout.plan.steps[approval.stepIndex];
      const where = weight === undefined ? "the header stage" : `${weight}%`;
      return mrkdwn`:ballot_box_with_check: approved by ${mention(approval.by)} at ${where}`;
    }),
    " · ",
  );
}

/** `reviews-3: reviews v1 → v2, progressing, 25% · step 3/5` — the notification text and the fallback. */
export function summaryText(rollout: Rollout): Mrkdwn {
  const { target } = rollout;
  return mrkdwn`${rollout.id}: ${target.service} ${target.stableSubset} → ${target.canarySubset}, ${rollout.phase}, ${describeProgress(rollout)}`;
}

/**
 * The one message of a rollout, updated in place on every change. Pure: `now` only says how far off the next
 * step is.
 */
export function renderRolloutMessage(rollout: Rollout, now: number): SlackMessage {
  const { target } = rollout;
  const blocks: KnownBlock[] = [
    {
      type: "header",
      text: {
        type: "plain_text",
        text: `${target.service}: ${target.stableSubset} → ${target.canarySubset}`.slice(0, 150),
        emoji: true,
      },
    },
    section(
      mrkdwn`${bold(rollout.id)} · ${code(`${target.namespace}/${target.virtualService}`)} · started by ${mention(rollout.startedBy)} ${slackTime(rollout.createdAt)}`,
    ),
    // The bar and the figure show what the route carries now; a pending write shows as `20% → 0%`.
    section(
      mrkdwn`${code(progressBar(rollout.appliedWeight))} ${bold(describeProgress(rollout))}\n*Phase:* ${PHASE_LABEL[rollout.phase]}`,
    ),
  ];
  if (isTerminal(rollout.phase)) {
    blocks.push(section(outcomeLine(rollout)));
  } else {
    const next = nextLine(rollout, now);
    if (next) blocks.push(section(next));
  }
  blocks.push(...metricBlocks(rollout));
  const pods = podsLine(rollout);
  if (pods) blocks.push(context(pods));
  blocks.push(...hookBlocks(rollout));
  const approvals = approvalsLine(rollout);
  if (approvals) blocks.push(context(approvals));
  const actions = isTerminal(rollout.phase) ? [] : buttons(rollout);
  if (actions.length > 0) blocks.push({ type: "actions", block_id: "rollout_actions", elements: actions });
  return message(summaryText(rollout), blocks);
}

/** The canary's pods as the last tick saw them, while the rollout is live: a warning while they are unhealthy. */
function podsLine(rollout: Rollout): Mrkdwn | undefined {
  const pods = isTerminal(rollout.phase) ? undefined : describePods(rollout);
  if (pods === undefined) return undefined;
  return rollout.pods?.unhealthySince === undefined ? escape(pods) : mrkdwn`:warning: ${pods}`;
}

/** A snapshot reply in the rollout's thread: the verdict and the canary-vs-stable table. */
export function renderSnapshotReply(rollout: Rollout, text: string): SlackMessage {
  const verdict = rollout.lastVerdict?.status ?? "none";
  return message(mrkdwn`${rollout.id} at ${describeProgress(rollout)}: ${verdict}. ${text}`, [
    section(mrkdwn`${bold(rollout.id)} at ${describeProgress(rollout)} · verdict ${bold(verdict)}`),
    section(codeBlock(snapshotTable(rollout), 2980)),
  ]);
}

export type AlertContext = {
  /** The service's on-call: a user or a user group id. */
  onCall?: string;
  /** Link to the rollout message. */
  link?: string;
};

/**
 * A top-level alert: what happened, the starter and the service's on-call mentioned, each failing (or unclear)
 * check with its value and threshold, and a link to the rollout message.
 */
export function renderAlert(rollout: Rollout, text: string, alert: AlertContext = {}): SlackMessage {
  const { target } = rollout;
  const people = [mention(rollout.startedBy), ...(alert.onCall ? [mentionGroup(alert.onCall)] : [])];
  const unique = join(
    people.filter(
      (person, index) => people.findIndex((other) => other.toString() === person.toString()) === index,
    ),
    " ",
  );
  const bad = (rollout.lastVerdict?.checks ?? []).filter((check) => check.status !== CheckStatus.Pass);
  const blocks: KnownBlock[] = [
    section(
      mrkdwn`:rotating_light: ${bold(rollout.id)} · ${target.service} ${target.stableSubset} → ${target.canarySubset}\n${withMentions(text)}`,
    ),
  ];
  if (bad.length > 0)
    blocks.push(section(mrkdwn`*Checks that did not pass*\n${join(bad.map(checkLine), "\n")}`));
  const messageLinkText = alert.link ? mrkdwn` · ${link(alert.link, "rollout message")}` : "";
  blocks.push(context(mrkdwn`cc ${unique}${messageLinkText}`));
  return message(mrkdwn`:rotating_light: ${withMentions(text)} (cc ${unique})`, blocks);
}
