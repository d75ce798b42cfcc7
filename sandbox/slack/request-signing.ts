import { createHmac } from "node:crypto";

/**
 * Slack's request signature (docs.slack.dev/authentication/verifying-requests-from-slack):
 * `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}` keyed with the app's signing secret.
 */
export function slackSignature(signingSecret: string, timestamp: number | string, rawBody: string): string {
  return `v0=${createHmac("sha256", signingSecret).update(`v0:${timestamp}:${rawBody}`).digest("hex")}`;
}

/** The two headers Slack signs every request with. */
export function signedHeaders(
  signingSecret: string,
  timestamp: number,
  rawBody: string,
): { "X-Slack-Request-Timestamp": string; "X-Slack-Signature": string } {
  return {
    "X-Slack-Request-Timestamp": String(timestamp),
    "X-Slack-Signature": slackSignature(signingSecret, timestamp, rawBody),
  };
}
