import { Phase } from "../rollout/types.ts";
import { isTerminal } from "../rollout/plan.ts";
import type { DigestEntry } from "../rollout/daily-digest.ts";
import { bold, code, context, join, mention, message, mrkdwn, section, withMentions } from "./mrkdwn.ts";
import type { KnownBlock, Mrkdwn, SlackMessage } from "./mrkdwn.ts";
import { PHASE_LABEL } from "./render-rollout-message.ts";

/** One section per rollout, leaving room in Slack's 50 blocks for the summary and the "more" line. */
const MAX_ROLLOUT_BLOCKS = 45;

export type Digest = {
  service: string;
  /** The day it is about, `2026-12-05`, in `timezone`. */
  date: string;
  timezone: string;
  /** Oldest first. */
  entries: readonly DigestEntry[];
};

/**
 * The daily digest of a service: a summary line (how many rollouts, how they ended), then each rollout: what it
 * released, how it went, who started it and when (in the digest's time zone), who approved, who rolled it back
 * and why.
 */
export function renderDigest(digest: Digest): SlackMessage {
  const summary = summaryLine(digest);
  const shown = digest.entries.slice(0, MAX_ROLLOUT_BLOCKS);
  const blocks: KnownBlock[] = [
    section(summary),
    ...shown.map((entry) => section(entryText(entry, digest.timezone))),
  ];
  const more = digest.entries.length - shown.length;
  if (more > 0)
    blocks.push(context(mrkdwn`… and ${more} more: \`canarybot history --service ${digest.service}\``));
  return message(summary, blocks);
}

function summaryLine(digest: Digest): Mrkdwn {
  const counts = new Map<string, number>();
  for (const entry of digest.entries) {
    const key = isTerminal(entry.phase) ? entry.phase : "live";
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const tally = [...counts].map(([what, count]) => `${count} ${what}`).join(", ");
  const total = digest.entries.length;
  return mrkdwn`:calendar: ${bold(digest.service)} on ${digest.date} (${digest.timezone}): ${total} ${total === 1 ? "rollout" : "rollouts"}, ${tally}`;
}

function entryText(entry: DigestEntry, timezone: string): Mrkdwn {
  const lines: Mrkdwn[] = [
    mrkdwn`${bold(entry.id)} ${code(entry.stable)} → ${code(entry.canary)}: ${outcomeText(entry)}`,
    mrkdwn`started by ${mention(entry.startedBy)} at ${clock(entry.startedAt, timezone)}${
      entry.endedAt === undefined ? "" : mrkdwn`, ended at ${clock(entry.endedAt, timezone)}`
    }`,
  ];
  if (entry.approvedBy.length > 0) {
    lines.push(mrkdwn`approved by ${join(entry.approvedBy.map(mention), ", ")}`);
  }
  return join(lines, "\n");
}

function outcomeText(entry: DigestEntry): Mrkdwn {
  const { outcome, phase } = entry;
  if (!isTerminal(phase)) return mrkdwn`still ${PHASE_LABEL[phase]} at ${entry.weight}%`;
  const by = outcome && phase !== Phase.Failed ? mrkdwn` by ${mention(outcome.by)}` : "";
  const why = outcome?.reason && phase !== Phase.Promoted ? mrkdwn`: ${withMentions(outcome.reason)}` : "";
  return mrkdwn`${PHASE_LABEL[phase]}${by}${why}`;
}

/** `14:05`, on the digest's wall clock. */
function clock(at: number, timezone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: timezone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(at));
}
