import { z } from "zod";
import { CanaryError, ErrorCode } from "../errors.ts";
import { MAX_INTERVAL_MS } from "../rollout/plan.ts";
import { parseRedisUrl } from "../store/redis-url.ts";

const isClusterUrl = (url: string): boolean => {
  const target = parseRedisUrl(url);
  return "kind" in target && target.kind === "cluster";
};

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Settings from the environment; everything that varies per deployment. */
export const EnvConfig = z
  .object({
    /** One node, Sentinel or Cluster: the forms are in `store/redis-url.ts` and docs/operations.md. */
    REDIS_URL: z
      .string()
      .superRefine((url, ctx) => {
        const target = parseRedisUrl(url);
        if ("error" in target) ctx.addIssue({ code: "custom", message: target.error });
      })
      .default("redis://127.0.0.1:6379"),
    /**
     * Every Redis key and queue name starts with it, so several installations can share one Redis. In braces
     * (`{canarybot}`) it is a Redis Cluster hash tag: every key lands in one slot, as BullMQ's scripts require.
     */
    CANARYBOT_PREFIX: z
      .string()
      .regex(/^(\{[A-Za-z0-9_-]+\}|[A-Za-z0-9_-]+)$/, "letters, digits, _ and - only, optionally in {braces}")
      .default("canarybot"),
    KUBECONFIG: z.string().min(1).optional(),
    /** Timeout of one Kubernetes API request (ms); default 10 s. */
    KUBE_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).optional(),
    /** Time one Kubernetes operation (a tick's route write, a CLI action's restore) may take, retries included (ms); default 20 s. */
    KUBE_OPERATION_BUDGET_MS: z.coerce.number().int().min(100).max(600_000).optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
    /** Shortest step interval a plan may ask for (ms); lowered only for load tests and demos. */
    CANARYBOT_MIN_INTERVAL_MS: z.coerce.number().int().min(10).max(MAX_INTERVAL_MS).default(1_000),
    /** Prometheus (or Thanos/Mimir/Cortex, path prefix included); without it rollouts step without analysis. */
    PROMETHEUS_URL: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).optional(),
    PROMETHEUS_BEARER_TOKEN: z.string().min(1).optional(),
    /** Basic auth, e.g. behind an authenticating proxy; both or neither. */
    PROMETHEUS_USERNAME: z.string().min(1).optional(),
    PROMETHEUS_PASSWORD: z.string().min(1).optional(),
    /** PEM file of the CA that signed Prometheus's certificate, for https with a private CA. */
    PROMETHEUS_CA_FILE: z.string().min(1).optional(),
    /** Extra header for multi-tenant backends, e.g. `X-Scope-OrgID: team-a`. */
    PROMETHEUS_HEADER: z
      .string()
      .regex(/^[A-Za-z0-9-]+:\s*\S.*$/, "must be `Name: value`")
      .optional(),
    /** How often Prometheus scrapes the Istio proxies; the analysis window is at least four of them. */
    PROMETHEUS_SCRAPE_INTERVAL_SECONDS: z.coerce.number().positive().max(3_600).default(15),
    /** Istio's `reporter` label the queries select. */
    ISTIO_REPORTER: z.enum(["destination", "source"]).default("destination"),
    /** How a subset is found in the metrics: by its DestinationRule labels (`version` → `destination_version`) or by workload name (`reviews-v2`). */
    METRICS_SUBSET_MATCH: z.enum(["labels", "workload"]).default("labels"),
    /** How often a worker's sweeper looks for live rollouts whose due tick has no job (ms). */
    CANARYBOT_SWEEP_MS: z.coerce.number().int().min(100).max(60_000).optional(),
    /** Ticks one worker process runs at once. */
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
  })
  .refine((env) => (env.PROMETHEUS_USERNAME === undefined) === (env.PROMETHEUS_PASSWORD === undefined), {
    path: ["PROMETHEUS_PASSWORD"],
    message: "PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD go together",
  })
  .refine((env) => !(env.PROMETHEUS_BEARER_TOKEN && env.PROMETHEUS_USERNAME), {
    path: ["PROMETHEUS_BEARER_TOKEN"],
    message: "a bearer token or basic auth, not both",
  })
  .refine((env) => !isClusterUrl(env.REDIS_URL) || env.CANARYBOT_PREFIX.startsWith("{"), {
    path: ["CANARYBOT_PREFIX"],
    // BullMQ's scripts and canarybot's own touch several keys at once: in a Cluster they must share a slot.
    message: "with Redis Cluster it must be a hash tag in braces, e.g. {canarybot}",
  });
export type EnvConfig = z.infer<typeof EnvConfig>;

/** Parse the environment; on failure name every bad variable before anything connects. */
export function loadEnvConfig(env: Record<string, string | undefined> = process.env): EnvConfig {
  const parsed = EnvConfig.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new CanaryError(ErrorCode.InvalidInput, `bad environment: ${describeIssues(parsed.error)}`);
}

/** "REDIS_URL: must be a redis:// URL; WORKER_CONCURRENCY: too small" */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}
