import { LogLevel } from "@slack/bolt";
import type { Logger as SlackLogger } from "@slack/bolt";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../rollout/ports.ts";

/** Bolt's and WebClient's logger interface over the project's pino logger (debug output is dropped). */
export function slackLogger(logger: Logger, name = "slack"): SlackLogger {
  const log = logger.child({ component: name });
  let level: LogLevel = LogLevel.INFO;
  const text = (messages: unknown[]): string => messages.map(errorMessage).join(" ");
  return {
    debug: () => undefined,
    info: (...messages: unknown[]) => log.info({}, text(messages)),
    warn: (...messages: unknown[]) => log.warn({}, text(messages)),
    error: (...messages: unknown[]) => log.error({}, text(messages)),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
