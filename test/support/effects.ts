import type { AuditEntry, Effect } from "../../src/rollout/types.ts";

/** The audit entries among a transition's effects. */
export function audits(effects: readonly Effect[]): AuditEntry[] {
  return effects.flatMap((effect) => (effect.type === "audit" ? [effect.entry] : []));
}

/** The effects of one type, typed as such. */
export function effectsOfType<T extends Effect["type"]>(
  effects: readonly Effect[],
  type: T,
): Extract<Effect, { type: T }>[] {
  return effects.filter((effect): effect is Extract<Effect, { type: T }> => effect.type === type);
}
