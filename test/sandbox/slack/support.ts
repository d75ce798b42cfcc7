import type { AddressInfo } from "node:net";
import { App, HTTPReceiver } from "@slack/bolt";
import { LogLevel, WebClient } from "@slack/web-api";
import type { Logger } from "@slack/web-api";
import type { SlackSandbox } from "../../../sandbox/slack/web-api-sandbox.ts";
import { fixturePath } from "../../support/fixtures.ts";

/** Raw requests Slack sends, recorded by Slack's SDKs (test/fixtures/README.md). */
export const SLACK_REQUESTS_DIR = fixturePath("slack/requests");

/** WebClient and Bolt log Slack's `[ERROR]` metadata on purpose; the tests assert on it instead of printing it. */
export const quietLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

/** The real WebClient pointed at a sandbox (`token` undefined: none at all); no retries unless asked for. */
export function sandboxClient(
  sandbox: SlackSandbox,
  token: string | undefined,
  options: ConstructorParameters<typeof WebClient>[1] = {},
): WebClient {
  return new WebClient(token, {
    slackApiUrl: sandbox.apiUrl,
    retryConfig: { retries: 0 },
    logger: quietLogger,
    ...options,
  });
}

export interface RunningBoltApp {
  app: App;
  /** The app's request URL. */
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * A real Bolt App on an HTTPReceiver (processBeforeResponse, so a listener's work is done when the HTTP answer
 * arrives) whose WebClient talks to the sandbox.
 */
export async function startBoltApp(
  sandbox: SlackSandbox,
  signingSecret: string,
  register: (app: App) => void,
): Promise<RunningBoltApp> {
  const receiver = new HTTPReceiver({ signingSecret, processBeforeResponse: true, logger: quietLogger });
  const app = new App({
    token: sandbox.botToken,
    receiver,
    logger: quietLogger,
    clientOptions: { slackApiUrl: sandbox.apiUrl, retryConfig: { retries: 0 } },
  });
  register(app);
  const server = await app.start(0);
  const { port } = server.address() as AddressInfo;
  return { app, endpoint: `http://127.0.0.1:${port}/slack/events`, stop: () => app.stop() as Promise<void> };
}
