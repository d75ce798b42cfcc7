import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { App, SocketModeReceiver } from "@slack/bolt";
import type { BlockAction, ButtonAction, Receiver } from "@slack/bolt";
import { ErrorCode as SlackErrorCode, WebClient } from "@slack/web-api";
import type { WebClientOptions } from "@slack/web-api";
import type { StartDefaults } from "../rollout/start-request.ts";
import type { ServiceDirectory } from "../config/services.ts";
import { CanaryError, ErrorCode, errorMessage } from "../errors.ts";
import type { Logger, RolloutStore } from "../rollout/ports.ts";
import type { RolloutService } from "../rollout/service.ts";
import type { RedisScheduledStarts } from "../store/redis-scheduled-starts.ts";
import { slackLogger } from "./bolt-logger.ts";
import type { Deduper } from "./dedupe.ts";
import { GuardedHTTPReceiver } from "./guarded-receiver.ts";
import { SlackHandlers } from "./handlers.ts";
import type { Respond } from "./handlers.ts";
import { isActionId } from "./render-rollout-message.ts";
import { errorReply } from "./replies.ts";
import type { Reply } from "./replies.ts";
import { isSocketMode } from "./settings.ts";
import type { SlackSettings } from "./settings.ts";
import { renderStartModal, START_VIEW_ID } from "./start-modal.ts";
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
 * The Bolt app: `/canary`, the rollout message's buttons and the start form. Listeners ack first, always, then
 * do the work (`processBeforeResponse: false`: the HTTP answer leaves before any Kubernetes or Redis call).
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
    logger,
    now: options.now ?? Date.now,
    workspaceUrl: workspace,
    ...(options.scheduled ? { scheduled: options.scheduled } : {}),
  });

  /** Replies never fail a listener: a reply that cannot be delivered is logged. */
  const safely =
    (send: (reply: Reply) => Promise<unknown>): Respond =>
    async (reply) => {
      try {
        await send(reply);
      } catch (error) {
        logger.warn({ err: errorMessage(error) }, "slack reply failed");
      }
    };

  app.command(/.*/, async ({ command, ack, respond, client }) => {
    await ack();
    const origin = {
      user: command.user_id,
      channel: command.channel_id,
      team: command.team_id,
      deliveryId: command.trigger_id,
    };
    const reply = safely((message) => respond({ response_type: "ephemeral", ...message }));
    // Slack omits `text` for a bare `/canary`: that is the help, not a crash.
    await handlers.command(command.text ?? "", origin, reply, async () => {
      await client.views.open({
        trigger_id: command.trigger_id,
        view: renderStartModal({
          services: options.services.names,
          defaults: options.defaults,
          channel: command.channel_id,
        }),
      });
    });
  });

  app.action<BlockAction<ButtonAction>>(
    { type: "block_actions", action_id: /^canary_/ },
    async ({ ack, body, action, respond }) => {
      await ack();
      const reply = safely((message) =>
        respond({ response_type: "ephemeral", replace_original: false, ...message }),
      );
      const container = body.container as { channel_id?: string } | undefined;
      const channel = body.channel?.id ?? container?.channel_id ?? "";
      if (!isActionId(action.action_id)) {
        await reply(errorReply("That button is not one canarybot knows; nothing changed."));
        return;
      }
      await handlers.button(
        action.action_id,
        action.value,
        {
          user: body.user.id,
          channel: String(channel),
          team: body.team?.id ?? body.user.team_id ?? "",
          deliveryId: body.trigger_id ?? `${body.user.id}:${action.action_ts}`,
        },
        reply,
      );
    },
  );

  app.view(START_VIEW_ID, async ({ ack, body, view, client }) => {
    const checked = handlers.checkStartForm(view);
    if (!checked.ok) {
      await ack({ response_action: "errors", errors: checked.errors });
      return;
    }
    await ack();
    const user = body.user.id;
    const channel = checked.channel ?? user;
    const reply = safely((message) => client.chat.postEphemeral({ channel, user, ...message }));
    const trigger = (body as { trigger_id?: string }).trigger_id;
    await handlers.startFromForm(
      checked.options,
      { user, channel, team: body.team?.id ?? "", deliveryId: trigger ?? `${view.id}:${view.hash}` },
      reply,
    );
  });

  // Anything else Slack may deliver to this request URL is acknowledged, so Slack never retries it.
  app.action(/^(?!canary_)/, async ({ ack }) => {
    await ack();
  });
  app.view({ type: "view_submission", callback_id: /^(?!canary_)/ }, async ({ ack }) => {
    await ack();
  });
  app.view({ type: "view_closed", callback_id: /.*/ }, async ({ ack }) => {
    await ack();
  });
  app.shortcut(/.*/, async ({ ack }) => {
    await ack();
  });
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
