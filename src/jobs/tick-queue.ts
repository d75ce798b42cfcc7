import { Queue } from "bullmq";
import type { ConnectionOptions, KeepJobs } from "bullmq";
import type { TickScheduler } from "../rollout/ports.ts";
import { translateRedisError } from "../store/redis-errors.ts";
import {
  DEFAULT_TICK_QUEUE,
  TICK_JOB_NAME,
  bullConnection,
  closeBullConnection,
  tickJobId,
} from "./tick-job.ts";
import type { RedisConnectionSource, TickJobData } from "./tick-job.ts";

/**
 * Finished tick jobs kept: an hour, at most 1,000 (about 0.5 MB), whatever the number of rollouts. A job only needs
 * to outlive its own run: a duplicated schedule of a tick already run finds the rollout's tick counter moved on, and
 * the sweeper re-adds the job a rollout still waits for if it is gone.
 */
export const DEFAULT_KEEP_COMPLETED: KeepJobs = { age: 3600, count: 1000 };
/** Failed tick jobs kept for inspection: a week, at most 1,000. */
export const DEFAULT_KEEP_FAILED: KeepJobs = { age: 7 * 24 * 3600, count: 1000 };

export type BullMqTickSchedulerOptions = {
  connection: RedisConnectionSource;
  /** Default `canarybot-ticks`. Producers and workers must agree on it (and on `prefix`). */
  queueName?: string;
  /** BullMQ key prefix; default BullMQ's `bull`. */
  prefix?: string;
  /** Runs of a tick before it is given up (the worker's `onExhausted`). Default 5. */
  attempts?: number;
  /** First retry delay; doubles each retry (exponential backoff). Default 1 s: 1, 2, 4, 8 s. */
  backoffDelayMs?: number;
  /** Finished tick jobs kept. Default `DEFAULT_KEEP_COMPLETED`. */
  keepCompleted?: KeepJobs;
  /** Failed tick jobs kept for inspection. Default `DEFAULT_KEEP_FAILED`. */
  keepFailed?: KeepJobs;
  /** Connection-level errors of the queue (reconnects are automatic). Default: written to stderr. */
  onError?: (error: Error) => void;
};

/** Schedules rollout ticks as delayed BullMQ jobs with one id per (rollout, tick). */
export class BullMqTickScheduler implements TickScheduler {
  readonly queueName: string;
  readonly #queue: Queue<TickJobData>;
  readonly #connection: ConnectionOptions;
  readonly #attempts: number;
  readonly #backoffDelayMs: number;
  readonly #keepCompleted: KeepJobs;
  readonly #keepFailed: KeepJobs;

  constructor(options: BullMqTickSchedulerOptions) {
    this.queueName = options.queueName ?? DEFAULT_TICK_QUEUE;
    this.#attempts = Math.max(1, Math.trunc(options.attempts ?? 5));
    this.#backoffDelayMs = Math.max(1, Math.trunc(options.backoffDelayMs ?? 1000));
    this.#keepCompleted = options.keepCompleted ?? DEFAULT_KEEP_COMPLETED;
    this.#keepFailed = options.keepFailed ?? DEFAULT_KEEP_FAILED;
    this.#connection = bullConnection(options.connection, "queue");
    this.#queue = new Queue<TickJobData>(this.queueName, {
      connection: this.#connection,
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    });
    const onError =
      options.onError ?? ((error: Error) => console.error(`tick queue ${this.queueName}:`, error));
    this.#queue.on("error", onError);
  }

  /** Add the tick job unless a job with its id exists (waiting, delayed, active, or kept after finishing). */
  async schedule(rolloutId: string, tick: number, delayMs: number): Promise<void> {
    const jobId = tickJobId(rolloutId, tick);
    try {
      await this.#queue.add(
        TICK_JOB_NAME,
        { rolloutId, tick },
        {
          jobId,
          delay: Math.max(0, Math.round(delayMs)),
          attempts: this.#attempts,
          backoff: { type: "exponential", delay: this.#backoffDelayMs },
          removeOnComplete: this.#keepCompleted,
          removeOnFail: this.#keepFailed,
        },
      );
    } catch (error) {
      throw translateRedisError(error, `schedule tick ${tick} of ${rolloutId}`);
    }
  }

  /**
   * Make sure the job of tick `tick` will run: add it if missing, and run it again if it already finished or failed
   * while the rollout still waits for it (its state was saved, the follow-up never scheduled). A waiting, delayed or
   * active job is left as it is.
   */
  async ensure(rolloutId: string, tick: number): Promise<"added" | "present" | "requeued"> {
    const jobId = tickJobId(rolloutId, tick);
    try {
      const job = await this.#queue.getJob(jobId);
      if (!job) {
        await this.schedule(rolloutId, tick, 0);
        return "added";
      }
      const state = await job.getState();
      if (state !== "completed" && state !== "failed") return "present";
      await job.remove();
      await this.schedule(rolloutId, tick, 0);
      return "requeued";
    } catch (error) {
      throw translateRedisError(error, `ensure tick ${tick} of ${rolloutId}`);
    }
  }

  /** Remove the queue and every job in it (tests, decommissioning). */
  async obliterate(): Promise<void> {
    await this.#queue.obliterate({ force: true });
  }

  async close(): Promise<void> {
    await this.#queue.close();
    closeBullConnection(this.#connection);
  }
}
