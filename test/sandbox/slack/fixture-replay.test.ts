import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { App } from "@slack/bolt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { replaySlackFixtures } from "../../../sandbox/slack/fixture-replay.ts";
import { startSlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import { SLACK_REQUESTS_DIR, startBoltApp } from "./support.ts";
import type { RunningBoltApp } from "./support.ts";

const SECRET = randomBytes(16).toString("hex");

let sandbox: SlackSandbox;
let bolt: RunningBoltApp;
let handled: string[];

/** Catch-all listeners: each acks and notes what it saw, in the order requests arrive. */
function listenToEverything(app: App): void {
  app.command(/.*/, async ({ ack, command }) => {
    await ack();
    handled.push(`command ${command.command}`);
  });
  app.action(/.*/, async ({ ack, body }) => {
    await ack();
    handled.push(body.type);
  });
  app.view(/.*/, async ({ ack, body }) => {
    await ack();
    handled.push(body.type);
  });
  app.view({ type: "view_closed", callback_id: /.*/ }, async ({ ack, body }) => {
    await ack();
    handled.push(body.type);
  });
  app.shortcut(/.*/, async ({ ack, body }) => {
    await ack();
    handled.push(body.type);
  });
}

/** What a listener should report for a fixture, read from the fixture itself. */
async function expectedListener(file: string): Promise<string> {
  const form = new URLSearchParams(await readFile(join(SLACK_REQUESTS_DIR, file), "utf8"));
  const payload = form.get("payload");
  return payload === null ? `command ${form.get("command")}` : (JSON.parse(payload) as { type: string }).type;
}

beforeAll(async () => {
  sandbox = await startSlackSandbox();
  bolt = await startBoltApp(sandbox, SECRET, listenToEverything);
});

afterAll(async () => {
  await bolt.stop();
  await sandbox.close();
});

beforeEach(() => {
  handled = [];
});

describe("replaying Slack's real request bodies into a Bolt app", () => {
  it("gets every slash command and interaction fixture acked by the right listener", async () => {
    const replays = await replaySlackFixtures({
      endpoint: bolt.endpoint,
      signingSecret: SECRET,
      requestsDirectory: SLACK_REQUESTS_DIR,
    });
    expect(replays.map((replay) => [replay.file, replay.status])).toEqual(replays.map((r) => [r.file, 200]));
    expect(replays.filter((r) => r.kind === "slash_command")).toHaveLength(6);
    expect(replays.filter((r) => r.kind === "interaction")).toHaveLength(12);
    const files = replays.map((replay) => replay.file);
    // Enterprise Grid and org-wide installs are among them.
    expect(files).toEqual(
      expect.arrayContaining([
        "slash-commands/slash-command.org-level-install.form.txt",
        "slash-commands/slash-command.bolt-js-aws-lambda.form.txt",
        "interactions/view-submission.org-app.form.txt",
        "interactions/block-actions.bolt-python-ephemeral.form.txt",
      ]),
    );
    expect(handled).toEqual(await Promise.all(files.map(expectedListener)));
  });

  it("gets every one refused when signed with another secret", async () => {
    const replays = await replaySlackFixtures({
      endpoint: bolt.endpoint,
      signingSecret: SECRET,
      requestsDirectory: SLACK_REQUESTS_DIR,
      sendOptions: { badSignature: true },
    });
    expect(new Set(replays.map((replay) => replay.status))).toEqual(new Set([401]));
    expect(handled).toEqual([]);
  });
});
