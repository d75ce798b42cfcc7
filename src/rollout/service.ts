import { CanaryError, ErrorCode, errorMessage, isCanaryError } from "../errors.ts";
import { redact } from "../redact.ts";
import {
  describeWeight,
  desiredWeight,
  isLive,
  planProblems,
  problemsText,
  wantsHeaderRoute,
} from "./plan.ts";
import type {
  Analyzer,
  Clock,
  Logger,
  Notifier,
  PodHealthProbe,
  ReleaseCalendar,
  RolloutLock,
  RolloutStore,
  RouteReads,
  TickScheduler,
  TrafficRouter,
  WebhookCaller,
} from "./ports.ts";
import { newRollout } from "./new-rollout.ts";
import { targetKey } from "./target.ts";
import { formatUtcDateTime } from "./time-text.ts";
import { transition } from "./transition.ts";
import { NotificationKind, Phase } from "./types.ts";
import {
  flaggerPhase,
  hooksDue,
  hooksOf,
  isAwaitingStartGate,
  isDecisive,
  rolloutChecksum,
} from "./webhooks.ts";
import type {
  AuditEntry,
  ClusterRef,
  Effect,
  Freeze,
  HookResult,
  HookType,
  HumanEvent,
  Plan,
  PodObservation,
  Rollout,
  RolloutEvent,
  StartRequest,
  Target,
  TargetSpec,
  Verdict,
  Webhook,
  WebhookEvent,
} from "./types.ts";

export type DryRun = { plan: Plan; target: Target; change: string };

/** The people's events whose first effect is a route write. */
const ROUTE_WRITING_EVENTS: ReadonlySet<HumanEvent["type"]> = new Set(["rollback", "promote"]);

export type ServiceDeps = {
  store: RolloutStore;
  lock: RolloutLock;
  router: TrafficRouter;
  scheduler: TickScheduler;
  notifier: Notifier;
  /** Absent: plans with analysis cannot be judged, so their ticks are inconclusive. */
  analyzer?: Analyzer;
  clock: Clock;
  logger: Logger;
  /** Shortest step interval a plan may ask for. */
  minIntervalMs?: number;
  /** Reads plans' release windows; absent, a plan with windows cannot start. */
  calendar?: ReleaseCalendar;
  /**
   * The cluster (API server) this process's router reaches for a target's route: its mesh context's (`meshContext`,
   * else `context`), or the current context's.
   * Undefined when this process cannot reach the target's context at all. Rollouts record it at start, and a process
   * acts only on rollouts it reaches the same cluster for.
   */
  clusterOf?: (target: Pick<Target, "context" | "meshContext">) => ClusterRef | undefined;
  /** Calls the plans' webhooks; absent, a plan with webhooks cannot start. */
  webhooks?: WebhookCaller;
  /** Looks at the canary's pods every tick; absent, nobody looks and the progress deadline never runs. */
  pods?: PodHealthProbe;
};

type Notification = { kind: NotificationKind; text: string };

/** An event or post-rollout webhook a change asked for, with the rollout as it was when it asked. */
type HookCall = { rollout: Rollout; effect: Extract<Effect, { type: "call-webhook" }> };

/**
 * One operation under the rollout's lock. It loads the rollout once and then holds the state it saved last: the lock
 * keeps other writers out, and the version check of every save refuses a write if the lock lapsed meanwhile. It
 * shares the route objects its router calls read (`reads`), collects the webhook calls to make before the lock is
 * released, and what to tell people after.
 */
type Session = {
  rollout: Rollout;
  reads: RouteReads;
  notifications: Notification[];
  changed: boolean;
  calls?: HookCall[];
};

/**
 * The one writer of rollout state. Every change goes: lock, load, transition (pure), save with a version check,
 * then carry out the effects. Route writes are level-triggered: the state holds the desired weight, so a crash
 * between saving and writing is healed by the next tick.
 */
export class RolloutService {
  readonly #deps: ServiceDeps;

  constructor(deps: ServiceDeps) {
    this.#deps = deps;
  }

  /** Validate, claim the target, run preflight, and take the first step. Refusals throw CanaryErrors. */
  async start(request: StartRequest): Promise<Rollout> {
    assertPlan(request.plan, this.#deps.minIntervalMs);
    const { store, router, clock } = this.#deps;
    if ((request.plan.windows ?? []).length > 0 && !this.#deps.calendar) {
      throw new CanaryError(ErrorCode.Internal, "this canarybot cannot read release windows");
    }
    if ((request.plan.webhooks ?? []).length > 0 && !this.#deps.webhooks) {
      throw new CanaryError(ErrorCode.Internal, "this canarybot cannot call webhooks");
    }
    const freeze = activeFreeze(request.freezes ?? [], clock.now());
    if (freeze && !request.ignoreFreeze) {
      throw new CanaryError(
        ErrorCode.Forbidden,
        `${request.target.service} is frozen until ${formatUtcDateTime(freeze.to)}: ${freeze.reason} (break glass from the command line with --ignore-freeze)`,
      );
    }
    const target = await this.#resolve(request.target);
    const cluster = this.#deps.clusterOf?.(target);
    const now = clock.now();
    const rollout = newRollout({
      id: await store.nextId(target.service),
      target,
      plan: request.plan,
      by: request.by,
      now,
      ...(request.report ? { report: request.report } : {}),
      ...(cluster ? { cluster } : {}),
    });
    // The claim and its "start" entry in one step: a crash never leaves a rollout without its start in the audit.
    await store.create(rollout, [
      {
        at: now,
        rolloutId: rollout.id,
        actor: rollout.startedBy,
        action: "start",
        fromPhase: Phase.Preflight,
        toPhase: Phase.Preflight,
        canaryWeight: 0,
        detail:
          `${target.namespace}/${target.virtualService} ${target.stableSubset} → ${target.canarySubset}, steps ${request.plan.steps.join(",")}` +
          (freeze ? `; started during the freeze "${freeze.reason}" with --ignore-freeze` : ""),
      },
    ]);
    return this.#withLock(rollout.id, rollout, async (session) => {
      let event: RolloutEvent;
      try {
        const inspection = await router.inspect(target, session.reads);
        if (inspection.canaryWeight !== 0) {
          throw new CanaryError(
            ErrorCode.PreflightFailed,
            `the route already sends ${inspection.canaryWeight}% to a canary; reset it to the stable subset first`,
          );
        }
        event = {
          type: "preflight-passed",
          baseline: inspection.baseline,
          subsetLabels: inspection.subsetLabels,
        };
      } catch (error) {
        event = { type: "preflight-failed", reason: failureText(error) };
      }
      const started = await this.#apply(session, event);
      if (started.phase === Phase.Failed) {
        throw new CanaryError(
          ErrorCode.PreflightFailed,
          `preflight failed: ${started.outcome?.reason ?? ""}`,
        );
      }
      return started;
    });
  }

  /** What `start` would do, without claiming or touching anything. */
  async dryRun(request: StartRequest): Promise<DryRun> {
    assertPlan(request.plan, this.#deps.minIntervalMs);
    const { router } = this.#deps;
    const target = await this.#resolve(request.target);
    await router.inspect(target);
    const first = request.plan.headerMatch
      ? { canaryWeight: 0, headerMatch: request.plan.headerMatch }
      : { canaryWeight: request.plan.steps[0] ?? 0 };
    const change = await router.describeChange(target, first);
    return { plan: request.plan, target, change };
  }

  async #resolve(spec: TargetSpec): Promise<Target> {
    // A live rollout owns the route: say so before reading a route it is in the middle of moving.
    const live = await this.#deps.store.activeFor(targetKey(spec, this.#deps.clusterOf?.(spec)));
    if (live) {
      const holder = await this.#deps.store.get(live);
      const where = `${spec.namespace}/${spec.virtualService}`;
      const state = holder ? ` (${holder.phase}, ${describeWeight(holder)})` : "";
      throw new CanaryError(ErrorCode.AlreadyActive, `${live} is already live on ${where}${state}`);
    }
    const stableSubset = spec.stableSubset ?? (await this.#deps.router.currentSubset(spec));
    if (stableSubset === spec.canarySubset) {
      throw new CanaryError(
        ErrorCode.InvalidInput,
        `canary: "${stableSubset}" already takes the route's traffic`,
      );
    }
    return { ...spec, stableSubset };
  }

  /**
   * A person's action. A refusal (two-person rule, wrong phase, finished) throws `forbidden`/`invalid_input`.
   * `seen`: the rollout as the caller read it a moment ago (a click's handler does), which lets the route read of a
   * rollback or promote start while the lock and the load are on their way to Redis: a target never changes, and
   * the write stays guarded by the route's resourceVersion, so a read that turns stale costs a re-read, not a route.
   */
  async act(rolloutId: string, event: HumanEvent, seen?: Rollout): Promise<Rollout> {
    const reads: RouteReads = new Map();
    if (seen && ROUTE_WRITING_EVENTS.has(event.type) && isLive(seen.phase) && !this.foreignReason(seen)) {
      this.#deps.router.prefetch(seen.target, reads);
    }
    return this.#withLock(
      rolloutId,
      undefined,
      async (session) => {
        const foreign = this.foreignReason(session.rollout);
        if (foreign) throw new CanaryError(ErrorCode.WrongCluster, foreign);
        return this.#apply(session, event);
      },
      reads,
    );
  }

  /** A due tick: reconcile the route, judge the canary, decide. A stale or duplicated tick does nothing. */
  async tick(rolloutId: string, tick: number): Promise<void> {
    await this.#withLock(rolloutId, undefined, async (session) => {
      const rollout = session.rollout;
      if (rollout.tick !== tick) return;
      const foreign = this.foreignReason(rollout);
      if (foreign) throw new CanaryError(ErrorCode.WrongCluster, foreign, { retryable: true });
      if (rollout.phase === Phase.Progressing || rollout.phase === Phase.HeaderStage) {
        // Also the drift check: the router refuses to write over a route someone else changed.
        const desired = { canaryWeight: desiredWeight(rollout), headerRoute: wantsHeaderRoute(rollout) };
        const moved = await this.#setRoute(session, rollout, desired);
        if (moved.phase !== rollout.phase || moved.tick !== tick) return;
        // Rollout webhooks run before the checks (a load test feeds the metrics the checks then read).
        const hooks = await this.#callHooks(moved);
        const verdict = moved.phase === Phase.Progressing ? await this.#judge(moved) : undefined;
        const pods = await this.#lookAtPods(moved);
        const windowOpensAt = this.#windowOpensAt(moved);
        await this.#apply(session, {
          type: "tick",
          tick,
          ...(verdict ? { verdict } : {}),
          ...(pods ? { pods } : {}),
          ...(windowOpensAt === undefined ? {} : { windowOpensAt }),
          ...(hooks.length > 0 ? { hooks } : {}),
        });
        return;
      }
      if (isAwaitingStartGate(rollout)) {
        const hooks = await this.#callHooks(rollout);
        await this.#apply(session, { type: "tick", tick, ...(hooks.length > 0 ? { hooks } : {}) });
        return;
      }
      await this.#apply(session, { type: "tick", tick });
    });
  }

  /** A tick kept failing on an outside system past its retries: hold the weight and tell the channel. */
  async tickExhausted(rolloutId: string, tick: number, error: unknown): Promise<void> {
    await this.#withLock(rolloutId, undefined, async (session) => {
      if (session.rollout.tick !== tick) return;
      const kind = isCanaryError(error) ? error.code : ErrorCode.Internal;
      await this.#apply(session, { type: "error", kind, detail: failureText(error) });
    });
  }

  /**
   * Why this process must not act on the rollout (it was started on another cluster than the one this process
   * reaches for its target), or undefined when it may.
   */
  foreignReason(rollout: Rollout): string | undefined {
    const theirs = rollout.cluster;
    const clusterOf = this.#deps.clusterOf;
    if (!theirs || !clusterOf) return undefined;
    const mine = clusterOf(rollout.target);
    if (mine?.server === theirs.server) return undefined;
    const use = theirs.context ? ` (use --context ${theirs.context})` : "";
    const here = mine ? `configured for ${mine.server}` : "not configured for it";
    return `${rollout.id} runs on cluster ${theirs.server}${use}; this canarybot is ${here}`;
  }

  /** The sweeper found tick `tick` long overdue: the rollout says so, once. Touches no route. */
  async tickOverdue(rolloutId: string, tick: number, detail: string): Promise<void> {
    await this.#withLock(rolloutId, undefined, async (session) => {
      await this.#apply(session, { type: "tick-overdue", tick, detail });
    });
  }

  /** Lock, load the rollout (unless `created` just now), run `fn`, call the queued webhooks, unlock, notify. */
  async #withLock<T>(
    rolloutId: string,
    created: Rollout | undefined,
    fn: (session: Session) => Promise<T>,
    reads: RouteReads = new Map(),
  ): Promise<T> {
    let session: Session | undefined;
    try {
      return await this.#deps.lock.withLock(rolloutId, async () => {
        const opened: Session = {
          rollout: created ?? (await this.#load(rolloutId)),
          reads,
          notifications: [],
          changed: false,
        };
        session = opened;
        try {
          return await fn(opened);
        } finally {
          // Event and post-rollout webhooks go out before the lock is released, so that they reach their receivers
          // in the order of the changes, whichever process makes the next one.
          await this.#callQueuedHooks(opened);
        }
      });
    } finally {
      // People are told after the lock is released: a slow or failing Slack never holds up a rollout.
      if (session?.changed) await this.#notify(session);
    }
  }

  /** The webhooks a due tick needs, in order, stopping at the first decisive answer (a rollback, a closed gate). */
  async #callHooks(rollout: Rollout): Promise<HookResult[]> {
    const results: HookResult[] = [];
    for (const type of hooksDue(rollout)) {
      const answers = await this.#callHooksOf(rollout, type);
      results.push(...answers);
      if (answers.some(isDecisive)) break;
    }
    return results;
  }

  async #callHooksOf(rollout: Rollout, type: HookType): Promise<HookResult[]> {
    const results: HookResult[] = [];
    for (const hook of hooksOf(rollout.plan, type)) results.push(await this.#callHook(rollout, hook));
    return results;
  }

  async #callHook(
    rollout: Rollout,
    hook: Webhook,
    event?: WebhookEvent,
    phase = flaggerPhase(rollout),
  ): Promise<HookResult> {
    const caller = this.#deps.webhooks;
    if (!caller) {
      return {
        name: hook.name,
        type: hook.type,
        ok: false,
        durationMs: 0,
        attempts: 0,
        answer: "this canarybot cannot call webhooks",
      };
    }
    return caller.call({
      hook,
      name: rollout.target.service,
      namespace: rollout.target.namespace,
      phase,
      checksum: rolloutChecksum(rollout),
      ...(event ? { event } : {}),
    });
  }

  /** Event and post-rollout calls: their answers never change the rollout, but they are audited and shown. */
  async #callQueuedHooks(session: Session): Promise<void> {
    const calls = session.calls ?? [];
    if (calls.length === 0) return;
    session.calls = [];
    const results: HookResult[] = [];
    for (const { rollout, effect } of calls) {
      const result = await this.#callHook(rollout, effect.hook, effect.event, effect.phase);
      if (!result.ok)
        this.#log(rollout).warn(
          { webhook: result.name, type: result.type, status: result.status, answer: result.answer },
          "webhook failed",
        );
      results.push(result);
    }
    try {
      await this.#apply(session, { type: "webhooks-called", results });
    } catch (error) {
      this.#deps.logger.warn(
        { rolloutId: session.rollout.id, err: failureText(error) },
        "webhook results not recorded",
      );
    }
  }

  async #load(rolloutId: string): Promise<Rollout> {
    const rollout = await this.#deps.store.get(rolloutId);
    if (!rollout) throw new CanaryError(ErrorCode.NotFound, `no rollout ${rolloutId}`);
    return rollout;
  }

  /** Decide, save, act, from the session's state. Returns the rollout as saved last. */
  async #apply(session: Session, event: RolloutEvent): Promise<Rollout> {
    const { store, clock } = this.#deps;
    const current = session.rollout;
    const result = transition(current, event, clock.now());
    if (result.refused !== undefined) {
      for (const entry of auditEntries(result.effects)) await store.appendAudit(entry);
      // A person is told why; a system event that no longer applies is simply absorbed.
      if ("by" in event) throw new CanaryError(ErrorCode.Forbidden, result.refused);
      return current;
    }
    const saved = await store.save(result.rollout, current.version, auditEntries(result.effects));
    session.rollout = saved;
    session.changed = true;
    this.#log(saved).info(
      { event: event.type, phase: saved.phase, weight: desiredWeight(saved) },
      "rollout changed",
    );
    return this.#run(session, saved, result.effects);
  }

  /** Carry out effects in an order that keeps the rollout safe if the process dies between any two of them. */
  async #run(session: Session, rollout: Rollout, effects: Effect[]): Promise<Rollout> {
    // The audit went with the save. A tick scheduled here and lost to a crash is enqueued by the sweeper, which reads
    // the due tick off the saved state.
    for (const effect of effects) {
      if (effect.type === "schedule-tick") {
        await this.#deps.scheduler.schedule(rollout.id, effect.tick, effect.delayMs);
      }
    }
    let current = rollout;
    for (const effect of effects) {
      switch (effect.type) {
        case "set-weights":
          current = await this.#setRouteQuietly(session, current, effect);
          break;
        case "restore-route":
          current = await this.#restore(session, current);
          break;
        case "notify":
          session.notifications.push({ kind: effect.kind, text: effect.text });
          break;
        case "call-webhook":
          (session.calls ??= []).push({ rollout: current, effect });
          break;
        case "schedule-tick":
        case "audit":
          break;
        default:
          assertNever(effect);
      }
    }
    return current;
  }

  /** Write the route; a drift pauses the rollout, any other failure propagates (the tick job retries it). */
  async #setRoute(
    session: Session,
    rollout: Rollout,
    desired: { canaryWeight: number; headerRoute: boolean; force?: boolean },
  ): Promise<Rollout> {
    const { router } = this.#deps;
    try {
      await router.setWeights(
        rollout.target,
        {
          canaryWeight: desired.canaryWeight,
          headerRouteActive: desired.headerRoute,
          ...(rollout.plan.headerMatch ? { headerMatch: rollout.plan.headerMatch } : {}),
        },
        {
          baseline: rollout.baseline,
          appliedWeight: rollout.appliedWeight,
          headerRouteActive: rollout.headerRouteActive,
          ...(desired.force ? { force: true } : {}),
        },
        session.reads,
      );
    } catch (error) {
      if (isCanaryError(error, ErrorCode.Drift)) {
        return this.#apply(session, { type: "drift-detected", detail: error.message });
      }
      throw error;
    }
    if (rollout.appliedWeight === desired.canaryWeight && rollout.headerRouteActive === desired.headerRoute) {
      return rollout;
    }
    return this.#apply(session, {
      type: "weights-applied",
      weight: desired.canaryWeight,
      headerRouteActive: desired.headerRoute,
    });
  }

  /** After the state is saved, a failed write is healed by the next tick; say so and carry on. */
  async #setRouteQuietly(
    session: Session,
    rollout: Rollout,
    effect: Extract<Effect, { type: "set-weights" }>,
  ): Promise<Rollout> {
    try {
      return await this.#setRoute(session, rollout, effect);
    } catch (error) {
      this.#log(rollout).warn({ err: failureText(error) }, "route write failed; the next tick retries it");
      return rollout;
    }
  }

  async #restore(session: Session, rollout: Rollout): Promise<Rollout> {
    try {
      await this.#deps.router.restore(rollout.target, rollout.baseline, session.reads);
    } catch (error) {
      if (isCanaryError(error, ErrorCode.NotFound)) {
        return this.#apply(session, { type: "route-gone", detail: failureText(error) });
      }
      this.#log(rollout).warn({ err: failureText(error) }, "restore failed; retrying");
      const kind = isCanaryError(error) ? error.code : ErrorCode.Internal;
      return this.#apply(session, { type: "error", kind, detail: failureText(error) });
    }
    return this.#apply(session, { type: "route-restored" });
  }

  #windowOpensAt(rollout: Rollout): number | undefined {
    const windows = rollout.plan.windows ?? [];
    if (windows.length === 0 || !this.#deps.calendar) return undefined;
    return this.#deps.calendar.nextOpening(windows, this.#deps.clock.now());
  }

  async #judge(rollout: Rollout): Promise<Verdict | undefined> {
    if (!rollout.plan.analysis || !this.#deps.analyzer) return undefined;
    return this.#deps.analyzer.analyze(rollout, this.#deps.clock.now());
  }

  /** The canary's pods now; a failure to read them is an observation too (the core decides nothing on it). */
  async #lookAtPods(rollout: Rollout): Promise<PodObservation | undefined> {
    const probe = this.#deps.pods;
    if (!probe) return undefined;
    const labels = rollout.subsetLabels?.[rollout.target.canarySubset] ?? {};
    try {
      return await probe.observe(rollout.target, labels);
    } catch (error) {
      return { unreadable: failureText(error) };
    }
  }

  /** The deliverer renders the newest state itself: the state this session saved last names the rollout. */
  async #notify({ rollout, notifications }: Session): Promise<void> {
    const { notifier } = this.#deps;
    try {
      // The message first, so that alerts and snapshot replies can link to it and thread under it. The
      // deliverer records where the message lives on the rollout once it has posted it.
      await notifier.update(rollout);
      for (const note of notifications) {
        if (note.kind === NotificationKind.Alert) await notifier.alert(rollout, note.text);
        else await notifier.snapshot(rollout, note.text);
      }
    } catch (error) {
      this.#deps.logger.warn({ rolloutId: rollout.id, err: failureText(error) }, "notification failed");
    }
  }

  #log(rollout: Rollout): Logger {
    return this.#deps.logger.child({ rollout: rollout.id });
  }
}

function assertPlan(plan: Plan, minIntervalMs: number | undefined): void {
  const problems = planProblems(plan, minIntervalMs);
  if (problems.length > 0) throw new CanaryError(ErrorCode.InvalidInput, problemsText(problems));
}

function activeFreeze(freezes: readonly Freeze[], now: number): Freeze | undefined {
  return freezes.find((freeze) => freeze.from <= now && now < freeze.to);
}

function auditEntries(effects: readonly Effect[]): AuditEntry[] {
  return effects.flatMap((effect) => (effect.type === "audit" ? [effect.entry] : []));
}

function assertNever(effect: never): never {
  throw new Error(`unhandled effect ${JSON.stringify(effect)}`);
}

/** An outside system's failure in words fit to store and show: no credential an upstream echoed, one line, capped. */
function failureText(error: unknown): string {
  return redact(errorMessage(error));
}
