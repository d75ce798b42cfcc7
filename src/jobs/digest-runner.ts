import cron from "node-cron";
import type { ScheduledTask } from "node-cron";
import { digestEntry, isOnDigestDay } from "../rollout/daily-digest.ts";
import type { DigestEntry } from "../rollout/daily-digest.ts";
import type { Clock, Logger, RolloutStore } from "../rollout/ports.ts";
import { digestCron, previousDay } from "../schedule/daily-digest.ts";
import type { DigestDay, DigestPlan } from "../schedule/daily-digest.ts";
import type { SlackMessage } from "../slack/mrkdwn.ts";
import { renderDigest } from "../slack/render-digest.ts";
import { errorMessage } from "../errors.ts";

/** How many of a service's newest rollouts a digest looks through: far more than a day holds. */
const HISTORY_DEPTH = 200;
/** A day's claim outlives the day's firings in every time zone, and lapses before the next year's same date. */
const CLAIM_TTL_MS = 3 * 24 * 3600_000;

export type DigestRunner = {
  /** Post every service's digest of the day before `now` (each in its own time zone), as the cron jobs do. */
  runAll(now: number): Promise<void>;
  close(): Promise<void>;
};

export type DigestRunnerOptions = {
  plans: readonly DigestPlan[];
  store: Pick<RolloutStore, "history" | "audit">;
  /** Whether this process takes `name` (one firing); one process of many does. */
  claim: (name: string, ttlMs: number) => Promise<boolean>;
  /** Queue a digest (`reviews.2026-12-05`) for delivery to a channel. */
  queue: (digest: string, channel: string, message: SlackMessage) => Promise<void>;
  clock: Clock;
  logger: Logger;
  /** Start node-cron jobs (default); tests call `runAll` with the time they want instead. */
  schedule?: boolean;
};

/**
 * One node-cron job per service's digest, at its time in its time zone. Every replica runs the jobs; each firing
 * is taken by one (a Redis claim per service, channel and day), which reads the day's rollouts from the store's
 * history and audit, renders the digest and queues it like any notification. A day without rollouts posts nothing.
 */
export function startDigestRunner(options: DigestRunnerOptions): DigestRunner {
  const { logger } = options;
  const running = new Set<Promise<void>>();
  const track = (work: Promise<void>): Promise<void> => {
    running.add(work);
    return work.finally(() => running.delete(work));
  };
  const run = (plan: DigestPlan, now: number): Promise<void> =>
    track(
      postDigest(options, plan, now).catch((error: unknown) => {
        const err = errorMessage(error);
        logger.warn({ service: plan.service, channel: plan.channel, err }, "daily digest failed");
      }),
    );
  const tasks: ScheduledTask[] =
    options.schedule === false
      ? []
      : options.plans.map((plan) =>
          cron.schedule(digestCron(plan), () => run(plan, options.clock.now()), {
            timezone: plan.timezone,
            name: `digest ${plan.service}`,
            noOverlap: true,
          }),
        );
  return {
    async runAll(now) {
      await Promise.all(options.plans.map((plan) => run(plan, now)));
    },
    async close() {
      for (const task of tasks) await Promise.resolve(task.destroy());
      await Promise.all(running);
    },
  };
}

async function postDigest(options: DigestRunnerOptions, plan: DigestPlan, now: number): Promise<void> {
  const day = previousDay(now, plan.timezone);
  const digest = `${plan.service}.${day.date}`;
  if (!(await options.claim(`digest:${plan.channel}:${digest}`, CLAIM_TTL_MS))) return;
  const entries = await dayEntries(options.store, plan.service, day);
  if (entries.length === 0) {
    options.logger.info({ service: plan.service, day: day.date }, "daily digest: no rollouts that day");
    return;
  }
  const message = renderDigest({ service: plan.service, date: day.date, timezone: plan.timezone, entries });
  await options.queue(digest, plan.channel, message);
  options.logger.info(
    { service: plan.service, channel: plan.channel, day: day.date, rollouts: entries.length },
    "daily digest queued",
  );
}

/** The service's rollouts that started or ended on `day`, oldest first. */
async function dayEntries(
  store: DigestRunnerOptions["store"],
  service: string,
  day: DigestDay,
): Promise<DigestEntry[]> {
  const recent = await store.history({ service, limit: HISTORY_DEPTH });
  // Only a rollout touched on or after the day's start can have started or ended in it.
  const candidates = recent.filter((rollout) => rollout.createdAt < day.to && rollout.updatedAt >= day.from);
  const entries = await Promise.all(
    candidates.map(async (rollout) => digestEntry(rollout, await store.audit(rollout.id))),
  );
  return entries.filter((entry) => isOnDigestDay(entry, day)).sort((a, b) => a.startedAt - b.startedAt);
}
