import { redisUrlSecrets } from "./store/redis-url.ts";

/**
 * Upstream text (an error body from Prometheus, the Kubernetes API, Slack) is stored in the audit trail and the
 * rollout, logged, and posted to the channel. A server that echoes the request's headers would put our
 * credentials in all of them, so every upstream text passes through `redact` where it enters: credentials out,
 * whitespace folded to one line, length capped.
 */

/** What replaces a credential. */
export const REDACTED = "[redacted]";

/** Upstream text longer than this is cut: a whole HTML error page says nothing a person can act on. */
export const MAX_UPSTREAM_TEXT = 300;

/** Shorter known values are not replaced on their own: "ab" would garble every word containing it. */
const MIN_SECRET_LENGTH = 4;

/** Header and field names whose value is a credential, wherever they appear (headers, JSON, Go's map dumps). */
const SECRET_NAMES =
  "(?:proxy-)?authorization|x-api-key|api[-_]?key|x-auth-token|cookie|set-cookie|x-vault-token|private[-_]?token";

/** Query, form and JSON keys whose value is a credential. */
const SECRET_KEYS =
  "access_token|refresh_token|id_token|token|password|passwd|pwd|secret|client_secret|api_key|apikey";

const PATTERNS: readonly [RegExp, string][] = [
  // scheme://user:password@host → scheme://[redacted]@host
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi, `$1${REDACTED}@`],
  // Authorization: Basic …, "authorization":["Bearer …"], Cookie=…: the whole value goes.
  [new RegExp(`\\b(${SECRET_NAMES})(["']?\\s*[:=]\\s*[\\["']*)[^"'\\]\\r\\n]+`, "gi"), `$1$2${REDACTED}`],
  // A scheme and its credential anywhere else ("bad token Bearer abc.def"): base64/token characters.
  [
    /\b(Bearer|Basic|Token)(\s+)(?=[A-Za-z0-9._~+/-]*[0-9+/=._~-])[A-Za-z0-9._~+/-]{8,}=*/gi,
    `$1$2${REDACTED}`,
  ],
  // ?token=…&password=…, "password": "…"
  [new RegExp(`([?&;\\s]|^)(${SECRET_KEYS})=[^&\\s"']+`, "gi"), `$1$2=${REDACTED}`],
  [new RegExp(`("(?:${SECRET_KEYS})"\\s*:\\s*)"[^"]*"`, "gi"), `$1"${REDACTED}"`],
  // Slack tokens, JSON Web Tokens (Kubernetes service account tokens are JWTs).
  [/\bx(?:ox[a-z]|app)-[A-Za-z0-9-]{6,}/g, REDACTED],
  [/\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*/g, REDACTED],
];

/**
 * `text` with credentials replaced by `[redacted]`: the patterns above, then every known secret value (a token,
 * a password, and the forms they travel in), longest first. Whitespace is folded to single spaces and the result
 * is cut to `maxLength` characters, after redacting, so that a cut never leaves half a secret unmatched.
 */
export function redact(
  text: string,
  secrets: readonly string[] = [],
  maxLength: number = MAX_UPSTREAM_TEXT,
): string {
  let clean = scrubKnownSecrets(text, secrets);
  for (const [pattern, replacement] of PATTERNS) clean = clean.replace(pattern, replacement);
  clean = clean.replace(/\s+/g, " ").trim();
  if (clean.length <= maxLength) return clean;
  return `${clean.slice(0, maxLength)}… (${clean.length - maxLength} more characters)`;
}

/**
 * `text` with every known secret value (and the forms it travels in) replaced, longest first; nothing else changed.
 * What the logger applies to every finished line.
 */
export function scrubKnownSecrets(text: string, secrets: readonly string[]): string {
  const known = [...new Set(secrets.flatMap(secretForms))]
    .filter((secret) => secret.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length);
  let clean = text;
  for (const secret of known) clean = clean.split(secret).join(REDACTED);
  return clean;
}

/** The ways one secret can come back: as set, URL-encoded, and base64 (what basic auth sends). */
function secretForms(secret: string): string[] {
  return [secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64")];
}

/** `user:password` as it travels in a basic-auth header, for `redact`'s known secrets. */
export function basicAuthSecrets(username: string, password: string): string[] {
  return [password, `${username}:${password}`];
}

/**
 * The secret values canarybot is configured with, from the environment, for `redact`: tokens, passwords, the
 * password in REDIS_URL, and the value of a PROMETHEUS_HEADER whose name says it is a credential.
 */
export function secretValues(env: Readonly<Record<string, string | undefined>>): string[] {
  const values = [
    env.PROMETHEUS_BEARER_TOKEN,
    env.PROMETHEUS_PASSWORD,
    env.SLACK_BOT_TOKEN,
    env.SLACK_SIGNING_SECRET,
    env.SLACK_APP_TOKEN,
    env.REDIS_PASSWORD,
    env.REDIS_SENTINEL_PASSWORD,
  ];
  if (env.PROMETHEUS_USERNAME && env.PROMETHEUS_PASSWORD) {
    values.push(...basicAuthSecrets(env.PROMETHEUS_USERNAME, env.PROMETHEUS_PASSWORD));
  }
  const header = /^([^:]+):\s*(.+)$/.exec(env.PROMETHEUS_HEADER ?? "");
  if (header?.[1] && header[2] && /auth|key|token|secret|pass|cookie/i.test(header[1]))
    values.push(header[2]);
  values.push(...redisUrlSecrets(env.REDIS_URL));
  return values.filter((value): value is string => value !== undefined && value !== "");
}
