import { pino } from "pino";
import type { Logger } from "./rollout/ports.ts";

/** JSON logs on stderr, so that command output on stdout stays clean for scripts. Secrets are redacted. */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { app: "canarybot" },
      redact: ["token", "*.token", "signingSecret", "*.signingSecret", "authorization", "*.authorization"],
    },
    pino.destination(2),
  );
}
