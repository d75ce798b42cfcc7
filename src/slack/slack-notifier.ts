import { ErrorCode as SlackErrorCode, WebClient } from "@slack/web-api";
import type { Logger as SlackLogger, WebClientOptions } from "@slack/web-api";
import { isTerminal } from "../rollout/plan.ts";
import type { Logger, Notifier } from "../rollout/ports.ts";
import type { Rollout } from "../rollout/types.ts";
import {
  messageLink,
  renderAlert,
  renderRolloutMessage,
  renderSnapshotReply,
} from "./render-rollout-message.ts";
import type { SlackMessage } from "./render-rollout-message.ts";

export type SlackNotifierOptions = {
  /** Best made with `createNotifierClient`: no built-in retries, rate limits surfaced, bounded timeouts. */
  client: WebClient;
  logger: Logger;
  now?: () => number;
  /** The on-call (user or user group id) an alert about a service mentions. */
  onCallFor?: (service: string) => string | undefined;
  /** The chart PNG for a snapshot reply; undefined or a failure posts the table alone. */
  chart?: (rollout: Rollout) => Promise<Buffer | undefined>;
  /** How long `update` waits for a rollout's first message before returning without its ts, ms. Default 3 s. */
  firstPostTimeoutMs?: number;
  /** How long one notification is retried through an outage before it is dropped, ms. Default 15 minutes. */
  retryForMs?: number;
  /** Longest wait between retries after a failure (rate limits wait their Retry-After), ms. Default 30 s. */
  maxBackoffMs?: number;
  /** `https://acme.slack.com/` for message links; read from auth.test when absent. */
  workspaceUrl?: string;
};

/** A WebClient for the notifier: it does its own waiting, so the client neither retries nor sleeps on 429. */
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

type Outgoing = {
  kind: "alert" | "snapshot";
  rollout: Rollout;
  text: string;
  /** Snapshot replies: the table is posted, only the chart is left. */
  replied?: boolean;
};

/** Everything waiting to be told about one rollout, sent by one loop at a time, in order. */
type Mailbox = {
  id: string;
  channel?: string;
  ts?: string;
  /** The newest state not yet shown: superseded states are never sent. */
  latest?: Rollout;
  /** Version of the state last shown. */
  shownVersion: number;
  shownTerminal: boolean;
  outbox: Outgoing[];
  running: boolean;
  /** Settles when the first post of the message succeeds (or is given up). */
  firstPost?: Deferred<Where | undefined>;
  /** When the item at the head started failing, for the give-up deadline. */
  failingSince?: number;
  attempt: number;
};

type Deferred<T> = { promise: Promise<T>; resolve(value: T): void; settled: boolean };

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  const result: Deferred<T> = {
    promise,
    settled: false,
    resolve(value) {
      if (result.settled) return;
      result.settled = true;
      resolve(value);
    },
  };
  return result;
}

type Outcome =
  | { type: "done" }
  | { type: "retry"; waitMs: number; why: string }
  | { type: "drop"; why: string }
  /** The message is gone (deleted by someone): post a new one. */
  | { type: "repost"; why: string };

const MAX_OUTBOX = 20;
const SNAPSHOT_RETRY_MS = 2 * 60_000;
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
 * The rollout's Slack presence: one message per rollout, updated in place; snapshot replies in its thread with
 * the chart; top-level alerts. Sending happens in the background, one loop per rollout:
 *
 * - `update` returns at once with where the message is (the first post is awaited up to `firstPostTimeoutMs`);
 * - while a send waits (a 429's Retry-After, an outage's backoff), newer states replace the pending one, so Slack
 *   sees only the latest state when it is back: no backlog of stale updates;
 * - nothing here throws into the rollout service, and nothing makes it wait on Slack.
 */
export class SlackNotifier implements Notifier {
  readonly #client: WebClient;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #options: Required<
    Pick<SlackNotifierOptions, "firstPostTimeoutMs" | "retryForMs" | "maxBackoffMs">
  >;
  readonly #onCallFor: (service: string) => string | undefined;
  readonly #chart: ((rollout: Rollout) => Promise<Buffer | undefined>) | undefined;
  readonly #boxes = new Map<string, Mailbox>();
  readonly #sleeps = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  #workspaceUrl: Promise<string> | undefined;
  #closed = false;

  constructor(options: SlackNotifierOptions) {
    this.#client = options.client;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#onCallFor = options.onCallFor ?? (() => undefined);
    this.#chart = options.chart;
    this.#options = {
      firstPostTimeoutMs: options.firstPostTimeoutMs ?? 3_000,
      retryForMs: options.retryForMs ?? 15 * 60_000,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
    };
    if (options.workspaceUrl) this.#workspaceUrl = Promise.resolve(options.workspaceUrl);
  }

  async update(rollout: Rollout): Promise<Where | undefined> {
    try {
      const box = this.#box(rollout);
      if (!box.channel || this.#closed) return undefined;
      if (rollout.version < box.shownVersion) return this.#where(box);
      if (!box.latest || rollout.version >= box.latest.version) box.latest = rollout;
      const known = this.#where(box);
      if (known) {
        this.#kick(box);
        return known;
      }
      // The first post: worth a short wait, so the service can store where the message lives. Only the first
      // caller waits; while Slack is slow or down, later updates return at once and the loop keeps trying.
      const waiting = box.firstPost;
      box.firstPost ??= deferred();
      this.#kick(box);
      if (waiting) return undefined;
      return await withTimeout(box.firstPost.promise, this.#options.firstPostTimeoutMs);
    } catch (error) {
      this.#logger.warn({ rollout: rollout.id, err: errorText(error) }, "slack update not queued");
      return undefined;
    }
  }

  snapshot(rollout: Rollout, text: string): Promise<void> {
    this.#enqueue({ kind: "snapshot", rollout, text });
    return Promise.resolve();
  }

  alert(rollout: Rollout, text: string): Promise<void> {
    this.#enqueue({ kind: "alert", rollout, text });
    return Promise.resolve();
  }

  /** Resolves when nothing is waiting to be sent (tests, shutdown). */
  async idle(): Promise<void> {
    while ([...this.#boxes.values()].some((box) => box.running)) await delay(10);
  }

  /** Send what is pending for up to `timeoutMs`, then stop; later calls are dropped. */
  async close(timeoutMs = 5_000): Promise<void> {
    await withTimeout(this.idle(), timeoutMs);
    this.#closed = true;
    for (const sleep of this.#sleeps) {
      clearTimeout(sleep.timer);
      sleep.wake();
    }
    this.#sleeps.clear();
  }

  #box(rollout: Rollout): Mailbox {
    let box = this.#boxes.get(rollout.id);
    if (!box) {
      box = {
        id: rollout.id,
        shownVersion: -1,
        shownTerminal: false,
        outbox: [],
        running: false,
        attempt: 0,
      };
      this.#boxes.set(rollout.id, box);
    }
    if (!box.channel && rollout.report?.channel) box.channel = rollout.report.channel;
    if (!box.ts && rollout.report?.ts && rollout.report.channel === box.channel) box.ts = rollout.report.ts;
    return box;
  }

  #where(box: Mailbox): Where | undefined {
    return box.channel && box.ts ? { channel: box.channel, ts: box.ts } : undefined;
  }

  #enqueue(item: Outgoing): void {
    try {
      const box = this.#box(item.rollout);
      if (!box.channel || this.#closed) return;
      box.outbox.push(item);
      while (box.outbox.length > MAX_OUTBOX) {
        const snapshot = box.outbox.findIndex((queued) => queued.kind === "snapshot");
        const [dropped] = box.outbox.splice(snapshot >= 0 ? snapshot : 0, 1);
        this.#logger.warn({ rollout: box.id, kind: dropped?.kind }, "slack outbox full; dropped the oldest");
      }
      this.#kick(box);
    } catch (error) {
      this.#logger.warn({ rollout: item.rollout.id, err: errorText(error) }, "slack notification not queued");
    }
  }

  #kick(box: Mailbox): void {
    if (box.running || this.#closed) return;
    box.running = true;
    void this.#drain(box)
      .catch((error: unknown) =>
        this.#logger.error({ rollout: box.id, err: errorText(error) }, "slack sender failed"),
      )
      .finally(() => {
        box.running = false;
        if (this.#closed) return;
        if (box.latest || box.outbox.length > 0) this.#kick(box);
        // A finished rollout's message is final: forget it (a late alert starts over from the stored report).
        else if (box.shownTerminal) this.#boxes.delete(box.id);
      });
  }

  /** Send the latest state, then the queued replies and alerts, waiting out rate limits and outages. */
  async #drain(box: Mailbox): Promise<void> {
    while (!this.#closed) {
      const rollout = box.latest;
      const item = rollout ? undefined : box.outbox[0];
      if (!rollout && !item) return;
      let outcome: Outcome;
      try {
        outcome = rollout ? await this.#sendMessage(box, rollout) : await this.#sendItem(box, item!);
      } catch (error) {
        outcome = classify(error, this.#backoff(box));
      }
      const what = rollout ? "message" : item!.kind;
      if (outcome.type === "repost") {
        this.#logger.warn({ rollout: box.id, why: outcome.why }, "slack message gone; posting a new one");
        box.ts = undefined;
        continue;
      }
      if (outcome.type === "retry") {
        const now = this.#now();
        box.failingSince ??= now;
        const limit =
          item?.kind === "snapshot"
            ? Math.min(SNAPSHOT_RETRY_MS, this.#options.retryForMs)
            : this.#options.retryForMs;
        if (now - box.failingSince < limit) {
          box.attempt += 1;
          this.#logger.warn(
            { rollout: box.id, what, why: outcome.why, waitMs: outcome.waitMs },
            "slack call failed; retrying",
          );
          await this.#sleep(outcome.waitMs);
          continue;
        }
        outcome = {
          type: "drop",
          why: `gave up after ${Math.round((now - box.failingSince) / 1000)}s: ${outcome.why}`,
        };
      }
      box.failingSince = undefined;
      box.attempt = 0;
      if (rollout) {
        if (box.latest === rollout) box.latest = undefined;
        if (outcome.type === "done") {
          box.shownVersion = rollout.version;
          box.shownTerminal = isTerminal(rollout.phase);
        } else {
          box.firstPost?.resolve(undefined);
          if (!box.ts) box.firstPost = undefined;
        }
      } else {
        box.outbox.shift();
      }
      if (outcome.type === "drop") {
        this.#logger.warn({ rollout: box.id, what, why: outcome.why }, "slack notification dropped");
      }
    }
  }

  async #sendMessage(box: Mailbox, rollout: Rollout): Promise<Outcome> {
    const channel = box.channel;
    if (!channel) return { type: "drop", why: "no channel" };
    const message = renderRolloutMessage(this.#asStored(box, rollout), this.#now());
    if (!box.ts) {
      const posted = await this.#client.chat.postMessage({ channel, ...message, unfurl_links: false });
      if (!posted.ts) return { type: "drop", why: "chat.postMessage answered no ts" };
      box.channel = posted.channel ?? channel;
      box.ts = posted.ts;
      box.firstPost?.resolve({ channel: box.channel, ts: box.ts });
      return { type: "done" };
    }
    await this.#client.chat.update({ channel, ts: box.ts, ...message });
    return { type: "done" };
  }

  /**
   * The rollout as the store will hold it once the service has recorded where the message is: that save bumps the
   * version, and the buttons must carry the version a click will find (else the first message's buttons would all
   * be stale).
   */
  #asStored(box: Mailbox, rollout: Rollout): Rollout {
    const recorded =
      rollout.report?.ts !== undefined &&
      rollout.report.ts === box.ts &&
      rollout.report.channel === box.channel;
    return recorded ? rollout : { ...rollout, version: rollout.version + 1 };
  }

  async #sendItem(box: Mailbox, item: Outgoing): Promise<Outcome> {
    const where = this.#where(box);
    if (!box.channel) return { type: "drop", why: "no channel" };
    if (item.kind === "alert") {
      const onCall = this.#onCallFor(item.rollout.target.service);
      const link = where ? messageLink(where, await this.#workspace()) : undefined;
      const message: SlackMessage = renderAlert(item.rollout, item.text, {
        ...(onCall ? { onCall } : {}),
        ...(link ? { link } : {}),
      });
      await this.#client.chat.postMessage({ channel: box.channel, ...message, unfurl_links: false });
      return { type: "done" };
    }
    if (!where) return { type: "drop", why: "snapshot without a rollout message to thread under" };
    if (!item.replied) {
      const reply = renderSnapshotReply(item.rollout, item.text);
      await this.#client.chat.postMessage({ channel: where.channel, thread_ts: where.ts, ...reply });
      item.replied = true;
    }
    const png = await this.#renderChart(item.rollout);
    if (!png) return { type: "done" };
    const step = Math.max(item.rollout.stepIndex + 1, 0);
    await this.#client.filesUploadV2({
      channel_id: where.channel,
      thread_ts: where.ts,
      file: png,
      filename: `${item.rollout.id}-step-${step}.png`,
      title: `${item.rollout.id} step ${step}: ${item.rollout.target.stableSubset} vs ${item.rollout.target.canarySubset}`,
    });
    return { type: "done" };
  }

  async #renderChart(rollout: Rollout): Promise<Buffer | undefined> {
    if (!this.#chart || rollout.snapshots.length === 0) return undefined;
    try {
      return await this.#chart(rollout);
    } catch (error) {
      this.#logger.warn({ rollout: rollout.id, err: errorText(error) }, "chart rendering failed; table only");
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

  #backoff(box: Mailbox): number {
    return Math.min(this.#options.maxBackoffMs, 500 * 2 ** box.attempt);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.#sleeps.delete(entry);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.#sleeps.add(entry);
    });
  }
}

/** What a failed Web API call means for the notifier: wait and retry, or give up on this notification. */
function classify(error: unknown, backoffMs: number): Outcome {
  const failure = error as {
    code?: string;
    retryAfter?: number;
    statusCode?: number;
    data?: { error?: string };
  };
  if (failure.code === SlackErrorCode.RateLimitedError) {
    return { type: "retry", waitMs: Math.max(1, failure.retryAfter ?? 1) * 1000, why: "rate limited" };
  }
  if (failure.code === SlackErrorCode.HTTPError) {
    const status = failure.statusCode ?? 0;
    return status >= 500 || status === 408
      ? { type: "retry", waitMs: backoffMs, why: `HTTP ${status}` }
      : { type: "drop", why: `HTTP ${status}` };
  }
  if (failure.code === SlackErrorCode.PlatformError) {
    const code = failure.data?.error ?? "unknown";
    if (GONE.has(code)) return { type: "repost", why: code };
    return RETRYABLE_PLATFORM_ERRORS.has(code)
      ? { type: "retry", waitMs: backoffMs, why: code }
      : { type: "drop", why: code };
  }
  // Request errors (connection refused, reset, timeout) and anything unexpected: Slack may be back soon.
  return { type: "retry", waitMs: backoffMs, why: errorText(error) };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
