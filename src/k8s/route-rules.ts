import { CanaryError, ErrorCode } from "../errors.ts";
import { isJsonObject, type JsonObject } from "../json/json-value.ts";
import type { HeaderMatch, Target } from "../rollout/types.ts";

/**
 * What an Istio VirtualService (`spec.http`) and a Gateway API HTTPRoute (`spec.rules`) have in common for a
 * rollout: an ordered list of rules, one of them managed (its weights stepped), canarybot's header rule beside it.
 * The patch computation (`route-patch.ts`) works on this; each kind says how its rules read and are built.
 */

/** One entry of the object's rule list as fetched; only the name is typed, every other field is carried as is. */
export type Rule = JsonObject & { name?: string };

/** The rule a rollout manages, and where it sits in the list. */
export type ManagedRule<R extends Rule = Rule> = { index: number; route: R };

/** How one kind names itself and its rules in messages. */
export type RuleNaming = {
  /** `VirtualService`, `HTTPRoute`. */
  kind: string;
  /** `spec.<field>` holding the rules: `http`, `rules`. */
  field: string;
  /** `route`, `rule`: as in "route 'reviews' (http[0])". */
  noun: string;
  /** `HTTP route`, `rule`: as in "has no HTTP route named …". */
  title: string;
  /** What to check when no rule sends to the stable subset. */
  checkHint: string;
};

/** The kind-specific half of the patch computation. */
export type RouteDialect = {
  naming: RuleNaming;
  /** The managed rule a rollout selects (by `target.route`, else the one rule to the stable subset). */
  select(object: unknown, target: Target): ManagedRule;
  /** The managed rule at a canary weight, computed from the baseline alone. */
  atWeight(baseline: unknown, target: Target, canaryWeight: number): Rule;
  /** Every shape of the managed rule canarybot may have left at a weight (the current one first). */
  writtenAt(baseline: unknown, target: Target, canaryWeight: number): Rule[];
  /** The header-stage rule for a baseline. */
  headerRule(baseline: unknown, target: Target, header: HeaderMatch): Rule;
  /** "v1=90, v2=10". */
  describeWeights(rule: unknown, target: Target): string;
  /** The canary's share of the rule's traffic, in percent. */
  canaryWeight(rule: unknown, target: Target): number;
  /** Throws `preflight_failed` unless the rule can start a rollout (everything to the stable subset). */
  checkBaseline(rule: unknown, target: Target, index?: number): void;
};

/** Prefix of the rule canarybot inserts for the header stage; no other rule may carry it. */
export const HEADER_ROUTE_PREFIX = "canarybot-header-";

/** Name of the header-stage rule that sends matching requests to `canarySubset`. */
export function headerRouteName(canarySubset: string): string {
  return `${HEADER_ROUTE_PREFIX}${canarySubset}`;
}

export function isHeaderRoute(route: unknown): boolean {
  return isJsonObject(route) && typeof route.name === "string" && route.name.startsWith(HEADER_ROUTE_PREFIX);
}

/** "VirtualService default/reviews": how every message names the object. */
export function objectIdentity(
  naming: Pick<RuleNaming, "kind">,
  target: Pick<Target, "namespace" | "virtualService">,
): string {
  return `${naming.kind} ${target.namespace}/${target.virtualService}`;
}

/** "route 'reviews' (http[0])" or "unnamed route http[1]". */
export function ruleLabel(naming: RuleNaming, rule: unknown, index: number): string {
  const name = isJsonObject(rule) && typeof rule.name === "string" ? rule.name : undefined;
  const at = `${naming.field}[${index}]`;
  return name === undefined ? `unnamed ${naming.noun} ${at}` : `${naming.noun} '${name}' (${at})`;
}

/** The `spec.<field>` list of a fetched object (empty when it has none). */
export function rulesOf(object: unknown, field: string): unknown[] {
  if (!isJsonObject(object) || !isJsonObject(object.spec)) return [];
  const rules = object.spec[field];
  return Array.isArray(rules) ? rules : [];
}

export function resourceVersionOf(object: unknown): string | undefined {
  if (!isJsonObject(object) || !isJsonObject(object.metadata)) return undefined;
  const version = object.metadata.resourceVersion;
  return typeof version === "string" ? version : undefined;
}

export type RuleQuery<R extends Rule> = {
  naming: RuleNaming;
  target: Pick<Target, "namespace" | "virtualService" | "route">;
  /** Whether a rule is a candidate when no rule name is given. */
  isCandidate: (rule: R) => boolean;
  /** What the candidates send traffic to, for messages: "host reviews subset v1". */
  wanted: string;
  describeWeights: (rule: unknown) => string;
};

/** The rule named `target.route`, else the one candidate rule; canarybot's header rule is never one. */
export function pickRule<R extends Rule>(object: unknown, query: RuleQuery<R>): ManagedRule<R> {
  const { naming, target, isCandidate, wanted } = query;
  const identity = objectIdentity(naming, target);
  const label = (entry: ManagedRule<R>) => ruleLabel(naming, entry.route, entry.index);
  const rules = rulesOf(object, naming.field)
    .map((route, index) => ({ route, index }))
    .filter((entry): entry is ManagedRule<R> => isJsonObject(entry.route))
    .filter((entry) => !isHeaderRoute(entry.route));
  if (rules.length === 0) {
    throw new CanaryError(
      ErrorCode.PreflightFailed,
      `${identity} has no ${naming.title}s (spec.${naming.field} is empty)`,
    );
  }
  if (target.route !== undefined) {
    const named = rules.filter((entry) => entry.route.name === target.route);
    if (named.length === 1 && named[0]) return named[0];
    const names = rules.map(label).join(", ");
    throw new CanaryError(
      ErrorCode.PreflightFailed,
      named.length === 0
        ? `${identity} has no ${naming.title} named '${target.route}'; its ${naming.noun}s: ${names}`
        : `${identity} has ${named.length} ${naming.title}s named '${target.route}' (${named.map((entry) => `${naming.field}[${entry.index}]`).join(", ")}); ${naming.noun} names must be unique`,
    );
  }
  const candidates = rules.filter((entry) => isCandidate(entry.route));
  if (candidates.length === 1 && candidates[0]) return candidates[0];
  if (candidates.length === 0) {
    const seen = rules.map((entry) => `${label(entry)} → ${query.describeWeights(entry.route)}`).join("; ");
    throw new CanaryError(
      ErrorCode.PreflightFailed,
      `${identity} has no ${naming.title} sending traffic to ${wanted}; its ${naming.noun}s: ${seen}. ` +
        `${naming.checkHint}, or name the ${naming.noun} with --route <name>`,
    );
  }
  throw new CanaryError(
    ErrorCode.PreflightFailed,
    `${identity} has ${candidates.length} ${naming.title}s sending traffic to ${wanted}: ` +
      `${candidates.map(label).join(", ")}. ` +
      `Pick one with --route <name> (give the ${naming.noun} a \`name\` first if it has none)`,
  );
}

export function assertWeight(weight: number): void {
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `canary weight must be an integer from 0 to 100, got ${weight}`,
    );
  }
}
