import { z } from "zod";
import { describeIssues } from "../config/env.ts";
import { CanaryError, ErrorCode } from "../errors.ts";

const required = (what: string) => ({
  error: (issue: { input: unknown }) =>
    issue.input === undefined ? `is required (${what})` : `must be ${what}`,
});

/** The Slack app's settings, from the environment. Secrets are never logged. */
export const SlackSettings = z.object({
  /** The bot token (OAuth & Permissions → Bot User OAuth Token). */
  SLACK_BOT_TOKEN: z
    .string(required("the bot token, xoxb-…"))
    .regex(/^xoxb-[A-Za-z0-9-]+$/, "must be a bot token (xoxb-…), not a user or app token"),
  /** Basic Information → Signing Secret: verifies that HTTP requests come from Slack. */
  SLACK_SIGNING_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9]{16,}$/, "must be the app's signing secret (Basic Information → App Credentials)")
    .optional(),
  /** Basic Information → App-Level Tokens (connections:write): set it to use Socket Mode instead of HTTP. */
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-[A-Za-z0-9-]+$/, "must be an app-level token (xapp-…)")
    .optional(),
  /** HTTP port of `/slack/events` (0 picks a free one). */
  PORT: z.coerce.number().int().min(0).max(65_535).default(3_000),
  /** Where the Web API client sends calls: the sandbox, or an enterprise proxy. Default https://slack.com/api/. */
  SLACK_API_URL: z
    .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
    .transform((url) => (url.endsWith("/") ? url : `${url}/`))
    .optional(),
});

export type SlackSettings = z.infer<typeof SlackSettings>;

/** Empty variables count as unset: `SLACK_APP_TOKEN=` in a .env file means "no Socket Mode". */
function withoutEmpty(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(env))
    if (value !== undefined && value !== "") result[key] = value;
  return result;
}

/**
 * Parse the Slack settings; on failure one error naming every missing or malformed variable. `receiving: false`
 * is for a process that only posts (a worker): it needs the bot token, not the signing secret.
 */
export function loadSlackSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: { receiving?: boolean } = {},
): SlackSettings {
  const raw = withoutEmpty(env);
  const parsed = SlackSettings.safeParse(raw);
  const problems = parsed.success ? [] : [describeIssues(parsed.error)];
  const receiving = options.receiving ?? true;
  if (receiving && raw.SLACK_APP_TOKEN === undefined && raw.SLACK_SIGNING_SECRET === undefined) {
    problems.push("SLACK_SIGNING_SECRET: is required for HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)");
  }
  if (parsed.success && problems.length === 0) return parsed.data;
  throw new CanaryError(ErrorCode.InvalidInput, `bad Slack settings: ${problems.join("; ")}`);
}

export function isSocketMode(
  settings: SlackSettings,
): settings is SlackSettings & { SLACK_APP_TOKEN: string } {
  return settings.SLACK_APP_TOKEN !== undefined;
}
