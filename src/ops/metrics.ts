import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { LIVE_PHASES, SYSTEM_ACTOR } from "../rollout/types.ts";
import type { AuditEntry, Phase, Rollout } from "../rollout/types.ts";

/** The outside systems canarybot calls, as the `system` label of the call metrics. */
export type CalledSystem = "kubernetes" | "prometheus" | "slack";

/** Where the scrape-time gauges read from; each is optional so a process exports what it has. */
export type MetricSources = {
  liveRollouts?: () => Promise<readonly Rollout[]>;
  /** Tick jobs by state (waiting, delayed, active, failed) and how late the oldest due one is, in seconds. */
  tickQueue?: () => Promise<{ counts: Record<string, number>; lagSeconds: number }>;
};

/**
 * canarybot's own metrics, on one prom-client registry per process (tests run several in one process).
 * Counters are fed by the instrumentation wrappers (`instrument.ts`); rollouts by phase, queue depth and tick
 * lag are read when Prometheus scrapes, so every replica reports the same shared picture from Redis.
 */
export class OpsMetrics {
  readonly registry = new Registry();
  readonly #calls: Counter<"system" | "operation" | "outcome">;
  readonly #callSeconds: Histogram<"system" | "operation">;
  readonly #steps: Counter;
  readonly #transitions: Counter<"phase">;
  readonly #rollbacks: Counter<"reason">;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#calls = new Counter({
      name: "canarybot_external_calls_total",
      help: "Calls to Kubernetes, Prometheus and Slack, by operation and outcome (ok or error).",
      labelNames: ["system", "operation", "outcome"],
      registers,
    });
    this.#callSeconds = new Histogram({
      name: "canarybot_external_call_duration_seconds",
      help: "Latency of calls to Kubernetes, Prometheus and Slack.",
      labelNames: ["system", "operation"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#steps = new Counter({
      name: "canarybot_steps_total",
      help: "Route changes made to a new canary weight.",
      registers,
    });
    this.#transitions = new Counter({
      name: "canarybot_rollout_transitions_total",
      help: "Rollouts entering a phase.",
      labelNames: ["phase"],
      registers,
    });
    this.#rollbacks = new Counter({
      name: "canarybot_rollbacks_total",
      help: "Rollbacks begun, by reason: analysis (a failed verdict), manual (a person), or the event that caused it.",
      labelNames: ["reason"],
      registers,
    });
  }

  /** Export the gauges read from Redis at scrape time. A source that fails or is slow leaves its gauge out of that scrape. */
  observe(sources: MetricSources): void {
    const registers = [this.registry];
    const { liveRollouts, tickQueue } = sources;
    if (liveRollouts) {
      new Gauge({
        name: "canarybot_rollouts",
        help: "Live rollouts by phase (all replicas: read from Redis).",
        labelNames: ["phase"],
        registers,
        async collect() {
          const live = await bounded(liveRollouts());
          if (live === undefined) return;
          const counts = new Map<Phase, number>(LIVE_PHASES.map((phase) => [phase, 0]));
          for (const rollout of live) {
            counts.set(rollout.phase, (counts.get(rollout.phase) ?? 0) + 1);
          }
          for (const [phase, count] of counts) this.set({ phase }, count);
        },
      });
    }
    if (tickQueue) {
      // One read of the queue serves both gauges of a scrape.
      let pending: Promise<{ counts: Record<string, number>; lagSeconds: number } | undefined> | undefined;
      const read = () =>
        (pending ??= bounded(tickQueue()).finally(() => setTimeout(() => (pending = undefined), 100)));
      new Gauge({
        name: "canarybot_tick_queue_jobs",
        help: "Tick jobs in the queue by state.",
        labelNames: ["state"],
        registers,
        async collect() {
          const queue = await read();
          for (const [state, count] of Object.entries(queue?.counts ?? {})) this.set({ state }, count);
        },
      });
      new Gauge({
        name: "canarybot_tick_lag_seconds",
        help: "How long the oldest due tick has waited for a worker (0 when none is waiting).",
        registers,
        async collect() {
          const lag = (await read())?.lagSeconds;
          if (lag !== undefined) this.set(lag);
        },
      });
    }
  }

  /** Time one call to an outside system, counting it as ok or error (a throw, or an answer `failed` says is one). */
  async timeCall<T>(
    system: CalledSystem,
    operation: string,
    call: () => Promise<T>,
    failed: (result: T) => boolean | Promise<boolean> = () => false,
  ): Promise<T> {
    const stop = this.#callSeconds.startTimer({ system, operation });
    try {
      const result = await call();
      this.#calls.inc({ system, operation, outcome: (await failed(result)) ? "error" : "ok" });
      return result;
    } catch (error) {
      this.#calls.inc({ system, operation, outcome: "error" });
      throw error;
    } finally {
      stop();
    }
  }

  stepTaken(): void {
    this.#steps.inc();
  }

  /** Phase changes and rollbacks, read off the audit entries the service writes for every change. */
  audited(entry: AuditEntry): void {
    if (entry.fromPhase === entry.toPhase) return;
    this.#transitions.inc({ phase: entry.toPhase });
    if (entry.toPhase === "rolling-back") this.#rollbacks.inc({ reason: rollbackReason(entry) });
  }
}

function rollbackReason(entry: AuditEntry): string {
  if (entry.actor !== SYSTEM_ACTOR) return "manual";
  return entry.action === "tick" ? "analysis" : entry.action;
}

/** A scrape must not hang on Redis being away: give up after a second and a half, leaving the gauge out. */
async function bounded<T>(promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), 1_500);
      }),
    ]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
