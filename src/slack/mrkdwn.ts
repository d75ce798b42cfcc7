import type { types } from "@slack/bolt";
import type { Actor } from "../rollout/types.ts";

/**
 * Text Slack parses as mrkdwn, built so that escaping cannot be forgotten: every plain string (and every literal
 * part of an `mrkdwn` template) has its `&`, `<` and `>` escaped as Slack asks
 * (docs.slack.dev/messaging/formatting-message-text#escaping), and only the control sequences made here on purpose
 * (`mention`, `mentionGroup`, `link`, `date`) reach Slack raw. Blocks with mrkdwn text are made only here, from
 * `Mrkdwn`, so no renderer can hand Slack an unescaped string.
 */
class Mrkdwn {
  readonly #raw: string;

  private constructor(raw: string) {
    this.#raw = raw;
  }

  /** Not exported: only this module makes raw text, everything else goes through `escape`. */
  static trusted(raw: string): Mrkdwn {
    return new Mrkdwn(raw);
  }

  toString(): string {
    return this.#raw;
  }
}

export type { Mrkdwn };

/** A plain string or number (escaped when used), or mrkdwn already built. */
export type Text = string | number | Mrkdwn;

const raw = (text: string): Mrkdwn => Mrkdwn.trusted(text);

function escapeRaw(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Plain text escaped; mrkdwn as it is. */
export function escape(text: Text): Mrkdwn {
  return text instanceof Mrkdwn ? text : raw(escapeRaw(String(text)));
}

/** A template whose literal parts and plain values are escaped: mrkdwn`*${id}* started by ${mention(user)}`. */
export function mrkdwn(strings: TemplateStringsArray, ...values: Text[]): Mrkdwn {
  let out = escapeRaw(strings[0] ?? "");
  values.forEach((value, index) => {
    out += escape(value).toString() + escapeRaw(strings[index + 1] ?? "");
  });
  return raw(out);
}

export function join(parts: readonly Text[], separator: Text = ""): Mrkdwn {
  return raw(parts.map((part) => escape(part).toString()).join(escape(separator).toString()));
}

export function bold(text: Text): Mrkdwn {
  return mrkdwn`*${text}*`;
}

/** Inline code. A backtick inside would end it early: it is shown as a similar quote. */
export function code(text: Text): Mrkdwn {
  return mrkdwn`\`${text instanceof Mrkdwn ? text : String(text).replace(/`/g, "ʼ")}\``;
}

/** A code block of at most `limit` characters of mrkdwn, keeping the end (the newest lines) when it is longer. */
export function codeBlock(text: Text, limit = 2900): Mrkdwn {
  const body = escape(text).toString();
  return raw(`\`\`\`${body.length <= limit ? body : `…${keepEnd(body, limit - 1)}`}\`\`\``);
}

const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;
const SLACK_GROUP = /^S[A-Z0-9]{2,}$/;

/** A Slack user (`U…`/`W…`) as a mention; anyone else (`cli:alice`, canarybot itself) as escaped text. */
export function mention(actor: Actor): Mrkdwn {
  if (SLACK_USER.test(actor)) return raw(`<@${actor}>`);
  return escape(actor);
}

/** A user group (`S…`) as a group mention, a user as a user mention. */
export function mentionGroup(id: string): Mrkdwn {
  return SLACK_GROUP.test(id) ? raw(`<!subteam^${id}>`) : mention(id);
}

/** A bare user id in prose; one written as `<@U…>` by someone stays text, as they wrote it. */
const SLACK_ID_IN_TEXT = /(?<!@)\b([UW](?=[A-Z0-9]*\d)[A-Z0-9]{6,})\b/g;

/** Escaped prose in which bare Slack user ids (`paused by U0ALICE1`) become mentions. */
export function withMentions(text: string): Mrkdwn {
  return raw(escapeRaw(text).replace(SLACK_ID_IN_TEXT, "<@$1>"));
}

/**
 * Escaped text in which channel and user group references written as Slack writes them (`<#C…>`,
 * `<!subteam^S…>`) stay links. Only for the authorization answers, which name the config file's channels and
 * groups that way; they pass nothing a person typed into such a reference.
 */
export function withSlackReferences(text: string): Mrkdwn {
  return raw(
    escapeRaw(text)
      .replace(/&lt;#(C[A-Z0-9]+)&gt;/g, "<#$1>")
      .replace(/&lt;!subteam\^(S[A-Z0-9]+)&gt;/g, "<!subteam^$1>"),
  );
}

/** `<url|label>`. The URL's own `|`, `<` and `>` are percent-encoded, its `&` escaped, as Slack reads links. */
export function link(url: string, label: Text): Mrkdwn {
  const safe = url.replace(/[|<>]/g, (char) => encodeURIComponent(char)).replace(/&/g, "&amp;");
  return raw(`<${safe}|${escape(label).toString()}>`);
}

/** A time each reader sees in their own zone (`format` as Slack's date tokens), with a fallback for old clients. */
export function date(ms: number, format: string, fallback: string): Mrkdwn {
  return raw(`<!date^${Math.floor(ms / 1000)}^${format.replace(/[|<>^]/g, "")}|${escapeRaw(fallback)}>`);
}

/**
 * Where text may be cut without splitting an entity (`&amp;`) or a control sequence (`<@U…>`): `index`, or the start
 * of the one it would fall inside.
 */
function safeCut(text: string, index: number): number {
  const openAt = (opener: string, closer: string): number => {
    const open = text.lastIndexOf(opener, index - 1);
    return open >= 0 && text.lastIndexOf(closer, index - 1) < open ? open : index;
  };
  return Math.min(openAt("<", ">"), openAt("&", ";"));
}

/** At most `limit` characters, ending with `…` when cut. */
export function truncate(text: Text, limit: number): Mrkdwn {
  const body = escape(text).toString();
  return body.length <= limit ? raw(body) : raw(`${body.slice(0, safeCut(body, limit - 1))}…`);
}

/** The last `limit` characters, never starting inside an entity or control sequence. */
function keepEnd(text: string, limit: number): string {
  const start = text.length - limit;
  const cut = safeCut(text, start);
  if (cut === start) return text.slice(start);
  // Inside `&amp;` or `<…>`: start after it instead.
  return text.slice(text.indexOf(text[cut] === "<" ? ">" : ";", cut) + 1);
}

export type KnownBlock = types.KnownBlock;
export type MrkdwnElement = types.MrkdwnElement;

/** Slack's limits: a section's text 3000 characters, a field 2000, a confirm dialog's text 300. */
export const TextLimit = { section: 3000, field: 2000, confirm: 300 } as const;

/** A mrkdwn text object, cut to `limit`. */
export function mrkdwnText(text: Text, limit: number = TextLimit.section): MrkdwnElement {
  return { type: "mrkdwn", text: truncate(text, limit).toString() };
}

export function section(text: Text): KnownBlock {
  return { type: "section", text: mrkdwnText(text) };
}

export function fieldsSection(fields: readonly Text[]): KnownBlock {
  return { type: "section", fields: fields.map((field) => mrkdwnText(field, TextLimit.field)) };
}

export function context(text: Text): KnownBlock {
  return { type: "context", elements: [mrkdwnText(text)] };
}

declare const built: unique symbol;

/** What chat.postMessage / chat.update / respond take; made only by `message`, so its text is escaped too. */
export type SlackMessage = { readonly text: string; readonly blocks: KnownBlock[]; readonly [built]: true };
/** An ephemeral answer: the same, blocks optional. */
export type Reply = { readonly text: string; readonly blocks?: KnownBlock[]; readonly [built]: true };

/** A message: its notification text (mrkdwn too, escaped like the rest) and its blocks. */
export function message(text: Text, blocks: KnownBlock[]): SlackMessage {
  return { text: escape(text).toString(), blocks } as SlackMessage;
}

/** A reply with no blocks: the text alone. */
export function textReply(text: Text): Reply {
  return { text: escape(text).toString() } as Reply;
}
