import { closestMatch } from "../rollout/closest-match.ts";
import { problemsText } from "../rollout/plan.ts";
import { buildStartSpec } from "../rollout/start-request.ts";
import type { StartDefaults, StartExtras, StartOptions, StartSpec } from "../rollout/start-request.ts";
import type { Checked, Parsed } from "../rollout/values.ts";
import type { AnalysisPolicy, StartRequest, Webhook } from "../rollout/types.ts";
import { DEFAULT_WEBHOOK_TIMEOUT_MS } from "../rollout/webhooks.ts";
import { SLACK_CHANNEL_ID } from "./file.ts";
import type { ConfigFile, ServiceConfig, WebhookConfig } from "./file.ts";

/**
 * The services Slack may drive. Without a config file the directory is open: any VirtualService named in a
 * command, anyone may act (the two-person rule still holds).
 */
export type ServiceDirectory = {
  /** false: no config file was given. */
  readonly configured: boolean;
  readonly names: readonly string[];
  find(name: string): ServiceConfig | undefined;
  /** "did you mean" for an unknown service. */
  suggest(name: string): string | undefined;
};

export function serviceDirectory(config: ConfigFile | undefined): ServiceDirectory {
  const services = config?.services ?? {};
  const names = Object.keys(services).sort();
  return {
    configured: config !== undefined,
    names,
    find: (name) => (Object.hasOwn(services, name) ? services[name] : undefined),
    suggest: (name) => closestMatch(name, names),
  };
}

/** Start defaults for a service: the deployment's (`base`, from the environment) refined by its config entry. */
export function startDefaultsFor(base: StartDefaults, service: ServiceConfig | undefined): StartDefaults {
  if (!service) return base;
  const { defaults } = service;
  return {
    ...base,
    namespace: service.namespace,
    ...(defaults.steps ? { steps: defaults.steps } : {}),
    ...(defaults.interval !== undefined ? { intervalMs: defaults.interval } : {}),
    ...(defaults.approveAt ? { approvalGates: defaults.approveAt } : {}),
    ...(defaults.progressDeadline !== undefined ? { progressDeadlineMs: defaults.progressDeadline } : {}),
    ...(service.windows ? { windows: service.windows } : {}),
    ...(service.webhooks ? { webhooks: service.webhooks.map(webhookFrom) } : {}),
    ...analysisFor(base.analysis, service),
  };
}

/** A configured webhook as a plan carries it. */
export function webhookFrom(config: WebhookConfig): Webhook {
  return {
    name: config.name,
    type: config.type,
    url: config.url,
    timeoutMs: config.timeout ?? DEFAULT_WEBHOOK_TIMEOUT_MS,
    retries: config.retries,
    ...(config.metadata ? { metadata: config.metadata } : {}),
  };
}

function analysisFor(
  base: AnalysisPolicy | undefined,
  service: ServiceConfig,
): { analysis?: AnalysisPolicy } | Record<string, never> {
  const overrides = service.analysis;
  // Without a metrics provider nothing can be judged, whatever the file says.
  if (!base) return {};
  if (overrides?.enabled === false) return { analysis: undefined };
  const judged = service.metrics ? { ...base, metrics: service.metrics } : base;
  if (!overrides) return { analysis: judged };
  return {
    analysis: {
      ...judged,
      ...(overrides.minSuccess !== undefined ? { minSuccessRate: overrides.minSuccess } : {}),
      ...(overrides.criticalSuccess !== undefined ? { criticalSuccessRate: overrides.criticalSuccess } : {}),
      ...(overrides.maxP99 !== undefined ? { maxP99Ms: overrides.maxP99 } : {}),
      ...(overrides.maxErrorIncrease !== undefined
        ? { maxErrorRateIncrease: overrides.maxErrorIncrease }
        : {}),
      ...(overrides.maxP99Ratio !== undefined ? { maxP99Ratio: overrides.maxP99Ratio } : {}),
      ...(overrides.minRequests !== undefined ? { minRequests: overrides.minRequests } : {}),
      ...(overrides.failureLimit !== undefined ? { failureLimit: overrides.failureLimit } : {}),
      ...(overrides.inconclusiveLimit !== undefined
        ? { inconclusiveLimit: overrides.inconclusiveLimit }
        : {}),
      ...(overrides.customChecks ? { customChecks: overrides.customChecks } : {}),
    },
  };
}

/** Target options a person may not set for a configured service: its target is the config file's. */
const TARGET_OPTIONS = [
  ["namespace", "--namespace"],
  ["virtualService", "--virtual-service"],
  ["httpRoute", "--http-route"],
  ["host", "--host"],
  ["route", "--route"],
  ["context", "--context"],
  ["meshContext", "--mesh-context"],
] as const;

/**
 * The options a start runs with: what the person typed, with the service's target and defaults from the config
 * file filled in. A configured service's target cannot be overridden from Slack: the permissions belong to it.
 */
export function startOptionsFor(
  options: StartOptions,
  service: ServiceConfig | undefined,
): Checked<StartOptions> {
  if (!service) return { ok: true, value: options };
  const overridden = TARGET_OPTIONS.filter(([key]) => options[key] !== undefined).map(([, flag]) => flag);
  if (overridden.length > 0) {
    const problem = {
      field: overridden.join(", "),
      message: `the target of ${options.service} comes from the config file`,
    };
    return { ok: false, error: problemsText([problem]), problems: [problem] };
  }
  const header = options.header ?? service.defaults.header;
  const stable = options.stable ?? service.stable;
  return {
    ok: true,
    value: {
      ...options,
      namespace: service.namespace,
      ...(service.router === "httproute"
        ? { httpRoute: service.httpRoute ?? options.service }
        : { virtualService: service.virtualService ?? options.service }),
      host: service.host ?? options.service,
      ...(service.route ? { route: service.route } : {}),
      ...(service.context ? { context: service.context } : {}),
      ...(service.meshContext ? { meshContext: service.meshContext } : {}),
      ...(header ? { header } : {}),
      ...(stable ? { stable } : {}),
    },
  };
}

/** The target and plan of a start: what the person typed, `service`'s config entry and the defaults applied. */
export function startSpecFor(
  options: StartOptions,
  service: ServiceConfig | undefined,
  defaults: StartDefaults,
  extras: StartExtras = {},
): Checked<StartSpec> {
  const merged = startOptionsFor(options, service);
  if (!merged.ok) return merged;
  return buildStartSpec(merged.value, startDefaultsFor(defaults, service), extras);
}

/** A start as Slack and the command line hand it to the service: the spec, who asks, and the service's freezes. */
export function startRequestFor(
  options: StartOptions,
  service: ServiceConfig | undefined,
  defaults: StartDefaults,
  from: Pick<StartRequest, "by" | "report" | "ignoreFreeze">,
  extras: StartExtras = {},
): Checked<StartRequest> {
  const spec = startSpecFor(options, service, defaults, extras);
  if (!spec.ok) return spec;
  return {
    ok: true,
    value: { ...spec.value, ...from, ...(service?.freezes ? { freezes: service.freezes } : {}) },
  };
}

/**
 * Where a command-line start reports: the Slack channel its rollout message goes to (and people click Approve in),
 * checked against the service's `channels` when the config file names them. Undefined: no channel, the rollout
 * is only logged.
 */
export function reportChannel(
  channel: string | undefined,
  service: Pick<ServiceConfig, "channels"> | undefined,
  name: string,
): Parsed<{ channel: string } | undefined> {
  if (channel === undefined) return { ok: true, value: undefined };
  if (!SLACK_CHANNEL_ID.test(channel)) {
    return { ok: false, error: `--channel ${channel}: expected a Slack channel id (C…), not a #name` };
  }
  const allowed = service?.channels;
  if (allowed && !allowed.includes(channel)) {
    return {
      ok: false,
      error: `--channel ${channel}: ${name} reports only in ${allowed.join(", ")} (the config file's channels)`,
    };
  }
  return { ok: true, value: { channel } };
}
