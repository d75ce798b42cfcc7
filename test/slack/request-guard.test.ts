import { describe, expect, it } from "vitest";
import { slackSignature } from "../../sandbox/slack/request-signing.ts";
import {
  checkPayload,
  checkSignature,
  MAX_CLOCK_SKEW_SECONDS,
  MAX_COMMAND_TEXT,
} from "../../src/slack/request-guard.ts";

const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const NOW = 1_735_732_800_000;
const BODY = "command=%2Fcanary&text=help";

/** A request signed by Slack's recipe (the sandbox's signer, not the guard's own). */
function signedAt(offsetSeconds: number, body = BODY) {
  const timestamp = String(NOW / 1000 + offsetSeconds);
  return {
    signingSecret: SECRET,
    timestamp,
    signature: slackSignature(SECRET, timestamp, body),
    rawBody: Buffer.from(body),
    nowMs: NOW,
  };
}

describe("checkSignature", () => {
  it("takes timestamps up to 5 minutes off either way, and refuses one second more", () => {
    for (const offset of [-MAX_CLOCK_SKEW_SECONDS, 0, MAX_CLOCK_SKEW_SECONDS]) {
      expect(checkSignature(signedAt(offset))).toEqual({ ok: true });
    }
    for (const offset of [-MAX_CLOCK_SKEW_SECONDS - 1, MAX_CLOCK_SKEW_SECONDS + 1, 400]) {
      expect(checkSignature(signedAt(offset))).toMatchObject({ ok: false, status: 401 });
    }
  });

  it("refuses a wrong, missing or malformed signature or timestamp", () => {
    const good = signedAt(0);
    expect(checkSignature({ ...good, rawBody: Buffer.from(`${BODY}x`) })).toMatchObject({ status: 401 });
    expect(checkSignature({ ...good, signature: undefined })).toMatchObject({ status: 401 });
    expect(checkSignature({ ...good, signature: "v1=abc" })).toMatchObject({ status: 401 });
    expect(checkSignature({ ...good, timestamp: undefined })).toMatchObject({ status: 401 });
    expect(checkSignature({ ...good, timestamp: "1e9" })).toMatchObject({ status: 401 });
  });
});

describe("checkPayload", () => {
  it.each([null, [], "x", 7, true])("refuses %j with a 400", (body) => {
    expect(checkPayload(body)).toMatchObject({ ok: false, status: 400 });
  });

  it("answers a command longer than Slack allows instead of running it", () => {
    expect(checkPayload({ command: "/canary", text: "x".repeat(MAX_COMMAND_TEXT) })).toEqual({ ok: true });
    expect(checkPayload({ command: "/canary", text: "x".repeat(MAX_COMMAND_TEXT + 1) })).toMatchObject({
      ok: false,
      status: 200,
      reply: expect.stringMatching(/too long \(40,001 characters/) as string,
    });
    expect(checkPayload({ command: "/canary" })).toEqual({ ok: true });
  });
});
