import { afterEach, describe, expect, it } from "vitest";
import { replaySocketModeFixtures } from "../../sandbox/slack/envelope-client.ts";
import { ACK_TIMEOUT_MS } from "../../sandbox/slack/socket-mode.ts";
import { ActionId } from "../../src/slack/render-rollout-message.ts";
import { routeWeights } from "../support/route-weights.ts";
import { SLACK_REQUESTS_DIR } from "../sandbox/slack/support.ts";
import { ALICE, BOB, CAROL, DEPLOYS, botHarness, buttonsOf, waitFor } from "../support/bot-harness.ts";
import type { BotHarness } from "../support/bot-harness.ts";

let h: BotHarness;

afterEach(async () => {
  await h?.cleanup();
});

const reviewsWeights = (): string | undefined =>
  routeWeights(h.kube.get("VirtualService", "default", "reviews"), "v1");

describe("canarybot over Socket Mode (SLACK_APP_TOKEN set, no public URL)", () => {
  it("connects with the app-level token and receives `/canary start` as an envelope it acks within 3 s", async () => {
    // Given canarybot serve with SLACK_APP_TOKEN and no signing secret
    h = await botHarness("socket-start", { transport: "socket" });
    expect(h.bot.port).toBeUndefined();
    expect(h.slack.calls("apps.connections.open")).toMatchObject([{ status: 200, ok: true }]);
    expect(h.slack.socketMode.connections()).toMatchObject([{ open: true }]);

    // When Alice types the command
    const sent = await h.envelopes.slashCommand({
      text: "start reviews --canary v2 --steps 10,100 --interval 1h",
      userId: ALICE.id,
      channelId: DEPLOYS.id,
    });

    // Then the envelope is acked (empty payload) before any work, and the rollout shows up in the channel
    expect(sent.ack.payload).toEqual({});
    expect(sent.ack.afterMs).toBeLessThan(ACK_TIMEOUT_MS);
    await h.waitForEphemeral(ALICE, /^Started reviews-1 /);
    const message = await h.waitForMessage("reviews-1", "progressing at 10%", (m) =>
      m.text.includes(", progressing, 10%"),
    );
    expect(message.channel).toBe(DEPLOYS.id);
    expect(reviewsWeights()).toBe("v1=90,v2=10");
    expect(h.slack.socketMode.acks().map((ack) => ack.envelopeId)).toEqual([sent.ack.envelopeId]);
  });

  it("takes Approve and Rollback clicks as interactive envelopes", async () => {
    h = await botHarness("socket-buttons", { transport: "socket" });
    const before = structuredClone(h.kube.get("VirtualService", "default", "reviews")!.spec);
    // Given a rollout holding at 10% for an approval
    expect(
      await h.command(ALICE, "start reviews --canary v2 --steps 10,50,100 --approve-at 10 --interval 200ms"),
    ).toBe(200);
    let message = await h.waitForMessage("reviews-1", "awaiting approval at 10%", (m) =>
      m.text.includes("awaiting-approval, 10%"),
    );
    expect(Object.keys(buttonsOf(message))).toContain(ActionId.Approve);

    // When Bob approves, it moves on
    const approved = await h.envelopes.clickButton({
      channel: message.channel,
      messageTs: message.ts,
      actionId: ActionId.Approve,
      userId: BOB.id,
    });
    expect(approved.ack.afterMs).toBeLessThan(ACK_TIMEOUT_MS);
    message = await h.waitForMessage("reviews-1", "past 10%", (m) =>
      /, (progressing|promoted), (50|100)%/.test(m.text),
    );

    // And when Carol rolls back, the route is restored and the buttons go
    expect(await h.click(CAROL, message, ActionId.Rollback)).toBe(200);
    const done = await h.waitForMessage("reviews-1", "rolled back", (m) => m.text.includes(", rolled-back,"));
    expect(Object.keys(buttonsOf(done))).toEqual([]);
    expect(h.kube.get("VirtualService", "default", "reviews")!.spec).toEqual(before);
    const actions = (await h.audit("reviews-1")).map((entry) => `${entry.actor} ${entry.action}`);
    expect(actions).toEqual(expect.arrayContaining([`${BOB.id} approve`, `${CAROL.id} rollback`]));
  });

  it("acks every recorded Socket Mode envelope (slash command, shortcut)", async () => {
    h = await botHarness("socket-fixtures", { transport: "socket" });
    const replays = await replaySocketModeFixtures({
      socketMode: h.slack.socketMode,
      requestsDirectory: SLACK_REQUESTS_DIR,
    });
    expect(replays.map((replay) => replay.type).sort()).toEqual(["interactive", "slash_commands"]);
    expect(replays.filter((replay) => replay.ack === undefined)).toEqual([]);
  });

  it("reconnects through apps.connections.open when Slack sends `disconnect`, and keeps taking commands", async () => {
    h = await botHarness("socket-reconnect", { transport: "socket" });
    h.slack.socketMode.disconnect("refresh_requested");
    await waitFor("a second socket mode connection", () =>
      h.slack.socketMode.connections().filter((connection) => connection.open).length === 1 &&
      h.slack.socketMode.connections().length === 2
        ? true
        : undefined,
    );
    expect(h.slack.calls("apps.connections.open")).toHaveLength(2);
    expect(await h.command(ALICE, "status reviews")).toBe(200);
    await h.waitForEphemeral(ALICE, /reviews/);
  });
});
