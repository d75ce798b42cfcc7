import type { types } from "@slack/bolt";
import { snapshotTable } from "../commands/render-text.ts";
import { formatMs, formatPercent } from "../metrics/analysis.ts";
import { describeProgress, desiredWeight, isTerminal } from "../rollout/plan.ts";
import { CheckStatus, Phase, SYSTEM_ACTOR } from "../rollout/types.ts";
import type { Actor, CheckResult, MetricsSnapshot, Rollout, SubsetMetrics } from "../rollout/types.ts";

export type KnownBlock = types.KnownBlock;
type Button = types.Button;

/** What chat.postMessage / chat.update / respond take. */
export type SlackMessage = { text: string; blocks: KnownBlock[] };

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

/** mrkdwn control characters, escaped as Slack asks. */
export function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const SLACK_ID_IN_TEXT = /\b([UW](?=[A-Z0-9]*\d)[A-Z0-9]{6,})\b/g;

/** Escaped text in which bare Slack user ids (`paused by U0ALICE1`) become mentions. */
function prose(text: string): string {
  return escapeText(text).replace(SLACK_ID_IN_TEXT, "<@$1>");
}

/** A Slack user as a mention; a CLI user (`cli:alice`) and canarybot itself as plain text. */
export function mention(actor: Actor): string {
  if (/^[UW][A-Z0-9]{2,}$/.test(actor)) return `<@${actor}>`;
  if (actor === SYSTEM_ACTOR) return "canarybot";
  return escapeText(actor);
}

/** A user or a user group (`S…`) as a mention. */
export function mentionPrincipal(id: string): string {
  return /^S[A-Z0-9]{2,}$/.test(id) ? `<!subteam^${id}>` : mention(id);
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** A time every reader sees in their own zone, with a UTC fallback. */
function slackTime(ms: number): string {
  return `<!date^${Math.floor(ms / 1000)}^{time_secs}|${clock(ms)} UTC>`;
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

const PHASE_LABEL: Readonly<Record<Phase, string>> = {
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
export function checkLine(check: CheckResult): string {
  return `${MARK[check.status]} *${escapeText(check.name)}* ${formatCheckValue(check)} (${escapeText(check.threshold)})`;
}

function subsetSummary(metrics: SubsetMetrics): string {
  const parts = [
    metrics.successRate === undefined ? undefined : `${formatPercent(metrics.successRate)} ok`,
    metrics.p99Ms === undefined ? undefined : `p99 ${formatMs(metrics.p99Ms)}`,
    metrics.requestRate === undefined ? undefined : `${Math.round(metrics.requestRate * 100) / 100} req/s`,
  ].filter((part) => part !== undefined);
  return parts.length > 0 ? parts.join(" · ") : "no data";
}

/** Slack refuses a section text over 3000 characters; a field over 2000. */
function fit(text: string, limit = 3000): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

function section(text: string): KnownBlock {
  return { type: "section", text: { type: "mrkdwn", text: fit(text) } };
}

function context(text: string): KnownBlock {
  return { type: "context", elements: [{ type: "mrkdwn", text: fit(text) }] };
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

/** The buttons a phase offers; a finished rollout (or one rolling back) offers none. */
function buttons(rollout: Rollout): Button[] {
  const { id, target } = rollout;
  const promote = button(rollout, ActionId.Promote, "Promote", {
    confirm: {
      title: { type: "plain_text", text: `Promote ${id}?`.slice(0, 100) },
      text: {
        type: "mrkdwn",
        text: fit(
          `All traffic goes to *${escapeText(target.canarySubset)}* now, skipping the remaining steps.`,
          300,
        ),
      },
      confirm: { type: "plain_text", text: "Promote" },
      deny: { type: "plain_text", text: "Cancel" },
    },
  });
  const rollback = button(rollout, ActionId.Rollback, "Rollback", {
    style: "danger",
    confirm: {
      title: { type: "plain_text", text: `Roll back ${id}?`.slice(0, 100) },
      text: {
        type: "mrkdwn",
        text: fit(
          `All traffic goes back to *${escapeText(target.stableSubset)}*: the route is restored exactly as it was before the rollout.`,
          300,
        ),
      },
      confirm: { type: "plain_text", text: "Roll back" },
      deny: { type: "plain_text", text: "Cancel" },
      style: "danger",
    },
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

/** What happens next, in words: the next step's time, whose approval is awaited, why it is paused. */
function nextLine(rollout: Rollout, now: number): string | undefined {
  const { plan } = rollout;
  switch (rollout.phase) {
    case Phase.Preflight:
      return "Checking the route, the subsets and their pods…";
    case Phase.HeaderStage: {
      const header = plan.headerMatch;
      const who = plan.twoPersonRule ? ` by someone other than ${mention(rollout.startedBy)}` : "";
      return header
        ? `Only requests with \`${escapeText(header.name)}: ${escapeText(header.value)}\` reach *${escapeText(rollout.target.canarySubset)}*. Approve${who} to start shifting weight.`
        : undefined;
    }
    case Phase.Progressing: {
      if (rollout.nextTickAt === undefined) return undefined;
      const wait = rollout.nextTickAt - now;
      const what = rollout.stepIndex >= plan.steps.length - 1 ? "Promotion" : "Next step";
      return wait <= 0
        ? `${what} due now`
        : `${what} due ${slackTime(rollout.nextTickAt)} (in ${formatDuration(wait)})`;
    }
    case Phase.AwaitingApproval: {
      const who = plan.twoPersonRule ? `someone other than ${mention(rollout.startedBy)}` : "someone";
      return `Holding at ${desiredWeight(rollout)}% until ${who} approves.`;
    }
    case Phase.Paused:
      return rollout.reason ? `Paused: ${prose(rollout.reason)}` : "Paused";
    case Phase.RollingBack:
      return `Restoring the route to *${escapeText(rollout.target.stableSubset)}*…${rollout.outcome ? ` (${prose(rollout.outcome.reason)})` : ""}`;
    case Phase.Promoted:
    case Phase.RolledBack:
    case Phase.Failed:
      return undefined;
  }
}

function outcomeLine(rollout: Rollout): string {
  const { outcome, target } = rollout;
  const by = outcome ? ` by ${mention(outcome.by)}` : "";
  const when = outcome ? ` at ${slackTime(outcome.at)}` : "";
  const why = outcome?.reason ? `: ${prose(outcome.reason)}` : "";
  if (rollout.phase === Phase.Promoted) {
    return `:white_check_mark: *Promoted*${by}${when}. All traffic on *${escapeText(target.canarySubset)}*${why}`;
  }
  if (rollout.phase === Phase.RolledBack) {
    return `:leftwards_arrow_with_hook: *Rolled back*${by}${when}. The route is back on *${escapeText(target.stableSubset)}*${why}`;
  }
  return `:x: *Failed*${when}${why}`;
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
    blocks.push({
      type: "section",
      fields: [
        {
          type: "mrkdwn",
          text: fit(`*canary ${escapeText(canarySubset)}*\n${subsetSummary(snapshot.canary)}`, 2000),
        },
        {
          type: "mrkdwn",
          text: fit(`*stable ${escapeText(stableSubset)}*\n${subsetSummary(snapshot.stable)}`, 2000),
        },
      ],
    });
  }
  const lines = [
    ...(snapshot?.unavailable ? [`:warning: metrics unavailable: ${escapeText(snapshot.unavailable)}`] : []),
    ...checks.map(checkLine),
  ];
  if (lines.length > 0) {
    const verdict = rollout.lastVerdict ? `*Verdict: ${rollout.lastVerdict.status}*\n` : "";
    blocks.push(section(`${verdict}${lines.join("\n")}`));
  }
  return blocks;
}

function approvalsLine(rollout: Rollout): string | undefined {
  if (rollout.approvals.length === 0) return undefined;
  return rollout.approvals
    .map((approval) => {
      const weight = rollout.plan.steps[approval.stepIndex];
      const where = weight === undefined ? "the header stage" : `${weight}%`;
      return `:ballot_box_with_check: approved by ${mention(approval.by)} at ${where}`;
    })
    .join(" · ");
}

/** `reviews-3: reviews v1 → v2, progressing, 25% · step 3/5` — the notification text and the fallback. */
export function summaryText(rollout: Rollout): string {
  const { target } = rollout;
  return `${rollout.id}: ${target.service} ${target.stableSubset} → ${target.canarySubset}, ${rollout.phase}, ${describeProgress(rollout)}`;
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
      `*${escapeText(rollout.id)}* · \`${escapeText(`${target.namespace}/${target.virtualService}`)}\` · started by ${mention(rollout.startedBy)} ${slackTime(rollout.createdAt)}`,
    ),
    section(
      `\`${progressBar(desiredWeight(rollout))}\` *${escapeText(describeProgress(rollout))}*\n*Phase:* ${PHASE_LABEL[rollout.phase]}`,
    ),
  ];
  if (isTerminal(rollout.phase)) {
    blocks.push(section(outcomeLine(rollout)));
  } else {
    const next = nextLine(rollout, now);
    if (next) blocks.push(section(next));
  }
  blocks.push(...metricBlocks(rollout));
  const approvals = approvalsLine(rollout);
  if (approvals) blocks.push(context(approvals));
  const actions = isTerminal(rollout.phase) ? [] : buttons(rollout);
  if (actions.length > 0) blocks.push({ type: "actions", block_id: "rollout_actions", elements: actions });
  return { text: summaryText(rollout), blocks };
}

/** A snapshot reply in the rollout's thread: the verdict and the canary-vs-stable table. */
export function renderSnapshotReply(rollout: Rollout, text: string): SlackMessage {
  const verdict = rollout.lastVerdict?.status ?? "none";
  const table = snapshotTable(rollout);
  return {
    text: `${rollout.id} at ${describeProgress(rollout)}: ${verdict}. ${text}`,
    blocks: [
      section(
        `*${escapeText(rollout.id)}* at ${escapeText(describeProgress(rollout))} · verdict *${verdict}*`,
      ),
      section(`\`\`\`${fit(table, 2980)}\`\`\``),
    ],
  };
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
  const people = [mention(rollout.startedBy), ...(alert.onCall ? [mentionPrincipal(alert.onCall)] : [])];
  const unique = [...new Set(people)].join(" ");
  const bad = (rollout.lastVerdict?.checks ?? []).filter((check) => check.status !== CheckStatus.Pass);
  const blocks: KnownBlock[] = [
    section(
      `:rotating_light: *${escapeText(rollout.id)}* · ${escapeText(target.service)} ${escapeText(target.stableSubset)} → ${escapeText(target.canarySubset)}\n${prose(text)}`,
    ),
  ];
  if (bad.length > 0) blocks.push(section(`*Checks that did not pass*\n${bad.map(checkLine).join("\n")}`));
  const link = alert.link ? ` · <${alert.link}|rollout message>` : "";
  blocks.push(context(`cc ${unique}${link}`));
  return { text: `:rotating_light: ${prose(text)} (cc ${unique})`, blocks };
}
