import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { verifySlackRequest } from "@slack/bolt";
import { describe, expect, it } from "vitest";
import { signedHeaders, slackSignature } from "../../../sandbox/slack/request-signing.ts";
import { SLACK_REQUESTS_DIR } from "./support.ts";

interface SignatureVector {
  signing_secret: string;
  headers: { "X-Slack-Request-Timestamp": string; "X-Slack-Signature": string };
  raw_body: string;
}

const vector = JSON.parse(
  await readFile(join(SLACK_REQUESTS_DIR, "signing", "slack-docs-signature-vector.json"), "utf8"),
) as SignatureVector;
const timestamp = vector.headers["X-Slack-Request-Timestamp"];
const expected = vector.headers["X-Slack-Signature"];

describe("Slack request signing", () => {
  it("reproduces the signature from Slack's documentation exactly", () => {
    expect(slackSignature(vector.signing_secret, timestamp, vector.raw_body)).toBe(expected);
    expect(signedHeaders(vector.signing_secret, Number(timestamp), vector.raw_body)).toEqual({
      "X-Slack-Request-Timestamp": timestamp,
      "X-Slack-Signature": expected,
    });
  });

  it("signs the fixture body byte for byte as stored", async () => {
    const body = await readFile(
      join(SLACK_REQUESTS_DIR, "slash-commands", "slash-command.slack-docs-signed.form.txt"),
      "utf8",
    );
    expect(body).toBe(vector.raw_body);
    expect(slackSignature(vector.signing_secret, timestamp, body)).toBe(expected);
  });

  it("changes with one byte of the body, the timestamp or the secret", () => {
    const flipped = vector.raw_body.replace("text=", "text=x");
    expect(slackSignature(vector.signing_secret, timestamp, flipped)).not.toBe(expected);
    expect(slackSignature(vector.signing_secret, Number(timestamp) + 1, vector.raw_body)).not.toBe(expected);
    expect(slackSignature(`${vector.signing_secret}0`, timestamp, vector.raw_body)).not.toBe(expected);
  });

  it("passes Bolt's own verifier at the documented instant and fails it as a replay today", () => {
    const request = {
      signingSecret: vector.signing_secret,
      body: vector.raw_body,
      headers: {
        "x-slack-signature": slackSignature(vector.signing_secret, timestamp, vector.raw_body),
        "x-slack-request-timestamp": Number(timestamp),
      },
    };
    expect(() => verifySlackRequest({ ...request, nowMilliseconds: Number(timestamp) * 1000 })).not.toThrow();
    expect(() => verifySlackRequest(request)).toThrow(/stale/);
  });
});
