import { ErrorCode as SlackErrorCode, WebClient } from "@slack/web-api";
import type { Logger as SlackLogger, WebClientOptions } from "@slack/web-api";
import { redact } from "../redact.ts";
import { CanaryError, ErrorCode, errorMessage } from "../errors.ts";
import { DeliveryRateLimited } from "../jobs/notification-job.ts";
import type { NotificationJobData } from "../jobs/notification-job.ts";
import type { RedisDeliveryRecords } from "../notify/delivery-records.ts";
import type { Logger, RolloutLock, RolloutStore } from "../rollout/ports.ts";
import type { Rollout } from "../rollout/types.ts";
import type { KnownBlock } from "./mrkdwn.ts";
import {
  messageLink,
  renderAlert,
  renderRolloutMessage,
  renderSnapshotReply,
} from "./render-rollout-message.ts";

export type SlackDelivererOptions = {
  /** Best made with `createNotifierClient`: no built-in retries, rate limits surfaced, bounded timeouts. */
  client: WebClient;
  store: RolloutStore;
  /** One delivery per rollout at a time across processes, so its message is never posted twice. */
  deliveryLock: RolloutLock;
  records: RedisDeliveryRecords;
  logger: Logger;
  now?: () => number;
  /** The on-call (user or user group id) an alert about a service mentions. */
  onCallFor?: (service: string) => string | undefined;
  /** The chart PNG for a snapshot reply; undefined or a failure posts the table alone. */
  chart?: (rollout: Rollout) => Promise<Buffer | undefined>;
  /** A snapshot reply older than this is dropped rather than posted late, ms. Default 10 minutes. */
  snapshotFreshForMs?: number;
  /** `https://acme.slack.com/` for message links; read from auth.test when absent. */
  workspaceUrl?: string;
};

/** A WebClient for delivery: the queue does the waiting, so the client neither retries nor sleeps on 429. */
export function createNotifierClient(options: {
  token: string;
  slackApiUrl?: string;
  logger?: SlackLogger;
  timeoutMs?: number;
  extra?: WebClientOptions;
}): WebClient {
  return new WebClient(options.token, {
    ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: options.timeoutMs ?? 10_000,
    ...options.extra,
  });
}

type Where = { channel: string; ts: string };

/** Rounds of "show the newest state" before the job is retried instead (the rollout keeps changing meanwhile). */
const SHOW_ROUNDS = 4;
const RETRYABLE_PLATFORM_ERRORS = new Set([
  "internal_error",
  "fatal_error",
  "service_unavailable",
  "request_timeout",
  "ratelimited",
  "team_added_to_org",
]);
const GONE = new Set(["message_not_found", "cant_update_message"]);

/**
 * Delivers one notification job to Slack: the rollout's one message (posted once, then updated in place with the
 * newest state read from the store), snapshot replies in its thread with the chart, and top-level alerts that
 * link to it. Failures are thrown for the notification worker to act on: `DeliveryRateLimited` (Slack's
 * Retry-After), a retryable CanaryError (5xx, timeouts, connection errors), or a CanaryError that is not
 * retryable (`channel_not_found`, `not_in_channel`, …), which drops the notification.
 */
export class SlackDeliverer {
  readonly #client: WebClient;
  readonly #options: SlackDelivererOptions;
  readonly #now: () => number;
  #workspaceUrl: Promise<string> | undefined;
  /** Until when Slack asked this process to wait (a 429's Retry-After), ms since the epoch. */
  #pausedUntil = 0;

  constructor(options: SlackDelivererOptions) {
    this.#client = options.client;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    if (options.workspaceUrl) this.#workspaceUrl = Promise.resolve(options.workspaceUrl);
  }

  async deliver(jobId: string, job: NotificationJobData): Promise<void> {
    if (job.kind === "digest") return this.#digest(jobId, job);
    await this.#options.deliveryLock.withLock(job.rolloutId, async () => {
      const rollout = await this.#options.store.get(job.rolloutId);
      if (!rollout) throw gone(job.rolloutId);
      if (!rollout.report?.channel) return;
      // The message first, so that alerts link to it and snapshot replies thread under it.
      const where = await this.#showNewest(rollout);
      if (job.kind === "alert") await this.#alert(jobId, rollout, job.text, where);
      else if (job.kind === "snapshot") await this.#snapshot(jobId, rollout, job, where);
    });
  }

  /** Bring the message to the rollout's newest state: post it once, then update it in place. */
  async #showNewest(first: Rollout): Promise<Where> {
    const { records, store } = this.#options;
    let rollout = first;
    for (let round = 0; round < SHOW_ROUNDS; round += 1) {
      const channel = rollout.report?.channel;
      if (!channel) throw permanent(`${rollout.id} reports to no channel any more`);
      const record = await records.read(rollout.id);
      const ts = record.message?.channel === channel ? record.message.ts : undefined;
      if (!ts) {
        await this.#post(rollout, channel);
        continue;
      }
      if (record.shownVersion >= rollout.version) return { channel, ts };
      try {
        await this.#call(() =>
          this.#client.chat.update({ channel, ts, ...renderRolloutMessage(rollout, this.#now()) }),
        );
      } catch (error) {
        if (!GONE.has(platformError(error) ?? "")) throw error;
        this.#options.logger.warn({ rollout: rollout.id }, "slack message gone; posting a new one");
        await records.forgetMessage(rollout.id);
        continue;
      }
      await records.shown(rollout.id, rollout.version);
      const latest = await store.get(rollout.id);
      if (!latest || latest.version === rollout.version) return { channel, ts };
      rollout = latest;
    }
    throw new CanaryError(
      ErrorCode.SlackUnavailable,
      `${first.id} kept changing while its message was sent`,
      {
        retryable: true,
      },
    );
  }

  /**
   * Post the message and record where it lives. The record is a delivery record, not rollout state: writing it
   * leaves the rollout's version alone, so the buttons carry the version they show.
   */
  async #post(rollout: Rollout, channel: string): Promise<void> {
    const message = renderRolloutMessage(rollout, this.#now());
    const posted = await this.#call(() =>
      this.#client.chat.postMessage({ channel, ...message, unfurl_links: false }),
    );
    if (!posted.ts) throw permanent("chat.postMessage answered no ts");
    await this.#options.records.messagePosted(rollout.id, { channel, ts: posted.ts }, rollout.version);
  }

  async #alert(jobId: string, rollout: Rollout, text: string, where: Where): Promise<void> {
    const { records, onCallFor } = this.#options;
    if (await records.sent(rollout.id, jobId, "alert")) return;
    const onCall = onCallFor?.(rollout.target.service);
    const link = messageLink(where, await this.#workspace());
    const message = renderAlert(rollout, text, { ...(onCall ? { onCall } : {}), link });
    const posted = await this.#call(() =>
      this.#client.chat.postMessage({ channel: where.channel, ...message, unfurl_links: false }),
    );
    await records.markSent(rollout.id, jobId, "alert", posted.ts ?? "?");
  }

  async #snapshot(
    jobId: string,
    rollout: Rollout,
    job: Extract<NotificationJobData, { kind: "snapshot" }>,
    where: Where,
  ): Promise<void> {
    const { records } = this.#options;
    const age = this.#now() - job.at;
    if (age > (this.#options.snapshotFreshForMs ?? 10 * 60_000)) {
      this.#options.logger.warn(
        { rollout: rollout.id, ageMs: age },
        "snapshot reply dropped: too old to post",
      );
      return;
    }
    if (!(await records.sent(rollout.id, jobId, "reply"))) {
      const reply = renderSnapshotReply(rollout, job.text);
      const posted = await this.#call(() =>
        this.#client.chat.postMessage({ channel: where.channel, thread_ts: where.ts, ...reply }),
      );
      await records.markSent(rollout.id, jobId, "reply", posted.ts ?? "?");
    }
    if (await records.sent(rollout.id, jobId, "chart")) return;
    const png = await this.#renderChart(rollout);
    if (png) {
      const step = Math.max(rollout.stepIndex + 1, 0);
      await this.#call(() =>
        this.#client.filesUploadV2({
          channel_id: where.channel,
          thread_ts: where.ts,
          file: png,
          filename: `${rollout.id}-step-${step}.png`,
          title: `${rollout.id} step ${step}: ${rollout.target.stableSubset} vs ${rollout.target.canarySubset}`,
        }),
      );
    }
    await records.markSent(rollout.id, jobId, "chart", "done");
  }

  /** A digest belongs to no rollout: its delivery record is the digest's own, so a re-run job posts it once. */
  async #digest(jobId: string, job: Extract<NotificationJobData, { kind: "digest" }>): Promise<void> {
    const { records, deliveryLock } = this.#options;
    const record = `digest.${job.digest}`;
    await deliveryLock.withLock(record, async () => {
      if (await records.sent(record, jobId, "digest")) return;
      const posted = await this.#call(() =>
        this.#client.chat.postMessage({
          channel: job.channel,
          text: job.text,
          blocks: job.blocks as KnownBlock[],
          unfurl_links: false,
        }),
      );
      await records.markSent(record, jobId, "digest", posted.ts ?? "?");
    });
  }

  async #renderChart(rollout: Rollout): Promise<Buffer | undefined> {
    if (!this.#options.chart || rollout.snapshots.length === 0) return undefined;
    try {
      return await this.#options.chart(rollout);
    } catch (error) {
      this.#options.logger.warn(
        { rollout: rollout.id, err: errorMessage(error) },
        "chart rendering failed; table only",
      );
      return undefined;
    }
  }

  /** The workspace's URL for message links, from auth.test once; slack.com redirects when it is unknown. */
  #workspace(): Promise<string> {
    this.#workspaceUrl ??= this.#client.auth
      .test()
      .then((result) => result.url ?? "https://slack.com/")
      .catch(() => {
        this.#workspaceUrl = undefined;
        return "https://slack.com/";
      });
    return this.#workspaceUrl;
  }

  /**
   * One Web API call, its failure translated for the notification worker (GONE errors pass through as they are).
   * While a rate limit holds, no call is made: the queue stops handing out jobs, but deliveries already under
   * way (another rollout's, or one that waited for this rollout's delivery lock) would otherwise call at once.
   */
  async #call<T>(fn: () => Promise<T>): Promise<T> {
    const wait = this.#pausedUntil - this.#now();
    if (wait > 0) throw new DeliveryRateLimited("waiting out slack's rate limit", wait);
    try {
      return await fn();
    } catch (error) {
      const failure = classify(error);
      if (failure instanceof DeliveryRateLimited) {
        this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + failure.retryAfterMs);
      }
      throw failure;
    }
  }
}

/** What a failed Web API call means for delivery: wait Slack's Retry-After, retry with backoff, or give up. */
function classify(error: unknown): Error {
  const failure = error as { code?: string; retryAfter?: number; statusCode?: number };
  if (failure.code === SlackErrorCode.RateLimitedError) {
    return new DeliveryRateLimited("slack rate limited", Math.max(1, failure.retryAfter ?? 1) * 1000);
  }
  if (failure.code === SlackErrorCode.HTTPError) {
    const status = failure.statusCode ?? 0;
    return new CanaryError(ErrorCode.SlackUnavailable, `slack answered HTTP ${status}`, {
      retryable: status >= 500 || status === 408,
      cause: error,
    });
  }
  const code = platformError(error);
  if (code !== undefined) {
    // Kept as it is when the message is gone: the caller posts a new one.
    if (GONE.has(code)) return error as Error;
    return new CanaryError(ErrorCode.SlackUnavailable, `slack refused: ${redact(code)}`, {
      retryable: RETRYABLE_PLATFORM_ERRORS.has(code),
      cause: error,
    });
  }
  // Request errors (connection refused, reset, timeout) and anything unexpected: Slack may be back soon.
  return new CanaryError(ErrorCode.SlackUnavailable, `slack unreachable: ${redact(errorMessage(error))}`, {
    retryable: true,
    cause: error,
  });
}

function platformError(error: unknown): string | undefined {
  const failure = error as { code?: string; data?: { error?: string } };
  return failure.code === SlackErrorCode.PlatformError ? (failure.data?.error ?? "unknown") : undefined;
}

function gone(rolloutId: string): CanaryError {
  return new CanaryError(ErrorCode.NotFound, `rollout ${rolloutId} no longer exists`);
}

function permanent(message: string): CanaryError {
  return new CanaryError(ErrorCode.SlackUnavailable, message, { retryable: false });
}
