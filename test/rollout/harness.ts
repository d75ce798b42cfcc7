import { desiredWeight, wantsHeaderRoute } from "../../src/rollout/plan.ts";
import { transition } from "../../src/rollout/transition.ts";
import { CheckStatus, Phase } from "../../src/rollout/types.ts";
import type {
  AuditEntry,
  Effect,
  Rollout,
  RolloutEvent,
  TransitionResult,
  Verdict,
} from "../../src/rollout/types.ts";

/** Test doubles for the core: verdicts, effect pickers, and the service's effect loop without any I/O. */

export function passing(): Verdict {
  return {
    status: CheckStatus.Pass,
    checks: [{ name: "success-rate", status: CheckStatus.Pass, value: 0.999, threshold: ">= 99%" }],
  };
}

export function failing(options: { critical?: boolean; name?: string } = {}): Verdict {
  return {
    status: CheckStatus.Fail,
    checks: [
      { name: "p99", status: CheckStatus.Pass, value: 120, threshold: "<= 500ms" },
      {
        name: options.name ?? "success-rate",
        status: CheckStatus.Fail,
        value: 0.8,
        threshold: ">= 99%",
        ...(options.critical ? { critical: true } : {}),
      },
    ],
  };
}

export function inconclusive(): Verdict {
  return {
    status: CheckStatus.Inconclusive,
    checks: [
      { name: "requests", status: CheckStatus.Inconclusive, value: 3, threshold: ">= 50", detail: "too few" },
    ],
  };
}

export function audits(effects: readonly Effect[]): AuditEntry[] {
  return effects.flatMap((effect) => (effect.type === "audit" ? [effect.entry] : []));
}

export function effectsOfType<T extends Effect["type"]>(
  effects: readonly Effect[],
  type: T,
): Extract<Effect, { type: T }>[] {
  return effects.filter((effect): effect is Extract<Effect, { type: T }> => effect.type === type);
}

/** How the outside world answers the effects of one event. */
export type World = {
  /** A route write: confirmed, failed (the next tick retries it), or refused because someone edited the route. */
  write: "ok" | "fail" | "drift";
  restore: "ok" | "fail";
};

export const WORLD_OK: World = { write: "ok", restore: "ok" };

/** One call of `transition`, with what went in. */
export type Applied = { event: RolloutEvent; before: Rollout; result: TransitionResult };

/**
 * Apply an event the way RolloutService does, minus the I/O: on refusal keep the rollout; otherwise carry out the
 * effects in order, feeding back `weights-applied` after a confirmed route change (skipped when the route already
 * matches), `drift-detected` when the write meets someone else's edit, `route-restored` after a restore, and
 * `error` when a restore fails. Every transition made, follow-ups included, is returned in order.
 */
export function applyLikeService(
  rollout: Rollout,
  event: RolloutEvent,
  now: number,
  world: World = WORLD_OK,
): { rollout: Rollout; applied: Applied[] } {
  const applied: Applied[] = [];
  const apply = (current: Rollout, next: RolloutEvent): Rollout => {
    const result = transition(current, next, now);
    applied.push({ event: next, before: current, result });
    if (result.refused !== undefined) return current;
    let state = result.rollout;
    for (const effect of result.effects) {
      if (effect.type === "set-weights") {
        state = writeRoute(state, effect, effect.force === true);
      } else if (effect.type === "restore-route") {
        state =
          world.restore === "ok"
            ? apply(state, { type: "route-restored" })
            : apply(state, { type: "error", kind: "kubernetes_unavailable", detail: "restore failed" });
      }
    }
    return state;
  };
  const writeRoute = (
    current: Rollout,
    desired: { canaryWeight: number; headerRoute: boolean },
    force: boolean,
  ): Rollout => {
    if (world.write === "drift" && !force) {
      return apply(current, { type: "drift-detected", detail: "the route was edited by someone else" });
    }
    if (world.write === "fail") return current;
    if (current.appliedWeight === desired.canaryWeight && current.headerRouteActive === desired.headerRoute) {
      return current;
    }
    return apply(current, {
      type: "weights-applied",
      weight: desired.canaryWeight,
      headerRouteActive: desired.headerRoute,
    });
  };

  if (event.type === "tick" && event.tick === rollout.tick) {
    // RolloutService.tick: reconcile the route first (the drift check), then judge, unless that changed things.
    if (rollout.phase === Phase.Progressing || rollout.phase === Phase.HeaderStage) {
      const desired = { canaryWeight: desiredWeight(rollout), headerRoute: wantsHeaderRoute(rollout) };
      const moved = writeRoute(rollout, desired, false);
      if (moved.phase !== rollout.phase || moved.tick !== rollout.tick) return { rollout: moved, applied };
      const verdict = moved.phase === Phase.Progressing ? event.verdict : undefined;
      const tick: RolloutEvent = { type: "tick", tick: event.tick, ...(verdict ? { verdict } : {}) };
      return { rollout: apply(moved, tick), applied };
    }
  }
  return { rollout: apply(rollout, event), applied };
}

/** Apply events one after another like the service, `stepMs` apart; returns the end state and every transition. */
export function applyAll(
  rollout: Rollout,
  events: readonly (RolloutEvent | ((current: Rollout) => RolloutEvent))[],
  start: number,
  stepMs = 60_000,
): { rollout: Rollout; applied: Applied[] } {
  let current = rollout;
  const applied: Applied[] = [];
  events.forEach((event, index) => {
    const next = typeof event === "function" ? event(current) : event;
    const outcome = applyLikeService(current, next, start + index * stepMs);
    current = outcome.rollout;
    applied.push(...outcome.applied);
  });
  return { rollout: current, applied };
}

/** The tick the rollout is waiting for, as the scheduler would deliver it. */
export function dueTick(verdict?: Verdict): (current: Rollout) => RolloutEvent {
  return (current) => ({ type: "tick", tick: current.tick, ...(verdict ? { verdict } : {}) });
}
