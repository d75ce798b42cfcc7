import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { App, SocketModeReceiver } from "@slack/bolt";
import type { Receiver } from "@slack/bolt";
import { ErrorCode as SlackErrorCode, WebClient } from "@slack/web-api";
import type { WebClientOptions } from "@slack/web-api";
import type { StartDefaults } from "../rollout/start-request.ts";
import type { ServiceDirectory } from "../config/services.ts";
import { CanaryError, ErrorCode, errorMessage } from "../errors.ts";
import type { Logger, RolloutStore } from "../rollout/ports.ts";
import type { RolloutService } from "../rollout/service.ts";
import type { RedisScheduledStarts } from "../store/redis-scheduled-starts.ts";
import { slackLogger } from "./bolt-logger.ts";
import type { MessageRefs } from "../notify/delivery-records.ts";
import type { Deduper } from "../store/redis-deduper.ts";
import { GuardedHTTPReceiver } from "./guarded-receiver.ts";
import { SlackHandlers } from "./handlers.ts";
import { registerActionListeners } from "./listeners/actions.ts";
import { registerCommandListeners } from "./listeners/commands.ts";
import { registerViewListeners } from "./listeners/views.ts";
import { isSocketMode } from "./settings.ts";
import type { SlackSettings } from "./settings.ts";
import { UsergroupResolver, usergroupFetcher } from "./usergroups.ts";

/** Where Slack sends commands and clicks in HTTP mode (the manifest's request URLs). */
export const EVENTS_PATH = "/slack/events";

/** Everything the Slack app needs, as plain arguments. */
export type SlackAppOptions = {
  settings: SlackSettings;
  rollouts: Pick<RolloutService, "start" | "dryRun" | "act">;
  store: Pick<RolloutStore, "get" | "listActive" | "history" | "audit" | "appendAudit">;
  services: ServiceDirectory;
  defaults: StartDefaults;
  dedupe: Deduper;
  /** Where rollout messages live (the delivery records). */
  messages: MessageRefs;
  logger: Logger;
  now?: () => number;
  /** Extra Web API client options (the API URL comes from `SLACK_API_URL`). */
  clientOptions?: WebClientOptions;
  /** Timeout of every Web API call and response_url post, ms. Default 10 s. */
  requestTimeoutMs?: number;
  /** How long resolved user group members are trusted, ms. Default 5 minutes. */
  usergroupTtlMs?: number;
  /** Where `/canary start … --at` puts a start. */
  scheduled?: Pick<RedisScheduledStarts, "add">;
};

export type SlackApp = {
  app: App;
  /** Verify the bot token (auth.test), then listen: HTTP on `PORT`, or the Socket Mode websocket. */
  start(): Promise<{ port?: number }>;
  stop(): Promise<void>;
};

/**
 * Why auth.test failed at start-up: Slack answering that the token is wrong is the user's to fix (exit 1); Slack not
 * answering at all (refused, timed out, a 5xx) is an outside system (exit 2).
 */
function startError(error: unknown, apiUrl: string): CanaryError {
  const failure = error as {
    code?: string;
    data?: { error?: string };
    statusCode?: number;
    original?: unknown;
  };
  if (failure.code === SlackErrorCode.PlatformError) {
    return new CanaryError(
      ErrorCode.InvalidInput,
      `SLACK_BOT_TOKEN: Slack refused it (${failure.data?.error ?? "unknown"})`,
      { cause: error },
    );
  }
  const original = failure.original instanceof Error ? failure.original : undefined;
  const cause = original?.cause instanceof Error ? original.cause : original;
  const reason =
    failure.code === SlackErrorCode.HTTPError
      ? `HTTP ${failure.statusCode ?? "error"}`
      : (cause?.message ?? errorMessage(error));
  return new CanaryError(
    ErrorCode.SlackUnavailable,
    `Slack API at ${apiUrl} unreachable (${reason}); check SLACK_API_URL and the network`,
    { cause: error, retryable: true },
  );
}

/** `fetch` with a deadline, for WebClient and Bolt's `respond` (which has none of its own). */
function fetchWithTimeout(timeoutMs: number): typeof fetch {
  return (input, init) =>
    globalThis.fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
}

/**
 * The Bolt app: `/canary`, the rollout message's buttons and the start form. Set-up here (receiver, client,
 * identity, handlers); the listeners live in `listeners/` and ack first, always, then do the work
 * (`processBeforeResponse: false`: the HTTP answer leaves before any Kubernetes or Redis call).
 */
export function createSlackApp(options: SlackAppOptions): SlackApp {
  const { settings, logger } = options;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const boltLogger = slackLogger(logger, "bolt");
  const clientOptions: WebClientOptions = {
    ...(settings.SLACK_API_URL ? { slackApiUrl: settings.SLACK_API_URL } : {}),
    fetch: fetchWithTimeout(timeoutMs),
    timeout: timeoutMs,
    // Replies are worth one quick retry, never a long wait: the person is looking at the screen.
    retryConfig: { retries: 1, maxTimeout: 2_000 },
    ...options.clientOptions,
  };
  const receiver: Receiver = isSocketMode(settings)
    ? new SocketModeReceiver({
        appToken: settings.SLACK_APP_TOKEN,
        logger: boltLogger,
        installerOptions: { clientOptions },
      })
    : new GuardedHTTPReceiver({
        signingSecret: settings.SLACK_SIGNING_SECRET ?? "",
        endpoints: EVENTS_PATH,
        processBeforeResponse: false,
        logger: boltLogger,
        guardLogger: logger,
        ...(options.now ? { now: options.now } : {}),
        customRoutes: [
          {
            path: "/healthz",
            method: "GET",
            handler: (_request, response) => {
              response.writeHead(200, { "content-type": "text/plain" });
              response.end("ok");
            },
          },
        ],
      });
  // The bot's identity is learnt once, by `start()` (auth.test, with a clear error for a bad token), and handed
  // to Bolt through `authorize`: Bolt's own token check would either run in the constructor (leaving an
  // unhandled rejection for a bad token) or call auth.test before every ack.
  const web = new WebClient(settings.SLACK_BOT_TOKEN, { ...clientOptions, logger: boltLogger });
  let identity: { botId: string; botUserId: string } | undefined;
  const app = new App({
    receiver,
    logger: boltLogger,
    clientOptions,
    authorize: () => {
      if (!identity) return Promise.reject(new Error("the Slack app is not started"));
      return Promise.resolve({ botToken: settings.SLACK_BOT_TOKEN, ...identity });
    },
  });

  let workspaceUrl: Promise<string> | undefined;
  const workspace = (): Promise<string> =>
    (workspaceUrl ??= web.auth
      .test()
      .then((result) => result.url ?? "https://slack.com/")
      .catch(() => {
        workspaceUrl = undefined;
        return "https://slack.com/";
      }));

  const handlers = new SlackHandlers({
    rollouts: options.rollouts,
    store: options.store,
    services: options.services,
    defaults: options.defaults,
    usergroups: new UsergroupResolver({
      fetchMembers: usergroupFetcher(web),
      logger,
      ...(options.usergroupTtlMs === undefined ? {} : { ttlMs: options.usergroupTtlMs }),
    }),
    dedupe: options.dedupe,
    messages: options.messages,
    logger,
    now: options.now ?? Date.now,
    workspaceUrl: workspace,
    ...(options.scheduled ? { scheduled: options.scheduled } : {}),
  });

  registerCommandListeners(app, { handlers, services: options.services, defaults: options.defaults, logger });
  registerActionListeners(app, { handlers, logger });
  registerViewListeners(app, { handlers, logger });
  app.error((error) => {
    logger.warn({ err: error.message }, "slack listener error");
    return Promise.resolve();
  });

  return {
    app,
    async start() {
      try {
        const auth = await web.auth.test();
        identity = { botId: auth.bot_id ?? "", botUserId: auth.user_id ?? "" };
      } catch (error) {
        throw startError(error, settings.SLACK_API_URL ?? "https://slack.com/api/");
      }
      if (isSocketMode(settings)) {
        await app.start();
        return {};
      }
      const server = (await app.start(settings.PORT)) as Server;
      return { port: (server.address() as AddressInfo).port };
    },
    async stop() {
      await app.stop();
    },
  };
}
