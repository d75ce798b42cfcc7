import { CanaryError, ErrorCode } from "../errors.ts";

/** The queue notifications go through unless configured otherwise; under the CANARYBOT_PREFIX like the ticks. */
export const DEFAULT_NOTIFICATION_QUEUE = "canarybot-notifications";

/**
 * What a notification job carries: ids, and the words of an alert or snapshot (decided when it happened). The
 * deliverer re-reads the rollout from the store, so the message always shows the newest state.
 */
export type NotificationJobData =
  | { kind: "message"; rolloutId: string }
  | { kind: "alert"; rolloutId: string; text: string }
  /** `at`: when it was queued (ms), so a delivery late enough to mislead is dropped instead. */
  | { kind: "snapshot"; rolloutId: string; text: string; at: number }
  /**
   * A service's daily digest (`digest`: `reviews.2026-12-05`), rendered when it was due: it tells of a finished
   * day, so there is nothing newer to re-read.
   */
  | { kind: "digest"; digest: string; channel: string; text: string; blocks: unknown[] };

/** What a notification is about, for logs: its rollout, or the digest. */
export function notificationSubject(data: NotificationJobData): { rollout: string } | { digest: string } {
  return data.kind === "digest" ? { digest: data.digest } : { rollout: data.rolloutId };
}

/** The job id of a service's digest of one day (`digest.reviews.2026-12-05`): queued once whoever queues it. */
export function digestJobId(digest: string): string {
  return `digest.${checkedId(digest)}`;
}

export type NotificationKind = NotificationJobData["kind"];

/**
 * The deduplication id of a rollout's message updates: at most one waiting and one running per rollout, so
 * pending updates coalesce and one rollout's message is never sent by two workers at once.
 */
export function messageDeduplicationId(rolloutId: string): string {
  return `rollout.${checkedId(rolloutId)}.message`;
}

/** A unique id for one alert or snapshot (`unique` is random), so none is lost and none doubled. */
export function notificationJobId(rolloutId: string, kind: "alert" | "snapshot", unique: string): string {
  return `rollout.${checkedId(rolloutId)}.${kind}.${unique}`;
}

export function isNotificationJobData(data: unknown): data is NotificationJobData {
  if (typeof data !== "object" || data === null) return false;
  const { kind, rolloutId, text, at } = data as Record<string, unknown>;
  if (kind === "digest") {
    const { digest, channel, blocks } = data as Record<string, unknown>;
    return (
      typeof digest === "string" &&
      typeof channel === "string" &&
      typeof text === "string" &&
      Array.isArray(blocks)
    );
  }
  if (typeof rolloutId !== "string" || rolloutId.length === 0) return false;
  if (kind === "message") return true;
  if (kind === "alert") return typeof text === "string";
  return kind === "snapshot" && typeof text === "string" && Number.isFinite(at);
}

/**
 * A delivery the outside system asked to slow down: the whole queue waits `retryAfterMs` (a Slack rate limit
 * holds for the workspace, so every pending notification would meet it too) and the job runs again, without
 * using up an attempt. A small control-flow error class, like BullMQ's own.
 */
export class DeliveryRateLimited extends Error {
  override readonly name = "DeliveryRateLimited";
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

function checkedId(rolloutId: string): string {
  // BullMQ custom job ids may not contain `:`.
  if (rolloutId.length === 0 || rolloutId.includes(":")) {
    throw new CanaryError(ErrorCode.InvalidInput, `rollout id "${rolloutId}" cannot name a notification job`);
  }
  return rolloutId;
}
