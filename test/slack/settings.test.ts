import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Logger } from "../../src/rollout/ports.ts";
import { startSlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../sandbox/slack/web-api-sandbox.ts";
import { isSocketMode, loadSlackSettings } from "../../src/slack/settings.ts";
import { UsergroupResolver, usergroupFetcher } from "../../src/slack/usergroups.ts";
import { createNotifierClient } from "../../src/slack/slack-notifier.ts";

const TOKEN = "xoxb-1234-5678-abcdef";
const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";

describe("loadSlackSettings", () => {
  it("reads the HTTP-mode settings, PORT defaulting to 3000", () => {
    const settings = loadSlackSettings({ SLACK_BOT_TOKEN: TOKEN, SLACK_SIGNING_SECRET: SECRET });
    expect(settings).toEqual({ SLACK_BOT_TOKEN: TOKEN, SLACK_SIGNING_SECRET: SECRET, PORT: 3000 });
    expect(isSocketMode(settings)).toBe(false);
  });

  it("takes Socket Mode from SLACK_APP_TOKEN (no signing secret needed) and normalizes SLACK_API_URL", () => {
    const settings = loadSlackSettings({
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_APP_TOKEN: "xapp-1-A111-222-abc",
      SLACK_API_URL: "http://127.0.0.1:4000/api",
      PORT: "0",
    });
    expect(isSocketMode(settings)).toBe(true);
    expect(settings.SLACK_API_URL).toBe("http://127.0.0.1:4000/api/");
    expect(settings.PORT).toBe(0);
  });

  it("names every missing or malformed setting in one error, and never echoes a secret", () => {
    let message = "";
    try {
      loadSlackSettings({
        SLACK_APP_TOKEN: "xoxb-not-an-app-token",
        SLACK_API_URL: "ftp://x",
        PORT: "http",
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("SLACK_BOT_TOKEN: is required (the bot token, xoxb-…)");
    expect(message).toContain("SLACK_APP_TOKEN: must be an app-level token (xapp-…)");
    expect(message).toContain("SLACK_API_URL: must be an http:// or https:// URL");
    expect(message).toContain("PORT:");
    expect(message).not.toContain("xoxb-not-an-app-token");

    expect(() => loadSlackSettings({ SLACK_BOT_TOKEN: "xoxp-user-token" })).toThrow(
      /SLACK_BOT_TOKEN: must be a bot token.*SLACK_SIGNING_SECRET: is required for HTTP mode/,
    );
    // A process that only posts (a worker) needs no signing secret; empty variables count as unset.
    expect(
      loadSlackSettings({ SLACK_BOT_TOKEN: TOKEN, SLACK_SIGNING_SECRET: "" }, { receiving: false }),
    ).toEqual({
      SLACK_BOT_TOKEN: TOKEN,
      PORT: 3000,
    });
  });
});

describe("UsergroupResolver against the Slack sandbox", () => {
  let sandbox: SlackSandbox;
  const silent: Logger = {
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
    child: () => silent,
  };

  beforeEach(async () => {
    sandbox = await startSlackSandbox({
      usergroups: [{ id: "S0SRE0001", handle: "sre", users: ["U0BOB001"] }],
    });
  });
  afterEach(async () => {
    await sandbox.close();
  });

  it("resolves groups through usergroups.users.list, cached for the TTL, last known members when Slack fails", async () => {
    let now = 0;
    const client = createNotifierClient({ token: sandbox.botToken, slackApiUrl: sandbox.apiUrl });
    const resolver = new UsergroupResolver({
      fetchMembers: usergroupFetcher(client),
      logger: silent,
      ttlMs: 1_000,
      now: () => now,
    });
    const lookups = () => sandbox.calls("usergroups.users.list").length;
    expect(await resolver.members(["S0SRE0001", "S0SRE0001"])).toEqual(
      new Map([["S0SRE0001", ["U0BOB001"]]]),
    );
    expect(lookups()).toBe(1);
    await resolver.members(["S0SRE0001"]);
    expect(lookups()).toBe(1);

    now = 2_000;
    sandbox.addUsergroup({ id: "S0SRE0001", handle: "sre", users: ["U0BOB001", "U0CAROL1"] });
    expect((await resolver.members(["S0SRE0001"])).get("S0SRE0001")).toEqual(["U0BOB001", "U0CAROL1"]);

    now = 4_000;
    sandbox.outage({ method: "usergroups.users.list", status: 503 });
    expect((await resolver.members(["S0SRE0001"])).get("S0SRE0001")).toEqual(["U0BOB001", "U0CAROL1"]);
    // A group never resolved stays unresolved: the authorization that needs it refuses, saying so.
    expect((await resolver.members(["S0UNKNOWN"])).has("S0UNKNOWN")).toBe(false);
  });
});
