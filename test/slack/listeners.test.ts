import { describe, expect, it } from "vitest";
import { BUILTIN_DEFAULTS } from "../../src/rollout/start-request.ts";
import type { Respond } from "../../src/slack/handlers.ts";
import { ackOnly, rolloutButton } from "../../src/slack/listeners/actions.ts";
import { canaryCommand } from "../../src/slack/listeners/commands.ts";
import { startFormSubmission } from "../../src/slack/listeners/views.ts";
import type { StartFormArgs } from "../../src/slack/listeners/views.ts";
import { textReply } from "../../src/slack/mrkdwn.ts";
import { ActionId } from "../../src/slack/render-rollout-message.ts";
import { silentLogger } from "../support/fakes.ts";

/** Everything a listener did, in order: acks, calls into the handlers, replies. */
function recorder() {
  const events: unknown[] = [];
  const ack = (response?: unknown): Promise<void> => {
    events.push(response === undefined ? "ack" : { ack: response });
    return Promise.resolve();
  };
  const respond = (message: unknown): Promise<unknown> => {
    events.push({ reply: message });
    return Promise.resolve();
  };
  return { events, ack, respond };
}

const warnings: unknown[] = [];
const logger = { ...silentLogger, warn: (meta: object) => void warnings.push(meta) };

describe("the /canary listener", () => {
  const command = { text: "status", user_id: "U1", channel_id: "C1", team_id: "T1", trigger_id: "tr.1" };

  it("acks before the handlers run, and hands them the text with who asked from where", async () => {
    const { events, ack, respond } = recorder();
    const listener = canaryCommand({
      logger,
      services: { names: ["reviews"] },
      defaults: BUILTIN_DEFAULTS,
      handlers: {
        command: async (text, origin, reply: Respond) => {
          events.push({ handled: text, origin });
          await reply(textReply("ok"));
        },
      },
    });
    await listener({ command, ack, respond, client: { views: { open: () => Promise.resolve() } } });
    expect(events).toEqual([
      "ack",
      { handled: "status", origin: { user: "U1", channel: "C1", team: "T1", deliveryId: "tr.1" } },
      { reply: expect.objectContaining({ response_type: "ephemeral", text: "ok" }) as unknown },
    ]);
  });

  it("reads a bare /canary (no text) as empty, opens the start form on request, and survives a failing reply", async () => {
    const { events, ack } = recorder();
    const opened: unknown[] = [];
    const listener = canaryCommand({
      logger,
      services: { names: ["reviews"] },
      defaults: BUILTIN_DEFAULTS,
      handlers: {
        command: async (text, _origin, reply, openStartForm) => {
          events.push({ handled: text });
          await openStartForm();
          await reply(textReply("lost"));
        },
      },
    });
    warnings.length = 0;
    await listener({
      command: { ...command, text: undefined as unknown as string },
      ack,
      respond: () => Promise.reject(new Error("response_url expired")),
      client: { views: { open: (args) => Promise.resolve(void opened.push(args)) } },
    });
    expect(events).toEqual(["ack", { handled: "" }]);
    expect(opened).toEqual([expect.objectContaining({ trigger_id: "tr.1" })]);
    expect(warnings).toEqual([{ err: "response_url expired" }]);
  });
});

describe("the button listener", () => {
  const body = { user: { id: "U2", team_id: "T2" }, channel: { id: "C2" }, trigger_id: "tr.2" };

  it("acks, then hands a known button to the handlers with its value and origin", async () => {
    const { events, ack, respond } = recorder();
    const listener = rolloutButton({
      logger,
      handlers: {
        button: (actionId, value, origin) => Promise.resolve(void events.push({ actionId, value, origin })),
      },
    });
    await listener({
      ack,
      respond,
      body: body as Parameters<typeof listener>[0]["body"],
      action: { action_id: ActionId.Approve, value: "reviews-1@4", action_ts: "1.2" },
    });
    expect(events).toEqual([
      "ack",
      {
        actionId: ActionId.Approve,
        value: "reviews-1@4",
        origin: { user: "U2", channel: "C2", team: "T2", deliveryId: "tr.2" },
      },
    ]);
  });

  it("acks an unknown canary_ button and says nothing changed, without calling the handlers", async () => {
    const { events, ack, respond } = recorder();
    const listener = rolloutButton({
      logger,
      handlers: { button: () => Promise.resolve(void events.push("handled")) },
    });
    await listener({
      ack,
      respond,
      body: body as Parameters<typeof listener>[0]["body"],
      action: { action_id: "canary_explode", value: "reviews-1@4", action_ts: "1.2" },
    });
    expect(events).toEqual([
      "ack",
      {
        reply: expect.objectContaining({
          response_type: "ephemeral",
          replace_original: false,
          text: expect.stringContaining("not one canarybot knows") as string,
        }) as unknown,
      },
    ]);
  });

  it("acks what canarybot has nothing to do with", async () => {
    const { events, ack } = recorder();
    await ackOnly({ ack });
    expect(events).toEqual(["ack"]);
  });
});

describe("the start form listener", () => {
  const view = { id: "V1", hash: "h1" } as StartFormArgs["view"];
  const body = { user: { id: "U3" }, team: { id: "T3" } } as StartFormArgs["body"];
  const posted: unknown[] = [];
  const client = { chat: { postEphemeral: (args: unknown) => Promise.resolve(void posted.push(args)) } };

  it("answers problems with the ack, inline, and starts nothing", async () => {
    const { events, ack } = recorder();
    const listener = startFormSubmission({
      logger,
      handlers: {
        checkStartForm: () => ({ ok: false, errors: { steps: "the last step must be 100" } }),
        startFromForm: () => Promise.resolve(void events.push("started")),
      },
    });
    await listener({ ack, body, view, client });
    expect(events).toEqual([
      { ack: { response_action: "errors", errors: { steps: "the last step must be 100" } } },
    ]);
  });

  it("acks a sound form, then starts it, replying in the channel it names", async () => {
    const { events, ack } = recorder();
    posted.length = 0;
    const listener = startFormSubmission({
      logger,
      handlers: {
        checkStartForm: () => ({ ok: true, options: { service: "reviews", canary: "v2" }, channel: "C9" }),
        startFromForm: async (options, origin, reply) => {
          events.push({ started: options, origin });
          await reply(textReply("started"));
        },
      },
    });
    await listener({ ack, body, view, client });
    expect(events).toEqual([
      "ack",
      {
        started: { service: "reviews", canary: "v2" },
        origin: { user: "U3", channel: "C9", team: "T3", deliveryId: "V1:h1" },
      },
    ]);
    expect(posted).toEqual([expect.objectContaining({ channel: "C9", user: "U3", text: "started" })]);
  });
});
