import { readFileSync } from "node:fs";
import type { EnvConfig } from "./config/env.ts";
import { QueuedNotifier } from "./jobs/notification-queue.ts";
import { createNotificationWorker } from "./jobs/notification-worker.ts";
import type { NotificationWorker } from "./jobs/notification-worker.ts";
import { BullMqTickScheduler } from "./jobs/tick-queue.ts";
import { startDigestRunner } from "./jobs/digest-runner.ts";
import { startScheduledStartRunner } from "./jobs/scheduled-start-runner.ts";
import { startTickSweeper } from "./jobs/tick-sweeper.ts";
import { createTickWorker } from "./jobs/tick-worker.ts";
import type { TickWorker } from "./jobs/tick-worker.ts";
import { DeferredRouter } from "./k8s/deferred-router.ts";
import { clusterIdentity, outlineKubeConfig } from "./k8s/kubeconfig-outline.ts";
import { meshContextOf } from "./rollout/target.ts";
import { RedisDeliveryRecords } from "./notify/delivery-records.ts";
import type { MessageRefs } from "./notify/delivery-records.ts";
import { LogNotifier } from "./notify/log-notifier.ts";
import { BUILTIN_DEFAULTS } from "./rollout/start-request.ts";
import type { StartDefaults } from "./rollout/start-request.ts";
import { DEFAULT_ANALYSIS_POLICY } from "./metrics/analysis.ts";
import { MetricsAnalyzer } from "./metrics/metrics-analyzer.ts";
import { PrometheusClient } from "./metrics/prometheus-client.ts";
import type { PrometheusAuth } from "./metrics/prometheus-client.ts";
import { PrometheusMetricsProvider } from "./metrics/prometheus-metrics-provider.ts";
import type { Analyzer, Logger, RolloutStore } from "./rollout/ports.ts";
import { RolloutService } from "./rollout/service.ts";
import type { ServiceDeps } from "./rollout/service.ts";
import type { ClusterRef } from "./rollout/types.ts";
import type { DigestPlan } from "./schedule/daily-digest.ts";
import { cronReleaseCalendar } from "./schedule/release-calendar.ts";
import type { SlackMessage } from "./slack/mrkdwn.ts";
import { claimPeriod } from "./store/redis-claim.ts";
import { SlackDeliverer } from "./slack/slack-notifier.ts";
import type { SlackDelivererOptions } from "./slack/slack-notifier.ts";
import { createRedisClient, throttleRepeats } from "./store/redis-client.ts";
import type { RedisRole } from "./store/redis-client.ts";
import { RedisDeduper } from "./store/redis-deduper.ts";
import type { Deduper } from "./store/redis-deduper.ts";
import { RedisRolloutLock } from "./store/redis-lock.ts";
import { RedisScheduledStarts } from "./store/redis-scheduled-starts.ts";
import { RedisRolloutStore } from "./store/redis-rollout-store.ts";
import { instrumentAnalyzer, instrumentRouter, instrumentStore } from "./ops/instrument.ts";
import type { OpsMetrics } from "./ops/metrics.ts";
import { HttpWebhookCaller } from "./webhooks/http-webhook-caller.ts";

export type RuntimeOptions = {
  env: EnvConfig;
  /** The process environment, for what the Kubernetes client reads (KUBECONFIG, in-cluster variables, HOME). */
  processEnv: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  kubeconfigPath?: string;
  context?: string;
  /**
   * Wraps the rollout service's ports before the service is built: instrumentation, and the fault injection of the
   * crash tests, go around the real adapters without the service knowing.
   */
  decorate?: (deps: ServiceDeps) => ServiceDeps;
  /** Count and time the ports' calls for `/metrics` (serve and worker with a metrics port). */
  metrics?: OpsMetrics;
  /** `one-shot` (a CLI command: a Redis outage fails it at once, quietly) or `service` (default: rides it out). */
  redisRole?: RedisRole;
};

/** What a process holding a bot token brings to deliver notifications: its Slack client and what alerts need. */
export type SlackDelivery = Pick<SlackDelivererOptions, "client" | "onCallFor" | "chart">;

export type Runtime = {
  service: RolloutService;
  store: RolloutStore;
  /** The cluster of this runtime's current context: where rollouts that name no context run. */
  cluster: ClusterRef;
  scheduler: BullMqTickScheduler;
  /** Starts asked for at a later time (`start --at`). */
  scheduled: RedisScheduledStarts;
  /** Whether this process takes a periodic job (`name`) for this period; one process of many does. */
  claimPeriod(name: string, ttlMs: number): Promise<boolean>;
  /** Slack's once-only claims (a retried event, a double click), on this runtime's Redis. */
  slackClaims: Deduper;
  /** Where the rollout messages live (the delivery records). */
  messages: MessageRefs;
  /**
   * Load the Kubernetes client now rather than at the first call that needs it (a process that serves Slack does so
   * once it listens, so that the first click does not wait for it). Rejects with what the first call would report.
   */
  warmUpKubernetes(): Promise<void>;
  /** Queue a service's daily digest (`reviews.2026-12-05`) for delivery to `channel`. */
  queueDigest(digest: string, channel: string, message: SlackMessage): Promise<void>;
  /**
   * Deliver the queued notifications of every process (CLI, workers, serve) to Slack from this one. Close the
   * worker it returns before the runtime.
   */
  deliverNotifications(slack: SlackDelivery): NotificationWorker;
  close(): Promise<void>;
};

/** The composition root: every adapter is built here and nowhere else, from plain arguments. */
export function openRuntime(options: RuntimeOptions): Runtime {
  const { env, logger } = options;
  // Read before anything connects: a bad kubeconfig must not leave open connections behind it.
  const kubeconfig = outlineKubeConfig({
    env: options.processEnv,
    ...(options.kubeconfigPath ? { kubeconfigPath: options.kubeconfigPath } : {}),
    ...(options.context ? { context: options.context } : {}),
  });
  const role = options.redisRole ?? "service";
  // A one-shot command reports an outage through the call that failed; a service logs it once per outage.
  const onRedisError = (what: string) =>
    throttleRepeats((error) =>
      role === "service"
        ? logger.warn({ err: error.message }, what)
        : logger.info({ err: error.message }, what),
    );
  const redis = createRedisClient(env.REDIS_URL, { role, onError: onRedisError("redis connection error") });
  const prefix = `${env.CANARYBOT_PREFIX}:`;
  const store = new RedisRolloutStore(redis, { prefix });
  const lock = new RedisRolloutLock(redis, {
    prefix,
    onLockLost: (rolloutId) => logger.warn({ rollout: rolloutId }, "rollout lock lapsed while held"),
  });
  // A rollout belongs to the cluster whose VirtualService it moves: the mesh's (see docs/architecture.md).
  const clusterOf = (target: { context?: string; meshContext?: string }): ClusterRef | undefined => {
    try {
      return clusterIdentity(kubeconfig, meshContextOf(target));
    } catch {
      return undefined; // a context this kubeconfig does not have: not a cluster this process reaches
    }
  };
  const cluster = clusterOf({}) ?? { server: "" };
  const scheduler = new BullMqTickScheduler({
    connection: env.REDIS_URL,
    prefix: env.CANARYBOT_PREFIX,
    onError: onRedisError("tick queue connection error"),
  });
  const router = new DeferredRouter(async () => {
    const [{ kubernetesRouter }, { kubeConfigFrom }] = await Promise.all([
      import("./k8s/router-by-kind.ts"),
      import("./k8s/kubeconfig.ts"),
    ]);
    return kubernetesRouter(kubeConfigFrom(kubeconfig).kubeConfig, {
      requestTimeoutMs: env.KUBE_REQUEST_TIMEOUT_MS,
      operationBudgetMs: env.KUBE_OPERATION_BUDGET_MS,
    });
  });
  const analyzer = createAnalyzer(env);
  // Every process enqueues notifications; the ones holding a bot token deliver them (deliverNotifications).
  const notifier = new QueuedNotifier({
    connection: env.REDIS_URL,
    prefix: env.CANARYBOT_PREFIX,
    unrouted: new LogNotifier(logger),
    onError: onRedisError("notification queue connection error"),
  });
  const { metrics } = options;
  const deps: ServiceDeps = {
    store: metrics ? instrumentStore(store, metrics) : store,
    lock,
    router: metrics ? instrumentRouter(router, metrics) : router,
    scheduler,
    notifier,
    ...(analyzer ? { analyzer: metrics ? instrumentAnalyzer(analyzer, metrics) : analyzer } : {}),
    clock: { now: () => Date.now() },
    logger,
    minIntervalMs: env.CANARYBOT_MIN_INTERVAL_MS,
    calendar: cronReleaseCalendar,
    clusterOf,
    webhooks: new HttpWebhookCaller(),
    pods: router,
  };
  const service = new RolloutService(options.decorate ? options.decorate(deps) : deps);
  const records = new RedisDeliveryRecords(redis, { prefix });
  return {
    service,
    store,
    cluster,
    scheduler,
    scheduled: new RedisScheduledStarts(redis, prefix),
    claimPeriod: (name, ttlMs) => claimPeriod(redis, `${prefix}${name}`, ttlMs),
    slackClaims: new RedisDeduper(redis, prefix),
    messages: records,
    warmUpKubernetes: () => router.warmUp(),
    queueDigest: (digest, channel, message) => notifier.digest(digest, channel, message),
    deliverNotifications(slack) {
      const deliverer = new SlackDeliverer({
        ...slack,
        store,
        // Short-lived, so a process killed mid-delivery holds up its rollout's notifications only briefly.
        deliveryLock: new RedisRolloutLock(redis, { prefix: `${prefix}delivery-`, ttlMs: 10_000 }),
        records,
        logger: logger.child({ component: "slack-delivery" }),
      });
      return createNotificationWorker({
        connection: env.REDIS_URL,
        prefix: env.CANARYBOT_PREFIX,
        deliver: (jobId, job) => deliverer.deliver(jobId, job),
        logger: logger.child({ component: "notification-worker" }),
      });
    },
    async close() {
      await notifier.close();
      await scheduler.close();
      await router.close();
      redis.disconnect();
    },
  };
}

/**
 * A worker that turns due ticks of its cluster's rollouts into steps, with the sweeper that re-enqueues a tick
 * nobody scheduled, the runner of scheduled starts and the daily digests' cron jobs; closes gracefully (the
 * running tick finishes).
 */
export function startWorker(
  runtime: Runtime,
  env: EnvConfig,
  logger: Logger,
  digests: readonly DigestPlan[] = [],
): TickWorker {
  const worker = createTickWorker({
    connection: env.REDIS_URL,
    prefix: env.CANARYBOT_PREFIX,
    concurrency: env.WORKER_CONCURRENCY,
    handler: (rolloutId, tick) => runtime.service.tick(rolloutId, tick),
    onExhausted: (rolloutId, tick, error) => runtime.service.tickExhausted(rolloutId, tick, error),
    // BullMQ reports a Redis outage on every reconnect.
    onError: throttleRepeats((error) => logger.warn({ err: error.message }, "tick worker error")),
    onLeft: (rolloutId, tick, reason) =>
      logger.warn({ rollout: rolloutId, tick }, `tick left for another cluster's workers: ${reason}`),
  });
  const sweeper = startTickSweeper({
    store: runtime.store,
    ensure: (rolloutId, tick) => runtime.scheduler.ensure(rolloutId, tick),
    reportOverdue: (rolloutId, tick, detail) => runtime.service.tickOverdue(rolloutId, tick, detail),
    // One sweep per cluster per period: each cluster's workers enqueue only their own cluster's ticks.
    claim: (ttlMs) => runtime.claimPeriod(`sweep:${runtime.cluster.server}`, ttlMs),
    serves: (rollout) => runtime.service.foreignReason(rollout) === undefined,
    clock: { now: () => Date.now() },
    logger,
    ...(env.CANARYBOT_SWEEP_MS === undefined ? {} : { everyMs: env.CANARYBOT_SWEEP_MS }),
  });
  const starter = startScheduledStartRunner({
    scheduled: runtime.scheduled,
    service: runtime.service,
    clock: { now: () => Date.now() },
    logger,
    ...(env.CANARYBOT_SWEEP_MS === undefined ? {} : { everyMs: env.CANARYBOT_SWEEP_MS }),
  });
  const digester =
    digests.length === 0
      ? undefined
      : startDigestRunner({
          plans: digests,
          store: runtime.store,
          claim: (name, ttlMs) => runtime.claimPeriod(name, ttlMs),
          queue: (digest, channel, message) => runtime.queueDigest(digest, channel, message),
          clock: { now: () => Date.now() },
          logger,
        });
  logger.info({ cluster: runtime.cluster }, "worker serves this cluster");
  return {
    queueName: worker.queueName,
    waitUntilReady: () => worker.waitUntilReady(),
    async close() {
      await digester?.close();
      await starter.close();
      await sweeper.close();
      await worker.close();
    },
  };
}

/** Defaults for a start that names no options: with Prometheus configured, every plan is judged. */
export function startDefaults(env: EnvConfig): StartDefaults {
  return {
    ...BUILTIN_DEFAULTS,
    minIntervalMs: env.CANARYBOT_MIN_INTERVAL_MS,
    ...(env.PROMETHEUS_URL ? { analysis: DEFAULT_ANALYSIS_POLICY } : {}),
  };
}

function createAnalyzer(env: EnvConfig): Analyzer | undefined {
  if (!env.PROMETHEUS_URL) return undefined;
  const header = env.PROMETHEUS_HEADER?.split(/:\s*/, 2);
  const auth: PrometheusAuth | undefined = env.PROMETHEUS_BEARER_TOKEN
    ? { type: "bearer", token: env.PROMETHEUS_BEARER_TOKEN }
    : env.PROMETHEUS_USERNAME && env.PROMETHEUS_PASSWORD
      ? { type: "basic", username: env.PROMETHEUS_USERNAME, password: env.PROMETHEUS_PASSWORD }
      : undefined;
  const client = new PrometheusClient({
    url: env.PROMETHEUS_URL,
    ...(auth ? { auth } : {}),
    ...(env.PROMETHEUS_CA_FILE ? { ca: readFileSync(env.PROMETHEUS_CA_FILE) } : {}),
    ...(header?.[0] && header[1] ? { headers: { [header[0]]: header[1] } } : {}),
  });
  const provider = new PrometheusMetricsProvider(client, {
    reporter: env.ISTIO_REPORTER,
    scrapeIntervalSeconds: env.PROMETHEUS_SCRAPE_INTERVAL_SECONDS,
    subsets:
      env.METRICS_SUBSET_MATCH === "workload"
        ? { type: "workload" }
        : { type: "subset-labels", subsetLabels: (rollout) => rollout.subsetLabels ?? {} },
  });
  return new MetricsAnalyzer(provider);
}
