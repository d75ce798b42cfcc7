import { MIN_INTERVAL_MS, planProblems, problemsText } from "./plan.ts";
import type { AnalysisPolicy, Plan, Problem, ReleaseWindow, TargetSpec, Webhook } from "./types.ts";
import { parseWebhookFlag } from "./webhook-flag.ts";
import { parseDuration, parseHeader, parsePercentage, parsePercentList } from "./values.ts";
import type { Checked, ParsedField } from "./values.ts";

/** `start` options as typed by a person, in Slack or on the command line: one grammar for both. */
export type StartOptions = {
  service: string;
  canary?: string;
  stable?: string;
  namespace?: string;
  virtualService?: string;
  /** A Gateway API HTTPRoute carries the split instead of a VirtualService: its name. */
  httpRoute?: string;
  route?: string;
  host?: string;
  context?: string;
  meshContext?: string;
  steps?: string;
  interval?: string;
  approveAt?: string;
  /** How long the canary's pods may stay unhealthy before a rollback (`10m`). */
  progressDeadline?: string;
  header?: string;
  /** false lets the starter approve their own gates (the rule is on by default). */
  twoPerson?: boolean;
  /** false steps on schedule without judging metrics. */
  analysis?: boolean;
  minSuccess?: string;
  maxP99?: string;
  maxErrorIncrease?: string;
  maxP99Ratio?: string;
  minRequests?: string;
  failureLimit?: string;
  /** Start later, at this wall-clock time (`2026-12-01 09:00 Europe/Berlin`): a scheduled start. */
  at?: string;
  /** Webhooks of this start only, one `--webhook` each (`type=rollout,url=http://…`; see webhook-flag.ts). */
  webhook?: string[];
};

/** What a start brings beyond the typed options: webhooks for this start only, after the service's own. */
export type StartExtras = { webhooks?: Webhook[] };

/** Where defaults come from: the config file for a known service, else these. */
export type StartDefaults = {
  namespace: string;
  steps: number[];
  intervalMs: number;
  approvalGates: number[];
  twoPersonRule: boolean;
  /** Shortest interval allowed. */
  minIntervalMs: number;
  /** Undefined when no metrics provider is configured: then a plan cannot carry analysis. */
  analysis?: AnalysisPolicy;
  /** The service's release windows, carried by every plan. */
  windows?: ReleaseWindow[];
  /** The service's webhooks, carried by every plan (a start's own come after them). */
  webhooks?: Webhook[];
  /** The service's progress deadline; absent, the core's default. */
  progressDeadlineMs?: number;
};

export const BUILTIN_DEFAULTS: StartDefaults = {
  namespace: "default",
  steps: [5, 10, 25, 50, 100],
  intervalMs: 60_000,
  approvalGates: [],
  twoPersonRule: true,
  minIntervalMs: MIN_INTERVAL_MS,
};

export type StartSpec = { target: TargetSpec; plan: Plan };

/** Turn typed options into a target and a sound plan, or every problem found, each naming its option. */
export function buildStartSpec(
  options: StartOptions,
  defaults: StartDefaults,
  extras: StartExtras = {},
): Checked<StartSpec> {
  const problems: Problem[] = [];
  const take = <T>(parsed: ParsedField<T> | undefined, fallback: T): T => {
    if (!parsed) return fallback;
    if (parsed.ok) return parsed.value;
    problems.push(parsed.problem);
    return fallback;
  };
  const service = options.service.trim();
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(service)) {
    problems.push({ field: "service", message: `"${options.service}" is not a Kubernetes name` });
  }
  if (!options.canary)
    problems.push({ field: "canary", message: "which subset is the canary? (--canary v2)" });
  const steps = take(
    options.steps === undefined ? undefined : parsePercentList(options.steps),
    defaults.steps,
  );
  const intervalMs = take(
    options.interval === undefined ? undefined : parseDuration(options.interval),
    defaults.intervalMs,
  );
  const approvalGates = take(
    options.approveAt === undefined ? undefined : parsePercentList(options.approveAt, "approve-at"),
    defaults.approvalGates,
  );
  const progressDeadlineMs = take(
    options.progressDeadline === undefined
      ? undefined
      : parseDuration(options.progressDeadline, "progress-deadline"),
    defaults.progressDeadlineMs,
  );
  const headerMatch = options.header === undefined ? undefined : take(parseHeader(options.header), undefined);
  const analysis = buildAnalysis(options, defaults, problems);
  const flagHooks = (options.webhook ?? []).flatMap((text) => {
    const hook = take<Webhook | undefined>(parseWebhookFlag(text), undefined);
    return hook ? [hook] : [];
  });

  const plan: Plan = {
    steps,
    intervalMs,
    approvalGates,
    twoPersonRule: options.twoPerson ?? defaults.twoPersonRule,
    ...(headerMatch ? { headerMatch } : {}),
    ...(analysis ? { analysis } : {}),
    ...(defaults.windows ? { windows: defaults.windows } : {}),
    ...webhooksFor(defaults, { webhooks: [...(extras.webhooks ?? []), ...flagHooks] }),
    ...(progressDeadlineMs === undefined ? {} : { progressDeadlineMs }),
  };
  if (problems.length === 0) problems.push(...planProblems(plan, defaults.minIntervalMs));
  if (problems.length > 0) return { ok: false, error: problemsText(problems), problems };

  if (options.httpRoute !== undefined && options.virtualService !== undefined) {
    const problem = { field: "virtual-service, http-route", message: "name one route object, not both" };
    return { ok: false, error: problemsText([problem]), problems: [problem] };
  }
  const target: TargetSpec = {
    namespace: options.namespace ?? defaults.namespace,
    service,
    virtualService: options.httpRoute ?? options.virtualService ?? service,
    ...(options.httpRoute === undefined ? {} : { router: "httproute" as const }),
    host: options.host ?? service,
    canarySubset: options.canary ?? "",
    ...(options.stable ? { stableSubset: options.stable } : {}),
    ...(options.route ? { route: options.route } : {}),
    ...(options.context ? { context: options.context } : {}),
    ...(options.meshContext ? { meshContext: options.meshContext } : {}),
  };
  if (target.stableSubset === target.canarySubset) {
    const problem = { field: "canary", message: `"${target.canarySubset}" is also the stable subset` };
    return { ok: false, error: problemsText([problem]), problems: [problem] };
  }
  return { ok: true, value: { target, plan } };
}

/** The service's webhooks, then the start's: a plan copies them, so a rollout is self-contained. */
function webhooksFor(defaults: StartDefaults, extras: StartExtras): { webhooks?: Webhook[] } {
  const webhooks = [...(defaults.webhooks ?? []), ...(extras.webhooks ?? [])];
  return webhooks.length > 0 ? { webhooks } : {};
}

function buildAnalysis(
  options: StartOptions,
  defaults: StartDefaults,
  problems: Problem[],
): AnalysisPolicy | undefined {
  const tuned = [
    options.minSuccess,
    options.maxP99,
    options.maxErrorIncrease,
    options.maxP99Ratio,
    options.minRequests,
    options.failureLimit,
  ].some((value) => value !== undefined);
  if (options.analysis === false) {
    if (tuned) problems.push({ field: "analysis", message: "thresholds given together with --no-analysis" });
    return undefined;
  }
  const base = defaults.analysis;
  if (!base) {
    if (tuned)
      problems.push({
        field: "analysis",
        message: "thresholds given, but no metrics provider is configured (PROMETHEUS_URL)",
      });
    return undefined;
  }
  const number = (text: string | undefined, field: string, fallback: number, min: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text.replace(/x$/, ""));
    if (!Number.isFinite(value) || value < min) {
      problems.push({ field, message: `"${text}" is not a number of at least ${min}` });
      return fallback;
    }
    return value;
  };
  const percent = (text: string | undefined, field: string, fallback: number): number => {
    if (text === undefined) return fallback;
    const parsed = parsePercentage(text, field);
    if (parsed.ok) return parsed.value;
    problems.push(parsed.problem);
    return fallback;
  };
  const maxP99 = options.maxP99 === undefined ? undefined : parseDuration(options.maxP99, "max-p99", "ms");
  if (maxP99 && !maxP99.ok) problems.push(maxP99.problem);
  return {
    ...base,
    minSuccessRate: percent(options.minSuccess, "min-success", base.minSuccessRate),
    maxP99Ms: maxP99?.ok ? maxP99.value : base.maxP99Ms,
    maxErrorRateIncrease: percent(options.maxErrorIncrease, "max-error-increase", base.maxErrorRateIncrease),
    maxP99Ratio: number(options.maxP99Ratio, "max-p99-ratio", base.maxP99Ratio, 1),
    minRequests: Math.round(number(options.minRequests, "min-requests", base.minRequests, 0)),
    failureLimit: Math.round(number(options.failureLimit, "failure-limit", base.failureLimit, 1)),
  };
}
