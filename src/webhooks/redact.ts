/**
 * A minimal redaction for webhook answers, local to this folder until a shared one exists: a webhook may echo its
 * request (the metadata's tokens) or carry credentials of its own, and its answer goes to the audit, the logs and
 * the channel.
 */
const REDACTED = "[redacted]";

/** Shapes of secrets worth hiding wherever they appear, with what replaces them. */
const PATTERNS: readonly [RegExp, string][] = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  [/\bxox[abposr]-[A-Za-z0-9-]+/g, REDACTED],
  [/\bxapp-[A-Za-z0-9-]+/g, REDACTED],
  [/\/\/[^/\s:@]+:[^/\s@]+@/g, `//${REDACTED}@`],
  [/\b(password|passwd|secret|token|api[-_]?key)(["']?\s*[:=]\s*["']?)[^\s"',&}]+/gi, `$1$2${REDACTED}`],
];

/** `text` with every given secret (values of 4 characters or more) and every secret-shaped string replaced. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so a secret that contains another is hidden whole.
  for (const secret of [...secrets]
    .filter((value) => value.length >= 4)
    .sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
