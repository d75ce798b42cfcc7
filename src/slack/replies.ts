import { GENERAL_USAGE, USAGE } from "../commands/parse-command.ts";
import type { Subcommand } from "../commands/parse-command.ts";
import { auditLine } from "../commands/render-text.ts";
import { describeProgress } from "../rollout/plan.ts";
import type { DryRun } from "../rollout/service.ts";
import type { AuditEntry, Rollout } from "../rollout/types.ts";
import { escapeText, mention, messageLink, renderRolloutMessage } from "./render-rollout-message.ts";
import type { KnownBlock } from "./render-rollout-message.ts";

/** An ephemeral answer to the person who asked. */
export type Reply = { text: string; blocks?: KnownBlock[] };

export function section(text: string): KnownBlock {
  return {
    type: "section",
    text: { type: "mrkdwn", text: text.length > 3000 ? `${text.slice(0, 2999)}…` : text },
  };
}

/** Code blocks hold at most ~2900 characters of a section: keep the end (the newest lines). */
function codeBlock(text: string): string {
  const body = text.length > 2900 ? `…${text.slice(-2899)}` : text;
  return `\`\`\`${body}\`\`\``;
}

export function errorReply(reason: string, usage?: string): Reply {
  const text = `:warning: ${reason}`;
  return {
    text,
    blocks: [section(text), ...(usage ? [section(`Usage:\n${codeBlock(usage)}`)] : [])],
  };
}

export function helpReply(topic?: Subcommand): Reply {
  const usage = topic ? USAGE[topic] : GENERAL_USAGE;
  const intro =
    "*canarybot* moves traffic from a service's stable subset to its canary step by step, judging the canary's " +
    "metrics at every step. Each rollout has one message in the channel it started from, with Approve, Promote, " +
    "Pause/Resume and Rollback buttons. Two-person rule: whoever starts a rollout cannot approve its gates.";
  return { text: usage, blocks: [section(intro), section(codeBlock(usage))] };
}

function linkTo(rollout: Rollout, workspaceUrl: string): string {
  const report = rollout.report;
  return report?.ts
    ? ` · <${messageLink({ channel: report.channel, ts: report.ts }, workspaceUrl)}|message>`
    : "";
}

/** One line per rollout: `reviews-3 reviews v1 → v2 · progressing · 25% · step 3/5 · by @alice · message`. */
export function rolloutLine(rollout: Rollout, workspaceUrl: string): string {
  const { target } = rollout;
  return (
    `• *${escapeText(rollout.id)}* ${escapeText(`${target.service} ${target.stableSubset} → ${target.canarySubset}`)}` +
    ` · ${rollout.phase} · ${escapeText(describeProgress(rollout))} · by ${mention(rollout.startedBy)}${linkTo(rollout, workspaceUrl)}`
  );
}

export function listReply(
  rollouts: readonly Rollout[],
  workspaceUrl: string,
  title = "Live rollouts",
): Reply {
  if (rollouts.length === 0) return { text: "No live rollouts." };
  const lines = rollouts.slice(0, 40).map((rollout) => rolloutLine(rollout, workspaceUrl));
  const more = rollouts.length > 40 ? `\n…and ${rollouts.length - 40} more` : "";
  const text = `*${title}*\n${lines.join("\n")}${more}`;
  return { text: `${title}: ${rollouts.map((rollout) => rollout.id).join(", ")}`, blocks: [section(text)] };
}

/** One rollout in full, as its message shows it, without the buttons (they live on the message itself). */
export function statusReply(rollout: Rollout, now: number, workspaceUrl: string): Reply {
  const message = renderRolloutMessage(rollout, now);
  const blocks = message.blocks.filter((block) => block.type !== "actions");
  const link = linkTo(rollout, workspaceUrl);
  if (link) blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: `The rollout's${link}` }] });
  return { text: message.text, blocks };
}

export function auditReply(rolloutId: string, entries: readonly AuditEntry[]): Reply {
  if (entries.length === 0) return { text: `${rolloutId} has no audit entries.` };
  const title = rolloutId.startsWith("start:")
    ? `Refused starts of ${rolloutId.slice("start:".length)}`
    : `Audit trail of ${rolloutId}`;
  return {
    text: title,
    blocks: [section(`*${escapeText(title)}*\n${codeBlock(entries.map(auditLine).join("\n"))}`)],
  };
}

export function dryRunReply(dry: DryRun): Reply {
  const { plan, target } = dry;
  const lines = [
    `*Dry run: nothing changed.*`,
    `Target: \`${escapeText(`${target.namespace}/${target.virtualService}`)}\` ${escapeText(target.stableSubset)} → ${escapeText(target.canarySubset)}`,
    `Steps: ${plan.steps.join(" → ")}% every ${plan.intervalMs / 1000}s` +
      (plan.approvalGates.length > 0 ? `, approval at ${plan.approvalGates.join(", ")}%` : "") +
      (plan.headerMatch
        ? `, header stage \`${escapeText(`${plan.headerMatch.name}=${plan.headerMatch.value}`)}\``
        : "") +
      (plan.analysis ? ", metric analysis on" : ", no metric analysis"),
    "First change:",
  ];
  return {
    text: `Dry run of ${target.service}: nothing changed`,
    blocks: [section(lines.join("\n")), section(codeBlock(dry.change))],
  };
}

export function startedReply(rollout: Rollout): Reply {
  const posted = rollout.report?.ts !== undefined;
  const where = posted
    ? "Its message in this channel shows every step."
    : ":warning: I could not post its message here yet; invite me to this channel (`/invite @canarybot`) to follow it.";
  return { text: `Started ${rollout.id} (${rollout.phase}, ${describeProgress(rollout)}). ${where}` };
}

const DONE: Readonly<Record<string, string>> = {
  approve: "Approved",
  promote: "Promoting",
  pause: "Paused",
  resume: "Resumed",
  rollback: "Rolling back",
};

export function actedReply(rollout: Rollout, action: string): Reply {
  return {
    text: `${DONE[action] ?? action} ${rollout.id}: now ${rollout.phase}, ${describeProgress(rollout)}.`,
  };
}
