/** Where a rollout moves traffic: one HTTP route of one VirtualService, between two DestinationRule subsets. */
export type Target = {
  /**
   * kubeconfig context of the workloads: where the subsets' Deployments and pods are checked (and, without
   * `meshContext`, the route too); undefined means the current context (or in-cluster).
   */
  context?: string;
  /**
   * kubeconfig context of the mesh, when its control plane lives in another cluster (a managed mesh, an external
   * Istio): where the VirtualService and DestinationRules are read and written. Undefined: `context`.
   */
  meshContext?: string;
  namespace: string;
  /** The service being released, as people name it (`reviews`); also the metrics' destination service name. */
  service: string;
  /** Name of the route object: the VirtualService, or with `router: "httproute"` the HTTPRoute. */
  virtualService: string;
  /**
   * What carries the split: an Istio VirtualService (absent or `istio`), or a Gateway API HTTPRoute (`httproute`),
   * whose subsets are backend Services (`reviews-v1` → `reviews-v2`).
   */
  router?: RouterKind;
  /** Name of the managed HTTP route; undefined means "the one route that sends traffic to the stable subset". */
  route?: string;
  /** Destination host of the managed route (`reviews`, `reviews.default.svc.cluster.local`). */
  host: string;
  stableSubset: string;
  canarySubset: string;
};

export const ROUTER_KINDS = ["istio", "httproute"] as const;
export type RouterKind = (typeof ROUTER_KINDS)[number];

/**
 * The Kubernetes cluster a rollout was started on. The API server URL is the identity (two kubeconfigs naming one
 * server by different context names reach the same cluster); the context name is kept to tell people which to use.
 */
export type ClusterRef = { server: string; context?: string };

/** A target as requested: the stable subset may be left for the router to read off the live route. */
export type TargetSpec = Omit<Target, "stableSubset"> & { stableSubset?: string };

export type HeaderMatch = { name: string; value: string };

/** Thresholds a snapshot is judged against; see metrics/analysis. */
export type AnalysisPolicy = {
  /** Canary success rate at least this share, 0..1. */
  minSuccessRate: number;
  /** Canary p99 latency at most this many milliseconds. */
  maxP99Ms: number;
  /** Canary error rate at most stable error rate plus this share (0.01 = one percentage point). */
  maxErrorRateIncrease: number;
  /** Canary p99 at most this multiple of the stable p99. */
  maxP99Ratio: number;
  /** Fewer canary requests than this in the window makes the verdict inconclusive. */
  minRequests: number;
  /** Failed ticks in a row (a passing tick resets the count) that trigger an automatic rollback. */
  failureLimit: number;
  /** Canary success rate below this share rolls back on the first tick. */
  criticalSuccessRate: number;
  /** Inconclusive ticks in a row that pause the rollout. */
  inconclusiveLimit: number;
  /** Custom PromQL checks from config. */
  customChecks: CustomCheck[];
  /** How the relative checks compare canary and stable (see metrics/analysis); absent: `statistical`. */
  judge?: RelativeJudge;
  /** Confidence the statistical judge needs to fail a relative check, 0.5..0.9999; absent: 0.95. */
  confidence?: number;
  /** Whose metrics judge the canary; absent: Istio's, subsets found as the deployment says. */
  metrics?: MetricsSource;
};

/** The mesh whose proxies report the metrics a rollout is judged by (see docs/metrics.md). */
export const MetricsMesh = {
  Istio: "istio",
  Linkerd: "linkerd",
} as const;
export type MetricsMesh = (typeof MetricsMesh)[keyof typeof MetricsMesh];

export type MetricsSource = {
  mesh: MetricsMesh;
  /**
   * The Deployment of each subset, where the metrics tell subsets apart by workload (Linkerd's `deployment`,
   * Istio's `destination_workload`): `{ v1: "reviews-main", v2: "reviews-canary" }`; a subset not named here is
   * `<service>-<subset>` (`reviews-v2`).
   */
  deployments?: Record<string, string>;
};

/**
 * - `statistical`: a breach of a relative check fails only when a test shows it with the policy's confidence
 *   (a binomial test on the canary's error count, a Mann-Whitney U test on its latencies); a breach the sample
 *   cannot confirm is inconclusive.
 * - `threshold`: compare the measured values; a percentile the canary's requests cannot support is inconclusive.
 */
export const RelativeJudge = {
  Statistical: "statistical",
  Threshold: "threshold",
} as const;
export type RelativeJudge = (typeof RelativeJudge)[keyof typeof RelativeJudge];

export type CustomCheck = {
  name: string;
  /** PromQL with {{namespace}} {{service}} {{canary}} {{stable}} {{interval}} placeholders. */
  query: string;
  min?: number;
  max?: number;
};

/** When steps may be taken: the minutes a cron expression matches, read in a time zone (IANA name). */
export type ReleaseWindow = { cron: string; timezone: string };

/** A span (ms since epoch, `to` excluded) in which no rollout of a service may start, and why. */
export type Freeze = { from: number; to: number; reason: string };

export type Plan = {
  /** Canary weights in percent, strictly increasing within 1..100; the last is where the rollout promotes. */
  steps: number[];
  /** Time between ticks in milliseconds. */
  intervalMs: number;
  /** Weights (from `steps`) at which the rollout waits for an approval before going further. */
  approvalGates: number[];
  /** The starter cannot approve their own gate. */
  twoPersonRule: boolean;
  /** Optional first stage: only requests carrying this header reach the canary, until approved. */
  headerMatch?: HeaderMatch;
  /** Absent: the rollout steps on schedule without metric analysis. */
  analysis?: AnalysisPolicy;
  /** Absent or empty: steps may be taken at any time. Otherwise only inside one of these windows. */
  windows?: ReleaseWindow[];
  /** Flagger-compatible webhooks, copied from the config file and the start, so a rollout is self-contained. */
  webhooks?: Webhook[];
  /**
   * How long the canary's pods may stay unready or crash-looping before the rollout rolls back (Flagger's
   * `progressDeadlineSeconds`). Absent: 10 minutes.
   */
  progressDeadlineMs?: number;
};

/** Flagger's webhook types; see docs/webhooks.md for when each is called and what its answer decides. */
export const HookType = {
  ConfirmRollout: "confirm-rollout",
  PreRollout: "pre-rollout",
  Rollout: "rollout",
  ConfirmTrafficIncrease: "confirm-traffic-increase",
  ConfirmPromotion: "confirm-promotion",
  PostRollout: "post-rollout",
  Rollback: "rollback",
  Event: "event",
} as const;
export type HookType = (typeof HookType)[keyof typeof HookType];

/** One webhook as Flagger's `analysis.webhooks[]` spells it, with the timeout in milliseconds. */
export type Webhook = {
  name: string;
  type: HookType;
  url: string;
  timeoutMs: number;
  /** Sent as is in the request body; may hold secrets, so it is never logged or audited. */
  metadata?: Record<string, string>;
  /** Further attempts after a connection error, a timeout or a 5xx. */
  retries: number;
};

/** One call of a webhook, as the audit and the rollout message show it: never the metadata. */
export type HookResult = {
  name: string;
  type: HookType;
  /** Flagger's success: an answer with status 200-202. */
  ok: boolean;
  /** HTTP status of the last attempt; undefined when no answer came (timeout, refused connection). */
  status?: number;
  durationMs: number;
  attempts: number;
  /** The answer's body (or the error), truncated and with secrets redacted. */
  answer: string;
};

/** Flagger's canary phases, the values of a webhook payload's `phase`. */
export const FlaggerPhase = {
  Initializing: "Initializing",
  Initialized: "Initialized",
  Waiting: "Waiting",
  Progressing: "Progressing",
  WaitingPromotion: "WaitingPromotion",
  Promoting: "Promoting",
  Finalising: "Finalising",
  Succeeded: "Succeeded",
  Failed: "Failed",
  Terminating: "Terminating",
  Terminated: "Terminated",
} as const;
export type FlaggerPhase = (typeof FlaggerPhase)[keyof typeof FlaggerPhase];

export const Phase = {
  Preflight: "preflight",
  HeaderStage: "header-stage",
  Progressing: "progressing",
  Paused: "paused",
  AwaitingApproval: "awaiting-approval",
  Promoted: "promoted",
  RollingBack: "rolling-back",
  RolledBack: "rolled-back",
  Failed: "failed",
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

export const TERMINAL_PHASES: readonly Phase[] = [Phase.Promoted, Phase.RolledBack, Phase.Failed];
export const LIVE_PHASES: readonly Phase[] = [
  Phase.Preflight,
  Phase.HeaderStage,
  Phase.Progressing,
  Phase.Paused,
  Phase.AwaitingApproval,
  Phase.RollingBack,
];

/** Who did something: a Slack user (`U123`), a CLI user (`cli:alice`), or canarybot itself. */
export type Actor = string;
export const SYSTEM_ACTOR: Actor = "canarybot";

export const PauseCause = {
  User: "user",
  Drift: "drift",
  Inconclusive: "inconclusive",
  Error: "error",
} as const;
export type PauseCause = (typeof PauseCause)[keyof typeof PauseCause];

export type Approval = { by: Actor; at: number; stepIndex: number };

export const CheckStatus = {
  Pass: "pass",
  Fail: "fail",
  Inconclusive: "inconclusive",
} as const;
export type CheckStatus = (typeof CheckStatus)[keyof typeof CheckStatus];

/** How a check's value reads: `share` (0..1, shown as a percentage), `ms`, `requests`; absent: a plain number. */
export type CheckUnit = "share" | "ms" | "requests";

/** One judged check: what was measured, against what, and the outcome. Values are data, never exceptions. */
export type CheckResult = {
  name: string;
  status: CheckStatus;
  /** The unit of `value`, so that it is shown in the threshold's terms (88.2% vs ≥ 99%). */
  unit?: CheckUnit;
  /** Measured value (undefined when nothing could be read). */
  value?: number;
  /** Human rendering of the threshold, e.g. ">= 99%" or "<= 1.25x stable (120ms)". */
  threshold: string;
  /** Why the check is inconclusive or failed, in words. */
  detail?: string;
  /** A breach so severe it rolls back at once. */
  critical?: boolean;
};

/** Requests of a window in one latency histogram bucket: those slower than `fromMs` (the bucket's lower bound). */
export type LatencyBucket = { fromMs: number; count: number };

export type SubsetMetrics = {
  requestRate?: number;
  successRate?: number;
  p50Ms?: number;
  p90Ms?: number;
  p99Ms?: number;
  requests?: number;
  /** Requests answered 5xx in the window. */
  errors?: number;
  /** Requests by latency histogram bucket, fastest first, empty buckets left out: the rank test's samples. */
  latencyBuckets?: LatencyBucket[];
};

export type MetricsSnapshot = {
  at: number;
  windowSeconds: number;
  canaryWeight: number;
  canary: SubsetMetrics;
  stable: SubsetMetrics;
  /** Custom check values by check name (undefined: no data). Absent when the plan has no custom checks. */
  custom?: Record<string, number | undefined>;
  /** Set when Prometheus could not be read at all. */
  unavailable?: string;
};

export type Verdict = {
  status: CheckStatus;
  checks: CheckResult[];
  snapshot?: MetricsSnapshot;
};

/** What a tick saw of the canary's pods: how many there are, how many are ready, and their restarts in total. */
export type PodHealth = {
  pods: number;
  ready: number;
  restarts: number;
  /** Why a container waits, when one does (`CrashLoopBackOff`, `ImagePullBackOff`). */
  waiting?: string;
};

/** A tick's look at the canary's pods: what it saw, or why it could not see them. */
export type PodObservation = PodHealth | { unreadable: string };

/** The canary's pods as the ticks have seen them. */
export type PodWatch = {
  /** When they were last looked at, and what was seen. */
  at: number;
  observed: PodObservation;
  /** Restarts in total at the last look that could read them: a rise since is a crash. */
  restarts?: number;
  /** Since when they have been unhealthy without a healthy look between; absent while healthy. */
  unhealthySince?: number;
  /** Why they are unhealthy, in words; absent while healthy. */
  problem?: string;
};

export type Rollout = {
  /** Short and human: `reviews-12`. */
  id: string;
  /** Compare-and-set version, bumped on every persisted change. */
  version: number;
  target: Target;
  plan: Plan;
  phase: Phase;
  /** Index into plan.steps of the desired weight; -1 before the first step. The weight is derived. */
  stepIndex: number;
  /** Weight the route was last confirmed to carry (what the router wrote); drift is judged against it. */
  appliedWeight: number;
  /** When the route was confirmed at its current weight: a metrics window must not reach back before it. */
  routeSince?: number;
  /** Whether the header stage route is in place. */
  headerRouteActive: boolean;
  /** Failed ticks since the last passing one. */
  failedChecks: number;
  /** Inconclusive ticks in a row. */
  inconclusiveStreak: number;
  approvals: Approval[];
  /**
   * Set while a rollback's restore keeps failing: how often it was tried, since when, and the last error (already
   * redacted). People are alerted once when it starts failing, not on every retry.
   */
  restoreFailure?: { attempts: number; since: number; lastError: string; alertedAt: number };
  /** The cluster the rollout was started on: only processes configured for it act on it. */
  cluster?: ClusterRef;
  /** Set while a step waits for its release window to open: when it opens (ms since epoch). */
  heldUntil?: number;
  /** Set while the next tick is overdue (no worker for its cluster, a stuck queue); cleared by the next tick. */
  overdue?: { tick: number; since: number; detail: string };
  /** Why the rollout is paused, shown to people. */
  reason?: string;
  /** What paused it: resume after a drift takes the route back from whoever edited it. */
  pauseCause?: PauseCause;
  /** The phase a pause interrupted, so resume knows where to go back to. */
  resumeTo?: Phase;
  startedBy: Actor;
  createdAt: number;
  updatedAt: number;
  /** Monotonic tick counter; scheduled ticks carry it so a stale or duplicated job is harmless. */
  tick: number;
  /** When the next tick is due (ms since epoch), if one is scheduled. */
  nextTickAt?: number;
  /**
   * The channel the rollout reports to. Where its message lives (the ts) is a delivery record
   * (`notify/delivery-records.ts`), not rollout state: posting the message leaves the version alone.
   */
  report?: { channel: string };
  /** The managed route as it was before the rollout began, for an exact restore. Opaque to the core. */
  baseline?: unknown;
  /** DestinationRule subset labels seen at preflight ({ v2: { version: "v2" } }): metrics select by them. */
  subsetLabels?: Record<string, Record<string, string>>;
  /** Latest verdicts' snapshots, newest last, bounded. */
  snapshots: MetricsSnapshot[];
  lastVerdict?: Verdict;
  /**
   * How it ends, who decided and why: set when the ending is decided (a rollback requested, a promotion decided),
   * which can be before the route confirms it. `phase` says whether it is over.
   */
  outcome?: { at: number; by: Actor; reason: string };
  /** The latest call of each webhook (by name), for the rollout message. */
  hookResults?: HookResult[];
  /** Set while a webhook gate holds the rollout (confirm-rollout, pre-rollout, confirm-*): what it waits for. */
  waitingFor?: string;
  /** The canary's pods as the ticks last saw them; absent before the first look. */
  pods?: PodWatch;
};

export type RolloutEvent =
  | { type: "preflight-passed"; baseline: unknown; subsetLabels: Record<string, Record<string, string>> }
  | { type: "preflight-failed"; reason: string }
  /**
   * A due tick. `windowOpensAt` is set when the plan has release windows and now is outside all of them: when the
   * next one opens (when none opens within the calendar's look-ahead, the end of it).
   */
  | {
      type: "tick";
      tick: number;
      verdict?: Verdict;
      windowOpensAt?: number;
      hooks?: HookResult[];
      /** The canary's pods as the tick saw them; absent when nobody looked. */
      pods?: PodObservation;
    }
  | { type: "approve"; by: Actor }
  | { type: "promote"; by: Actor }
  | { type: "pause"; by: Actor; reason?: string }
  | { type: "resume"; by: Actor }
  | { type: "rollback"; by: Actor; reason: string }
  | { type: "drift-detected"; detail: string }
  /** The router confirmed the route now carries this weight (and header route state). */
  | { type: "weights-applied"; weight: number; headerRouteActive: boolean }
  /** The router confirmed the managed route is back to its baseline and the header route is gone. */
  | { type: "route-restored" }
  /** An outside system failed past its retries: hold the weight and tell the channel. */
  | { type: "error"; kind: string; detail: string }
  /** The managed route no longer exists (its VirtualService was deleted): a rollback has nothing to restore. */
  | { type: "route-gone"; detail: string }
  /** Nobody has run tick `tick` long after it was due (no worker for the rollout's cluster, a stuck queue). */
  | { type: "tick-overdue"; tick: number; detail: string }
  /** Event and post-rollout webhooks were called (after the change that asked for them): record the results. */
  | { type: "webhooks-called"; results: HookResult[] };

export type RolloutEventType = RolloutEvent["type"];

/** What is wrong with one field of what a person typed or configured (`steps`, `approve-at`, `--host`, …). */
export type Problem = { field: string; message: string };

/** An event a person sends; system events come from ticks and adapters. */
export type HumanEvent = Extract<
  RolloutEvent,
  { type: "approve" | "promote" | "pause" | "resume" | "rollback" }
>;

/** A start as both inputs (Slack, the CLI) hand it to the service. */
export type StartRequest = {
  target: TargetSpec;
  plan: Plan;
  by: Actor;
  report?: { channel: string };
  /** The service's freezes: a start inside one is refused... */
  freezes?: readonly Freeze[];
  /** ...unless a person breaks the glass (CLI `--ignore-freeze`), which the audit records. */
  ignoreFreeze?: boolean;
};

/** A start someone asked for at a later time (`start --at`). */
export type ScheduledStart = {
  /** `reviews@3`: the service and a number of its own. */
  id: string;
  /** When it starts, ms since epoch. */
  at: number;
  request: StartRequest;
  createdAt: number;
};

/** A scheduled start refused when its time came, kept so that `list` can say so. */
export type FailedScheduledStart = ScheduledStart & { failedAt: number; reason: string };

export const NotificationKind = {
  /** A snapshot reply in the rollout's thread. */
  Snapshot: "snapshot",
  /** A top-level alert mentioning the people who must know. */
  Alert: "alert",
} as const;
export type NotificationKind = (typeof NotificationKind)[keyof typeof NotificationKind];

/**
 * What the adapters must do. The rollout message itself is not an effect: the service re-renders it after
 * every persisted change, so it always shows the latest state.
 */
export type Effect =
  /** Bring the route to this state; `force` skips the drift guard (a human resumed after a drift). */
  | { type: "set-weights"; canaryWeight: number; headerRoute: boolean; force?: boolean }
  | { type: "restore-route" }
  | { type: "schedule-tick"; tick: number; delayMs: number }
  | { type: "notify"; kind: NotificationKind; text: string }
  | { type: "audit"; entry: AuditEntry }
  /**
   * Call an event or post-rollout webhook once the change is saved; its result never changes the outcome. `phase` is
   * the Flagger phase the payload carries; `event` is set for event hooks.
   */
  | { type: "call-webhook"; hook: Webhook; phase: FlaggerPhase; event?: WebhookEvent };

/** What an event webhook is told, in Flagger's terms: `eventType` is a Kubernetes event type. */
export type WebhookEvent = { message: string; type: "Normal" | "Warning"; at: number };

export type AuditEntry = {
  at: number;
  rolloutId: string;
  actor: Actor;
  /** The event type, or `refused:<event>` for a refusal. */
  action: string;
  fromPhase: Phase;
  toPhase: Phase;
  canaryWeight: number;
  detail?: string;
  /** The checks of the verdict this entry was decided on (judged ticks), without their prose. */
  checks?: AuditCheck[];
};

export type AuditCheck = Pick<CheckResult, "name" | "status" | "value" | "unit" | "threshold">;

export type TransitionResult = {
  rollout: Rollout;
  effects: Effect[];
  /** Set when the event was refused (the rollout is returned unchanged); the reason is for people. */
  refused?: string;
};
