import type {
  AuditEntry,
  FlaggerPhase,
  HeaderMatch,
  HookResult,
  MetricsSnapshot,
  PodHealth,
  ReleaseWindow,
  Rollout,
  Target,
  Verdict,
  Webhook,
  WebhookEvent,
} from "./types.ts";

/** What preflight learns about a target before anything is touched. */
export type TargetInspection = {
  /** The managed HTTP route exactly as it is now: kept as the rollout's baseline for an exact restore. */
  baseline: unknown;
  /** Canary weight the route carries now (0 for a route that sends everything to the stable subset). */
  canaryWeight: number;
  /** networking.istio.io version the server serves and the router uses. */
  apiVersion: string;
  /** DestinationRule subset labels, e.g. { v1: { version: "v1" } }; metrics map subsets through them. */
  subsetLabels: Record<string, Record<string, string>>;
};

/** Where the router expects the route to be, so that someone else's edit is noticed instead of overwritten. */
export type RouteExpectation = {
  baseline: unknown;
  /** Weight and header-route state last confirmed written. */
  appliedWeight: number;
  headerRouteActive: boolean;
  /** Skip the drift guard (a human resumed after drift and takes the route back). */
  force?: boolean;
};

/**
 * The route objects one operation has read or written, shared by the router calls of that operation (a start's
 * preflight and first write; a tick's reconcile and its step) so that each object is read once. A router keeps
 * what it read or wrote under a key of its own choosing, and may compute its next write from it instead of reading
 * again: such a write must stay guarded (the object may have changed since), and on a conflict it reads afresh. A
 * router may ignore it. An entry may be a read still under way (`prefetch`): a write awaits it. Opaque to the
 * service, which makes one per operation.
 */
export type RouteReads = Map<string, unknown>;

/**
 * Moves traffic for one target. Istio VirtualService first; the shape fits Gateway API HTTPRoute backendRefs too.
 * Failures are CanaryErrors: `preflight_failed` (names what is missing), `drift` (the route is not what we left),
 * `not_found`, `kubernetes_unavailable` (retryable), `conflict` (retryable, after bounded re-reads).
 */
export type TrafficRouter = {
  /** Preflight: route, subsets, readiness of the pods behind each subset. Touches nothing. */
  inspect(target: Target, reads?: RouteReads): Promise<TargetInspection>;
  /** Set the canary weight (and the header route on or off); a no-op when the route already matches. */
  setWeights(
    target: Target,
    desired: { canaryWeight: number; headerMatch?: HeaderMatch; headerRouteActive: boolean },
    expected: RouteExpectation,
    reads?: RouteReads,
  ): Promise<void>;
  /** Put the managed route back to the baseline byte for byte and remove the header route. */
  restore(target: Target, baseline: unknown, reads?: RouteReads): Promise<void>;
  /**
   * Start reading the route into `reads` for a write the operation will make once it holds the rollout, so that
   * the read overlaps the lock and the load instead of following them. Never fails: a read that does leaves
   * nothing behind, and the write reads for itself.
   */
  prefetch(target: Target, reads: RouteReads): void;
  /**
   * The subset the managed route sends traffic to now, for a start that names no stable subset: the route named
   * `target.route`, else the one route to `target.host`; it must have exactly one destination subset.
   */
  currentSubset(target: Omit<Target, "stableSubset" | "canarySubset">): Promise<string>;
  /** The exact change `setWeights` would make from the live route, for `--dry-run`. Touches nothing. */
  describeChange(
    target: Target,
    desired: { canaryWeight: number; headerMatch?: HeaderMatch },
  ): Promise<string>;
};

/**
 * Looks at the pods behind a subset in the workload cluster (`target.context`): the pods of the namespace that carry
 * the subset's labels (and the host's Service selector). Failures are CanaryErrors; no pods is data.
 */
export type PodHealthProbe = {
  observe(target: Target, subsetLabels: Record<string, string>): Promise<PodHealth>;
};

/** Judges the canary of a rollout now: a snapshot from the metrics provider, weighed against the plan's policy. */
export type Analyzer = {
  analyze(rollout: Rollout, now: number): Promise<Verdict>;
};

/** Reads canary and stable metrics for a target over a window. Never throws for "no data": that is data. */
export type MetricsProvider = {
  snapshot(rollout: Rollout, windowSeconds: number, now: number): Promise<MetricsSnapshot>;
};

export type HistoryQuery = { service?: string; namespace?: string; limit?: number };

/** Durable rollout state. Every write is a compare-and-set on `version`. */
export type RolloutStore = {
  /** Allocate a short, human id for a service: `reviews-12`. */
  nextId(service: string): Promise<string>;
  /**
   * Create a rollout and claim its target atomically, with its first audit entries. Throws CanaryError
   * `already_active` naming the live rollout when the target is claimed.
   */
  create(rollout: Rollout, audit?: readonly AuditEntry[]): Promise<void>;
  get(id: string): Promise<Rollout | undefined>;
  /**
   * Save if the stored version equals `expectedVersion`; the saved rollout carries `expectedVersion + 1`. The
   * change's audit entries are appended in the same atomic step. Throws CanaryError `stale_version` otherwise.
   * Releases the target claim when the phase is terminal.
   */
  save(rollout: Rollout, expectedVersion: number, audit?: readonly AuditEntry[]): Promise<Rollout>;
  /** The live rollout on a target, if any. */
  activeFor(targetKey: string): Promise<string | undefined>;
  /** Live rollouts. */
  listActive(): Promise<Rollout[]>;
  /** Rollouts newest first, live or finished. */
  history(query: HistoryQuery): Promise<Rollout[]>;
  appendAudit(entry: AuditEntry): Promise<void>;
  audit(rolloutId: string): Promise<AuditEntry[]>;
};

/** Per-rollout mutual exclusion across processes. */
export type RolloutLock = {
  withLock<T>(rolloutId: string, fn: () => Promise<T>): Promise<T>;
};

/** Schedules tick jobs; ids make a duplicated or retried schedule harmless. */
export type TickScheduler = {
  schedule(rolloutId: string, tick: number, delayMs: number): Promise<void>;
};

/** What the people following a rollout are told. Failures here never stop a rollout. */
export type Notifier = {
  /**
   * Create or update the one rollout message. Delivery is asynchronous: whoever posts the message records where
   * it lives in the delivery records, beside the rollout.
   */
  update(rollout: Rollout): Promise<void>;
  snapshot(rollout: Rollout, text: string): Promise<void>;
  alert(rollout: Rollout, text: string): Promise<void>;
};

export type Clock = { now(): number };

/** Reads release windows. */
export type ReleaseCalendar = {
  /** Undefined when `now` is inside one of the windows; else when the next one opens. */
  nextOpening(windows: readonly ReleaseWindow[], now: number): number | undefined;
};

/** pino's shape, so the core's orchestration logs without importing pino. */
export type Logger = {
  info(meta: object, message: string): void;
  warn(meta: object, message: string): void;
  error(meta: object, message: string): void;
  child(bindings: object): Logger;
};

/** One webhook call in Flagger's terms: the canary's name and namespace, its phase and checksum, and the hook. */
export type WebhookCall = {
  hook: Webhook;
  name: string;
  namespace: string;
  phase: FlaggerPhase;
  checksum: string;
  /** Set for event webhooks: the message, its Kubernetes event type and when it happened. */
  event?: WebhookEvent;
};

/**
 * Calls webhooks with Flagger's request body. Never throws: a timeout, a refused connection or a non-2xx answer is a
 * result with `ok: false`, retried as the hook says, in a time bounded by its timeout and retries.
 */
export type WebhookCaller = {
  call(request: WebhookCall): Promise<HookResult>;
};
