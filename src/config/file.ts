import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import { z } from "zod";
import { parseDuration, parseHeader, parsePercentage, parsePercentList } from "../rollout/values.ts";
import type { ParsedField } from "../rollout/values.ts";
import { CanaryError, ErrorCode, errorMessage } from "../errors.ts";
import { MAX_P99_MS, planProblems } from "../rollout/plan.ts";
import { HookType, MetricsMesh, ROUTER_KINDS } from "../rollout/types.ts";
import { MAX_WEBHOOK_RETRIES, MAX_WEBHOOK_TIMEOUT_MS } from "../rollout/webhooks.ts";
import { isCronExpression, isTimeZone } from "../schedule/release-calendar.ts";
import { BUILTIN_DEFAULTS } from "../rollout/start-request.ts";

/**
 * The config file (`--config` or `CANARYBOT_CONFIG`, YAML): the services Slack may drive, their targets and
 * defaults, and who may do what with them. Validated with zod; every problem names its path
 * (`services.reviews.approvers[0]: …`).
 */

const KUBE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const kubeName = (what: string) => z.string().regex(KUBE_NAME, `must be a Kubernetes ${what} name`);

/** Slack user ids start with U (W in Enterprise Grid), user group ids with S. */
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
export const SLACK_GROUP_ID = /^S[A-Z0-9]{2,}$/;
export const SLACK_CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

const principal = z
  .string()
  .regex(
    new RegExp(`${SLACK_USER_ID.source}|${SLACK_GROUP_ID.source}`),
    "must be a Slack user id (U…/W…) or user group id (S…), not a name",
  );
const principals = z.array(principal);
const channel = z.string().regex(SLACK_CHANNEL_ID, "must be a Slack channel id (C…/G…), not a #name");

/** A value the grammar's own parsers accept, re-using their messages. */
function parsedBy<T>(parse: (text: string) => ParsedField<T>) {
  return z.union([z.string(), z.number()]).transform((input, ctx): T => {
    const parsed = parse(String(input));
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: "custom", message: parsed.problem.message });
    return z.NEVER;
  });
}

const percentList = z
  .union([z.array(z.number().int()), z.string(), z.number().int()])
  .transform((input, ctx): number[] => {
    if (Array.isArray(input)) return input;
    const parsed = parsePercentList(String(input));
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: "custom", message: parsed.problem.message });
    return z.NEVER;
  });

const duration = parsedBy((text) => parseDuration(text));
const durationMs = parsedBy((text) => parseDuration(text, "duration", "ms"));
const percent = parsedBy((text) => parsePercentage(text, "percentage"));

export const ServiceDefaults = z
  .strictObject({
    /** `[5, 10, 25, 50, 100]` or `"5,10,25,50,100"`. */
    steps: percentList.optional(),
    /** `60s`, `2m`; a bare number is seconds. */
    interval: duration.optional(),
    /** Weights that wait for an approval: `50` or `[25, 50]`. */
    approveAt: percentList.optional(),
    /** How long the canary's pods may stay unready or crash-looping before a rollback: `10m` (Flagger's default). */
    progressDeadline: duration.optional(),
    /** A header stage for every start of this service unless one is given: `qa=canary-test`. */
    header: z
      .string()
      .refine((text) => parseHeader(text).ok, "must be name=value (e.g. qa=canary-test)")
      .optional(),
  })
  .superRefine((defaults, ctx) => {
    // The defaults must make a sound plan on their own (interval bounds are the deployment's, checked at start).
    // Checked here rather than on the service, so that a mistake elsewhere in the service does not hide these.
    const plan = {
      steps: defaults.steps ?? BUILTIN_DEFAULTS.steps,
      intervalMs: defaults.interval ?? BUILTIN_DEFAULTS.intervalMs,
      approvalGates: defaults.approveAt ?? BUILTIN_DEFAULTS.approvalGates,
      twoPersonRule: true,
    };
    for (const problem of planProblems(plan, 1)) {
      const field =
        problem.field === "approve-at" ? "approveAt" : problem.field === "interval" ? "interval" : "steps";
      ctx.addIssue({ code: "custom", path: [field], message: problem.message });
    }
  });
export type ServiceDefaults = z.infer<typeof ServiceDefaults>;

export const CustomCheckConfig = z.strictObject({
  name: z.string().min(1),
  query: z.string().min(1),
  min: z.number().optional(),
  max: z.number().optional(),
});

/** Threshold overrides, in the units of the `start` flags (percentages, durations). */
export const AnalysisOverrides = z.strictObject({
  /** false: this service's rollouts step on schedule without judging metrics. */
  enabled: z.boolean().optional(),
  minSuccess: percent.optional(),
  criticalSuccess: percent.optional(),
  maxP99: durationMs
    .refine((ms) => ms <= MAX_P99_MS, `must be at most ${MAX_P99_MS / 3_600_000}h`)
    .optional(),
  maxErrorIncrease: percent.optional(),
  maxP99Ratio: z.number().min(1).optional(),
  minRequests: z.number().int().min(0).optional(),
  failureLimit: z.number().int().min(1).optional(),
  inconclusiveLimit: z.number().int().min(1).optional(),
  customChecks: z.array(CustomCheckConfig).optional(),
});
export type AnalysisOverrides = z.infer<typeof AnalysisOverrides>;

/** Minutes in which steps may be taken: `{ cron: "* 9-16 * * 1-5", timezone: Europe/Berlin }` = 09:00–16:59 weekdays. */
export const ReleaseWindowConfig = z.strictObject({
  cron: z
    .string()
    .refine(isCronExpression, "must be a five-field cron expression (minute hour day month weekday)"),
  timezone: z
    .string()
    .refine(isTimeZone, "must be an IANA time zone such as Europe/Berlin or UTC")
    .default("UTC"),
});

const instant = z.union([z.string(), z.date()]).transform((input, ctx): number => {
  const ms = input instanceof Date ? input.getTime() : Date.parse(input);
  if (!Number.isNaN(ms)) return ms;
  ctx.addIssue({
    code: "custom",
    message: "must be a date or date-time, e.g. 2026-12-20 or 2026-12-20T18:00:00+01:00",
  });
  return z.NEVER;
});

/** No start from `from` (included) to `to` (excluded): `{ from: 2026-12-20, to: 2027-01-04, reason: holiday freeze }`. */
export const FreezeConfig = z
  .strictObject({ from: instant, to: instant, reason: z.string().min(1) })
  .refine((freeze) => freeze.from < freeze.to, { path: ["to"], message: "must be after from" });

/**
 * The daily digest of a service's rollouts: posted at `at` (24-hour `HH:MM`) in `timezone`, about the day before in
 * that zone, to `channel` (default: the service's first channel).
 */
const digestFields = {
  at: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be a 24-hour time such as 09:00"),
  timezone: z.string().refine(isTimeZone, "must be an IANA time zone such as Europe/Berlin or UTC"),
  channel: channel,
};
export const DigestConfig = z.strictObject({
  at: digestFields.at.default("09:00"),
  timezone: digestFields.timezone.default("UTC"),
  channel: digestFields.channel.optional(),
});
/** A service's changes to the file's digest, with no defaults of its own. */
const DigestOverrides = z.strictObject(digestFields).partial();
export type DigestConfig = z.infer<typeof DigestConfig>;

/** One webhook, as Flagger's `analysis.webhooks[]` spells it (see docs/webhooks.md). */
export const WebhookConfig = z.strictObject({
  name: z.string().min(1),
  type: z.enum(Object.values(HookType) as [HookType, ...HookType[]]),
  url: z.string().refine((text) => /^https?:\/\/[^\s/]+/.test(text), "must be an http:// or https:// URL"),
  /** `15s`, `3m`; Flagger's default 10s. */
  timeout: duration
    .refine((ms) => ms > 0 && ms <= MAX_WEBHOOK_TIMEOUT_MS, "must be more than 0 and at most 5m")
    .optional(),
  /** Further attempts after a connection error, a timeout or a 5xx. */
  retries: z.number().int().min(0).max(MAX_WEBHOOK_RETRIES).default(0),
  /** Sent in the request body as is (string values, as Flagger's); never logged. */
  metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
});
export type WebhookConfig = z.infer<typeof WebhookConfig>;

const webhookList = z.array(WebhookConfig).superRefine((hooks, ctx) => {
  hooks.forEach((hook, index) => {
    if (hooks.findIndex((other) => other.name === hook.name) !== index) {
      ctx.addIssue({
        code: "custom",
        path: [index, "name"],
        message: `"${hook.name}" is used twice: names tell hooks apart in the audit`,
      });
    }
  });
});

const mesh = z.enum(Object.values(MetricsMesh) as [MetricsMesh, ...MetricsMesh[]]);

/**
 * Whose metrics judge the service's canaries: `linkerd`, or `{ mesh: linkerd, deployments: { v1: reviews-main } }`
 * where a subset's Deployment is not `<service>-<subset>` (see docs/metrics.md). Absent: Istio's.
 */
export const MetricsConfig = z
  .union(
    [
      mesh,
      z.strictObject({
        mesh: mesh.default(MetricsMesh.Istio),
        /** Subset → Deployment name, where the metrics tell subsets apart by workload. */
        deployments: z.record(z.string().min(1), kubeName("Deployment")).optional(),
      }),
    ],
    { error: `must be ${Object.values(MetricsMesh).join(" or ")}, or { mesh, deployments }` },
  )
  .transform((input) => (typeof input === "string" ? { mesh: input } : input));
export type MetricsConfig = z.infer<typeof MetricsConfig>;

export const ServiceConfig = z
  .strictObject({
    namespace: kubeName("namespace").default("default"),
    /**
     * What carries the split: `istio`, an Istio VirtualService (the default), or `httproute`, a Gateway API
     * HTTPRoute whose subsets are backend Services.
     */
    router: z.enum(ROUTER_KINDS).optional(),
    /** Defaults to the service's name. */
    virtualService: kubeName("VirtualService").optional(),
    /** With `router: httproute`: the HTTPRoute; defaults to the service's name. */
    httpRoute: kubeName("HTTPRoute").optional(),
    /** Destination host of the managed route; defaults to the service's name. */
    host: z.string().min(1).optional(),
    /** Name of the managed HTTP route, when the VirtualService has several. */
    route: z.string().min(1).optional(),
    /** The stable subset; read off the live route when absent. */
    stable: z.string().min(1).optional(),
    /** kubeconfig context of the workloads (pods are checked there; the route too, without `meshContext`). */
    context: z.string().min(1).optional(),
    /** kubeconfig context of the mesh's cluster, where the route object and DestinationRules live. */
    meshContext: z.string().min(1).optional(),
    defaults: ServiceDefaults.default({}),
    analysis: AnalysisOverrides.optional(),
    /** Whose metrics judge the canary: `istio` (default) or `linkerd`. */
    metrics: MetricsConfig.optional(),
    /** Channels the service may be driven from (ids); anywhere when absent. */
    channels: z.array(channel).min(1, "list at least one channel, or leave `channels` out").optional(),
    /** Who may start, approve, promote and roll back: user and user group ids. Absent: anyone. */
    starters: principals.optional(),
    approvers: principals.optional(),
    /** Absent: the approvers. */
    promoters: principals.optional(),
    /** Absent: anyone who may start, approve or promote. */
    rollbackers: principals.optional(),
    /** Mentioned by alerts: a user or a user group. */
    onCall: principal.optional(),
    /** When steps may be taken; absent: any time. */
    windows: z
      .array(ReleaseWindowConfig)
      .min(1, "list at least one window, or leave `windows` out")
      .optional(),
    /** When no rollout of the service may start. */
    freezes: z.array(FreezeConfig).optional(),
    /** Flagger-compatible webhooks every rollout of the service calls. */
    webhooks: webhookList.optional(),
    /** The service's daily digest: what differs from the file's `digest`, or `false` for none. */
    digest: z.union([z.literal(false), DigestOverrides]).optional(),
  })
  .superRefine((service, ctx) => {
    const httpRoute = service.router === "httproute";
    if (service.httpRoute !== undefined && !httpRoute) {
      ctx.addIssue({ code: "custom", path: ["httpRoute"], message: "needs `router: httproute`" });
    }
    if (service.virtualService !== undefined && httpRoute) {
      ctx.addIssue({
        code: "custom",
        path: ["virtualService"],
        message: "is for `router: istio`; name the HTTPRoute with `httpRoute`",
      });
    }
  });
export type ServiceConfig = z.infer<typeof ServiceConfig>;

export const ConfigFile = z.strictObject({
  /** A daily digest for every service (each may change or turn it off); absent: only services that ask. */
  digest: DigestConfig.optional(),
  services: z.record(kubeName("service"), ServiceConfig),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

/** "services.reviews.approvers[0]" */
export function issuePath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else text += text === "" ? String(part) : `.${String(part)}`;
  }
  return text === "" ? "(top level)" : text;
}

/** Every problem, each naming its path. */
export function describeConfigIssues(error: z.ZodError): string[] {
  return error.issues.map(describeConfigIssue);
}

/** One problem: "services.reviews.approvers[0]: must be a Slack user id …". */
export function describeConfigIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    const where = issue.path.length > 0 ? `${issuePath(issue.path)}: ` : "";
    return `${where}unknown ${issue.keys.length === 1 ? "key" : "keys"} ${issue.keys.map((key) => `"${key}"`).join(", ")}`;
  }
  if (issue.code === "invalid_key") {
    return `${issuePath(issue.path)}: a service name must be a Kubernetes name (lower case, digits, -)`;
  }
  // zod reports no input by default: its message says what it received.
  if (issue.code === "invalid_type" && /received undefined$/.test(issue.message))
    return `${issuePath(issue.path)}: is required`;
  return `${issuePath(issue.path)}: ${issue.message}`;
}

/** Parse config text; `source` names the file in errors. Throws `invalid_input` listing every problem. */
export function parseConfigFile(text: string, source = "config"): ConfigFile {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    const problems = document.errors.map((error) => error.message.split("\n")[0] ?? error.message);
    throw new CanaryError(ErrorCode.InvalidInput, `${source}: not valid YAML: ${problems.join("; ")}`);
  }
  const raw: unknown = document.toJS() ?? {};
  const parsed = ConfigFile.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new CanaryError(
    ErrorCode.InvalidInput,
    `${source}: ${describeConfigIssues(parsed.error).join("; ")}`,
  );
}

/** Read and validate the config file at `path`. */
export async function loadConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const reason = errorMessage(error);
    throw new CanaryError(ErrorCode.InvalidInput, `config file ${path} cannot be read: ${reason}`, {
      cause: error,
    });
  }
  return parseConfigFile(text, path);
}

/** Where the config file is: the `--config` flag, else `CANARYBOT_CONFIG`; undefined when neither is set. */
export function configPathFrom(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const path = flag ?? env.CANARYBOT_CONFIG;
  return path === undefined || path.trim() === "" ? undefined : path;
}
