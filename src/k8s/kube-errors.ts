import { ApiException } from "@kubernetes/client-node";
import { CanaryError, ErrorCode } from "../errors.ts";
import { isJsonObject } from "../json/json-value.ts";
import { redact } from "../redact.ts";

/** The HTTP status of a client-node failure, or undefined for a transport failure (or anything else). */
export function httpStatusOf(error: unknown): number | undefined {
  return error instanceof ApiException && typeof error.code === "number" ? error.code : undefined;
}

/** The Kubernetes `Status` an ApiException carries, parsed when it arrived as text. */
function statusBody(error: ApiException<unknown>): Record<string, unknown> | undefined {
  const body: unknown = error.body;
  if (typeof body !== "string") return isJsonObject(body) ? body : undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return isJsonObject(parsed) ? parsed : undefined;
  } catch {
    return body.trim() === "" ? undefined : { message: body.trim() };
  }
}

/**
 * The server's own words: `Status.message` plus the first cause, without client-node's header dump; redacted and
 * capped, since they go to the audit trail, the channel and the logs.
 */
export function serverMessage(error: unknown): string {
  return redact(rawServerMessage(error));
}

function rawServerMessage(error: unknown): string {
  if (error instanceof ApiException) {
    const status = statusBody(error);
    const message = typeof status?.message === "string" ? status.message : undefined;
    const causes =
      isJsonObject(status?.details) && Array.isArray(status.details.causes) ? status.details.causes : [];
    const cause = causes
      .map((entry) => (isJsonObject(entry) && typeof entry.message === "string" ? entry.message : undefined))
      .find((text) => text !== undefined && !message?.includes(text));
    return [message ?? `HTTP ${error.code}`, cause].filter((part) => part !== undefined).join(": ");
  }
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** Failures of the connection itself (refused, reset, DNS, TLS, timeout) rather than answers from the server. */
export function isTransportError(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof ApiException) return false;
  if (error.name === "AbortError" || error.name === "TimeoutError") return true;
  // undici reports every network failure as `TypeError: fetch failed` with the system error as its cause.
  if (error.name === "TypeError" && error.message === "fetch failed") return true;
  const code = (error as { code?: unknown }).code;
  return (
    typeof code === "string" && /^(E[A-Z_]+|UND_ERR_[A-Z_]+|ERR_TLS_[A-Z_]+|UNABLE_TO_[A-Z_]+)$/.test(code)
  );
}

/**
 * Translate a client-node failure at the adapter boundary, prefixed with the object's identity and action
 * ("VirtualService default/reviews: set weights failed: …"): 404 → `not_found`; 401/403 → `forbidden`;
 * 409 → `conflict` (retryable); 400/422 and other 4xx → `invalid_input`; 429, 5xx, network errors and
 * timeouts → `kubernetes_unavailable` (retryable). A CanaryError passes through unchanged.
 */
export function translateKubeError(error: unknown, prefix: string): CanaryError {
  if (error instanceof CanaryError) return error;
  const detail = `${prefix}: ${serverMessage(error)}`;
  const status = httpStatusOf(error);
  const options = (retryable: boolean) => ({ retryable, cause: error });
  if (status === undefined) {
    return isTransportError(error)
      ? new CanaryError(ErrorCode.KubernetesUnavailable, detail, options(true))
      : new CanaryError(ErrorCode.Internal, detail, options(false));
  }
  if (status === 404) return new CanaryError(ErrorCode.NotFound, detail, options(false));
  if (status === 401 || status === 403) return new CanaryError(ErrorCode.Forbidden, detail, options(false));
  if (status === 409) return new CanaryError(ErrorCode.Conflict, detail, options(true));
  if (status === 429 || status >= 500)
    return new CanaryError(ErrorCode.KubernetesUnavailable, detail, options(true));
  return new CanaryError(ErrorCode.InvalidInput, detail, options(false));
}
