import { CanaryError, ErrorCode } from "../../src/errors.ts";
import type {
  Analyzer,
  Clock,
  HistoryQuery,
  Logger,
  Notifier,
  ReleaseCalendar,
  RolloutLock,
  RolloutStore,
  TargetInspection,
  TickScheduler,
  TrafficRouter,
} from "../../src/rollout/ports.ts";
import { RolloutService } from "../../src/rollout/service.ts";
import type { ServiceDeps } from "../../src/rollout/service.ts";
import { targetKey } from "../../src/rollout/target.ts";
import { TERMINAL_PHASES } from "../../src/rollout/types.ts";
import type { AuditEntry, Rollout, Target, Verdict } from "../../src/rollout/types.ts";
import { passing } from "./verdicts.ts";

/**
 * In-memory fakes of the rollout service's ports, for unit tests of the service: each keeps the contract its port
 * documents (ports.ts), records what was done to it, and lets a test break it the way the real system breaks.
 */

export class FakeClock implements Clock {
  #now: number;

  constructor(now: number) {
    this.#now = now;
  }

  now(): number {
    return this.#now;
  }

  /** Time only moves forward: to `at`, or nowhere when it is already later. */
  advanceTo(at: number): void {
    this.#now = Math.max(this.#now, at);
  }

  advance(ms: number): void {
    this.#now += ms;
  }
}

/** One accepted save: the state it replaced, the state saved, the audit entries saved with it, and who saved it. */
export type Commit = { before: Rollout; after: Rollout; audit: readonly AuditEntry[]; writer?: string };

/** Rollouts, claims and audit entries in maps; every save is a compare-and-set, its audit appended in the same step. */
export class FakeRolloutStore implements RolloutStore {
  readonly #rollouts = new Map<string, Rollout>();
  readonly #claims = new Map<string, string>();
  readonly #audit = new Map<string, AuditEntry[]>();
  readonly #sequences = new Map<string, number>();
  /** Every accepted save, in order. */
  readonly commits: Commit[] = [];
  /** Called at each accepted save, before the caller learns of it. */
  onCommit: (commit: Commit) => void = () => {};

  async nextId(service: string): Promise<string> {
    const n = (this.#sequences.get(service) ?? 0) + 1;
    this.#sequences.set(service, n);
    return Promise.resolve(`${service}-${n}`);
  }

  async create(rollout: Rollout, audit: readonly AuditEntry[] = []): Promise<void> {
    const key = targetKey(rollout.target, rollout.cluster);
    const holder = this.#claims.get(key);
    if (holder !== undefined) {
      throw new CanaryError(ErrorCode.AlreadyActive, `${holder} is already live on ${key}`);
    }
    if (this.#rollouts.has(rollout.id)) {
      throw new CanaryError(ErrorCode.Conflict, `rollout ${rollout.id} already exists`);
    }
    this.#claims.set(key, rollout.id);
    this.#rollouts.set(rollout.id, copy(rollout));
    this.#entries(rollout.id).push(...audit.map(copy));
    return Promise.resolve();
  }

  async get(id: string): Promise<Rollout | undefined> {
    return Promise.resolve(this.peek(id));
  }

  /** The stored rollout, read without going through the port (for assertions). */
  peek(id: string): Rollout | undefined {
    const stored = this.#rollouts.get(id);
    return stored && copy(stored);
  }

  async save(rollout: Rollout, expectedVersion: number, audit: readonly AuditEntry[] = []): Promise<Rollout> {
    return Promise.resolve(this.commit(rollout, expectedVersion, audit));
  }

  /** `save`, naming the writer in the commit log. Synchronous: nothing can run between the check and the write. */
  commit(rollout: Rollout, expectedVersion: number, audit: readonly AuditEntry[], writer?: string): Rollout {
    const before = this.#rollouts.get(rollout.id);
    if (!before) throw new CanaryError(ErrorCode.NotFound, `rollout ${rollout.id} not found`);
    if (before.version !== expectedVersion) {
      throw new CanaryError(
        ErrorCode.StaleVersion,
        `rollout ${rollout.id} changed meanwhile (stored version ${before.version}, expected ${expectedVersion})`,
        { retryable: true },
      );
    }
    const after = copy({ ...rollout, version: expectedVersion + 1 });
    this.#rollouts.set(rollout.id, after);
    this.#entries(rollout.id).push(...audit.map(copy));
    if (TERMINAL_PHASES.includes(after.phase)) {
      const key = targetKey(after.target, after.cluster);
      if (this.#claims.get(key) === after.id) this.#claims.delete(key);
    }
    const commit: Commit = {
      before: copy(before),
      after: copy(after),
      audit: audit.map(copy),
      ...(writer === undefined ? {} : { writer }),
    };
    this.commits.push(commit);
    this.onCommit(commit);
    return copy(after);
  }

  async activeFor(key: string): Promise<string | undefined> {
    return Promise.resolve(this.#claims.get(key));
  }

  async listActive(): Promise<Rollout[]> {
    return Promise.resolve(this.all().filter((rollout) => !TERMINAL_PHASES.includes(rollout.phase)));
  }

  async history(query: HistoryQuery): Promise<Rollout[]> {
    const matching = this.all()
      .filter((rollout) => query.service === undefined || rollout.target.service === query.service)
      .filter((rollout) => query.namespace === undefined || rollout.target.namespace === query.namespace)
      .reverse();
    return Promise.resolve(matching.slice(0, query.limit ?? 20));
  }

  /** Every rollout, oldest first. */
  all(): Rollout[] {
    return [...this.#rollouts.values()].map(copy);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.#entries(entry.rolloutId).push(copy(entry));
    return Promise.resolve();
  }

  async audit(rolloutId: string): Promise<AuditEntry[]> {
    return Promise.resolve(this.#entries(rolloutId).map(copy));
  }

  #entries(rolloutId: string): AuditEntry[] {
    const entries = this.#audit.get(rolloutId) ?? [];
    this.#audit.set(rolloutId, entries);
    return entries;
  }
}

/** Per-rollout mutual exclusion within one test: callers queue in order, like processes on a Redis lock. */
export class FakeLock implements RolloutLock {
  readonly #tails = new Map<string, Promise<void>>();

  async withLock<T>(rolloutId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(rolloutId) ?? Promise.resolve();
    let release = (): void => {};
    const tail = previous.then(() => new Promise<void>((resolve) => (release = resolve)));
    this.#tails.set(rolloutId, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(rolloutId) === tail) this.#tails.delete(rolloutId);
    }
  }
}

/** The managed route of one VirtualService as the router sees it. */
export type LiveRoute = {
  canaryWeight: number;
  headerRoute: boolean;
  /** Set when someone other than canarybot wrote the route last (a `kubectl edit`). */
  editedBy?: string;
};

export type RouteChange = {
  target: Target;
  route: LiveRoute;
  how: "set-weights" | "restore";
  /** False when the write landed but its caller was told it failed (a timeout after the server applied it). */
  acknowledged: boolean;
};

/**
 * A VirtualService router over in-memory routes, with the real router's drift rule: a write is accepted when the
 * live route is the one canarybot last confirmed or already the desired one (the crash window between writing and
 * saving), and refused as `drift` otherwise, unless forced. A restore always wins.
 */
export class FakeRouter implements TrafficRouter {
  readonly #routes = new Map<string, LiveRoute>();
  /** How many more writes (setWeights, restore) fail with a retryable Kubernetes error. */
  failures = 0;
  /** Whether those failures are timeouts after the server applied the write, rather than writes refused. */
  failuresLand = false;
  /** Set: preflight fails with these words, as for a canary subset without ready pods. */
  preflightProblem: string | undefined;
  /** Every change of a route, in order. */
  readonly changes: RouteChange[] = [];
  /** Called at each change of a route, before the caller learns of it. */
  onChange: (change: RouteChange) => void = () => {};

  route(target: Target): LiveRoute {
    return { ...(this.#routes.get(routeKey(target)) ?? { canaryWeight: 0, headerRoute: false }) };
  }

  /** Someone else edits the managed route. */
  edit(target: Target, canaryWeight: number, by: string): void {
    this.#routes.set(routeKey(target), { ...this.route(target), canaryWeight, editedBy: by });
  }

  async inspect(target: Target): Promise<TargetInspection> {
    if (this.preflightProblem !== undefined) {
      throw new CanaryError(ErrorCode.PreflightFailed, this.preflightProblem);
    }
    return Promise.resolve({
      baseline: { route: routeKey(target) },
      canaryWeight: this.route(target).canaryWeight,
      apiVersion: "networking.istio.io/v1",
      subsetLabels: {},
    });
  }

  async setWeights(
    target: Target,
    desired: Parameters<TrafficRouter["setWeights"]>[1],
    expected: Parameters<TrafficRouter["setWeights"]>[2],
  ): Promise<void> {
    const live = this.route(target);
    const wanted: LiveRoute = { canaryWeight: desired.canaryWeight, headerRoute: desired.headerRouteActive };
    if (!this.failuresLand) this.#failIfBroken(target);
    if (live.editedBy === undefined && sameRoute(live, wanted)) return this.#acknowledge(target);
    if (expected.force !== true) {
      const ours =
        live.editedBy === undefined &&
        (live.canaryWeight === expected.appliedWeight || live.canaryWeight === desired.canaryWeight) &&
        (live.headerRoute === expected.headerRouteActive || live.headerRoute === desired.headerRouteActive);
      if (!ours) {
        throw new CanaryError(
          ErrorCode.Drift,
          `${routeKey(target)} was changed outside canarybot: weights are ${live.canaryWeight}%, canarybot last set ${expected.appliedWeight}%`,
        );
      }
    }
    this.#change(target, wanted, "set-weights");
    return this.#acknowledge(target);
  }

  /** The targets whose route a caller asked to read ahead, in order; the fake has nothing to read. */
  readonly prefetched: Target[] = [];

  prefetch(target: Target): void {
    this.prefetched.push(target);
  }

  async restore(target: Target, _baseline: unknown): Promise<void> {
    if (!this.failuresLand) this.#failIfBroken(target);
    this.#change(target, { canaryWeight: 0, headerRoute: false }, "restore");
    return this.#acknowledge(target);
  }

  async currentSubset(_target: Omit<Target, "stableSubset" | "canarySubset">): Promise<string> {
    return Promise.resolve("stable");
  }

  async describeChange(target: Target, desired: { canaryWeight: number }): Promise<string> {
    return Promise.resolve(
      `${routeKey(target)}: ${this.route(target).canaryWeight}% → ${desired.canaryWeight}%`,
    );
  }

  #failIfBroken(target: Target): void {
    if (this.failures <= 0) return;
    this.failures -= 1;
    throw new CanaryError(ErrorCode.KubernetesUnavailable, `${routeKey(target)}: connection reset`, {
      retryable: true,
    });
  }

  /** After a write that landed: a failure to come is a timeout the caller sees although the route changed. */
  async #acknowledge(target: Target): Promise<void> {
    this.#failIfBroken(target);
    return Promise.resolve();
  }

  #change(target: Target, route: LiveRoute, how: RouteChange["how"]): void {
    this.#routes.set(routeKey(target), route);
    const change = { target, route, how, acknowledged: !(this.failuresLand && this.failures > 0) };
    this.changes.push(change);
    this.onChange(change);
  }
}

export type TickJob = { rolloutId: string; tick: number; dueAt: number };
type JobState = TickJob & { state: "waiting" | "finished" };

/** Tick jobs with BullMQ's id rule: one job per (rollout, tick), a second schedule of it is a no-op. */
export class FakeTickScheduler implements TickScheduler {
  readonly #clock: Clock;
  readonly #jobs = new Map<string, JobState>();
  /** Called at each schedule call, before the caller learns of it. */
  onSchedule: (job: TickJob) => void = () => {};

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  async schedule(rolloutId: string, tick: number, delayMs: number): Promise<void> {
    const job = { rolloutId, tick, dueAt: this.#clock.now() + Math.max(0, delayMs) };
    if (!this.#jobs.has(jobId(job))) this.#jobs.set(jobId(job), { ...job, state: "waiting" });
    this.onSchedule(job);
    return Promise.resolve();
  }

  /** The sweeper's enqueue (`BullMqTickScheduler.ensure`): add the job, or run a finished one again, due now. */
  async ensure(rolloutId: string, tick: number): Promise<"added" | "present" | "requeued"> {
    const existing = this.#jobs.get(jobId({ rolloutId, tick }));
    if (existing?.state === "waiting") return Promise.resolve("present");
    this.#jobs.set(jobId({ rolloutId, tick }), {
      rolloutId,
      tick,
      dueAt: this.#clock.now(),
      state: "waiting",
    });
    return Promise.resolve(existing ? "requeued" : "added");
  }

  /** Waiting jobs, the earliest due first. */
  waiting(): TickJob[] {
    return [...this.#jobs.values()]
      .filter((job) => job.state === "waiting")
      .sort((a, b) => a.dueAt - b.dueAt)
      .map(({ rolloutId, tick, dueAt }) => ({ rolloutId, tick, dueAt }));
  }

  /** The job completed, or failed for good. A job whose worker died is not finished: it runs again. */
  finish(job: TickJob): void {
    const stored = this.#jobs.get(jobId(job));
    if (stored) stored.state = "finished";
  }
}

/** Records what people were told. */
export class RecordingNotifier implements Notifier {
  readonly updates: Rollout[] = [];
  readonly alerts: { rollout: Rollout; text: string }[] = [];
  readonly snapshots: { rollout: Rollout; text: string }[] = [];
  /** Called at each message update with the rollout it shows. */
  onUpdate: (rollout: Rollout) => void = () => {};

  async update(rollout: Rollout): Promise<void> {
    this.updates.push(rollout);
    this.onUpdate(rollout);
    return Promise.resolve();
  }

  async snapshot(rollout: Rollout, text: string): Promise<void> {
    this.snapshots.push({ rollout, text });
    return Promise.resolve();
  }

  async alert(rollout: Rollout, text: string): Promise<void> {
    this.alerts.push({ rollout, text });
    return Promise.resolve();
  }
}

/** Answers every analysis with the verdict set last. */
export class ScriptedAnalyzer implements Analyzer {
  verdict: Verdict = passing();

  async analyze(_rollout: Rollout, _now: number): Promise<Verdict> {
    return Promise.resolve(this.verdict);
  }
}

/** Release windows that are open unless a test closes them until a time. */
export class FakeCalendar implements ReleaseCalendar {
  closedUntil: number | undefined;

  nextOpening(_windows: unknown, now: number): number | undefined {
    return this.closedUntil !== undefined && now < this.closedUntil ? this.closedUntil : undefined;
  }
}

export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/** Everything outside the service that the processes of one test share. */
export type FakeWorld = {
  clock: FakeClock;
  store: FakeRolloutStore;
  lock: FakeLock;
  router: FakeRouter;
  scheduler: FakeTickScheduler;
  notifier: RecordingNotifier;
  analyzer: ScriptedAnalyzer;
  calendar: FakeCalendar;
};

export function fakeWorld(now: number): FakeWorld {
  const clock = new FakeClock(now);
  return {
    clock,
    store: new FakeRolloutStore(),
    lock: new FakeLock(),
    router: new FakeRouter(),
    scheduler: new FakeTickScheduler(clock),
    notifier: new RecordingNotifier(),
    analyzer: new ScriptedAnalyzer(),
    calendar: new FakeCalendar(),
  };
}

/** One RolloutService on the world's ports (and `extra` ones), logging nowhere. */
export function serviceIn(world: FakeWorld, extra: Partial<ServiceDeps> = {}): RolloutService {
  const { store, lock, router, scheduler, notifier, clock } = world;
  return new RolloutService({
    store,
    lock,
    router,
    scheduler,
    notifier,
    clock,
    logger: silentLogger,
    ...extra,
  });
}

/** Thrown where a process dies, and by every call its dead service still makes. */
export class ProcessCrash extends Error {
  override readonly name = "ProcessCrash";
}

/**
 * One canarybot process: a real RolloutService whose ports reach the shared world through views that die with it.
 * With `crashAfter: n`, the process dies right after its n-th write succeeds (a save, a route write, a schedule):
 * that call throws, and so does every later call of the process, as if it had been killed there.
 */
export class FakeProcess {
  readonly name: string;
  readonly service: RolloutService;
  #writes = 0;
  readonly #crashAfter: number | undefined;
  #dead = false;
  #diedAfter: string | undefined;

  constructor(world: FakeWorld, options: { name: string; crashAfter?: number }) {
    this.name = options.name;
    this.#crashAfter = options.crashAfter;
    this.service = new RolloutService(this.#deps(world));
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** The port method whose call the process died right after (`save`, `setWeights`, ...). */
  get diedAfter(): string | undefined {
    return this.#diedAfter;
  }

  /** Whether a crash is still to come. */
  get mayCrash(): boolean {
    return !this.#dead && this.#crashAfter !== undefined;
  }

  #deps(world: FakeWorld): ServiceDeps {
    const read = <T>(call: () => Promise<T>): Promise<T> => this.#call(call);
    const write =
      (what: string) =>
      <T>(call: () => Promise<T>): Promise<T> =>
        this.#call(call, what);
    const { store, router, scheduler, notifier, analyzer } = world;
    return {
      store: {
        nextId: (service) => write("nextId")(() => store.nextId(service)),
        create: (rollout, audit) => write("create")(() => store.create(rollout, audit)),
        get: (id) => read(() => store.get(id)),
        save: (rollout, version, audit = []) =>
          write("save")(async () => Promise.resolve(store.commit(rollout, version, audit, this.name))),
        activeFor: (key) => read(() => store.activeFor(key)),
        listActive: () => read(() => store.listActive()),
        history: (query) => read(() => store.history(query)),
        appendAudit: (entry) => write("appendAudit")(() => store.appendAudit(entry)),
        audit: (id) => read(() => store.audit(id)),
      },
      router: {
        inspect: (target) => read(() => router.inspect(target)),
        setWeights: (target, desired, expected) =>
          write("setWeights")(() => router.setWeights(target, desired, expected)),
        restore: (target, baseline) => write("restore")(() => router.restore(target, baseline)),
        prefetch: (target) => router.prefetch(target),
        currentSubset: (target) => read(() => router.currentSubset(target)),
        describeChange: (target, desired) => read(() => router.describeChange(target, desired)),
      },
      scheduler: {
        schedule: (id, tick, delayMs) => write("schedule")(() => scheduler.schedule(id, tick, delayMs)),
      },
      notifier: {
        update: (rollout) => read(() => notifier.update(rollout)),
        snapshot: (rollout, text) => read(() => notifier.snapshot(rollout, text)),
        alert: (rollout, text) => read(() => notifier.alert(rollout, text)),
      },
      analyzer: { analyze: (rollout, now) => read(() => analyzer.analyze(rollout, now)) },
      lock: world.lock,
      clock: world.clock,
      calendar: world.calendar,
      logger: silentLogger,
    };
  }

  async #call<T>(call: () => Promise<T>, write?: string): Promise<T> {
    if (this.#dead) throw new ProcessCrash(`${this.name} is dead`);
    const result = await call();
    if (write !== undefined && ++this.#writes === this.#crashAfter) {
      this.#dead = true;
      this.#diedAfter = write;
      throw new ProcessCrash(`${this.name} died after its write #${this.#writes} (${write})`);
    }
    return result;
  }
}

function routeKey(target: Pick<Target, "namespace" | "virtualService">): string {
  return `${target.namespace}/${target.virtualService}`;
}

function sameRoute(a: LiveRoute, b: LiveRoute): boolean {
  return a.canaryWeight === b.canaryWeight && a.headerRoute === b.headerRoute;
}

function jobId(job: Pick<TickJob, "rolloutId" | "tick">): string {
  return `rollout.${job.rolloutId}.tick.${job.tick}`;
}

/** A stored copy, as a JSON store keeps it: nothing the caller holds aliases it, undefined fields are dropped. */
function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
