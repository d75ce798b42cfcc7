import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import type { ConnectionOptions, JobsOptions } from "bullmq";
import type { Notifier } from "../rollout/ports.ts";
import type { Rollout } from "../rollout/types.ts";
import { translateRedisError } from "../store/redis-errors.ts";
import type { SlackMessage } from "../slack/mrkdwn.ts";
import {
  DEFAULT_NOTIFICATION_QUEUE,
  digestJobId,
  messageDeduplicationId,
  notificationJobId,
  notificationSubject,
} from "./notification-job.ts";
import type { NotificationJobData } from "./notification-job.ts";
import { bullConnection, closeBullConnection } from "./tick-job.ts";
import type { RedisConnectionSource } from "./tick-job.ts";

export type QueuedNotifierOptions = {
  connection: RedisConnectionSource;
  /** Default `canarybot-notifications`. Producers and the notification worker must agree on it (and on `prefix`). */
  queueName?: string;
  /** BullMQ key prefix; default BullMQ's `bull`. */
  prefix?: string;
  /** Where rollouts that report to no channel (started from the command line) are told: the log. */
  unrouted: Notifier;
  /**
   * Runs of one notification before it is given up; with the worker's backoff (capped at 30 s) the default 35
   * rides out about a quarter of an hour of Slack outage.
   */
  attempts?: number;
  /** Connection-level errors of the queue (reconnects are automatic). Default: written to stderr. */
  onError?: (error: Error) => void;
};

/**
 * The Notifier of every process (CLI, worker, serve): it puts notifications on a durable BullMQ queue in Redis,
 * and the processes that hold a bot token deliver them (`notification-worker.ts`). Nothing waits on Slack, a
 * restart loses nothing, and an action taken on the command line reaches the channel like one taken in Slack.
 * Without any deliverer running the jobs wait in Redis until one starts.
 */
export class QueuedNotifier implements Notifier {
  readonly queueName: string;
  readonly #queue: Queue<NotificationJobData>;
  readonly #connection: ConnectionOptions;
  readonly #unrouted: Notifier;
  readonly #common: JobsOptions;

  constructor(options: QueuedNotifierOptions) {
    this.queueName = options.queueName ?? DEFAULT_NOTIFICATION_QUEUE;
    this.#unrouted = options.unrouted;
    this.#common = {
      attempts: Math.max(1, Math.trunc(options.attempts ?? 35)),
      // The worker's backoffStrategy: exponential, capped.
      backoff: { type: "custom" },
      removeOnComplete: { age: 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600, count: 1000 },
    };
    this.#connection = bullConnection(options.connection, "queue");
    this.#queue = new Queue<NotificationJobData>(this.queueName, {
      connection: this.#connection,
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    });
    const onError =
      options.onError ?? ((error: Error) => console.error(`notification queue ${this.queueName}:`, error));
    this.#queue.on("error", onError);
  }

  /** Show the rollout's newest state in its message. Updates still pending for the rollout coalesce into one. */
  async update(rollout: Rollout): Promise<void> {
    if (!rollout.report?.channel) return this.#unrouted.update(rollout);
    const deduplication = { id: messageDeduplicationId(rollout.id), keepLastIfActive: true };
    await this.#add({ kind: "message", rolloutId: rollout.id }, { deduplication });
  }

  async snapshot(rollout: Rollout, text: string): Promise<void> {
    if (!rollout.report?.channel) return this.#unrouted.snapshot(rollout, text);
    const jobId = notificationJobId(rollout.id, "snapshot", randomUUID());
    await this.#add({ kind: "snapshot", rolloutId: rollout.id, text, at: Date.now() }, { jobId });
  }

  async alert(rollout: Rollout, text: string): Promise<void> {
    if (!rollout.report?.channel) return this.#unrouted.alert(rollout, text);
    const jobId = notificationJobId(rollout.id, "alert", randomUUID());
    await this.#add({ kind: "alert", rolloutId: rollout.id, text }, { jobId });
  }

  /** Post a service's digest of one day (`digest`: `reviews.2026-12-05`) to `channel`, once whoever asks again. */
  async digest(digest: string, channel: string, message: SlackMessage): Promise<void> {
    const data = { kind: "digest", digest, channel, text: message.text, blocks: message.blocks } as const;
    await this.#add(data, { jobId: digestJobId(digest) });
  }

  /** Jobs not yet delivered: waiting, delayed or running (tests, `status`-like checks). */
  async pending(): Promise<number> {
    const counts = await this.#queue.getJobCounts("waiting", "delayed", "active", "prioritized");
    return Object.values(counts).reduce((sum, count) => sum + count, 0);
  }

  /** Remove the queue and every job in it (tests, decommissioning). */
  async obliterate(): Promise<void> {
    await this.#queue.obliterate({ force: true });
  }

  async close(): Promise<void> {
    await this.#queue.close();
    closeBullConnection(this.#connection);
  }

  async #add(data: NotificationJobData, options: JobsOptions): Promise<void> {
    try {
      await this.#queue.add(data.kind, data, { ...this.#common, ...options });
    } catch (error) {
      const subject = notificationSubject(data);
      const of = "rollout" in subject ? subject.rollout : subject.digest;
      throw translateRedisError(error, `queue the ${data.kind} notification of ${of}`);
    }
  }
}
