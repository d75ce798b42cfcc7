import { afterEach, describe, expect, it } from "vitest";
import type { MeshSandbox } from "../../sandbox/mesh/index.ts";
import { replaySlackFixtures } from "../../sandbox/slack/fixture-replay.ts";
import { ActionId } from "../../src/slack/render-rollout-message.ts";
import { START_VIEW_ID } from "../../src/slack/start-modal.ts";
import { routeWeights } from "../support/route-weights.ts";
import { SLACK_REQUESTS_DIR } from "../sandbox/slack/support.ts";
import {
  ALICE,
  BOB,
  CAROL,
  DEPLOYS,
  LOBBY,
  MALLORY,
  ONCALL,
  RANDOM,
  botHarness,
  buttonsOf,
  clickPayload,
  commandBody,
  waitFor,
} from "../support/bot-harness.ts";
import type { BotHarness } from "../support/bot-harness.ts";
import { meshOn } from "../support/kube-sandbox.ts";

/** Steps 10 → 50 → 100 with approval gates at 10% and 50%, stepping every 200 ms. */
const GATED = "start reviews --canary v2 --steps 10,50,100 --approve-at 10,50 --interval 200ms";

let h: BotHarness;

afterEach(async () => {
  await h?.cleanup();
});

const hasButtons = (message: { blocks?: unknown[] }): boolean =>
  Object.keys(buttonsOf(message as never)).length > 0;
const reviewsWeights = (): string | undefined =>
  routeWeights(h.kube.get("VirtualService", "default", "reviews"), "v1", "v2");

/** Alice (or `starter`) starts the gated rollout; resolves when it holds at 10% for an approval. */
async function startGated(starter: { id: string } = ALICE): Promise<string> {
  const sent = Date.now();
  expect(await h.command(starter, GATED)).toBe(200);
  // Acked before any work: well inside Slack's 3 seconds, whatever preflight takes.
  expect(Date.now() - sent).toBeLessThan(1_000);
  const started = await h.waitForEphemeral(starter, /^Started /);
  const id = /^Started (\S+)/.exec(started.text)?.[1] ?? "";
  await h.waitForMessage(id, "awaiting approval at 10%", (m) => m.text.includes("awaiting-approval, 10%"));
  return id;
}

describe("canarybot in Slack: rollouts driven from the channel", () => {
  it("start → Approve by a second user → Promote: the message ends promoted, without buttons", async () => {
    h = await botHarness("slack-promote");
    const id = await startGated();
    expect(id).toBe("reviews-1");
    expect(h.ephemerals(ALICE)[0]!.text).toMatch(
      /^Started reviews-1 \(.*\)\. Its message in this channel shows every step\.$/,
    );
    let message = h.message(id)!;
    expect(message.channel).toBe(DEPLOYS.id);
    expect(Object.keys(buttonsOf(message))).toEqual([
      ActionId.Approve,
      ActionId.Promote,
      ActionId.Pause,
      ActionId.Rollback,
    ]);
    expect(JSON.stringify(message.blocks)).toContain(`started by <@${ALICE.id}>`);
    expect(reviewsWeights()).toBe("v1=90,v2=10");

    expect(await h.click(BOB, message, ActionId.Approve)).toBe(200);
    message = await h.waitForMessage(id, "awaiting approval at 50%", (m) =>
      m.text.includes("awaiting-approval, 50%"),
    );
    expect(reviewsWeights()).toBe("v1=50,v2=50");

    expect(await h.click(BOB, message, ActionId.Promote)).toBe(200);
    message = await h.waitForMessage(id, "promoted", (m) => m.text.includes(", promoted,"));
    expect(hasButtons(message)).toBe(false);
    expect(JSON.stringify(message.blocks)).toContain(`*Promoted* by <@${BOB.id}>`);
    expect(reviewsWeights()).toBe("v2=100");
    // One message, updated in place.
    expect(h.slack.messages(DEPLOYS.id).filter((m) => m.text.startsWith(`${id}:`))).toHaveLength(1);
    // The bot learnt who it is once, not on every request.
    expect(h.slack.calls("auth.test").length).toBeLessThanOrEqual(3);
    const actions = (await h.audit(id)).map((entry) => `${entry.actor} ${entry.action}`);
    expect(actions).toEqual(
      expect.arrayContaining([`${ALICE.id} start`, `${BOB.id} approve`, `${BOB.id} promote`]),
    );
    expect(actions.filter((action) => action.includes("refused"))).toEqual([]);
  });

  it("the Rollback button restores the route exactly, and an alert names the rollback", async () => {
    h = await botHarness("slack-rollback");
    const before = structuredClone(h.kube.get("VirtualService", "default", "reviews")!.spec);
    const id = await startGated();
    const message = h.message(id)!;
    expect(await h.click(CAROL, message, ActionId.Rollback)).toBe(200);
    const done = await h.waitForMessage(id, "rolled back", (m) => m.text.includes(", rolled-back,"));
    expect(hasButtons(done)).toBe(false);
    expect(h.kube.get("VirtualService", "default", "reviews")!.spec).toEqual(before);

    const alert = await waitFor("the rollback alert", () =>
      h.slack.messages(DEPLOYS.id).find((m) => m.text.includes("is rolling back")),
    );
    expect(alert.threadTs).toBeUndefined();
    expect(alert.text).toContain(`${id} is rolling back, requested by <@${CAROL.id}>`);
    expect(alert.text).toContain(`cc <@${ALICE.id}> <!subteam^${ONCALL}>`);
    expect(JSON.stringify(alert.blocks)).toContain(
      `/archives/${DEPLOYS.id}/p${message.ts.replace(".", "")}|rollout message`,
    );
  });

  it("refuses the starter's own approval and a user outside the approvers, and audits both", async () => {
    h = await botHarness("slack-refusals");
    // Bob may start and approve (through the SRE group): the two-person rule still keeps him from his own gate.
    const id = await startGated(BOB);
    const message = h.message(id)!;

    expect(await h.click(BOB, message, ActionId.Approve)).toBe(200);
    await h.waitForEphemeral(BOB, /Two-person rule: you started reviews-1, so someone else must approve it/);
    expect(await h.click(MALLORY, message, ActionId.Approve)).toBe(200);
    await h.waitForEphemeral(MALLORY, /You may not approve `reviews` rollouts/);
    expect(await h.command(MALLORY, GATED)).toBe(200);
    await h.waitForEphemeral(MALLORY, /You may not start `reviews` rollouts/);
    expect(await h.command(ALICE, "start reviews --canary v3", RANDOM)).toBe(200);
    await h.waitForEphemeral(ALICE, /`reviews` may be driven only from <#C0DEPLOYS>/);

    expect((await h.rollout(id))?.phase).toBe("awaiting-approval");
    expect((await h.rollout(id))?.approvals).toEqual([]);
    const refusals = (await h.audit(id)).filter((entry) => entry.action.startsWith("refused:"));
    expect(refusals).toMatchObject([
      {
        actor: BOB.id,
        action: "refused:approve",
        detail: expect.stringContaining("Two-person rule") as string,
      },
      {
        actor: MALLORY.id,
        action: "refused:approve",
        detail: expect.stringContaining("may not approve") as string,
      },
    ]);
    await h.command(CAROL, "history reviews");
    const history = await h.waitForEphemeral(CAROL, /^Recent rollouts of reviews/);
    expect(JSON.stringify(history.blocks)).toContain("Refused starts of reviews");
    const starts = await h.audit("start:reviews");
    expect(starts).toMatchObject([
      { actor: MALLORY.id, action: "refused:start" },
      {
        actor: ALICE.id,
        action: "refused:start",
        detail: expect.stringContaining("driven only from") as string,
      },
    ]);
  });

  it("answers a bad signature with 401 and does nothing; a request older than 5 minutes is rejected too", async () => {
    h = await botHarness("slack-signature");
    expect(await h.command(ALICE, GATED, DEPLOYS, { badSignature: true })).toBe(401);
    expect(await h.command(ALICE, GATED, DEPLOYS, { timestampOffsetSeconds: -6 * 60 })).toBe(401);
    // A 401 is answered before anything is handed on: there is nothing in flight to wait for.
    expect(await h.bot.runtime.store.listActive()).toEqual([]);
    expect(h.slack.messages(DEPLOYS.id)).toEqual([]);
    expect(h.slack.ephemerals()).toEqual([]);

    const id = await startGated();
    const message = h.message(id)!;
    expect(await h.click(BOB, message, ActionId.Approve, { badSignature: true })).toBe(401);
    expect(await h.click(BOB, message, ActionId.Approve, { timestampOffsetSeconds: -301 })).toBe(401);
    expect((await h.rollout(id))?.phase).toBe("awaiting-approval");
    expect(h.ephemerals(BOB)).toEqual([]);
  });

  it("refuses a stale button politely and changes nothing", async () => {
    h = await botHarness("slack-stale");
    const id = await startGated();
    const old = structuredClone(h.message(id)!);
    const oldApprove = buttonsOf(old)[ActionId.Approve]!;
    expect(await h.click(BOB, old, ActionId.Approve)).toBe(200);
    await h.waitForMessage(id, "awaiting approval at 50%", (m) => m.text.includes("awaiting-approval, 50%"));
    const version = (await h.rollout(id))!.version;

    // Bob clicks Approve again on the message as his client still showed it.
    const stale = clickPayload(h.slack, {
      user: BOB,
      message: old,
      actionId: ActionId.Approve,
      value: oldApprove,
    });
    expect((await h.client.interaction(stale)).status).toBe(200);
    const reply = await h.waitForEphemeral(BOB, /has moved on/);
    expect(reply.text).toMatch(
      /reviews-1 has moved on since that message was drawn \(now awaiting-approval at 50%\).*Nothing changed\./,
    );
    const after = (await h.rollout(id))!;
    expect(after.version).toBe(version);
    expect(after.approvals).toHaveLength(1);

    // After the end, every button of it is stale.
    await h.click(CAROL, h.message(id)!, ActionId.Rollback);
    await h.waitForMessage(id, "rolled back", (m) => m.text.includes(", rolled-back,"));
    const late = clickPayload(h.slack, {
      user: BOB,
      message: old,
      actionId: ActionId.Promote,
      value: oldApprove,
    });
    await h.client.interaction(late);
    await h.waitForEphemeral(BOB, /reviews-1 is already rolled-back by <@U0CAROL1>.*Nothing changed\./);
    expect((await h.rollout(id))!.phase).toBe("rolled-back");
    const staleRefusals = (await h.audit(id)).filter((entry) => entry.detail?.startsWith("stale button"));
    expect(staleRefusals.map((entry) => entry.action)).toEqual(["refused:approve", "refused:promote"]);
  });

  it("retries chat.update after a 429's Retry-After, and the message ends on the latest state", async () => {
    h = await botHarness("slack-429");
    const id = await startGated();
    const before = h.slack.calls("chat.update").length;
    h.slack.rateLimit({ method: "chat.update", count: 1, retryAfterSeconds: 1 });
    await h.click(BOB, h.message(id)!, ActionId.Approve);
    await h.waitForMessage(id, "awaiting approval at 50%", (m) => m.text.includes("awaiting-approval, 50%"));
    const calls = h.slack.calls("chat.update").slice(before);
    expect(calls[0]!.status).toBe(429);
    const retried = calls.find((call) => call.status === 200)!;
    expect(retried.at - calls[0]!.at).toBeGreaterThanOrEqual(1_000);
    // The wait was in the background: the rollout went on stepping meanwhile.
    expect(reviewsWeights()).toBe("v1=50,v2=50");
  });

  it("never applies a redelivered command or click twice", async () => {
    h = await botHarness("slack-retries");
    const id = await startGated();
    const body = commandBody(h.slack, { user: BOB, text: `pause ${id} looking at dashboards` });
    expect((await h.client.sendRaw(body)).status).toBe(200);
    expect((await h.client.sendRaw(body, { retryNum: 1, retryReason: "http_timeout" })).status).toBe(200);
    await h.waitForMessage(id, "paused", (m) => m.text.includes(", paused,"));
    const message = h.message(id)!;
    const resume = clickPayload(h.slack, {
      user: BOB,
      message,
      actionId: ActionId.Resume,
      value: buttonsOf(message)[ActionId.Resume]!,
    });
    expect((await h.client.interaction(resume)).status).toBe(200);
    expect((await h.client.interaction(resume, { retryNum: 1, retryReason: "http_timeout" })).status).toBe(
      200,
    );
    await h.waitForMessage(id, "awaiting approval again", (m) => m.text.includes("awaiting-approval"));
    await new Promise((resolve) => setTimeout(resolve, 300));

    const actions = (await h.audit(id)).map((entry) => entry.action);
    expect(actions.filter((action) => action === "pause")).toHaveLength(1);
    expect(actions.filter((action) => action === "resume")).toHaveLength(1);
    expect(actions.filter((action) => action.startsWith("refused"))).toEqual([]);
    // One answer per action, none for the redeliveries.
    expect(h.ephemerals(BOB).map((reply) => reply.text.split(":")[0])).toEqual([
      "Paused reviews-1",
      "Resumed reviews-1",
    ]);
  });

  it("opens a form for `/canary start` and starts from its submission", async () => {
    h = await botHarness("slack-form");
    expect(await h.command(ALICE, "start")).toBe(200);
    const opened = await waitFor("the start form", () => h.slack.views()[0]);
    expect(opened.view).toMatchObject({
      callback_id: START_VIEW_ID,
      private_metadata: JSON.stringify({ channel: DEPLOYS.id }),
    });
    const submit = (values: Record<string, string>) =>
      h.client.interaction({
        type: "view_submission",
        team: { id: h.slack.identity.teamId, domain: h.slack.identity.teamDomain },
        user: { id: ALICE.id, username: ALICE.name, name: ALICE.name, team_id: h.slack.identity.teamId },
        api_app_id: h.slack.identity.appId,
        token: "sandboxVerificationToken00",
        trigger_id: h.slack.createTriggerId(ALICE.id),
        view: {
          ...opened.view,
          id: opened.id,
          hash: "1.abc",
          state: {
            values: {
              service: { value: { type: "static_select", selected_option: { value: values.service } } },
              canary: { value: { type: "plain_text_input", value: values.canary } },
              steps: { value: { type: "plain_text_input", value: values.steps } },
              interval: { value: { type: "plain_text_input", value: values.interval } },
              approve_at: { value: { type: "plain_text_input", value: values.approveAt } },
            },
          },
        },
      });
    const invalid = await submit({
      service: "reviews",
      canary: "v2",
      steps: "50,10,100",
      interval: "1s",
      approveAt: "",
    });
    expect(invalid.status).toBe(200);
    expect(JSON.parse(invalid.body)).toEqual({
      response_action: "errors",
      errors: { steps: "10 after 50: steps must be strictly increasing" },
    });
    const valid = await submit({
      service: "reviews",
      canary: "v2",
      steps: "10,100",
      interval: "200ms",
      approveAt: "10",
    });
    expect(valid.status).toBe(200);
    expect(valid.body).toBe("");
    await h.waitForMessage("reviews-1", "awaiting approval", (m) =>
      m.text.includes("awaiting-approval, 10%"),
    );
    await h.waitForEphemeral(ALICE, /^Started reviews-1/);
  });

  it("schedules a start with --at, checked now, and refuses a time that has passed", async () => {
    h = await botHarness("slack-at");
    const at = new Date(Date.now() + 3_600_000).toISOString();
    await h.command(ALICE, `start reviews --canary v2 --at ${at}`);
    const scheduled = await h.waitForEphemeral(ALICE, /^Scheduled reviews@1: reviews → v2 at /);
    expect(scheduled.text).toContain("canarybot cancel reviews@1");
    const [pending] = await h.bot.runtime.scheduled.list();
    expect(pending).toMatchObject({ id: "reviews@1", at: Date.parse(at), request: { by: ALICE.id } });
    expect(await h.bot.runtime.store.listActive()).toEqual([]);

    await h.command(ALICE, 'start reviews --canary v2 --at "2020-01-01 09:00"');
    await h.waitForEphemeral(ALICE, /2020-01-01 09:00 has passed/);
    await h.command(ALICE, `start reviews --canary v9 --at ${at}`);
    await h.waitForEphemeral(ALICE, /Not started: DestinationRule default\/reviews has no subset 'v9'/);
    expect(await h.bot.runtime.scheduled.list()).toHaveLength(1);
  });

  it("answers status, list, history and help, and suggests what a typo meant", async () => {
    h = await botHarness("slack-read");
    const id = await startGated();
    await h.command(MALLORY, "status reviews");
    await h.waitForEphemeral(MALLORY, /^reviews-1: reviews v1 → v2, awaiting-approval, 10% · step 1\/3$/);
    await h.command(MALLORY, "list");
    await h.waitForEphemeral(MALLORY, /^Live rollouts: reviews-1$/);
    await h.command(MALLORY, `history ${id}`);
    await h.waitForEphemeral(MALLORY, /^Audit trail of reviews-1$/);
    await h.command(MALLORY, "rollbak reviews-1");
    await h.waitForEphemeral(MALLORY, /Unknown subcommand `rollbak`. Did you mean `rollback`\?/);
    await h.command(MALLORY, "status reveiws");
    await h.waitForEphemeral(MALLORY, /No rollout or service `reveiws`. Did you mean `reviews`\?/);
    await h.command(ALICE, "start reveiws --canary v2");
    await h.waitForEphemeral(
      ALICE,
      /`reveiws` is not a service in canarybot's config file. Did you mean `reviews`\?/,
    );
    await h.command(MALLORY, "help");
    // Slack shows `&lt;service&gt;` as `<service>`; sent raw, the placeholder would vanish.
    await h.waitForEphemeral(MALLORY, /\/canary start &lt;service&gt;/);
  });

  it("accepts every request body Slack sends (Enterprise Grid and org-wide installs included)", async () => {
    h = await botHarness("slack-fixtures");
    const replays = await replaySlackFixtures({
      endpoint: h.endpoint,
      signingSecret: h.signingSecret,
      requestsDirectory: SLACK_REQUESTS_DIR,
    });
    expect(replays.length).toBeGreaterThanOrEqual(18);
    expect(
      replays.filter((replay) => replay.status !== 200).map((replay) => [replay.file, replay.status]),
    ).toEqual([]);
    const forged = await replaySlackFixtures({
      endpoint: h.endpoint,
      signingSecret: h.signingSecret,
      requestsDirectory: SLACK_REQUESTS_DIR,
      sendOptions: { badSignature: true },
    });
    expect(new Set(forged.map((replay) => replay.status))).toEqual(new Set([401]));
  });

  it("without a config file lets anyone drive any VirtualService, the two-person rule still holding", async () => {
    h = await botHarness("slack-open", { config: null });
    expect(
      await h.command(
        MALLORY,
        "start ratings --canary v2 --steps 10,100 --approve-at 10 --interval 200ms",
        RANDOM,
      ),
    ).toBe(200);
    await h.waitForMessage("ratings-1", "awaiting approval", (m) =>
      m.text.includes("awaiting-approval, 10%"),
    );
    await h.click(MALLORY, h.message("ratings-1")!, ActionId.Approve);
    await h.waitForEphemeral(MALLORY, /Two-person rule/);
    await h.click(CAROL, h.message("ratings-1")!, ActionId.Approve);
    await h.waitForMessage("ratings-1", "promoted", (m) => m.text.includes(", promoted,"));

    // Started where the bot was not invited: it still runs, and the starter is told how to follow it.
    expect(await h.command(CAROL, "start details --canary v2 --steps 100 --interval 1s", LOBBY)).toBe(200);
    await h.waitForEphemeral(CAROL, /^Started details-1 .*invite me to this channel/);
  });
});

describe("the header stage, seen in the mesh sandbox's traffic", () => {
  let mesh: MeshSandbox | undefined;
  afterEach(async () => {
    await mesh?.close();
    mesh = undefined;
  });

  it("sends only header-carrying requests to the canary until approved, then shifts weight", async () => {
    h = await botHarness("slack-header");
    expect(
      await h.command(
        ALICE,
        "start reviews --canary v2 --header qa=canary-test --steps 10,100 --interval 10s",
      ),
    ).toBe(200);
    const message = await h.waitForMessage("reviews-1", "header stage", (m) =>
      m.text.includes(", header-stage,"),
    );
    expect(JSON.stringify(message.blocks)).toContain("Only requests with `qa: canary-test` reach *v2*");
    mesh = await meshOn(h.kube, {
      namespace: "default",
      services: ["reviews"],
      headers: [{ name: "qa", value: "canary-test", share: 0.1 }],
      autoAdvance: false,
    });
    await mesh.refresh();
    mesh.advance(60_000);
    const held = mesh.totals().services.reviews!.subsets;
    const withHeader = mesh.totals().withHeaders;
    expect(withHeader).toBeGreaterThan(0);
    expect(held.v2).toMatchObject({ requests: withHeader, withHeaders: withHeader, withoutHeaders: 0 });
    expect(held.v1).toMatchObject({ withHeaders: 0 });
    expect(held.v3).toBeUndefined();

    // Approved by someone else: the header route goes, and 10% of all traffic goes to v2.
    await h.click(BOB, message, ActionId.Approve);
    await h.waitForMessage("reviews-1", "progressing at 10%", (m) => m.text.includes(", progressing, 10%"));
    expect(reviewsWeights()).toBe("v1=90,v2=10");
    await mesh.refresh();
    const before = structuredClone(mesh.totals().services.reviews!.subsets);
    mesh.advance(60_000);
    const after = mesh.totals().services.reviews!.subsets;
    const v2WithoutHeader = after.v2!.withoutHeaders - before.v2!.withoutHeaders;
    expect(v2WithoutHeader).toBeGreaterThan(0);

    // Rollback removes every trace of the rollout from the route.
    await h.click(CAROL, h.message("reviews-1")!, ActionId.Rollback);
    await h.waitForMessage("reviews-1", "rolled back", (m) => m.text.includes(", rolled-back,"));
    await mesh.refresh();
    const restored = structuredClone(mesh.totals().services.reviews!.subsets);
    mesh.advance(60_000);
    expect(mesh.totals().services.reviews!.subsets.v2!.requests).toBe(restored.v2!.requests);
  });
});
