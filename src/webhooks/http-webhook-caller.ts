import type { WebhookCall, WebhookCaller } from "../rollout/ports.ts";
import type { HookResult } from "../rollout/types.ts";
import { flaggerPayload } from "./payload.ts";
import { redact } from "../redact.ts";
import { exponentialDelay, retry } from "../retry.ts";
import { errorMessage } from "../errors.ts";

/** Flagger's success: its loadtester and gates answer 200-202; anything else (or no answer) fails the call. */
export function isFlaggerSuccess(status: number): boolean {
  return status >= 200 && status <= 202;
}

export type HttpWebhookCallerOptions = {
  /** Characters of an answer kept for the audit and the channel. */
  maxAnswerChars?: number;
  /** Upper bound of any hook's timeout, whatever its config says: a tick must end. */
  maxTimeoutMs?: number;
  /** Upper bound of any hook's retries. */
  maxRetries?: number;
  /** Wait before retry n (1-based); tests shorten it. */
  backoffMs?: (attempt: number) => number;
  now?: () => number;
};

export const DEFAULT_MAX_ANSWER_CHARS = 300;
export const DEFAULT_MAX_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_MAX_RETRIES = 5;

type Attempt = { status?: number; body: string };

/**
 * Calls webhooks over HTTP(S) with Node's fetch: a POST of Flagger's JSON body, one timeout per attempt, further
 * attempts after a connection error, a timeout or a 5xx as the hook's `retries` says. Never throws: every outcome is
 * a result, its answer cut short and redacted (the hook's metadata values and secret-shaped strings).
 */
export class HttpWebhookCaller implements WebhookCaller {
  readonly #maxAnswerChars: number;
  readonly #maxTimeoutMs: number;
  readonly #maxRetries: number;
  readonly #backoffMs: (attempt: number) => number;
  readonly #now: () => number;

  constructor(options: HttpWebhookCallerOptions = {}) {
    this.#maxAnswerChars = options.maxAnswerChars ?? DEFAULT_MAX_ANSWER_CHARS;
    this.#maxTimeoutMs = options.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS;
    this.#maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.#backoffMs = options.backoffMs ?? ((attempt) => exponentialDelay(attempt, 250, 4_000));
    this.#now = options.now ?? (() => Date.now());
  }

  async call(request: WebhookCall): Promise<HookResult> {
    const { hook } = request;
    const body = JSON.stringify(flaggerPayload(request));
    const timeoutMs = Math.min(Math.max(hook.timeoutMs, 1), this.#maxTimeoutMs);
    const retries = Math.min(Math.max(hook.retries, 0), this.#maxRetries);
    const started = this.#now();
    let attempts = 0;
    const last = await retry(
      (n) => {
        attempts = n;
        return this.#attempt(hook.url, body, timeoutMs);
      },
      (outcome, n) => {
        const retryable = !outcome.ok || outcome.value.status === undefined || outcome.value.status >= 500;
        return retryable && n <= retries ? this.#backoffMs(n) : undefined;
      },
    );
    return {
      name: hook.name,
      type: hook.type,
      ok: last.status !== undefined && isFlaggerSuccess(last.status),
      ...(last.status === undefined ? {} : { status: last.status }),
      durationMs: this.#now() - started,
      attempts,
      answer: this.#shown(last.body, Object.values(hook.metadata ?? {})),
    };
  }

  async #attempt(url: string, body: string, timeoutMs: number): Promise<Attempt> {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: response.status, body: await response.text() };
    } catch (error) {
      return { body: describeFailure(error, timeoutMs) };
    }
  }

  /** One line, secrets out, cut to the limit (after redaction, so a cut never leaves half a secret visible). */
  #shown(text: string, secrets: readonly string[]): string {
    return redact(text, secrets, this.#maxAnswerChars);
  }
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
  const message = errorMessage(error);
  return cause ? `${message}: ${cause}` : message;
}
