import { createHmac, timingSafeEqual } from "node:crypto";
import { mrkdwn } from "./mrkdwn.ts";

/**
 * What Slack ever sends to a request URL, and the checks a request passes before Bolt sees it. Pure: the clock, the
 * secret and the bytes come in as arguments.
 */

/** "Verify the timestamp is within five minutes of the local time" (docs.slack.dev/authentication/verifying-requests-from-slack), either way. */
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

/** Slack truncates a message at 40,000 characters; a command's text is typed into the same composer. */
export const MAX_COMMAND_TEXT = 40_000;

/**
 * The largest body Slack sends: a 40,000-character command percent-encoded as 4-byte UTF-8 (12 bytes a character)
 * plus its other fields; interaction payloads carry canarybot's own messages and form, far smaller. Anything bigger
 * is not from Slack and is not read further.
 */
export const MAX_BODY_BYTES = 512 * 1024;

export type GuardVerdict =
  | { ok: true }
  /** Refused: the HTTP status, why (for the log), and a text the sender is shown when there is one. */
  | { ok: false; status: number; why: string; reply?: string };

const refuse = (status: number, why: string, reply?: string): GuardVerdict => ({
  ok: false,
  status,
  why,
  ...(reply === undefined ? {} : { reply }),
});

export const TOO_LARGE_REPLY =
  mrkdwn`:warning: That request is larger than Slack sends (over ${MAX_BODY_BYTES / 1024} KiB); nothing was done.`.toString();

/**
 * Slack's periodic `ssl_check=1` on a command URL is unsigned and carries nothing to act on: it is answered 200 and
 * never reaches Bolt (docs.slack.dev/interactivity/implementing-slash-commands).
 */
export function isSslCheck(contentType: string | undefined, rawBody: Buffer): boolean {
  return (
    contentType === "application/x-www-form-urlencoded" &&
    new URLSearchParams(rawBody.toString("utf8")).get("ssl_check") === "1"
  );
}

/** The timestamp and signature headers, checked as Slack documents them (`v0=` HMAC-SHA256 of `v0:ts:body`). */
export function checkSignature(input: {
  signingSecret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: Buffer;
  nowMs: number;
}): GuardVerdict {
  const { timestamp, signature } = input;
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) {
    return refuse(401, "missing or malformed x-slack-request-timestamp");
  }
  const skew = Math.abs(Math.floor(input.nowMs / 1000) - Number(timestamp));
  if (skew > MAX_CLOCK_SKEW_SECONDS) {
    return refuse(401, `x-slack-request-timestamp is ${skew}s off (at most ${MAX_CLOCK_SKEW_SECONDS}s)`);
  }
  if (signature === undefined || !signature.startsWith("v0=")) {
    return refuse(401, "missing or unknown x-slack-signature");
  }
  const expected = Buffer.from(
    `v0=${createHmac("sha256", input.signingSecret)
      .update(`v0:${timestamp}:`)
      .update(input.rawBody)
      .digest("hex")}`,
  );
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return refuse(401, "signature mismatch");
  }
  return { ok: true };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The parsed body (as Bolt parses it): anything but an object is refused, and a command longer than Slack allows is
 * answered instead of run.
 */
export function checkPayload(body: unknown): GuardVerdict {
  if (!isObject(body))
    return refuse(400, `the body is ${body === null ? "null" : typeof body}, not an object`);
  if (
    typeof body.command === "string" &&
    typeof body.text === "string" &&
    body.text.length > MAX_COMMAND_TEXT
  ) {
    return refuse(
      200,
      `command text of ${body.text.length} characters`,
      mrkdwn`:warning: That command is too long (${body.text.length.toLocaleString("en-US")} characters; Slack allows ${MAX_COMMAND_TEXT.toLocaleString("en-US")} characters and canarybot's commands need far fewer); nothing was done.`.toString(),
    );
  }
  return { ok: true };
}
