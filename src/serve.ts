import type { EnvConfig } from "./config/env.ts";
import { configPathFrom, loadConfigFile } from "./config/file.ts";
import type { ConfigFile } from "./config/file.ts";
import { serviceDirectory } from "./config/services.ts";
import { CanaryError, ErrorCode, errorMessage } from "./errors.ts";
import type { NotificationWorker } from "./jobs/notification-worker.ts";
import type { TickWorker } from "./jobs/tick-worker.ts";
import { openRuntime, startDefaults, startWorker } from "./runtime.ts";
import type { Runtime } from "./runtime.ts";
import type { Logger } from "./rollout/ports.ts";
import { createSlackApp } from "./slack/app.ts";
import type { SlackApp } from "./slack/app.ts";
import { slackLogger } from "./slack/bolt-logger.ts";
import { digestPlans } from "./schedule/daily-digest.ts";
import { loadSlackSettings } from "./slack/settings.ts";
import type { SlackSettings } from "./slack/settings.ts";
import { createNotifierClient } from "./slack/slack-notifier.ts";
import type { HealthServer } from "./ops/health-server.ts";
import { instrumentSlackClient } from "./ops/instrument.ts";

export type ServeMode = {
  /** Receive `/canary`, clicks and form submissions (HTTP on PORT, or Socket Mode with SLACK_APP_TOKEN). */
  slack: boolean;
  /** Run the tick worker in this process. */
  worker: boolean;
};

export type ServeOptions = {
  env: EnvConfig;
  /** The process environment: the Slack settings and CANARYBOT_CONFIG are read from it, and the Kubernetes client. */
  processEnv: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  kubeconfigPath?: string;
  context?: string;
  /** `--config`; else CANARYBOT_CONFIG; neither: open mode (start-up warns). */
  configPath?: string;
  mode: ServeMode;
  /** Resolves when the process should stop (SIGINT/SIGTERM). */
  stopSignal: Promise<void>;
  /** Serve /healthz, /readyz and /metrics on this port (0 picks a free one); none when absent. */
  metricsPort?: number;
};

export type ServeHandle = {
  /** The HTTP port of `/slack/events` (HTTP mode only). */
  port?: number;
  runtime: Runtime;
  /** Delivers every process's queued notifications to Slack; undefined when no bot token is set. */
  delivery?: NotificationWorker;
  config?: ConfigFile;
  /** The port of /healthz, /readyz and /metrics, when `metricsPort` was given. */
  metricsPort?: number;
  /** Graceful: stop taking requests, let the running tick and delivery finish, close Redis. */
  close(): Promise<void>;
};

/** Start `canarybot serve`: validate everything before connecting, then the worker and/or the Slack app. */
export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  const { env, processEnv, logger, mode } = options;
  if (!mode.slack && !mode.worker) {
    throw new CanaryError(ErrorCode.InvalidInput, "serve: --no-slack and --no-worker leave nothing to run");
  }
  const settings = slackSettings(processEnv, mode);
  const configPath = configPathFrom(options.configPath, processEnv);
  const config = configPath ? await loadConfigFile(configPath) : undefined;
  if (config) {
    logger.info({ config: configPath, services: Object.keys(config.services) }, "config file loaded");
  } else if (mode.slack) {
    logger.warn(
      {},
      "no config file (--config or CANARYBOT_CONFIG): anyone in Slack may start and steer a rollout of any VirtualService; only the two-person rule holds",
    );
  }

  // prom-client and the health server load only for a process that serves them.
  const metrics =
    options.metricsPort === undefined ? undefined : new (await import("./ops/metrics.ts")).OpsMetrics();
  const runtime = openRuntime({
    env,
    processEnv,
    logger,
    ...(options.kubeconfigPath ? { kubeconfigPath: options.kubeconfigPath } : {}),
    ...(options.context ? { context: options.context } : {}),
    ...(metrics ? { metrics } : {}),
  });
  if (!settings) {
    logger.warn(
      {},
      "no SLACK_BOT_TOKEN: this worker queues the channel's notifications for a process with a bot token to deliver",
    );
  }

  let ops: HealthServer | undefined;
  let worker: TickWorker | undefined;
  let delivery: NotificationWorker | undefined;
  let slack: SlackApp | undefined;
  const close = async (): Promise<void> => {
    // Unready first, so the Service stops sending here; new requests stop; the running tick finishes, and the
    // delivery under way (what is still queued waits in Redis for the next process with a bot token); then the
    // runtime (Redis, the queues, the Kubernetes clients), and the health server last.
    ops?.drain();
    await slack
      ?.stop()
      .catch((error: unknown) => logger.warn({ err: String(error) }, "slack app stop failed"));
    await worker?.close();
    await delivery?.close();
    await runtime.close();
    await ops?.close();
  };

  try {
    if (metrics && options.metricsPort !== undefined) {
      const { startOpsServer } = await import("./ops/ops-server.ts");
      ops = await startOpsServer({
        port: options.metricsPort,
        env,
        processEnv,
        ...(options.kubeconfigPath ? { kubeconfigPath: options.kubeconfigPath } : {}),
        ...(options.context ? { context: options.context } : {}),
        store: runtime.store,
        metrics,
        logger,
      });
    }
    if (settings) {
      const client = createNotifierClient({
        token: settings.SLACK_BOT_TOKEN,
        ...(settings.SLACK_API_URL ? { slackApiUrl: settings.SLACK_API_URL } : {}),
        logger: slackLogger(logger, "slack-notifier"),
      });
      delivery = runtime.deliverNotifications({
        client: metrics ? instrumentSlackClient(client, metrics) : client,
        onCallFor: (service) => config?.services[service]?.onCall,
        // chart.js and the canvas load with the first chart, not with the process.
        chart: async (rollout) => (await import("./metrics/chart.ts")).renderChartOf(rollout),
      });
      await delivery.waitUntilReady();
      logger.info({ queue: delivery.queueName }, "notification delivery ready");
    }
    if (mode.worker) {
      const digests = digestPlans(config);
      if (digests.unrouted.length > 0) {
        logger.warn({ services: digests.unrouted }, "no daily digest: these services name no channel");
      }
      worker = startWorker(runtime, env, logger, digests.plans);
      await worker.waitUntilReady();
      logger.info({ queue: worker.queueName }, "worker ready");
    }
    let port: number | undefined;
    if (mode.slack && settings) {
      slack = createSlackApp({
        settings,
        rollouts: runtime.service,
        store: runtime.store,
        scheduled: runtime.scheduled,
        services: serviceDirectory(config),
        defaults: startDefaults(env),
        dedupe: runtime.slackClaims,
        messages: runtime.messages,
        logger: logger.child({ component: "slack" }),
      });
      ({ port } = await slack.start());
      logger.info(
        settings.SLACK_APP_TOKEN ? { mode: "socket" } : { mode: "http", port, path: "/slack/events" },
        "slack app ready",
      );
    }
    runtime
      .warmUpKubernetes()
      .catch((error: unknown) =>
        logger.error(
          { err: errorMessage(error) },
          "the Kubernetes client could not be set up: every Kubernetes call fails with this until it is fixed",
        ),
      );
    return {
      ...(port === undefined ? {} : { port }),
      ...(ops ? { metricsPort: ops.port } : {}),
      runtime,
      ...(delivery ? { delivery } : {}),
      ...(config ? { config } : {}),
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

/** `canarybot serve`: run until `stopSignal`, then shut down gracefully. */
export async function runServe(options: ServeOptions): Promise<void> {
  const handle = await startServe(options);
  await options.stopSignal;
  options.logger.info({}, "shutting down");
  await handle.close();
}

function slackSettings(
  processEnv: Readonly<Record<string, string | undefined>>,
  mode: ServeMode,
): SlackSettings | undefined {
  if (mode.slack) return loadSlackSettings(processEnv);
  if (!processEnv.SLACK_BOT_TOKEN) return undefined;
  return loadSlackSettings(processEnv, { receiving: false });
}
