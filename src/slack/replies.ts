import { GENERAL_USAGE, USAGE } from "../commands/parse-command.ts";
import type { Subcommand } from "../commands/parse-command.ts";
import { auditLine, dryRunText } from "../commands/render-text.ts";
import { describeProgress } from "../rollout/plan.ts";
import type { DryRun } from "../rollout/service.ts";
import { formatUtcDateTime } from "../rollout/time-text.ts";
import type { MessageRef } from "../notify/delivery-records.ts";
import type { AuditEntry, Rollout, ScheduledStart } from "../rollout/types.ts";
import {
  bold,
  code,
  codeBlock,
  context,
  escape,
  join,
  link,
  mrkdwn,
  mention,
  message,
  section,
  textReply,
} from "./mrkdwn.ts";
import type { KnownBlock, Mrkdwn, Reply, Text } from "./mrkdwn.ts";
import { messageLink, renderRolloutMessage } from "./render-rollout-message.ts";

export type { Reply } from "./mrkdwn.ts";

/** A problem, said plainly; with the usage that would have worked, when there is one. */
export function errorReply(reason: Text, usage?: string): Reply {
  const text = mrkdwn`:warning: ${reason}`;
  return message(text, [section(text), ...(usage ? [section(mrkdwn`Usage:\n${codeBlock(usage)}`)] : [])]);
}

export function helpReply(topic?: Subcommand): Reply {
  const usage = topic ? USAGE[topic] : GENERAL_USAGE;
  const intro = mrkdwn`${bold("canarybot")} moves traffic from a service's stable subset to its canary step by step, judging the canary's metrics at every step. Each rollout has one message in the channel it started from, with Approve, Promote, Pause/Resume and Rollback buttons. Two-person rule: whoever starts a rollout cannot approve its gates.`;
  return message(usage, [section(intro), section(codeBlock(usage))]);
}

function linkTo(where: MessageRef | undefined, workspaceUrl: string): Mrkdwn | "" {
  return where ? mrkdwn` · ${link(messageLink(where, workspaceUrl), "message")}` : "";
}

/** One line per rollout: `reviews-3 reviews v1 → v2 · progressing · 25% · step 3/5 · by @alice · message`. */
export function rolloutLine(rollout: Rollout, workspaceUrl: string, where?: MessageRef): Mrkdwn {
  const { target } = rollout;
  return mrkdwn`• ${bold(rollout.id)} ${target.service} ${target.stableSubset} → ${target.canarySubset} · ${rollout.phase} · ${describeProgress(rollout)} · by ${mention(rollout.startedBy)}${linkTo(where, workspaceUrl)}`;
}

/** The most rollouts a list shows. */
export const LIST_LIMIT = 40;

/** `messages`: where the listed rollouts' messages live, by rollout id. */
export function listReply(
  rollouts: readonly Rollout[],
  workspaceUrl: string,
  messages: ReadonlyMap<string, MessageRef>,
  title = "Live rollouts",
): Reply {
  if (rollouts.length === 0) return textReply("No live rollouts.");
  const lines = rollouts
    .slice(0, LIST_LIMIT)
    .map((rollout) => rolloutLine(rollout, workspaceUrl, messages.get(rollout.id)));
  const more = rollouts.length > LIST_LIMIT ? mrkdwn`\n…and ${rollouts.length - LIST_LIMIT} more` : "";
  return message(mrkdwn`${title}: ${rollouts.map((rollout) => rollout.id).join(", ")}`, [
    section(mrkdwn`${bold(title)}\n${join(lines, "\n")}${more}`),
  ]);
}

/** One rollout in full, as its message shows it, without the buttons (they live on the message itself). */
export function statusReply(rollout: Rollout, now: number, workspaceUrl: string, where?: MessageRef): Reply {
  const rendered = renderRolloutMessage(rollout, now);
  const blocks: KnownBlock[] = rendered.blocks.filter((block) => block.type !== "actions");
  const to = linkTo(where, workspaceUrl);
  if (to) blocks.push(context(mrkdwn`The rollout's${to}`));
  return { ...rendered, blocks };
}

export function auditReply(rolloutId: string, entries: readonly AuditEntry[]): Reply {
  if (entries.length === 0) return textReply(`${rolloutId} has no audit entries.`);
  const title = rolloutId.startsWith("start:")
    ? `Refused starts of ${rolloutId.slice("start:".length)}`
    : `Audit trail of ${rolloutId}`;
  return message(title, [section(mrkdwn`${bold(title)}\n${codeBlock(entries.map(auditLine).join("\n"))}`)]);
}

export function dryRunReply(dry: DryRun): Reply {
  const text = dryRunText(dry);
  return message(`Dry run of ${dry.target.service}: nothing changed`, [
    section(join([bold(text.heading), ...text.lines.map(escape)], "\n")),
    section(codeBlock(text.change)),
  ]);
}

/** A start scheduled from Slack: when, and how to take it back. */
export function scheduledReply(start: ScheduledStart): Reply {
  const { target } = start.request;
  return textReply(
    mrkdwn`Scheduled ${start.id}: ${target.service} → ${target.canarySubset} at ${formatUtcDateTime(start.at)}. It starts as if you had typed it then; ${code(`canarybot cancel ${start.id}`)} takes it back.`,
  );
}

export function startedReply(rollout: Rollout, posted: boolean): Reply {
  const where = posted
    ? escape("Its message in this channel shows every step.")
    : mrkdwn`:warning: I could not post its message here yet; invite me to this channel (${code("/invite @canarybot")}) to follow it.`;
  return textReply(mrkdwn`Started ${rollout.id} (${rollout.phase}, ${describeProgress(rollout)}). ${where}`);
}

const DONE: Readonly<Record<string, string>> = {
  approve: "Approved",
  promote: "Promoting",
  pause: "Paused",
  resume: "Resumed",
  rollback: "Rolling back",
};

export function actedReply(rollout: Rollout, action: string): Reply {
  return textReply(
    `${DONE[action] ?? action} ${rollout.id}: now ${rollout.phase}, ${describeProgress(rollout)}.`,
  );
}
