import type { HumanEvent } from "../rollout/types.ts";
import { closestMatch } from "../rollout/closest-match.ts";
import type { StartOptions } from "../rollout/start-request.ts";

/**
 * The `/canary` grammar: one pure parser, a result and never a throw. `start` options come out as
 * `StartOptions`, the same shape the CLI builds, so `buildStartSpec` turns both into one plan.
 */
export type Command =
  | { name: "start"; options: StartOptions; dryRun: boolean }
  /** `start` with nothing after it: ask with a form. */
  | { name: "start-dialog" }
  | { name: "status"; ref?: string }
  | { name: "list" }
  | { name: "act"; action: HumanEvent["type"]; id: string; reason?: string }
  | { name: "history"; ref: string }
  | { name: "help"; topic?: Subcommand };

export type ParseResult = { ok: true; command: Command } | { ok: false; error: string; usage: string };

export const SUBCOMMANDS = [
  "start",
  "status",
  "list",
  "pause",
  "resume",
  "promote",
  "rollback",
  "approve",
  "history",
  "help",
] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

/** One usage line per subcommand; `help` prints them all. */
export const USAGE: Readonly<Record<Subcommand, string>> = {
  start:
    "/canary start <service> --canary <subset> [--stable <subset>] [--steps 5,10,25,50,100] [--interval 60s] " +
    "[--header name=value] [--approve-at 50] [--progress-deadline 10m] [--dry-run] [--no-analysis] [--min-success 99] [--max-p99 500ms] " +
    "[--max-error-increase 1] [--max-p99-ratio 1.25] [--min-requests 20] [--failure-limit 2] " +
    '[--at "2026-12-01 09:00 Europe/Berlin"] [--webhook type=rollout,url=http://…]  (no arguments: a form)',
  status: "/canary status [<id>|<service>]",
  list: "/canary list",
  pause: "/canary pause <id> [reason]",
  resume: "/canary resume <id>",
  promote: "/canary promote <id> [reason]",
  rollback: "/canary rollback <id> [reason]",
  approve: "/canary approve <id>",
  history: "/canary history <service>|<id>",
  help: "/canary help [<subcommand>]",
};

export const GENERAL_USAGE = SUBCOMMANDS.map((name) => USAGE[name]).join("\n");

type FlagSpec = {
  /** The StartOptions field it sets. */
  key: keyof Omit<StartOptions, "service" | "analysis" | "twoPerson" | "webhook">;
};

/** Valued `start` flags; `--dry-run` and `--no-analysis` are switches. No `--no-two-person`: Slack keeps the rule. */
const START_FLAGS: Readonly<Record<string, FlagSpec>> = {
  canary: { key: "canary" },
  stable: { key: "stable" },
  steps: { key: "steps" },
  interval: { key: "interval" },
  header: { key: "header" },
  "approve-at": { key: "approveAt" },
  namespace: { key: "namespace" },
  "virtual-service": { key: "virtualService" },
  "http-route": { key: "httpRoute" },
  route: { key: "route" },
  host: { key: "host" },
  context: { key: "context" },
  "mesh-context": { key: "meshContext" },
  "progress-deadline": { key: "progressDeadline" },
  "min-success": { key: "minSuccess" },
  "max-p99": { key: "maxP99" },
  "max-error-increase": { key: "maxErrorIncrease" },
  "max-p99-ratio": { key: "maxP99Ratio" },
  "min-requests": { key: "minRequests" },
  "failure-limit": { key: "failureLimit" },
  at: { key: "at" },
};
const START_SWITCHES = ["dry-run", "no-analysis"] as const;
/** Valued flags that may be given more than once, each adding to a list. */
const START_LISTS = ["webhook"] as const;
const SHORT_FLAGS: Readonly<Record<string, string>> = { n: "namespace" };

/** A rollout id (`reviews-12`) or a service name: Kubernetes-name characters. */
const REF = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

type Token = { text: string; quoted: boolean };

type Tokenized = { ok: true; tokens: Token[] } | { ok: false; error: string };

const QUOTES: Readonly<Record<string, string>> = { '"': '"', "'": "'", "“": "”", "‘": "’", "„": "“" };

/**
 * Split command text into words. Quotes group words (straight, and the curly ones Slack's clients type), and
 * `&amp; &lt; &gt;`, which Slack always escapes in command text, are turned back into characters.
 */
export function tokenize(input: string): Tokenized {
  const text = input.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  const tokens: Token[] = [];
  let index = 0;
  while (index < text.length) {
    const char = text.charAt(index);
    if (/\s/.test(char)) {
      index += 1;
      continue;
    }
    let word = "";
    let quoted = false;
    while (index < text.length && !/\s/.test(text.charAt(index))) {
      const open = text.charAt(index);
      const close = QUOTES[open];
      if (close === undefined) {
        word += open;
        index += 1;
        continue;
      }
      const end = text.indexOf(close, index + 1);
      // A closing curly quote may be typed straight, and the other way round.
      const straightEnd = close === open ? -1 : text.indexOf('"', index + 1);
      const stop = end >= 0 ? end : straightEnd;
      if (stop < 0) return { ok: false, error: `unclosed quote ${open} in: ${input.trim()}` };
      // A token is quoted (never a flag) when it opens with a quote; `--reason="a b"` stays a flag.
      if (word === "") quoted = true;
      word += text.slice(index + 1, stop);
      index = stop + 1;
    }
    tokens.push({ text: word, quoted });
  }
  return { ok: true, tokens };
}

const fail = (error: string, usage: string): ParseResult => ({ ok: false, error, usage });
const done = (command: Command): ParseResult => ({ ok: true, command });

function isSubcommand(word: string): word is Subcommand {
  return (SUBCOMMANDS as readonly string[]).includes(word);
}

/** Parse the text after `/canary`. */
export function parseCommand(text: string): ParseResult {
  const tokenized = tokenize(text);
  if (!tokenized.ok) return fail(tokenized.error, GENERAL_USAGE);
  const [first, ...rest] = tokenized.tokens;
  if (first === undefined) return done({ name: "help" });
  const word = first.text.toLowerCase();
  if (!isSubcommand(word)) {
    const guess = closestMatch(word, SUBCOMMANDS);
    const hint = guess ? ` Did you mean \`${guess}\`?` : "";
    return fail(`Unknown subcommand \`${first.text}\`.${hint}`, guess ? USAGE[guess] : GENERAL_USAGE);
  }
  const usage = USAGE[word];
  switch (word) {
    case "start":
      return parseStart(rest, usage);
    case "status": {
      const refs = positionals(rest, usage, 0, 1);
      if (!refs.ok) return refs.result;
      return done({ name: "status", ...(refs.values[0] ? { ref: refs.values[0] } : {}) });
    }
    case "list": {
      const none = positionals(rest, usage, 0, 0);
      return none.ok ? done({ name: "list" }) : none.result;
    }
    case "history": {
      const refs = positionals(rest, usage, 1, 1);
      if (!refs.ok) return refs.result;
      return done({ name: "history", ref: refs.values[0] ?? "" });
    }
    case "help": {
      const topic = rest[0]?.text.toLowerCase();
      if (topic === undefined) return done({ name: "help" });
      if (!isSubcommand(topic)) {
        const guess = closestMatch(topic, SUBCOMMANDS);
        return fail(`No help on \`${topic}\`.${guess ? ` Did you mean \`${guess}\`?` : ""}`, GENERAL_USAGE);
      }
      return done({ name: "help", topic });
    }
    case "pause":
    case "resume":
    case "promote":
    case "rollback":
    case "approve":
      return parseAct(word, rest, usage);
  }
}

type Positionals = { ok: true; values: string[] } | { ok: false; result: ParseResult };

function positionals(tokens: Token[], usage: string, min: number, max: number): Positionals {
  const flag = tokens.find((token) => !token.quoted && token.text.startsWith("-"));
  if (flag) return { ok: false, result: fail(`Unknown option \`${flag.text}\`.`, usage) };
  if (tokens.length < min) return { ok: false, result: fail("Missing argument.", usage) };
  if (tokens.length > max) {
    const extra = tokens.slice(max).map((token) => token.text);
    return { ok: false, result: fail(`Unexpected \`${extra.join(" ")}\`.`, usage) };
  }
  const values = tokens.map((token) => token.text.toLowerCase());
  const bad = values.find((value) => !REF.test(value));
  if (bad !== undefined) {
    return { ok: false, result: fail(`\`${bad}\` is not a rollout id or service name.`, usage) };
  }
  return { ok: true, values };
}

function parseAct(action: HumanEvent["type"], tokens: Token[], usage: string): ParseResult {
  const [idToken, ...after] = tokens;
  if (idToken === undefined || (!idToken.quoted && idToken.text.startsWith("-"))) {
    return fail(`Which rollout? Give its id, e.g. \`/canary ${action} reviews-3\`.`, usage);
  }
  const id = idToken.text.toLowerCase();
  if (!REF.test(id)) return fail(`\`${idToken.text}\` is not a rollout id.`, usage);
  const words: string[] = [];
  for (let index = 0; index < after.length; index += 1) {
    const token = after[index]!;
    if (token.quoted || !token.text.startsWith("--")) {
      words.push(token.text);
      continue;
    }
    const [name, inline] = splitFlag(token.text);
    if (name !== "reason") {
      const guess = closestMatch(name, ["reason"]);
      return fail(`Unknown option \`--${name}\`.${guess ? " Did you mean `--reason`?" : ""}`, usage);
    }
    const value = inline ?? after[index + 1]?.text;
    if (value === undefined) return fail("`--reason` needs a value.", usage);
    if (inline === undefined) index += 1;
    words.push(value);
  }
  const reason = words.join(" ").trim();
  return done({ name: "act", action, id, ...(reason === "" ? {} : { reason }) });
}

function splitFlag(text: string): [string, string | undefined] {
  const body = text.replace(/^--?/, "");
  const equals = body.indexOf("=");
  return equals < 0
    ? [body.toLowerCase(), undefined]
    : [body.slice(0, equals).toLowerCase(), body.slice(equals + 1)];
}

function parseStart(tokens: Token[], usage: string): ParseResult {
  if (tokens.length === 0) return done({ name: "start-dialog" });
  const options: Partial<StartOptions> = {};
  const services: string[] = [];
  let dryRun = false;
  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index]!;
    if (token.quoted || !token.text.startsWith("-") || token.text === "-") {
      services.push(token.text);
      continue;
    }
    const long = token.text.startsWith("--");
    const [rawName, inline] = splitFlag(token.text);
    const name = long ? rawName : SHORT_FLAGS[rawName];
    if (name === undefined) return fail(`Unknown option \`${token.text}\`.`, usage);
    if ((START_SWITCHES as readonly string[]).includes(name)) {
      if (inline !== undefined) return fail(`\`--${name}\` takes no value.`, usage);
      if (name === "dry-run") dryRun = true;
      else options.analysis = false;
      continue;
    }
    const spec = START_FLAGS[name];
    const list = (START_LISTS as readonly string[]).includes(name);
    if (spec === undefined && !list) {
      const guess = closestMatch(name, [...Object.keys(START_FLAGS), ...START_SWITCHES, ...START_LISTS]);
      return fail(`Unknown option \`--${name}\`.${guess ? ` Did you mean \`--${guess}\`?` : ""}`, usage);
    }
    let value = inline;
    if (value === undefined) {
      const next = tokens[index + 1];
      if (next === undefined || (!next.quoted && next.text.startsWith("--"))) {
        return fail(`\`--${name}\` needs a value.`, usage);
      }
      value = next.text;
      index += 1;
    }
    if (value.trim() === "") return fail(`\`--${name}\` needs a value.`, usage);
    if (spec === undefined) {
      options.webhook = [...(options.webhook ?? []), value];
      continue;
    }
    if (options[spec.key] !== undefined) return fail(`\`--${name}\` is given twice.`, usage);
    options[spec.key] = value;
  }
  if (services.length === 0) return fail("Which service? e.g. `/canary start reviews --canary v2`.", usage);
  if (services.length > 1) {
    return fail(`One service at a time: got \`${services.join(" ")}\`.`, usage);
  }
  const service = services[0]!.toLowerCase();
  if (!REF.test(service)) return fail(`\`${services[0]}\` is not a service name.`, usage);
  return done({ name: "start", options: { ...options, service }, dryRun });
}
