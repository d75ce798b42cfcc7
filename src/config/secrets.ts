import { readFileSync } from "node:fs";
import { CanaryError, ErrorCode } from "../errors.ts";
import { withRedisPassword } from "../store/redis-url.ts";

type Env = Readonly<Record<string, string | undefined>>;

/** Every variable that holds a secret. Each may instead be read from a file named by `<NAME>_FILE`. */
export const SECRET_VARIABLES = [
  "SLACK_BOT_TOKEN",
  "SLACK_SIGNING_SECRET",
  "SLACK_APP_TOKEN",
  "PROMETHEUS_BEARER_TOKEN",
  "PROMETHEUS_PASSWORD",
  "REDIS_PASSWORD",
  "REDIS_SENTINEL_PASSWORD",
] as const;

/**
 * The environment with every `<SECRET>_FILE` read into `<SECRET>` (Kubernetes Secret volumes, Docker secrets),
 * and `REDIS_PASSWORD` (and `REDIS_SENTINEL_PASSWORD`) folded into `REDIS_URL`, so everything downstream reads one variable. A message names
 * the variable and the file, never the content.
 */
export function resolveSecretFiles(env: Env): Record<string, string | undefined> {
  const resolved: Record<string, string | undefined> = { ...env };
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === "") continue;
    if (env[name] !== undefined && env[name] !== "") {
      throw new CanaryError(ErrorCode.InvalidInput, `set ${name} or ${name}_FILE, not both`);
    }
    try {
      // A trailing newline is an artefact of how the file was written, never part of a token.
      resolved[name] = readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
      throw new CanaryError(ErrorCode.InvalidInput, `${name}_FILE: cannot read ${file} (${code})`);
    }
    delete resolved[`${name}_FILE`];
  }
  const url = resolved.REDIS_URL ?? "redis://127.0.0.1:6379";
  const password = resolved.REDIS_PASSWORD;
  if (password) resolved.REDIS_URL = withRedisPassword(url, password);
  const sentinelPassword = resolved.REDIS_SENTINEL_PASSWORD;
  if (sentinelPassword) {
    resolved.REDIS_URL = withRedisPassword(resolved.REDIS_URL ?? url, sentinelPassword, "sentinel");
  }
  return resolved;
}
