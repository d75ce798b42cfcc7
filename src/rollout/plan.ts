import { LIVE_PHASES, Phase, TERMINAL_PHASES } from "./types.ts";
import type { AnalysisPolicy, Plan, Problem, Rollout, Webhook } from "./types.ts";

/** The shortest time between steps a plan may ask for, unless the operator lowers it (load tests, demos). */
export const MIN_INTERVAL_MS = 1_000;
/** The longest: a canary left a day at one step is a forgotten canary (and a far-off time cannot be drawn). */
export const MAX_INTERVAL_MS = 24 * 3_600_000;
/** The highest p99 threshold: Istio's largest default latency bucket (1 h); above it nothing can be measured. */
export const MAX_P99_MS = 3_600_000;

/** A problem as one line: `steps: the last step must be 100 (…)`. */
export function problemText(problem: Problem): string {
  return `${problem.field}: ${problem.message}`;
}

/** Problems as one line, separated by semicolons. */
export function problemsText(problems: readonly Problem[]): string {
  return problems.map(problemText).join("; ");
}

/** Every problem with a plan, in words a person can act on; empty when the plan is sound. */
export function planProblems(plan: Plan, minIntervalMs = MIN_INTERVAL_MS): Problem[] {
  const problems: Problem[] = [];
  const { steps } = plan;
  if (steps.length === 0) problems.push({ field: "steps", message: "at least one step is needed" });
  steps.forEach((weight, index) => {
    if (!Number.isInteger(weight) || weight < 1 || weight > 100) {
      problems.push({ field: "steps", message: `${weight} is not a whole percentage between 1 and 100` });
    }
    const previous = steps[index - 1];
    if (previous !== undefined && weight <= previous) {
      problems.push({
        field: "steps",
        message: `${weight} after ${previous}: steps must be strictly increasing`,
      });
    }
  });
  if (steps.length > 0 && steps[steps.length - 1] !== 100) {
    problems.push({
      field: "steps",
      message: "the last step must be 100 (promotion sends all traffic to the canary)",
    });
  }
  if (!Number.isFinite(plan.intervalMs) || plan.intervalMs < minIntervalMs) {
    problems.push({ field: "interval", message: `must be at least ${formatDuration(minIntervalMs)}` });
  } else if (plan.intervalMs > MAX_INTERVAL_MS) {
    problems.push({ field: "interval", message: `must be at most ${formatDuration(MAX_INTERVAL_MS)}` });
  }
  for (const gate of plan.approvalGates) {
    if (!steps.includes(gate)) {
      problems.push({
        field: "approve-at",
        message: `${gate} is not one of the steps (${steps.join(", ")})`,
      });
    } else if (gate === 100) {
      problems.push({
        field: "approve-at",
        message: "100 is the promotion itself; gate an earlier step or use Promote",
      });
    }
  }
  if (plan.headerMatch && (plan.headerMatch.name === "" || plan.headerMatch.value === "")) {
    problems.push({ field: "header", message: "needs name=value" });
  }
  const deadline = plan.progressDeadlineMs;
  if (deadline !== undefined && !(deadline >= MIN_INTERVAL_MS && deadline <= MAX_INTERVAL_MS)) {
    problems.push({
      field: "progress-deadline",
      message: `must be between ${formatDuration(MIN_INTERVAL_MS)} and ${formatDuration(MAX_INTERVAL_MS)}`,
    });
  }
  if (plan.analysis) problems.push(...analysisProblems(plan.analysis));
  if (plan.webhooks) problems.push(...webhookProblems(plan.webhooks));
  return problems;
}

function webhookProblems(hooks: readonly Webhook[]): Problem[] {
  const problems: Problem[] = [];
  hooks.forEach((hook, index) => {
    const name = `"${hook.name}"`;
    if (hook.name.trim() === "")
      problems.push({ field: "webhooks", message: `hook ${index + 1} needs a name` });
    if (hooks.findIndex((other) => other.name === hook.name) !== index)
      problems.push({ field: "webhooks", message: `${name} is named twice` });
    if (!/^https?:\/\/[^\s/]+/.test(hook.url))
      problems.push({ field: "webhooks", message: `${name}: the url must be http:// or https://` });
    if (!(hook.timeoutMs > 0))
      problems.push({ field: "webhooks", message: `${name}: the timeout must be more than 0` });
    if (!(Number.isInteger(hook.retries) && hook.retries >= 0))
      problems.push({ field: "webhooks", message: `${name}: retries must be 0 or more` });
  });
  return problems;
}

function analysisProblems(policy: AnalysisPolicy): Problem[] {
  const problems: Problem[] = [];
  const share = (value: number, field: string): void => {
    if (!(value >= 0 && value <= 1))
      problems.push({ field, message: "must be a percentage between 0 and 100" });
  };
  share(policy.minSuccessRate, "min-success");
  share(policy.criticalSuccessRate, "critical-success");
  share(policy.maxErrorRateIncrease, "max-error-increase");
  if (!(policy.maxP99Ms > 0)) problems.push({ field: "max-p99", message: "must be more than 0ms" });
  else if (!(policy.maxP99Ms <= MAX_P99_MS))
    problems.push({ field: "max-p99", message: `must be at most ${formatDuration(MAX_P99_MS)}` });
  if (!(policy.maxP99Ratio >= 1)) problems.push({ field: "max-p99-ratio", message: "must be at least 1" });
  if (!(Number.isInteger(policy.minRequests) && policy.minRequests >= 0)) {
    problems.push({ field: "min-requests", message: "must be a whole number" });
  }
  if (!(Number.isInteger(policy.failureLimit) && policy.failureLimit >= 1)) {
    problems.push({ field: "failure-limit", message: "must be at least 1" });
  }
  if (!(Number.isInteger(policy.inconclusiveLimit) && policy.inconclusiveLimit >= 1)) {
    problems.push({ field: "inconclusive-limit", message: "must be at least 1" });
  }
  return problems;
}

export function isTerminal(phase: Phase): boolean {
  return TERMINAL_PHASES.includes(phase);
}

export function isLive(phase: Phase): boolean {
  return LIVE_PHASES.includes(phase);
}

export function lastStepIndex(plan: Plan): number {
  return plan.steps.length - 1;
}

/** The canary weight the rollout wants the route to carry: derived from the step, never stored. */
export function desiredWeight(rollout: Pick<Rollout, "phase" | "stepIndex" | "plan">): number {
  if (rollout.phase === Phase.RollingBack || rollout.phase === Phase.RolledBack) return 0;
  return rollout.plan.steps[rollout.stepIndex] ?? 0;
}

/** Whether the header-only route should be in place: during the header stage, or a pause of it. */
export function wantsHeaderRoute(rollout: Pick<Rollout, "phase" | "resumeTo" | "plan">): boolean {
  if (!rollout.plan.headerMatch) return false;
  return (
    rollout.phase === Phase.HeaderStage ||
    (rollout.phase === Phase.Paused && rollout.resumeTo === Phase.HeaderStage)
  );
}

/** Whether leaving this step needs an approval that has not been given yet. */
export function isGateOpen(rollout: Pick<Rollout, "plan" | "stepIndex" | "approvals">): boolean {
  const weight = rollout.plan.steps[rollout.stepIndex];
  if (weight === undefined || !rollout.plan.approvalGates.includes(weight)) return false;
  return !rollout.approvals.some((approval) => approval.stepIndex === rollout.stepIndex);
}

/**
 * What a screen shows as the weight: what the route was last confirmed to carry, and, while a write is still
 * pending, where it is going (`20% → 0%`). Never the desired weight alone: that can be a promise the route has not
 * kept yet.
 */
export function describeWeight(
  rollout: Pick<Rollout, "phase" | "stepIndex" | "plan" | "appliedWeight">,
): string {
  const target = desiredWeight(rollout);
  return rollout.appliedWeight === target ? `${target}%` : `${rollout.appliedWeight}% → ${target}%`;
}

/** "25% · step 3/5", "20% → 0% · back from step 2/5" */
export function describeProgress(
  rollout: Pick<Rollout, "phase" | "stepIndex" | "plan" | "appliedWeight">,
): string {
  const total = rollout.plan.steps.length;
  const stepText = `step ${Math.max(rollout.stepIndex + 1, 0)}/${total}`;
  const back = rollout.phase === Phase.RollingBack || rollout.phase === Phase.RolledBack;
  return `${describeWeight(rollout)} · ${back ? "back from " : ""}${stepText}`;
}

/** 86400000 → "24h", 90000 → "90s", 1500 → "1500ms": the largest unit that divides it. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
