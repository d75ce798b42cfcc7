import type { Actor, HumanEvent } from "../rollout/types.ts";

/** The event a person's action word means; a rollback always carries a reason, defaulting to `fallbackReason`. */
export function humanEvent(
  type: HumanEvent["type"],
  by: Actor,
  reason: string | undefined,
  fallbackReason: string,
): HumanEvent {
  switch (type) {
    case "rollback":
      return { type, by, reason: reason ?? fallbackReason };
    case "pause":
      return { type, by, ...(reason === undefined ? {} : { reason }) };
    case "approve":
    case "promote":
    case "resume":
      return { type, by };
  }
}
