import { lastStepIndex } from "./plan.ts";
import { CheckStatus, FlaggerPhase, HookType, Phase } from "./types.ts";
import type {
  AnalysisPolicy,
  AuditEntry,
  CheckResult,
  Effect,
  HookResult,
  Plan,
  Rollout,
  Verdict,
  Webhook,
} from "./types.ts";

/** Failed checks that roll back a plan judged by its rollout webhooks alone (no metric analysis): Flagger's usual 2. */
export const HOOK_FAILURE_LIMIT = 2;
/** Flagger's default webhook timeout, per attempt. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** A tick waits for its webhooks: none may take longer than this per attempt. */
export const MAX_WEBHOOK_TIMEOUT_MS = 5 * 60_000;
/** Further attempts a hook may ask for. */
export const MAX_WEBHOOK_RETRIES = 5;
/** Results kept on a rollout: the latest call of each hook. */
const MAX_HOOK_RESULTS = 32;

/**
 * Our phases in Flagger's names, in one place. A rollout waiting on a gate webhook is `Waiting` (at the start) or
 * `WaitingPromotion` (before the last step); a decided promotion on its way to 100% is `Promoting`; a rollback is
 * `Failed` as in Flagger, which fails the canary when it shifts the traffic back. Flagger's `Initialized`,
 * `Finalising`, `Terminating` and `Terminated` (its primary workload and finalizers) have no counterpart here.
 */
export function flaggerPhase(
  rollout: Pick<Rollout, "phase" | "waitingFor" | "outcome" | "baseline">,
): FlaggerPhase {
  switch (rollout.phase) {
    case Phase.Preflight:
      return rollout.baseline === undefined ? FlaggerPhase.Initializing : FlaggerPhase.Waiting;
    case Phase.HeaderStage:
      return FlaggerPhase.Progressing;
    case Phase.Progressing:
      if (rollout.outcome) return FlaggerPhase.Promoting;
      return rollout.waitingFor?.startsWith(HookType.ConfirmPromotion)
        ? FlaggerPhase.WaitingPromotion
        : FlaggerPhase.Progressing;
    case Phase.Paused:
    case Phase.AwaitingApproval:
      return FlaggerPhase.Waiting;
    case Phase.Promoted:
      return FlaggerPhase.Succeeded;
    case Phase.RollingBack:
    case Phase.RolledBack:
    case Phase.Failed:
      return FlaggerPhase.Failed;
  }
}

export function hooksOf(plan: Pick<Plan, "webhooks">, type: HookType): Webhook[] {
  return (plan.webhooks ?? []).filter((hook) => hook.type === type);
}

/** Whether a started rollout must wait for webhooks (confirm-rollout, pre-rollout) before any traffic moves. */
export function hasStartGate(plan: Pick<Plan, "webhooks">): boolean {
  return hooksOf(plan, HookType.ConfirmRollout).length + hooksOf(plan, HookType.PreRollout).length > 0;
}

/** Waiting after preflight for the start gate webhooks: nothing touched yet, the baseline read. */
export function isAwaitingStartGate(rollout: Pick<Rollout, "phase" | "baseline" | "plan">): boolean {
  return rollout.phase === Phase.Preflight && rollout.baseline !== undefined && hasStartGate(rollout.plan);
}

/**
 * The webhook types a due tick calls, in order: rollback first (an external system may ask for one while the
 * rollout waits or progresses), then the gates. The service calls them and hands the results to the core with the
 * tick; the core never sees a hook that was not called as passed.
 */
export function hooksDue(rollout: Rollout): HookType[] {
  const types: HookType[] = [HookType.Rollback];
  if (isAwaitingStartGate(rollout)) {
    types.push(HookType.ConfirmRollout, HookType.PreRollout);
  } else if (rollout.phase === Phase.Progressing && !rollout.outcome) {
    types.push(HookType.Rollout, ...confirmationsFor(rollout));
  } else if (rollout.phase !== Phase.HeaderStage) {
    return [];
  }
  return types.filter((type) => hooksOf(rollout.plan, type).length > 0);
}

/** The confirmations leaving the current step needs: every increase, and the step that promotes. */
function confirmationsFor(rollout: Pick<Rollout, "plan" | "stepIndex">): HookType[] {
  const last = lastStepIndex(rollout.plan);
  if (rollout.stepIndex >= last) return [HookType.ConfirmPromotion];
  if (rollout.stepIndex + 1 === last) return [HookType.ConfirmTrafficIncrease, HookType.ConfirmPromotion];
  return [HookType.ConfirmTrafficIncrease];
}

/** Whether a hook's answer stops the calls after it: a rollback asked for, or a gate that does not pass. */
export function isDecisive(result: HookResult): boolean {
  return result.type === HookType.Rollback ? result.ok : !result.ok;
}

/** The rollback hook that asked for a rollback (answered 2xx), if any. */
export function rollbackRequest(results: readonly HookResult[]): HookResult | undefined {
  return results.find((result) => result.type === HookType.Rollback && result.ok);
}

/**
 * The first hook of these types that did not confirm: failed, or configured but not called. Undefined when every
 * hook of the types answered 2xx.
 */
export function unconfirmed(
  plan: Pick<Plan, "webhooks">,
  types: readonly HookType[],
  results: readonly HookResult[],
): { hook: Webhook; result?: HookResult } | undefined {
  for (const type of types) {
    for (const hook of hooksOf(plan, type)) {
      const result = results.find((candidate) => candidate.type === type && candidate.name === hook.name);
      if (!result?.ok) return result ? { hook, result } : { hook };
    }
  }
  return undefined;
}

/** What a gate waits for, in words: `confirm-promotion "promotion gate" (403: closed)`. */
export function describeWait(gate: { hook: Webhook; result?: HookResult }): string {
  const answer = gate.result ? describeAnswer(gate.result) : "not called";
  return `${gate.hook.type} "${gate.hook.name}" (${answer})`;
}

/** The confirmations an advance from the current step needs, not yet given; undefined when none holds it. */
export function unconfirmedAdvance(rollout: Rollout, results: readonly HookResult[]): string | undefined {
  const gate = unconfirmed(rollout.plan, confirmationsFor(rollout), results);
  return gate ? describeWait(gate) : undefined;
}

/**
 * A verdict that counts the rollout webhooks as checks: each call is a check, a failed (or missing) call fails the
 * verdict. Without rollout hooks the verdict is unchanged; without analysis, the hooks alone are the verdict.
 */
export function withHookChecks(
  plan: Pick<Plan, "webhooks" | "analysis">,
  verdict: Verdict | undefined,
  results: readonly HookResult[],
): Verdict | undefined {
  const hooks = hooksOf(plan, HookType.Rollout);
  if (hooks.length === 0) return verdict;
  const checks: CheckResult[] = hooks.map((hook) => {
    const result = results.find(
      (candidate) => candidate.type === HookType.Rollout && candidate.name === hook.name,
    );
    return {
      name: `webhook ${hook.name}`,
      status: result?.ok ? CheckStatus.Pass : CheckStatus.Fail,
      ...(result?.status === undefined ? {} : { value: result.status }),
      threshold: "HTTP 200-202",
      ...(result?.ok ? {} : { detail: result ? describeAnswer(result) : "not called" }),
    };
  });
  const failed = checks.some((check) => check.status === CheckStatus.Fail);
  if (!verdict) {
    // With analysis but no verdict the core judges the tick inconclusive, unless a hook already failed it.
    if (plan.analysis && !failed) return undefined;
    return { status: failed ? CheckStatus.Fail : CheckStatus.Pass, checks };
  }
  return {
    ...verdict,
    status: failed ? CheckStatus.Fail : verdict.status,
    checks: [...verdict.checks, ...checks],
  };
}

/** The policy a plan without analysis is judged by when its rollout webhooks are its checks. */
export function hookPolicy(plan: Pick<Plan, "webhooks">): AnalysisPolicy | undefined {
  if (hooksOf(plan, HookType.Rollout).length === 0) return undefined;
  return {
    minSuccessRate: 0,
    maxP99Ms: Number.MAX_SAFE_INTEGER,
    maxErrorRateIncrease: 1,
    maxP99Ratio: Number.MAX_SAFE_INTEGER,
    minRequests: 0,
    failureLimit: HOOK_FAILURE_LIMIT,
    criticalSuccessRate: 0,
    inconclusiveLimit: Number.MAX_SAFE_INTEGER,
    customChecks: [],
  };
}

/** The failure limit pre-rollout failures count toward: the analysis's, else Flagger's usual 2. */
export function failureLimitOf(plan: Pick<Plan, "analysis">): number {
  return plan.analysis?.failureLimit ?? HOOK_FAILURE_LIMIT;
}

/** `pre-rollout "smoke" → 500 in 12 ms (2 attempts): boom` */
export function describeHookResult(result: HookResult): string {
  const attempts = result.attempts > 1 ? ` (${result.attempts} attempts)` : "";
  const answer = result.answer === "" ? "" : `: ${result.answer}`;
  const status = result.status === undefined ? "no answer" : String(result.status);
  return `${result.type} "${result.name}" → ${status} in ${result.durationMs} ms${attempts}${answer}`;
}

function describeAnswer(result: HookResult): string {
  const status = result.status === undefined ? "no answer" : String(result.status);
  return result.answer === "" ? status : `${status}: ${result.answer}`;
}

/** The rollout with these calls recorded as the latest of their hooks. */
export function recordHookResults(rollout: Rollout, results: readonly HookResult[]): Rollout {
  if (results.length === 0) return rollout;
  const names = new Set(results.map((result) => `${result.type}/${result.name}`));
  const kept = (rollout.hookResults ?? []).filter((result) => !names.has(`${result.type}/${result.name}`));
  return { ...rollout, hookResults: [...kept, ...results].slice(-MAX_HOOK_RESULTS) };
}

/** One audit entry per call: every webhook call is in the trail with its status, duration and answer. */
export function hookAudits(
  rollout: Rollout,
  results: readonly HookResult[],
  now: number,
  weight: number,
): Effect[] {
  return results.map((result): Effect => {
    const entry: AuditEntry = {
      at: now,
      rolloutId: rollout.id,
      actor: `webhook:${result.name}`,
      action: "webhook",
      fromPhase: rollout.phase,
      toPhase: rollout.phase,
      canaryWeight: weight,
      detail: describeHookResult(result),
    };
    return { type: "audit", entry };
  });
}

/**
 * The event and post-rollout webhook calls a change asks for: every phase change (in Flagger's names) goes to the
 * event hooks with a message, and an ending (promoted, rolled back, failed after preflight) to the post-rollout hooks.
 */
export function phaseChangeCalls(before: Rollout, after: Rollout, message: string, now: number): Effect[] {
  const from = flaggerPhase(before);
  const to = flaggerPhase(after);
  if (from === to && before.phase === after.phase) return [];
  const warning =
    after.phase === Phase.RollingBack ||
    after.phase === Phase.RolledBack ||
    after.phase === Phase.Failed ||
    after.phase === Phase.Paused;
  const calls: Effect[] = hooksOf(after.plan, HookType.Event).map((hook) => ({
    type: "call-webhook",
    hook,
    phase: to,
    event: { message, type: warning ? "Warning" : "Normal", at: now },
  }));
  const ended =
    after.phase === Phase.Promoted ||
    after.phase === Phase.RolledBack ||
    (after.phase === Phase.Failed && after.baseline !== undefined);
  if (ended && before.phase !== after.phase) {
    for (const hook of hooksOf(after.plan, HookType.PostRollout))
      calls.push({ type: "call-webhook", hook, phase: to });
  }
  return calls;
}

/**
 * A short, stable identity of what a rollout releases (rollout id, target, subsets), Flagger's `checksum`: the same
 * for every call of one rollout, different for the next. FNV-1a, so the pure core can compute it.
 */
export function rolloutChecksum(rollout: Pick<Rollout, "id" | "target">): string {
  const { target } = rollout;
  const text = [
    rollout.id,
    target.namespace,
    target.virtualService,
    target.stableSubset,
    target.canarySubset,
  ].join("/");
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}
