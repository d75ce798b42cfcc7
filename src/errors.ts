/** Stable error codes: matched by value across processes and shown to users, never by message text. */
export const ErrorCode = {
  InvalidInput: "invalid_input",
  NotFound: "not_found",
  Conflict: "conflict",
  Forbidden: "forbidden",
  PreflightFailed: "preflight_failed",
  Drift: "drift",
  AlreadyActive: "already_active",
  StaleVersion: "stale_version",
  Locked: "locked",
  /** The rollout belongs to another cluster than the one this process is configured for. */
  WrongCluster: "wrong_cluster",
  KubernetesUnavailable: "kubernetes_unavailable",
  MetricsUnavailable: "metrics_unavailable",
  MetricsQueryInvalid: "metrics_query_invalid",
  SlackUnavailable: "slack_unavailable",
  Internal: "internal",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class CanaryError extends Error {
  override readonly name = "CanaryError";
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

export function isCanaryError(error: unknown, code?: ErrorCode): error is CanaryError {
  return error instanceof CanaryError && (code === undefined || error.code === code);
}

/** What a caught value says: an Error's message, anything else as a string. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A caught value as an Error, for APIs that want one (BullMQ, Promise.allSettled reasons). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
