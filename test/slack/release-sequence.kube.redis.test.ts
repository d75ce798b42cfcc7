import { afterEach, expect, it } from "vitest";
import { ActionId } from "../../src/slack/render-rollout-message.ts";
import { addReviewsV4, allTrafficTo, reviewsHttp } from "../support/releases.ts";
import { ALICE, BOB, CAROL, botHarness, waitFor } from "../support/bot-harness.ts";
import type { BotHarness } from "../support/bot-harness.ts";

let h: BotHarness;

afterEach(async () => {
  await h?.cleanup();
});

/** `/canary start …` by `user`; the id from the bot's "Started …" reply (anything else fails with the reply). */
async function start(user: { id: string }, text: string): Promise<string> {
  const before = h.ephemerals(user).length;
  expect(await h.command(user, text)).toBe(200);
  const reply = await waitFor("the reply to /canary start", () => h.ephemerals(user)[before], 30_000);
  const id = /^Started (\S+) /.exec(reply.text)?.[1];
  if (id === undefined) throw new Error(`/canary ${text} was answered: ${reply.text}`);
  return id;
}

const phase = (id: string, name: string) =>
  h.waitForMessage(id, name, (message) => message.text.includes(`, ${name},`));

/** A release from the channel, stable subset read from the route: start, step every 200 ms, promoted. */
async function ship(user: { id: string }, canary: string): Promise<string> {
  const id = await start(user, `start reviews --canary ${canary} --steps 50,100 --interval 200ms`);
  await phase(id, "promoted");
  return id;
}

it("from Slack: v1→v2 promoted, v2→v3 promoted, v3→v4 rolled back, v3→v4 promoted, with no hand edit", async () => {
  h = await botHarness("slack-releases");
  const http = () => JSON.parse(reviewsHttp(h.kube)) as unknown;

  await ship(ALICE, "v2");
  expect(http()).toEqual(allTrafficTo("v2"));
  const v3 = await ship(BOB, "v3");
  expect(http()).toEqual(allTrafficTo("v3"));
  expect((await h.rollout(v3))?.target).toMatchObject({ stableSubset: "v2", canarySubset: "v3" });

  await addReviewsV4(h.kube);
  const promotedV3 = reviewsHttp(h.kube);
  const held = await start(ALICE, "start reviews --canary v4 --steps 10,100 --interval 1h");
  const message = await h.waitForMessage(held, "at 10%", (m) => m.text.includes("10%"));
  expect(await h.click(CAROL, message, ActionId.Rollback)).toBe(200);
  await phase(held, "rolled-back");
  expect(reviewsHttp(h.kube)).toBe(promotedV3);

  const v4 = await ship(ALICE, "v4");
  expect(http()).toEqual(allTrafficTo("v4"));
  expect((await h.rollout(v4))?.target).toMatchObject({ stableSubset: "v3", canarySubset: "v4" });
}, 90_000);
