import { closestMatch } from "./closest-match.ts";
import { problemText } from "./plan.ts";
import { HookType } from "./types.ts";
import type { Webhook } from "./types.ts";
import { parseDuration } from "./values.ts";
import type { ParsedField } from "./values.ts";
import { DEFAULT_WEBHOOK_TIMEOUT_MS, MAX_WEBHOOK_RETRIES, MAX_WEBHOOK_TIMEOUT_MS } from "./webhooks.ts";

const FIELDS = ["type", "url", "name", "timeout", "retries"] as const;
const HOOK_TYPES = Object.values(HookType);

/**
 * A field starts after a comma only where `key=` follows, so a load test's command may hold other commas
 * (`metadata.cmd=hey -c 2,4 …`), while a mistyped field name is still caught rather than read as part of a value.
 */
const FIELD_START = /,(?=\s*[A-Za-z][\w.-]*\s*=)/;

/**
 * One `--webhook` of a start, the config file's webhook in one line:
 * `type=rollout,url=http://loadtester/,name=load,timeout=15s,retries=2,metadata.cmd=hey -z 1m http://reviews-canary/`.
 * `type` and `url` are required; `name` defaults to the type. Returns the first problem, naming the flag.
 */
export function parseWebhookFlag(text: string): ParsedField<Webhook> {
  const fail = (why: string): ParsedField<Webhook> => {
    const problem = { field: `--webhook ${text}`, message: why };
    return { ok: false, error: problemText(problem), problem };
  };
  const fields = new Map<string, string>();
  const metadata: Record<string, string> = {};
  for (const part of text.split(FIELD_START)) {
    const equals = part.indexOf("=");
    const key = (equals < 0 ? part : part.slice(0, equals)).trim();
    const value = equals < 0 ? "" : part.slice(equals + 1).trim();
    if (key.startsWith("metadata.")) {
      metadata[key.slice("metadata.".length)] = value;
      continue;
    }
    if (!(FIELDS as readonly string[]).includes(key)) {
      const guess = closestMatch(key, FIELDS);
      const hint = guess ? ` (did you mean ${guess}?)` : "";
      return fail(`unknown field "${key}"${hint}; fields: ${FIELDS.join(", ")}, metadata.<key>`);
    }
    if (fields.has(key)) return fail(`${key} is given twice`);
    if (value === "") return fail(`${key} needs a value (${key}=…)`);
    fields.set(key, value);
  }
  const type = fields.get("type");
  if (type === undefined) return fail(`type is missing: one of ${HOOK_TYPES.join(", ")}`);
  if (!(HOOK_TYPES as readonly string[]).includes(type)) {
    const guess = closestMatch(type, HOOK_TYPES);
    return fail(
      `type "${type}" is not ${guess ? `a webhook type; did you mean ${guess}?` : `one of ${HOOK_TYPES.join(", ")}`}`,
    );
  }
  const url = fields.get("url");
  if (url === undefined) return fail("url is missing (url=http://…)");
  if (!/^https?:\/\/[^\s/]+/.test(url)) return fail(`url "${url}" is not an http:// or https:// URL`);
  let timeoutMs = DEFAULT_WEBHOOK_TIMEOUT_MS;
  const timeout = fields.get("timeout");
  if (timeout !== undefined) {
    const parsed = parseDuration(timeout, "timeout");
    if (!parsed.ok) return fail(parsed.error.replace(/^timeout: /, "timeout "));
    if (!(parsed.value > 0 && parsed.value <= MAX_WEBHOOK_TIMEOUT_MS))
      return fail(`timeout ${timeout} must be more than 0 and at most 5m`);
    timeoutMs = parsed.value;
  }
  const retriesText = fields.get("retries") ?? "0";
  const retries = Number(retriesText);
  if (!(/^\d+$/.test(retriesText) && retries <= MAX_WEBHOOK_RETRIES))
    return fail(`retries ${retriesText} must be a whole number from 0 to ${MAX_WEBHOOK_RETRIES}`);
  return {
    ok: true,
    value: {
      name: fields.get("name") ?? type,
      type: type as HookType,
      url,
      timeoutMs,
      retries,
      ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    },
  };
}
