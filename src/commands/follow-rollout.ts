import { describeProgress } from "../rollout/plan.ts";
import { Phase } from "../rollout/types.ts";
import type { Rollout } from "../rollout/types.ts";

/**
 * What `canarybot wait` (and `start --wait`) decides, pure: the line a change is worth, whether the rollout is
 * over and how, and whether it waits for a person. The command itself only reads the store and prints.
 */

/** Exit codes of a wait, beside the CLI's 1 (refused) and 2 (an outside system failed). */
export const WaitExit = {
  Promoted: 0,
  /** Rolled back or failed: the pipeline must not go on. */
  NotPromoted: 3,
  /** `--wait-timeout` passed while the rollout waited for a person; the rollout goes on. */
  StillWaitingForPerson: 4,
} as const;
export type WaitExit = (typeof WaitExit)[keyof typeof WaitExit];

/**
 * Phases only a person moves on: an approval gate, the header stage (its Approve starts the weights) and a pause
 * (Resume). Everything else ends or moves by itself, as the plan, the metrics and the webhooks decide.
 */
export function isWaitingForPerson(rollout: Pick<Rollout, "phase">): boolean {
  return (
    rollout.phase === Phase.AwaitingApproval ||
    rollout.phase === Phase.HeaderStage ||
    rollout.phase === Phase.Paused
  );
}

/** The exit code of a finished rollout; undefined while it is live. */
export function finishedExit(rollout: Pick<Rollout, "phase">): WaitExit | undefined {
  switch (rollout.phase) {
    case Phase.Promoted:
      return WaitExit.Promoted;
    case Phase.RolledBack:
    case Phase.Failed:
      return WaitExit.NotPromoted;
    case Phase.Preflight:
    case Phase.HeaderStage:
    case Phase.Progressing:
    case Phase.Paused:
    case Phase.AwaitingApproval:
    case Phase.RollingBack:
      return undefined;
  }
}

/** `reviews-3 awaiting-approval 10% · step 1/3: waits for a person's approval (not cli:alice)` */
export function followLine(rollout: Rollout): string {
  const why = followReason(rollout);
  return `${rollout.id} ${rollout.phase} ${describeProgress(rollout)}${why ? `: ${why}` : ""}`;
}

/**
 * The line to print for `current` after `previous` was shown: one per phase change and per change of the weight the
 * route carries, and one when the rollout stops being stepped; undefined when nothing a pipeline log needs changed.
 */
export function followUpdate(previous: Rollout | undefined, current: Rollout): string | undefined {
  const line = followLine(current);
  if (previous === undefined) return line;
  const changed =
    previous.phase !== current.phase ||
    previous.appliedWeight !== current.appliedWeight ||
    previous.stepIndex !== current.stepIndex ||
    (current.overdue !== undefined && previous.overdue?.tick !== current.overdue.tick) ||
    previous.waitingFor !== current.waitingFor;
  return changed ? line : undefined;
}

/** The words after the progress: who or what the rollout waits for, why it paused or how it ended. */
function followReason(rollout: Rollout): string | undefined {
  switch (rollout.phase) {
    case Phase.AwaitingApproval:
    case Phase.HeaderStage:
      return rollout.plan.twoPersonRule
        ? `waits for a person's approval (not ${rollout.startedBy})`
        : "waits for a person's approval";
    case Phase.Paused:
      return `${rollout.reason ? `${rollout.reason}; ` : ""}waits for a person to resume or roll back`;
    case Phase.Preflight:
    case Phase.Progressing:
      if (rollout.overdue) return `not being stepped: ${rollout.overdue.detail}`;
      return rollout.waitingFor ? `waits for ${rollout.waitingFor}` : undefined;
    case Phase.RollingBack:
    case Phase.RolledBack:
    case Phase.Failed:
    case Phase.Promoted:
      return rollout.outcome?.reason;
  }
}
