import type { KnownBlock, ModalView, WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import { sandboxClient } from "./support.ts";

const CHANNEL = "C0DEPLOYS";

let sandbox: SlackSandbox;
let client: WebClient;

beforeAll(async () => {
  sandbox = await startSlackSandbox({ channels: [{ id: CHANNEL, name: "deploys" }] });
  client = sandboxClient(sandbox, sandbox.botToken);
});

afterAll(async () => {
  await sandbox.close();
});

const plain = (text: string) => ({ type: "plain_text" as const, text });
const mrkdwn = (text: string) => ({ type: "mrkdwn" as const, text });
const section = (text: string) => ({ type: "section" as const, text: mrkdwn(text) });
const button = (fields: Record<string, unknown> = {}) => ({
  type: "button",
  text: plain("Promote"),
  action_id: "promote",
  value: "reviews-12:7",
  ...fields,
});
const actions = (elements: unknown[]) => ({ type: "actions", elements });
const confirm = (fields: Record<string, unknown> = {}) => ({
  title: plain("Roll back?"),
  text: mrkdwn("Traffic returns to *stable*."),
  confirm: plain("Roll back"),
  deny: plain("Keep going"),
  ...fields,
});
const times = <T>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i));
const x = (n: number) => "x".repeat(n);

/** Each limit: a message just at it (accepted) and one just past it (refused with Slack's own wording). */
const cases: { limit: string; atLimit: unknown[]; pastLimit: unknown[]; error: string }[] = [
  {
    limit: "50 blocks per message",
    atLimit: times(50, (i) => section(`line ${i}`)),
    pastLimit: times(51, (i) => section(`line ${i}`)),
    error: "no more than 50 items allowed [json-pointer:/blocks]",
  },
  {
    limit: "section text 3000",
    atLimit: [section(x(3000))],
    pastLimit: [section(x(3001))],
    error: "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
  },
  {
    limit: "section fields 10",
    atLimit: [{ type: "section", fields: times(10, (i) => mrkdwn(`f${i}`)) }],
    pastLimit: [{ type: "section", fields: times(11, (i) => mrkdwn(`f${i}`)) }],
    error: "no more than 10 items allowed [json-pointer:/blocks/0/fields]",
  },
  {
    limit: "section field text 2000",
    atLimit: [{ type: "section", fields: [mrkdwn(x(2000))] }],
    pastLimit: [{ type: "section", fields: [mrkdwn(x(2001))] }],
    error: "must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]",
  },
  {
    limit: "header text 150",
    atLimit: [{ type: "header", text: plain(x(150)) }],
    pastLimit: [{ type: "header", text: plain(x(151)) }],
    error: "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
  },
  {
    limit: "button text 75",
    atLimit: [actions([button({ text: plain(x(75)) })])],
    pastLimit: [actions([button({ text: plain(x(76)) })])],
    error: "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
  },
  {
    limit: "action_id 255",
    atLimit: [actions([button({ action_id: x(255) })])],
    pastLimit: [actions([button({ action_id: x(256) })])],
    error: "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
  },
  {
    limit: "button value 2000",
    atLimit: [{ ...section("Promote?"), accessory: button({ value: x(2000) }) }],
    pastLimit: [{ ...section("Promote?"), accessory: button({ value: x(2001) }) }],
    error: "must be less than 2001 characters [json-pointer:/blocks/0/accessory/value]",
  },
  {
    limit: "block_id 255",
    atLimit: [{ ...section("a"), block_id: x(255) }],
    pastLimit: [{ ...section("a"), block_id: x(256) }],
    error: "must be less than 256 characters [json-pointer:/blocks/0/block_id]",
  },
  {
    limit: "25 elements in an actions block",
    atLimit: [actions(times(25, (i) => button({ action_id: `a${i}` })))],
    pastLimit: [actions(times(26, (i) => button({ action_id: `a${i}` })))],
    error: "no more than 25 items allowed [json-pointer:/blocks/0/elements]",
  },
  {
    limit: "10 elements in a context block",
    atLimit: [{ type: "context", elements: times(10, (i) => mrkdwn(`c${i}`)) }],
    pastLimit: [{ type: "context", elements: times(11, (i) => mrkdwn(`c${i}`)) }],
    error: "no more than 10 items allowed [json-pointer:/blocks/0/elements]",
  },
  {
    limit: "confirm title 100",
    atLimit: [actions([button({ confirm: confirm({ title: plain(x(100)) }) })])],
    pastLimit: [actions([button({ confirm: confirm({ title: plain(x(101)) }) })])],
    error: "must be less than 101 characters [json-pointer:/blocks/0/elements/0/confirm/title/text]",
  },
  {
    limit: "confirm text 300",
    atLimit: [actions([button({ confirm: confirm({ text: mrkdwn(x(300)) }) })])],
    pastLimit: [actions([button({ confirm: confirm({ text: mrkdwn(x(301)) }) })])],
    error: "must be less than 301 characters [json-pointer:/blocks/0/elements/0/confirm/text/text]",
  },
  {
    limit: "confirm button 30",
    atLimit: [actions([button({ confirm: confirm({ confirm: plain(x(30)) }) })])],
    pastLimit: [actions([button({ confirm: confirm({ confirm: plain(x(31)) }) })])],
    error: "must be less than 31 characters [json-pointer:/blocks/0/elements/0/confirm/confirm/text]",
  },
  {
    limit: "deny button 30",
    atLimit: [actions([button({ confirm: confirm({ deny: plain(x(30)) }) })])],
    pastLimit: [actions([button({ confirm: confirm({ deny: plain(x(31)) }) })])],
    error: "must be less than 31 characters [json-pointer:/blocks/0/elements/0/confirm/deny/text]",
  },
  {
    limit: "confirm object needs deny",
    atLimit: [actions([button({ confirm: confirm() })])],
    pastLimit: [actions([button({ confirm: { ...confirm(), deny: undefined } })])],
    error: "missing required field: deny [json-pointer:/blocks/0/elements/0/confirm]",
  },
  {
    limit: "known block types only",
    atLimit: [{ type: "divider" }],
    pastLimit: [{ type: "sectoin", text: mrkdwn("typo") }],
    error: "unsupported type: sectoin [json-pointer:/blocks/0/type]",
  },
];

describe("Block Kit limits through chat.postMessage", () => {
  it.each(cases)("$limit: refuses one past the limit", async ({ pastLimit, error }) => {
    const refused = client.chat.postMessage({
      channel: CHANNEL,
      text: "fallback",
      blocks: pastLimit as KnownBlock[],
    });
    await expect(refused).rejects.toMatchObject({
      data: { ok: false, error: "invalid_blocks", errors: expect.arrayContaining([error]) as unknown },
    });
    await expect(refused).rejects.toMatchObject({
      data: { response_metadata: { messages: expect.arrayContaining([`[ERROR] ${error}`]) as unknown } },
    });
  });

  it.each(cases)("$limit: accepts a message right at the limit", async ({ atLimit }) => {
    const result = await client.chat.postMessage({
      channel: CHANNEL,
      text: "fallback",
      blocks: atLimit as KnownBlock[],
    });
    expect(result.ok).toBe(true);
  });

  it("reports the union failure and the length, as Slack does for an over-long mrkdwn section", async () => {
    await expect(
      client.chat.postMessage({ channel: CHANNEL, text: "t", blocks: [section(x(3001))] }),
    ).rejects.toMatchObject({
      data: {
        errors: [
          "failed to match all allowed schemas [json-pointer:/blocks/0/text]",
          "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        ],
      },
    });
  });

  it("applies the same limits to chat.update and chat.postEphemeral", async () => {
    sandbox.addUser({ id: "U0ALICE", name: "alice" });
    const { ts } = await client.chat.postMessage({ channel: CHANNEL, text: "t" });
    const tooMany = times(51, (i) => section(`${i}`));
    await expect(
      client.chat.update({ channel: CHANNEL, ts: ts!, text: "t", blocks: tooMany }),
    ).rejects.toMatchObject({
      data: { error: "invalid_blocks" },
    });
    await expect(
      client.chat.postEphemeral({ channel: CHANNEL, user: "U0ALICE", text: "t", blocks: tooMany }),
    ).rejects.toMatchObject({ data: { error: "invalid_blocks" } });
  });

  it("answers invalid_blocks_format for blocks that are not a JSON array", async () => {
    const response = await fetch(`${sandbox.apiUrl}chat.postMessage`, {
      method: "POST",
      headers: { authorization: `Bearer ${sandbox.botToken}` },
      body: new URLSearchParams({ channel: CHANNEL, text: "t", blocks: "{not json" }),
    });
    expect(await response.json()).toEqual({ ok: false, error: "invalid_blocks_format" });
  });
});

describe("modal limits through views.open", () => {
  const modal = (fields: Partial<Record<keyof ModalView, unknown>> = {}) =>
    ({ type: "modal", title: plain("Roll back"), blocks: [section("Why?")], ...fields }) as ModalView;

  const open = (view: ModalView) => client.views.open({ trigger_id: sandbox.createTriggerId(), view });

  it("takes 100 blocks and refuses 101 with invalid_arguments", async () => {
    expect((await open(modal({ blocks: times(100, (i) => section(`${i}`)) }))).ok).toBe(true);
    await expect(open(modal({ blocks: times(101, (i) => section(`${i}`)) }))).rejects.toMatchObject({
      data: {
        error: "invalid_arguments",
        response_metadata: {
          messages: ["[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"],
        },
      },
    });
  });

  it("limits the title to 24 characters and wants submit with an input block", async () => {
    expect((await open(modal({ title: plain(x(24)) }))).ok).toBe(true);
    await expect(open(modal({ title: plain(x(25)) }))).rejects.toMatchObject({
      data: {
        response_metadata: {
          messages: ["[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"],
        },
      },
    });
    const input = {
      type: "input",
      label: plain("Reason"),
      element: { type: "plain_text_input", action_id: "reason" },
    };
    await expect(open(modal({ blocks: [input] }))).rejects.toMatchObject({
      data: {
        response_metadata: {
          messages: [
            "[ERROR] must define `submit` to use an `input` block in modals [json-pointer:/view/blocks/0/input]",
          ],
        },
      },
    });
    expect((await open(modal({ blocks: [input], submit: plain("Roll back") }))).ok).toBe(true);
  });
});

describe("what Slack accepts but shows wrong, refused by the sandbox", () => {
  it.each([
    [
      "a usage line",
      "Usage: /canary status <service>",
      "unescaped '<' outside a control sequence at character 22",
    ],
    ["a table cell", "success-rate >= 99%", "unescaped '>' outside a control sequence at character 13"],
    ["an ampersand", "Q&A", "unescaped '&' (not &amp; &lt; &gt;) at character 1"],
    ["another entity", "it&#39;s", "unescaped '&' (not &amp; &lt; &gt;) at character 2"],
    ["an unclosed sequence", "<@U0ALICE1", "unescaped '<' outside a control sequence at character 0"],
    [
      "a date without its fallback",
      "<!date^1735732800^{time}>",
      "unescaped '<' outside a control sequence at character 0",
    ],
    [
      "a raw & in a link's label",
      "<https://example.com|Q&A>",
      "unescaped '&' (not &amp; &lt; &gt;) at character 22",
    ],
  ])("refuses %s in mrkdwn, and in the message text", async (_, text, problem) => {
    await expect(
      client.chat.postMessage({ channel: CHANNEL, text: "t", blocks: [section(text)] }),
    ).rejects.toMatchObject({
      data: {
        error: "invalid_blocks",
        errors: expect.arrayContaining([`${problem} [json-pointer:/blocks/0/text/text]`]) as unknown,
      },
    });
    await expect(client.chat.postMessage({ channel: CHANNEL, text })).rejects.toMatchObject({
      data: {
        error: "invalid_arguments",
        response_metadata: {
          messages: expect.arrayContaining([`[ERROR] ${problem} [json-pointer:/text]`]) as unknown,
        },
      },
    });
  });

  it("accepts the control sequences Slack documents, entities, a blockquote, plain_text as written, and mrkdwn: false", async () => {
    const text = [
      "<@U0ALICE1> <@W0BOB001|bob> <#C0DEPLOYS> <!here> <!subteam^S0SRE0001>",
      "<!date^1735732800^{date_short} {time}|2025-01-01 12:00 UTC> <https://acme.slack.com/archives/C1/p1|the message>",
      "<mailto:sre@example.com|SRE &amp; on-call> &lt;service&gt; a &amp; b",
      "> quoted",
    ].join("\n");
    const result = await client.chat.postMessage({
      channel: CHANNEL,
      text,
      blocks: [section(text), { type: "header", text: plain("v1 <-> v2 & more") }],
    });
    expect(result.ok).toBe(true);
    expect((await client.chat.postMessage({ channel: CHANNEL, text: "a <b> & c", mrkdwn: false })).ok).toBe(
      true,
    );
  });

  it("refuses a duplicate block_id or action_id in one message", async () => {
    const blocks = [
      { ...section("a"), block_id: "same" },
      { ...section("b"), block_id: "same" },
      actions([button({ action_id: "go" })]),
      { ...section("c"), accessory: button({ action_id: "go" }) },
    ];
    await expect(client.chat.postMessage({ channel: CHANNEL, text: "t", blocks })).rejects.toMatchObject({
      data: {
        error: "invalid_blocks",
        errors: [
          'duplicate block_id "same" [json-pointer:/blocks/1/block_id]',
          'duplicate action_id "go" [json-pointer:/blocks/3/accessory/action_id]',
        ],
      },
    });
  });

  it("refuses a placeholder over 150 characters, and in a view a block_id used twice", async () => {
    const input = (blockId: string, placeholder: string) => ({
      type: "input",
      block_id: blockId,
      label: plain("Steps"),
      element: { type: "plain_text_input", action_id: "value", placeholder: plain(placeholder) },
    });
    const view = (blocks: unknown[]) =>
      ({ type: "modal", title: plain("Start"), submit: plain("Start"), blocks }) as ModalView;
    const open = (v: ModalView) => client.views.open({ trigger_id: sandbox.createTriggerId(), view: v });
    // The same action_id in different blocks of a view is how Slack keys view state: allowed.
    expect((await open(view([input("a", x(150)), input("b", "5,10")]))).ok).toBe(true);
    await expect(open(view([input("a", x(151)), input("a", "5,10")]))).rejects.toMatchObject({
      data: {
        error: "invalid_arguments",
        response_metadata: {
          messages: [
            "[ERROR] must be less than 151 characters [json-pointer:/view/blocks/0/element/placeholder/text]",
            '[ERROR] duplicate block_id "a" [json-pointer:/view/blocks/1/block_id]',
          ],
        },
      },
    });
  });

  it("checks what is posted to a response_url the same way", async () => {
    sandbox.addUser({ id: "U0CAROL1", name: "carol" });
    const post = (body: unknown) =>
      fetch(sandbox.createResponseUrl({ kind: "commands", channel: CHANNEL, user: "U0CAROL1" }), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await post({ text: "Usage: <service>" })).status).toBe(400);
    expect((await post({ text: "t", blocks: [section("a & b")] })).status).toBe(400);
    expect((await post({ text: "Usage: &lt;service&gt;" })).status).toBe(200);
  });
});
