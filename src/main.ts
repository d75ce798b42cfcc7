import { readFileSync } from "node:fs";
import type { EnvConfig } from "./config/env.ts";
import { BullMqTickScheduler } from "./jobs/tick-queue.ts";
import { createTickWorker } from "./jobs/tick-worker.ts";
import type { TickWorker } from "./jobs/tick-worker.ts";
import { IstioVirtualServiceRouter } from "./k8s/istio-virtual-service-router.ts";
import { loadKubeConfig } from "./k8s/kubeconfig.ts";
import { LogNotifier } from "./notify/log-notifier.ts";
import { BUILTIN_DEFAULTS } from "./commands/start-request.ts";
import type { StartDefaults } from "./commands/start-request.ts";
import { DEFAULT_ANALYSIS_POLICY } from "./metrics/analysis.ts";
import { MetricsAnalyzer } from "./metrics/metrics-analyzer.ts";
import { PrometheusClient } from "./metrics/prometheus-client.ts";
import type { PrometheusAuth } from "./metrics/prometheus-client.ts";
import { PrometheusMetricsProvider } from "./metrics/prometheus-metrics-provider.ts";
import type { Analyzer, Logger, Notifier, RolloutStore } from "./rollout/ports.ts";
import { RolloutService } from "./rollout/service.ts";
import { createRedisClient, throttleRepeats } from "./store/redis-client.ts";
import type { RedisRole } from "./store/redis-client.ts";
import { RedisRolloutLock } from "./store/redis-lock.ts";
import { RedisRolloutStore } from "./store/redis-rollout-store.ts";

export type RuntimeOptions = {
  env: EnvConfig;
  /** The process environment, for what the Kubernetes client reads (KUBECONFIG, in-cluster variables, HOME). */
  processEnv: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  kubeconfigPath?: string;
  context?: string;
  notifier?: Notifier;
  /** `one-shot` (a CLI command: a Redis outage fails it at once, quietly) or `service` (default: rides it out). */
  redisRole?: RedisRole;
};

export type Runtime = {
  service: RolloutService;
  store: RolloutStore;
  close(): Promise<void>;
};

/** The composition root: every adapter is built here and nowhere else, from plain arguments. */
export function openRuntime(options: RuntimeOptions): Runtime {
  const { env, logger } = options;
  // Read before anything connects: a bad kubeconfig must not leave open connections behind it.
  const { kubeConfig } = loadKubeConfig({
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
  const scheduler = new BullMqTickScheduler({
    connection: env.REDIS_URL,
    prefix: env.CANARYBOT_PREFIX,
    onError: onRedisError("tick queue connection error"),
  });
  const router = new IstioVirtualServiceRouter(kubeConfig);
  const analyzer = createAnalyzer(env);
  const service = new RolloutService({
    store,
    lock,
    router,
    scheduler,
    notifier: options.notifier ?? new LogNotifier(logger),
    ...(analyzer ? { analyzer } : {}),
    clock: { now: () => Date.now() },
    logger,
    minIntervalMs: env.CANARYBOT_MIN_INTERVAL_MS,
  });
  return {
    service,
    store,
    async close() {
      await scheduler.close();
      await router.close();
      redis.disconnect();
    },
  };
}

/** A worker that turns due ticks into rollout steps; closes gracefully (the running tick finishes). */
export function startWorker(runtime: Runtime, env: EnvConfig, logger: Logger): TickWorker {
  return createTickWorker({
    connection: env.REDIS_URL,
    prefix: env.CANARYBOT_PREFIX,
    concurrency: env.WORKER_CONCURRENCY,
    handler: (rolloutId, tick) => runtime.service.tick(rolloutId, tick),
    onExhausted: (rolloutId, tick, error) => runtime.service.tickExhausted(rolloutId, tick, error),
    // BullMQ reports a Redis outage on every reconnect.
    onError: throttleRepeats((error) => logger.warn({ err: error.message }, "tick worker error")),
  });
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
