import { pino } from "pino";
import { SECRET_VARIABLES } from "./config/secrets.ts";
import { scrubKnownSecrets, secretValues } from "./redact.ts";
import type { Logger } from "./rollout/ports.ts";

/** Keys whose values are secrets wherever they appear in a log object. */
const SECRET_KEYS = [
  "token",
  "botToken",
  "appToken",
  "signingSecret",
  "password",
  "authorization",
  "Authorization",
  ...SECRET_VARIABLES,
];

/**
 * JSON logs on stderr, so that command output on stdout stays clean for scripts. Secrets are kept out twice:
 * secret-bearing keys are redacted, and the secret values of `env` are scrubbed from every finished line (an
 * error message from a library can quote a URL or header). Lines about a rollout carry its id as `rollout`.
 */
export function createLogger(
  level: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Logger {
  const secrets = secretValues(env);
  return pino(
    {
      level,
      base: { app: "canarybot" },
      redact: { paths: SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]), censor: "[redacted]" },
      // One name for the rollout id on every line, so `rollout="reviews-3"` finds them all.
      formatters: { log: rolloutNamed },
      // A child's bindings skip the formatters; name the rollout of `child({ rolloutId })` from them instead.
      mixin: (_object, _level, instance) => {
        const rolloutId: unknown = instance.bindings().rolloutId;
        return rolloutId === undefined ? {} : { rollout: rolloutId };
      },
      ...(secrets.length > 0
        ? { hooks: { streamWrite: (line: string) => scrubKnownSecrets(line, secrets) } }
        : {}),
    },
    pino.destination(2),
  );
}

function rolloutNamed(object: Record<string, unknown>): Record<string, unknown> {
  const { rolloutId, ...rest } = object;
  return rolloutId === undefined || "rollout" in rest ? object : { rollout: rolloutId, ...rest };
}
