import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode, isCanaryError } from "../../src/errors.ts";
import { startTickSweeper } from "../../src/jobs/tick-sweeper.ts";
import { TICK_GRACE_MS, planSweep } from "../../src/rollout/overdue.ts";
import {
  describeWeight,
  desiredWeight,
  isTerminal,
  planProblems,
  wantsHeaderRoute,
} from "../../src/rollout/plan.ts";
import type { HumanEvent } from "../../src/rollout/types.ts";
import { CheckStatus, PauseCause, Phase, SYSTEM_ACTOR } from "../../src/rollout/types.ts";
import type { Plan, Rollout, Verdict } from "../../src/rollout/types.ts";
import { FakeProcess, ProcessCrash, fakeWorld, silentLogger } from "../support/fakes.ts";
import type { Commit, FakeWorld, RouteChange, TickJob } from "../support/fakes.ts";
import { FIXTURE_NOW, makeAnalysisPolicy, makeTarget } from "../support/rollouts.ts";
import { failing, inconclusive, passing } from "../support/verdicts.ts";

/**
 * The design's invariants, checked on the real RolloutService over random plans and random sequences of ticks
 * (due, late, stale, duplicated, raced by two processes), people's actions, route edits, Kubernetes failures and
 * process crashes right after any write. The service reaches in-memory fakes of its ports (test/support/fakes.ts);
 * every save, route change, schedule and message update is checked as it happens, and at the end the sweeper and
 * the due ticks run until nothing is due, which must leave every rollout at rest with the route where it says.
 *
 * Checked, by the design's numbers (DESIGN.md): 1 weights only from the plan or 0, and the route only where the saved
 * state wants it; 4 two processes never both apply one tick; 5 no step or promotion without a passing verdict or a
 * person's Promote; 6 one audit entry per change, refusals audited; 7 an edited route pauses the rollout and a
 * Resume takes it back; 8 a moving rollout always has its tick queued or left to the sweeper, and everything comes
 * to rest; 9 screens show the route's weight or the pending `from → to`. And the core's own: the two-person rule,
 * terminal phases absorb, rolled-back only through rolling-back and a restored route, tick numbers only increase and
 * a stale tick changes nothing.
 *
 * Runs are reproducible: the seed is fixed, and a failure prints its seed and path. INVARIANTS_SEED=<seed>
 * INVARIANTS_PATH=<path> replays one counterexample; another seed, or INVARIANTS_RUNS=<n>, explores further.
 */

const STARTER = "U-starter";
const OTHER = "U-other";
const EDITOR = "kubectl-edit";
const RUNS = Number(process.env.INVARIANTS_RUNS ?? 1_000);
const SEED = Number(process.env.INVARIANTS_SEED ?? 20_261_128);
const REPLAY = process.env.INVARIANTS_PATH;
/** Runs of a tick before the worker gives up on it (`onExhausted`). */
const ATTEMPTS = 3;
const TARGET = makeTarget();
/** Phases that need no tick: a rollout that settles ends in one of them. */
const AT_REST: readonly Phase[] = [
  Phase.Promoted,
  Phase.RolledBack,
  Phase.Failed,
  Phase.Paused,
  Phase.AwaitingApproval,
];
const MOVING: readonly Phase[] = [Phase.Progressing, Phase.HeaderStage, Phase.RollingBack];

type Who = "starter" | "other";
type HumanKind = HumanEvent["type"];
type VerdictChoice = { status: CheckStatus; critical: boolean };
type Action =
  /** The earliest waiting tick job runs, `lateMs` after it was due. */
  | { kind: "tick"; verdict: VerdictChoice; lateMs: number }
  /** A job of an older tick runs again (a duplicate kept by the queue, a retried stale job). */
  | { kind: "stale-tick"; back: number; verdict: VerdictChoice }
  /** The earliest waiting tick job runs on both processes at once (a stalled job taken over while it runs). */
  | { kind: "race-tick"; verdict: VerdictChoice }
  | { kind: "human"; event: HumanKind; who: Who }
  /** A person acts on one process while the other runs the earliest tick job. */
  | { kind: "race-human"; event: HumanKind; who: Who; verdict: VerdictChoice }
  /** Someone edits the managed route with kubectl. */
  | { kind: "edit"; weight: number }
  /** The next writes to Kubernetes fail (retryable): refused, or timing out after they landed. */
  | { kind: "kube-fails"; times: number; land: boolean }
  /** The clock jumps and the sweeper runs. */
  | { kind: "sweep"; lateMs: number }
  /** Release windows close until a little later. */
  | { kind: "window-closed"; forMs: number };
/** One step: an action, on process 0 or 1, which may die right after its n-th write. */
type Step = { action: Action; on: 0 | 1; crashAfter: number | undefined };
type Scenario = {
  plan: Plan;
  start: { crashAfter: number | undefined; preflightFails: boolean };
  steps: Step[];
};

const planArb: fc.Arbitrary<Plan> = fc
  .uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 4 })
  .map((weights) => [...weights].sort((a, b) => a - b).concat(100))
  .chain((steps) =>
    fc.record({
      steps: fc.constant(steps),
      intervalMs: fc.constant(60_000),
      approvalGates: fc.subarray(steps.slice(0, -1)),
      twoPersonRule: fc.boolean(),
      headerMatch: fc.oneof(
        { weight: 3, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constant({ name: "x-canary", value: "always" }) },
      ),
      analysis: fc.option(
        fc
          .record({
            failureLimit: fc.integer({ min: 1, max: 3 }),
            inconclusiveLimit: fc.integer({ min: 1, max: 3 }),
          })
          .map((limits) => makeAnalysisPolicy(limits)),
        { nil: undefined },
      ),
      windows: fc.option(fc.constant([{ cron: "* 9-17 * * 1-5", timezone: "Europe/Berlin" }]), {
        nil: undefined,
      }),
    }),
  );

const verdictArb: fc.Arbitrary<VerdictChoice> = fc.record({
  status: fc.oneof(
    { weight: 6, arbitrary: fc.constant(CheckStatus.Pass) },
    { weight: 2, arbitrary: fc.constant(CheckStatus.Fail) },
    { weight: 2, arbitrary: fc.constant(CheckStatus.Inconclusive) },
  ),
  critical: fc.boolean(),
});
const whoArb = fc.constantFrom<Who>("starter", "other");
const humanArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant<HumanKind>("approve") },
  { weight: 1, arbitrary: fc.constant<HumanKind>("promote") },
  { weight: 1, arbitrary: fc.constant<HumanKind>("pause") },
  { weight: 3, arbitrary: fc.constant<HumanKind>("resume") },
  { weight: 1, arbitrary: fc.constant<HumanKind>("rollback") },
);

function actionArb(races: boolean): fc.Arbitrary<Action> {
  const single: fc.WeightedArbitrary<Action>[] = [
    {
      weight: 14,
      arbitrary: fc.record({
        kind: fc.constant("tick" as const),
        verdict: verdictArb,
        lateMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400_000 })),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("stale-tick" as const),
        back: fc.integer({ min: 1, max: 3 }),
        verdict: verdictArb,
      }),
    },
    {
      weight: 8,
      arbitrary: fc.record({ kind: fc.constant("human" as const), event: humanArb, who: whoArb }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("edit" as const), weight: fc.integer({ min: 0, max: 100 }) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("kube-fails" as const),
        times: fc.integer({ min: 1, max: 4 }),
        land: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("sweep" as const),
        lateMs: fc.integer({ min: 0, max: 400_000 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("window-closed" as const),
        forMs: fc.integer({ min: 1_000, max: 300_000 }),
      }),
    },
  ];
  const raced: fc.WeightedArbitrary<Action>[] = [
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("race-tick" as const), verdict: verdictArb }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant("race-human" as const),
        event: humanArb,
        who: whoArb,
        verdict: verdictArb,
      }),
    },
  ];
  return fc.oneof(...single, ...(races ? raced : []));
}

const crashArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }) },
);

function scenarioArb(races: boolean): fc.Arbitrary<Scenario> {
  return fc.record({
    plan: planArb,
    start: fc.record({
      crashAfter: crashArb,
      preflightFails: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, fc.constant(true)),
    }),
    steps: fc.array(
      fc.record({
        action: actionArb(races),
        on: races ? fc.constantFrom<0 | 1>(0, 1) : fc.constant<0 | 1>(0),
        crashAfter: crashArb,
      }),
      { minLength: 5, maxLength: 40, size: "max" },
    ),
  });
}

function verdictOf({ status, critical }: VerdictChoice): Verdict {
  switch (status) {
    case CheckStatus.Pass:
      return passing();
    case CheckStatus.Fail:
      return failing({ critical });
    case CheckStatus.Inconclusive:
      return inconclusive();
  }
}

function humanEvent(kind: HumanKind, who: Who): HumanEvent {
  const by = who === "starter" ? STARTER : OTHER;
  return kind === "rollback" ? { type: kind, by, reason: "looks wrong" } : { type: kind, by };
}

/** What a process is doing, so that a save can be judged by what caused it. */
type Operation =
  | { kind: "start" | "sweep" | "exhausted" | "idle" }
  | { kind: "tick"; tick: number; verdict: Verdict; saves: number }
  | { kind: "human"; event: HumanEvent; saves: number };

class InvariantBroken extends Error {
  override readonly name = "InvariantBroken";
}

function ensure(ok: boolean, what: () => string): void {
  if (!ok) throw new InvariantBroken(what());
}

/**
 * Runs one scenario against the real service: two process slots (a dead process is replaced by a fresh one on the
 * same world, which is how a restart looks), a worker model for tick jobs (retries, then `tickExhausted`; a job
 * whose process died stays queued) and the real sweeper. Every observation point checks its invariants and throws
 * InvariantBroken naming the invariant.
 */
class Simulation {
  readonly world: FakeWorld = fakeWorld(FIXTURE_NOW);
  readonly plan: Plan;
  readonly #processes: [FakeProcess, FakeProcess];
  readonly #operations = new Map<string, Operation>();
  readonly #lastScheduled = new Map<string, number>();
  readonly #appliedTicks = new Set<string>();
  readonly #orphaned = new Set<string>();
  #restarts = 0;
  #schedules = 0;
  /** Set while two operations run at once: between their steps the store and the route may be mid-change. */
  #racing = false;
  #lastDelivered: TickJob | undefined;
  #broken: InvariantBroken | undefined;
  /**
   * Set when the route moved and nobody can save that it did: the process died right after writing, or the write
   * timed out after it landed. The state cannot know the route's weight until a tick or a restore writes it again
   * (see #checkScreen).
   */
  #unconfirmed = false;

  constructor(plan: Plan) {
    this.plan = plan;
    this.#processes = [this.#spawn(0), this.#spawn(1)];
    this.world.store.onCommit = (commit) => this.#observe(() => this.#checkCommit(commit));
    this.world.router.onChange = (change) => this.#observe(() => this.#checkRouteChange(change));
    this.world.scheduler.onSchedule = (job) => this.#observe(() => this.#checkSchedule(job));
    this.world.notifier.onUpdate = (rollout) => {
      if (!this.#racing) this.#observe(() => this.#checkScreen(rollout, "the rollout message"));
    };
  }

  /** Run a check inside the service's call: the service may swallow what it throws, so the first breach is kept. */
  #observe(check: () => void): void {
    try {
      check();
    } catch (error) {
      if (error instanceof InvariantBroken) this.#broken ??= error;
      throw error;
    }
  }

  /** After each operation: a breach seen inside the service fails the scenario even if the service went on. */
  #raise(): void {
    if (this.#broken) throw this.#broken;
  }

  async start(crashAfter: number | undefined, preflightFails: boolean): Promise<void> {
    const process = this.#arm(0, crashAfter);
    if (preflightFails) this.world.router.preflightProblem = "no ready pods behind subset canary";
    await this.#as(process, { kind: "start" }, () =>
      process.service.start({
        target: TARGET,
        plan: this.plan,
        by: STARTER,
        report: { channel: "C-deploys" },
      }),
    );
    this.world.router.preflightProblem = undefined;
    this.#raise();
    this.#restartDead();
    this.#checkAtRest();
  }

  async step({ action, on, crashAfter }: Step): Promise<void> {
    const process = this.#arm(on, crashAfter);
    const other = this.#processes[on === 0 ? 1 : 0];
    this.world.clock.advance(1_000);
    switch (action.kind) {
      case "tick": {
        const job = this.world.scheduler.waiting()[0];
        if (!job) break;
        this.world.clock.advanceTo(job.dueAt + action.lateMs);
        const edited = crashAfter === undefined && this.#meetsEdit(job);
        await this.#deliver(process, job, verdictOf(action.verdict));
        const after = this.world.store.peek(job.rolloutId);
        ensure(
          !edited || (after?.phase === Phase.Paused && after.pauseCause === PauseCause.Drift),
          () =>
            `drift: tick ${job.tick} met someone's edit of the route and left the rollout ${after?.phase}`,
        );
        break;
      }
      case "stale-tick": {
        const current = this.#rollout();
        const tick = current ? current.tick - action.back : -1;
        if (!current || tick < 0) break;
        const before = this.#footprint();
        await this.#deliver(process, { rolloutId: current.id, tick, dueAt: 0 }, verdictOf(action.verdict));
        ensure(
          this.#footprint() === before,
          () => `ticks: stale tick ${tick} (current ${current.tick}) changed something`,
        );
        break;
      }
      case "race-tick": {
        const job = this.world.scheduler.waiting()[0] ?? this.#lastDelivered;
        if (!job) break;
        this.world.clock.advanceTo(job.dueAt);
        const verdict = verdictOf(action.verdict);
        await this.#race(this.#deliver(process, job, verdict), this.#deliver(other, job, verdict));
        break;
      }
      case "human": {
        const before = this.#rollout();
        const takesBack =
          action.event === "resume" &&
          before?.phase === Phase.Paused &&
          before.pauseCause === PauseCause.Drift &&
          crashAfter === undefined &&
          this.world.router.failures === 0;
        await this.#act(process, humanEvent(action.event, action.who));
        ensure(
          !takesBack || this.world.router.route(TARGET).editedBy === undefined,
          () => `drift: a Resume after drift left someone's edit in place`,
        );
        break;
      }
      case "race-human": {
        const job = this.world.scheduler.waiting()[0];
        if (job) this.world.clock.advanceTo(job.dueAt);
        const event = humanEvent(action.event, action.who);
        const tick = job ? this.#deliver(other, job, verdictOf(action.verdict)) : Promise.resolve();
        await this.#race(this.#act(process, event), tick);
        break;
      }
      case "edit":
        this.world.router.edit(TARGET, action.weight, EDITOR);
        break;
      case "kube-fails":
        this.world.router.failures = action.times;
        this.world.router.failuresLand = action.land;
        break;
      case "sweep":
        this.world.clock.advance(action.lateMs);
        await this.#sweep(process);
        break;
      case "window-closed":
        this.world.calendar.closedUntil = this.world.clock.now() + action.forMs;
        break;
    }
    this.#raise();
    this.#restartDead();
    this.#checkAtRest();
  }

  /**
   * Invariant 8: with Kubernetes healthy and the windows open, the sweeper and the due ticks (passing) bring every
   * live rollout to rest, with the route where the state says it is. At rest: a phase that needs no tick, or the
   * header stage with its route confirmed (it waits for a person's approval, its ticks only keep the route). A
   * rollout a crash stranded in preflight (nothing touched, no tick due) is ended by a person's rollback, the
   * documented way out.
   */
  async settle(): Promise<void> {
    const { router, calendar, scheduler, clock, store } = this.world;
    router.failures = 0;
    calendar.closedUntil = undefined;
    const process = this.#spawn(0);
    for (let round = 0; round < 200 && !store.all().every(isAtRest); round += 1) {
      const stranded = store.all().find((rollout) => rollout.phase === Phase.Preflight);
      const job = scheduler.waiting()[0];
      if (stranded) {
        await this.#act(process, { type: "rollback", by: OTHER, reason: "stranded in preflight" });
      } else if (job) {
        clock.advanceTo(job.dueAt);
        await this.#deliver(process, job, passing());
      } else {
        const due = store
          .all()
          .flatMap((rollout) => (isLiveAndDue(rollout) ? [rollout.nextTickAt ?? 0] : []));
        clock.advanceTo(Math.max(clock.now(), ...due) + TICK_GRACE_MS);
        await this.#sweep(process);
      }
      this.#raise();
    }
    for (const rollout of store.all()) {
      ensure(
        isAtRest(rollout),
        () => `end state: ${rollout.id} did not come to rest: ${describeRollout(rollout)}`,
      );
      const route = router.route(rollout.target);
      // A person's edit stays, and so does a write a dead process never confirmed while the rollout is paused: the
      // state says so with `from → to`, or the next write saw it as drift; a Resume takes the route back.
      if (route.editedBy !== undefined || (this.#unconfirmed && rollout.phase === Phase.Paused)) continue;
      ensure(
        route.canaryWeight === rollout.appliedWeight && route.headerRoute === rollout.headerRouteActive,
        () =>
          `end state: ${rollout.id} rests ${describeRollout(rollout)}, the route carries ${route.canaryWeight}% (header ${route.headerRoute})`,
      );
    }
    this.#checkAtRest();
  }

  // --- the world around the service: tick worker, sweeper, people ---

  /** The tick worker: run the job; retry a failure; give up after ATTEMPTS; a dead process leaves it queued. */
  async #deliver(process: FakeProcess, job: TickJob, verdict: Verdict): Promise<void> {
    this.#lastDelivered = job;
    this.world.analyzer.verdict = verdict;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.#as(process, { kind: "tick", tick: job.tick, verdict, saves: 0 }, () =>
          process.service.tick(job.rolloutId, job.tick),
        );
        this.world.scheduler.finish(job);
        return;
      } catch (error) {
        if (error instanceof ProcessCrash) return;
        if (error instanceof InvariantBroken) throw error;
        // As the worker decides: a CanaryError says whether another run can help; anything else is assumed transient.
        const retryable = !isCanaryError(error) || error.retryable;
        if (retryable && attempt < ATTEMPTS) {
          this.world.clock.advance(1_000 * 2 ** (attempt - 1));
          continue;
        }
        try {
          await this.#as(process, { kind: "exhausted" }, () =>
            process.service.tickExhausted(job.rolloutId, job.tick, error),
          );
        } catch (failure) {
          // A worker that dies while giving up leaves the job running: BullMQ hands it out again.
          if (failure instanceof ProcessCrash) return;
          rethrowUnlessCrash(failure);
        }
        this.world.scheduler.finish(job);
        return;
      }
    }
  }

  /** The real sweeper's one pass, serving every rollout (one cluster). */
  async #sweep(process: FakeProcess): Promise<void> {
    const sweeper = startTickSweeper({
      store: this.world.store,
      ensure: (rolloutId, tick) => this.world.scheduler.ensure(rolloutId, tick),
      reportOverdue: (rolloutId, tick, detail) =>
        this.#as(process, { kind: "sweep" }, () => process.service.tickOverdue(rolloutId, tick, detail)),
      claim: () => Promise.resolve(true),
      serves: () => true,
      clock: this.world.clock,
      logger: silentLogger,
      everyMs: 3_600_000,
    });
    await sweeper.sweepOnce();
    await sweeper.close();
  }

  /** A person's action. A refusal is audited under their name and changes nothing (invariant 6). */
  async #act(process: FakeProcess, event: HumanEvent): Promise<void> {
    const current = this.#rollout();
    if (!current) return;
    try {
      await this.#as(process, { kind: "human", event, saves: 0 }, () =>
        process.service.act(current.id, event),
      );
    } catch (error) {
      if (!isCanaryError(error, ErrorCode.Forbidden)) return rethrowUnlessCrash(error);
      if (this.#racing) return;
      const entries = await this.world.store.audit(current.id);
      const last = entries.at(-1);
      ensure(
        last?.action === `refused:${event.type}` && last.actor === event.by && last.detail === error.message,
        () =>
          `audit: ${event.type} by ${event.by} was refused without its audit entry: ${JSON.stringify(last)}`,
      );
      ensure(
        this.#rollout()?.version === current.version,
        () => `audit: a refused ${event.type} changed the rollout`,
      );
    }
  }

  async #race(a: Promise<void>, b: Promise<void>): Promise<void> {
    this.#racing = true;
    try {
      const results = await Promise.allSettled([a, b]);
      for (const result of results) if (result.status === "rejected") rethrowUnlessCrash(result.reason);
    } finally {
      this.#racing = false;
    }
  }

  async #as<T>(process: FakeProcess, operation: Operation, run: () => Promise<T>): Promise<T | undefined> {
    const previous = this.#operations.get(process.name);
    this.#operations.set(process.name, operation);
    try {
      return await run();
    } catch (error) {
      // A failure to start (preflight, a crash) is the scenario's, not the test's.
      if (operation.kind === "start" && !(error instanceof InvariantBroken)) return undefined;
      throw error;
    } finally {
      this.#operations.set(process.name, previous ?? { kind: "idle" });
    }
  }

  #arm(slot: 0 | 1, crashAfter: number | undefined): FakeProcess {
    if (crashAfter !== undefined) this.#processes[slot] = this.#spawn(slot, crashAfter);
    return this.#processes[slot];
  }

  #spawn(slot: 0 | 1, crashAfter?: number): FakeProcess {
    this.#restarts += 1;
    return new FakeProcess(this.world, {
      name: `process-${slot}.${this.#restarts}`,
      ...(crashAfter === undefined ? {} : { crashAfter }),
    });
  }

  /** A process that died is restarted; one that was to die and did not is too (the crash was for that step only). */
  #restartDead(): void {
    for (const slot of [0, 1] as const) {
      if (this.#processes[slot].dead) this.#orphanUnscheduledTicks();
      if (this.#processes[slot].diedAfter === "setWeights") this.#unconfirmed = true;
      if (this.#processes[slot].dead || this.#processes[slot].mayCrash)
        this.#processes[slot] = this.#spawn(slot);
    }
  }

  /** Ticks saved but not scheduled when a process died: only the sweeper can find them. */
  #orphanUnscheduledTicks(): void {
    for (const rollout of this.world.store.all()) {
      if (this.#lastScheduled.get(rollout.id) !== rollout.tick)
        this.#orphaned.add(`${rollout.id}#${rollout.tick}`);
    }
  }

  /** Whether this tick job will find the rollout moving on a route someone else edited, with Kubernetes up. */
  #meetsEdit(job: TickJob): boolean {
    const saved = this.world.store.peek(job.rolloutId);
    return (
      saved !== undefined &&
      saved.tick === job.tick &&
      (saved.phase === Phase.Progressing || saved.phase === Phase.HeaderStage) &&
      this.world.router.route(saved.target).editedBy !== undefined &&
      this.world.router.failures === 0
    );
  }

  #rollout(): Rollout | undefined {
    return this.world.store.all().at(-1);
  }

  /** Everything a stale tick must leave alone: saves, route writes, schedules. */
  #footprint(): string {
    return `${this.world.store.commits.length}/${this.world.router.changes.length}/${this.#schedules}`;
  }

  // --- the invariants, at each observation point ---

  /** Every accepted save: weights (invariant 1), two-person rule, terminal phases, the rollback's one way out. */
  #checkCommit({ before, after, audit, writer }: Commit): void {
    const operation = (writer && this.#operations.get(writer)) || { kind: "idle" as const };
    const allowed = [0, ...this.plan.steps];
    ensure(
      allowed.includes(desiredWeight(after)) && allowed.includes(after.appliedWeight),
      () =>
        `weights: saved weights ${desiredWeight(after)}/${after.appliedWeight} are not in ${allowed.join()}`,
    );
    ensure(
      !this.plan.twoPersonRule || after.approvals.every((approval) => approval.by !== after.startedBy),
      () => `two-person rule: the starter's own approval was saved under the two-person rule`,
    );
    ensure(!isTerminal(before.phase), () => `terminal: ${before.phase} changed again, to ${after.phase}`);
    ensure(
      after.tick >= before.tick,
      () => `ticks: the tick counter went back from ${before.tick} to ${after.tick}`,
    );
    if (before.phase === Phase.RollingBack) {
      ensure(
        after.phase === Phase.RollingBack || after.phase === Phase.RolledBack,
        () => `rollback: left the rollback for ${after.phase}`,
      );
    }
    if (after.phase === Phase.RolledBack) {
      const route = this.world.router.route(after.target);
      ensure(
        before.phase === Phase.RollingBack && route.canaryWeight === 0 && !route.headerRoute,
        () => `rollback: rolled back from ${before.phase} with the route at ${route.canaryWeight}%`,
      );
    }
    this.#checkAudit(before, after, audit, operation);
    this.#checkDecision(before, after, operation);
    // A tick's first save is its decision (a step, a hold, a pause on drift...), which moves the counter past it; a
    // second process that read the same tick and saved its own decision would apply the tick twice.
    if (operation.kind === "tick" && operation.saves++ === 0 && after.tick === operation.tick + 1) {
      const key = `${after.id}#${operation.tick}`;
      ensure(
        !this.#appliedTicks.has(key),
        () => `one tick, once: tick ${operation.tick} of ${after.id} was applied twice`,
      );
      this.#appliedTicks.add(key);
    }
  }

  /** Invariant 6: one entry per change, naming who moved it from which phase to which. */
  #checkAudit(before: Rollout, after: Rollout, audit: Commit["audit"], operation: Operation): void {
    const changed =
      before.phase !== after.phase ||
      before.stepIndex !== after.stepIndex ||
      before.failedChecks !== after.failedChecks ||
      JSON.stringify(before.approvals) !== JSON.stringify(after.approvals) ||
      JSON.stringify(before.outcome) !== JSON.stringify(after.outcome);
    const firstOfHuman = operation.kind === "human" && operation.saves++ === 0;
    ensure(audit.length <= 1, () => `audit: one save carried ${audit.length} audit entries`);
    const entry = audit[0];
    if (changed || firstOfHuman) ensure(entry !== undefined, () => `audit: a change without an audit entry`);
    if (!entry) return;
    ensure(
      entry.rolloutId === after.id &&
        entry.fromPhase === before.phase &&
        entry.toPhase === after.phase &&
        entry.canaryWeight === desiredWeight(after),
      () =>
        `audit: audit ${JSON.stringify(entry)} for ${before.phase} → ${after.phase} at ${desiredWeight(after)}%`,
    );
    if (firstOfHuman) {
      ensure(
        entry.actor === operation.event.by,
        () => `audit: ${operation.event.type} audited as ${entry.actor}`,
      );
    }
  }

  /**
   * Invariant 5: a step forward by canarybot, and a decision to promote, are taken only on a passing verdict (or
   * on schedule without analysis); a person's decision only by their accepted Promote.
   */
  #checkDecision(before: Rollout, after: Rollout, operation: Operation): void {
    const judgedPass =
      operation.kind === "tick" && (!this.plan.analysis || operation.verdict.status === CheckStatus.Pass);
    const promoted = operation.kind === "human" && operation.event.type === "promote";
    // From preflight (-1) the first step is taken on the starter's behalf, or by the header stage's approval.
    const forward = after.stepIndex > before.stepIndex && before.stepIndex >= 0;
    ensure(
      !forward || judgedPass || promoted,
      () => `promotion: stepped to ${after.stepIndex} in ${describeOperation(operation)}`,
    );
    const decided =
      after.outcome !== undefined &&
      (before.outcome?.by !== after.outcome.by || before.outcome.reason !== after.outcome.reason);
    if (!decided || (after.phase !== Phase.Progressing && after.phase !== Phase.Promoted)) return;
    const by = after.outcome?.by;
    ensure(
      by === SYSTEM_ACTOR
        ? judgedPass
        : operation.kind === "human" && operation.event.type === "promote" && operation.event.by === by,
      () => `promotion: promotion decided by ${by} in ${describeOperation(operation)}`,
    );
  }

  /** Every write to the route goes where the saved state wants it, and only while the rollout is live. */
  #checkRouteChange({ target, route, how, acknowledged }: RouteChange): void {
    this.#unconfirmed = !acknowledged;
    const allowed = [0, ...this.plan.steps];
    ensure(
      allowed.includes(route.canaryWeight),
      () => `weights: the route was set to ${route.canaryWeight}%`,
    );
    ensure(
      !route.headerRoute || (this.plan.headerMatch !== undefined && route.canaryWeight === 0),
      () => `weights: a header route with ${route.canaryWeight}% on the canary`,
    );
    const saved = this.world.store
      .all()
      .find((rollout) => rollout.target.virtualService === target.virtualService);
    ensure(
      saved !== undefined && !isTerminal(saved.phase),
      () => `terminal: the route was written after the end`,
    );
    if (!saved) return;
    if (how === "restore") {
      ensure(saved.phase === Phase.RollingBack, () => `rollback: a restore while ${saved.phase}`);
      return;
    }
    ensure(saved.phase !== Phase.RollingBack, () => `rollback: weights set during a rollback`);
    ensure(
      route.canaryWeight === desiredWeight(saved) && route.headerRoute === wantsHeaderRoute(saved),
      () =>
        `weights: the route was set to ${route.canaryWeight}% while the saved state wants ${desiredWeight(saved)}%`,
    );
  }

  /** Scheduled tick numbers strictly increase and are the saved state's (a stale or duplicated job is harmless). */
  #checkSchedule({ rolloutId, tick }: TickJob): void {
    this.#schedules += 1;
    const last = this.#lastScheduled.get(rolloutId) ?? -1;
    ensure(tick > last, () => `ticks: tick ${tick} scheduled after ${last}`);
    this.#lastScheduled.set(rolloutId, tick);
    const saved = this.world.store.peek(rolloutId);
    ensure(
      saved?.tick === tick,
      () => `ticks: tick ${tick} scheduled, the saved state waits for ${saved?.tick}`,
    );
  }

  /**
   * Invariant 9: a screen shows the weight the route carries, or the pending move as `from → to`. Not after a
   * write nobody could confirm (#unconfirmed): until a tick or a restore writes the route again, the state holds the
   * last weight confirmed, and the route may carry the one written since.
   */
  #checkScreen(rollout: Rollout, screen: string): void {
    const route = this.world.router.route(rollout.target);
    if (route.editedBy !== undefined || this.#unconfirmed) return;
    const shown = describeWeight(rollout);
    const pending = `${rollout.appliedWeight}% → ${desiredWeight(rollout)}%`;
    ensure(
      shown === `${route.canaryWeight}%` ||
        (shown === pending && [rollout.appliedWeight, desiredWeight(rollout)].includes(route.canaryWeight)),
      () => `screens: ${screen} shows ${shown}, the route carries ${route.canaryWeight}%`,
    );
  }

  /** Between steps: screens, and invariant 8's "a rollout that moves on its own has its next tick coming". */
  #checkAtRest(): void {
    for (const rollout of this.world.store.all()) {
      this.#checkScreen(rollout, "status");
      if (!MOVING.includes(rollout.phase)) continue;
      const due = rollout.nextTickAt;
      ensure(due !== undefined, () => `end state: ${rollout.phase} with no next tick`);
      const queued = this.world.scheduler
        .waiting()
        .some((job) => job.rolloutId === rollout.id && job.tick === rollout.tick);
      // The tick is scheduled with the save; only a process that died in between leaves it to the sweeper.
      const swept =
        this.#orphaned.has(`${rollout.id}#${rollout.tick}`) &&
        planSweep([rollout], () => true, (due ?? 0) + TICK_GRACE_MS).ensure.some(
          (job) => job.rolloutId === rollout.id && job.tick === rollout.tick,
        );
      ensure(
        queued || swept,
        () => `end state: tick ${rollout.tick} of ${rollout.phase} neither queued nor left to the sweeper`,
      );
    }
  }
}

function isAtRest(rollout: Rollout): boolean {
  if (rollout.phase === Phase.HeaderStage) {
    return (
      rollout.appliedWeight === desiredWeight(rollout) &&
      rollout.headerRouteActive === wantsHeaderRoute(rollout)
    );
  }
  return AT_REST.includes(rollout.phase) && rollout.nextTickAt === undefined;
}

function isLiveAndDue(rollout: Rollout): boolean {
  return rollout.nextTickAt !== undefined && !isTerminal(rollout.phase);
}

function describeRollout(rollout: Rollout): string {
  return `${rollout.phase} at step ${rollout.stepIndex}, believing ${rollout.appliedWeight}% (header ${rollout.headerRouteActive}), tick ${rollout.tick} due ${rollout.nextTickAt ?? "never"}`;
}

function describeOperation(operation: Operation): string {
  switch (operation.kind) {
    case "tick":
      return `tick ${operation.tick} judged ${operation.verdict.status}`;
    case "human":
      return `${operation.event.type} by ${operation.event.by}`;
    case "start":
    case "sweep":
    case "exhausted":
    case "idle":
      return operation.kind;
  }
}

function rethrowUnlessCrash(error: unknown): void {
  if (error instanceof ProcessCrash) return;
  if (error instanceof InvariantBroken) throw error;
  // People's refusals and outside failures are the scenario's; the invariants are checked where they happen.
  if (isCanaryError(error)) return;
  throw error;
}

async function simulate(scenario: Scenario): Promise<void> {
  const simulation = new Simulation(scenario.plan);
  await simulation.start(scenario.start.crashAfter, scenario.start.preflightFails);
  for (const step of scenario.steps) await simulation.step(step);
  await simulation.settle();
}

async function holds(races: boolean): Promise<void> {
  await fc.assert(
    fc.asyncProperty(scenarioArb(races), async (scenario) => {
      await simulate(scenario);
    }),
    { numRuns: RUNS, seed: SEED, ...(REPLAY === undefined ? {} : { path: REPLAY }) },
  );
}

describe("the rollout invariants, on the real RolloutService over random events and crashes", () => {
  it("generates only plans planProblems accepts", () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        expect(planProblems(plan)).toEqual([]);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("hold for one process restarted after crashes, with late, stale and duplicated ticks", async () => {
    await holds(false);
  });

  it("hold for two processes on one store, racing ticks and people", async () => {
    await holds(true);
  });
});
