import { CanaryError, ErrorCode } from "../errors.ts";
import { isJsonObject, type JsonObject } from "../json/json-value.ts";
import type { HeaderMatch, Target } from "../rollout/types.ts";
import { omitKeys } from "./json.ts";
import {
  assertWeight,
  headerRouteName,
  objectIdentity,
  pickRule,
  ruleLabel,
  type ManagedRule,
  type RouteDialect,
  type RuleNaming,
} from "./route-rules.ts";

/**
 * A Gateway API HTTPRoute rule (`spec.rules[]`) as a rollout sees it. A subset is a backend Service: the rule's
 * `backendRefs` to `target.stableSubset` and `target.canarySubset` (Service names, `reviews-v1`, `reviews-v2`)
 * carry the split. Weights are relative (an omitted one is 1); canarybot writes them as percentages.
 */
export type HttpRouteRule = JsonObject & { name?: string; matches?: unknown; backendRefs?: unknown };
export type BackendRef = JsonObject & { name: string; weight?: number };

export const HTTP_ROUTE_NAMING: RuleNaming = {
  kind: "HTTPRoute",
  field: "rules",
  noun: "rule",
  title: "rule",
  checkHint: "Check the target's backend Services",
};

/** The path match the API server fills in for a match without one (the CRD's default): every path. */
const EVERY_PATH = { type: "PathPrefix", value: "/" } as const;

export function httpRouteIdentity(target: Pick<Target, "namespace" | "virtualService">): string {
  return objectIdentity(HTTP_ROUTE_NAMING, target);
}

function isServiceRef(entry: JsonObject): boolean {
  return (entry.group ?? "") === "" && (entry.kind ?? "Service") === "Service";
}

/** The rule's `backendRefs` that name a Service. */
export function backendRefsOf(rule: unknown): BackendRef[] {
  if (!isJsonObject(rule) || !Array.isArray(rule.backendRefs)) return [];
  return rule.backendRefs.filter(
    (entry): entry is BackendRef =>
      isJsonObject(entry) && typeof entry.name === "string" && isServiceRef(entry),
  );
}

/** The backend Service `subset` in the target's namespace (a backendRef may omit its namespace). */
function isBackend(entry: BackendRef, target: Pick<Target, "namespace">, subset: string): boolean {
  return entry.name === subset && (entry.namespace ?? target.namespace) === target.namespace;
}

function weightOf(entry: BackendRef): number {
  return typeof entry.weight === "number" ? entry.weight : 1;
}

/** "reviews-v1=90, reviews-v2=10": backendRefs by Service name and weight as written (an omitted weight is 1). */
export function describeBackendWeights(rule: unknown, target: Pick<Target, "namespace">): string {
  const entries = backendRefsOf(rule);
  if (entries.length === 0) return "no backends";
  return entries
    .map((entry) => {
      const name =
        (entry.namespace ?? target.namespace) === target.namespace
          ? entry.name
          : `${String(entry.namespace)}/${entry.name}`;
      return `${name}=${weightOf(entry)}`;
    })
    .join(", ");
}

/**
 * The one rule a rollout moves traffic on: the rule named `target.route` when given, otherwise the one rule with a
 * backendRef to the stable Service. canarybot's header rule is never a candidate.
 */
export function selectManagedRule(httpRoute: unknown, target: Target): ManagedRule<HttpRouteRule> {
  return pickRule<HttpRouteRule>(httpRoute, {
    naming: HTTP_ROUTE_NAMING,
    target,
    isCandidate: (rule) => backendRefsOf(rule).some((entry) => isBackend(entry, target, target.stableSubset)),
    wanted: `Service ${target.stableSubset}`,
    describeWeights: (rule) => describeBackendWeights(rule, target),
  });
}

/** The backend Service a rule sends all its traffic to now, for a start that names no stable subset. */
export function currentBackendOf(
  httpRoute: unknown,
  target: Pick<Target, "namespace" | "virtualService" | "route">,
): string {
  const picked = pickRule<HttpRouteRule>(httpRoute, {
    naming: HTTP_ROUTE_NAMING,
    target,
    isCandidate: (rule) => backendRefsOf(rule).length > 0,
    wanted: "a Service",
    describeWeights: (rule) => describeBackendWeights(rule, target),
  });
  const live = backendRefsOf(picked.route).filter((entry) => weightOf(entry) > 0);
  const [only] = live;
  if (live.length === 1 && only !== undefined && isBackend(only, target, only.name)) return only.name;
  throw new CanaryError(
    ErrorCode.PreflightFailed,
    `${httpRouteIdentity(target)} ${ruleLabel(HTTP_ROUTE_NAMING, picked.route, picked.index)} does not send all ` +
      `its traffic to one Service (${describeBackendWeights(picked.route, target)}); name the stable subset explicitly`,
  );
}

type BaselineShape = { stable: number; canary?: number };

/**
 * Check that a rule can start a rollout: every backendRef names a Service, the stable one carries weight and
 * every other one (the canary among them, or the one an earlier release left behind) has weight 0.
 */
export function ruleBaselineShape(baseline: unknown, target: Target, index?: number): BaselineShape {
  const label = `${httpRouteIdentity(target)} ${index === undefined ? "managed rule" : ruleLabel(HTTP_ROUTE_NAMING, baseline, index)}`;
  const fail = (why: string): never => {
    throw new CanaryError(
      ErrorCode.PreflightFailed,
      `${label} ${why}; a rollout starts from a rule that sends everything to Service ${target.stableSubset} ` +
        `(other backends, ${target.canarySubset} among them, only at weight 0)`,
    );
  };
  if (target.stableSubset === target.canarySubset)
    fail(`cannot be split: stable and canary are both '${target.stableSubset}'`);
  if (!isJsonObject(baseline) || !Array.isArray(baseline.backendRefs)) return fail("has no backendRefs");
  const entries = backendRefsOf(baseline);
  if (entries.length !== baseline.backendRefs.length || entries.length === 0) {
    return fail(`sends ${describeBackendWeights(baseline, target)} (only Service backends can be split)`);
  }
  const stable = entries.findIndex((entry) => isBackend(entry, target, target.stableSubset));
  const stableEntry = entries[stable];
  if (stableEntry === undefined) return fail(`sends ${describeBackendWeights(baseline, target)}`);
  const carrying = entries.filter((entry) => weightOf(entry) !== 0);
  if (carrying.length !== 1 || carrying[0] !== stableEntry) {
    return fail(`already splits traffic: ${describeBackendWeights(baseline, target)}`);
  }
  const canary = entries.findIndex((entry) => isBackend(entry, target, target.canarySubset));
  return canary < 0 ? { stable } : { stable, canary };
}

/** Canary share of a rule's traffic now, in percent (weights are relative). */
export function canaryPercentOf(rule: unknown, target: Target): number {
  const entries = backendRefsOf(rule);
  const total = entries.reduce((sum, entry) => sum + weightOf(entry), 0);
  const canary = entries
    .filter((entry) => isBackend(entry, target, target.canarySubset))
    .reduce((sum, entry) => sum + weightOf(entry), 0);
  return total === 0 ? 0 : Math.round((100 * canary) / total);
}

/** The canary's backendRef: the baseline's own, else the stable one pointing at the canary Service. */
function canaryRef(baseline: HttpRouteRule, target: Target, shape: BaselineShape): BackendRef {
  const entries = backendRefsOf(baseline);
  if (shape.canary !== undefined) return entries[shape.canary] as BackendRef;
  return { ...structuredClone(entries[shape.stable] as BackendRef), name: target.canarySubset };
}

/**
 * The managed rule at a canary weight, from the baseline alone: every field but `backendRefs` is the baseline's.
 * 0 is the baseline exactly; 100 is one backendRef to the canary Service, weighted as the stable one was (the rule
 * the next release starts from); in between the stable backendRef at 100 - w and the canary's at w.
 */
export function ruleAtWeight(baseline: unknown, target: Target, canaryWeight: number): HttpRouteRule {
  assertWeight(canaryWeight);
  const shape = ruleBaselineShape(baseline, target);
  const copy = structuredClone(baseline) as HttpRouteRule;
  if (canaryWeight === 0) return copy;
  const stableEntry = backendRefsOf(copy)[shape.stable] as BackendRef;
  const canary = canaryRef(copy, target, shape);
  if (canaryWeight === 100) {
    const lone = omitKeys(canary, "weight");
    return {
      ...copy,
      backendRefs: [stableEntry.weight === undefined ? lone : { ...lone, weight: stableEntry.weight }],
    };
  }
  const backendRefs: BackendRef[] = [...backendRefsOf(copy)];
  backendRefs[shape.stable] = { ...stableEntry, weight: 100 - canaryWeight };
  const weighted = { ...canary, weight: canaryWeight };
  if (shape.canary === undefined) backendRefs.push(weighted);
  else backendRefs[shape.canary] = weighted;
  return { ...copy, backendRefs };
}

/**
 * The header-stage rule: the managed rule (filters, timeouts … kept) with an exact header match ANDed into each
 * of its matches and the canary Service as its only backend. Gateway API prefers the match with more header
 * conditions, so it wins over the managed rule for exactly the requests that carry the header. Defaults the API
 * server would add (`path: PathPrefix /`, `type: Exact`) are written out, so the rule reads back as written.
 */
export function headerRuleFor(baseline: unknown, target: Target, header: HeaderMatch): HttpRouteRule {
  const shape = ruleBaselineShape(baseline, target);
  const base = structuredClone(baseline) as HttpRouteRule;
  const condition = { type: "Exact", name: header.name, value: header.value };
  const conditions = Array.isArray(base.matches) && base.matches.length > 0 ? base.matches : [{}];
  const matches = conditions.map((original: unknown) => {
    const clause = isJsonObject(original) ? original : {};
    const headers: unknown[] = Array.isArray(clause.headers) ? clause.headers : [];
    const clash = headers.some(
      (entry) =>
        isJsonObject(entry) &&
        typeof entry.name === "string" &&
        entry.name.toLowerCase() === header.name.toLowerCase(),
    );
    if (clash) {
      throw new CanaryError(
        ErrorCode.InvalidInput,
        `${httpRouteIdentity(target)}: the managed rule already matches on header '${header.name}'; ` +
          `choose another header for the header stage`,
      );
    }
    return { path: EVERY_PATH, ...clause, headers: [...headers, condition] };
  });
  const rest = omitKeys(base, "name", "matches", "backendRefs");
  return {
    name: headerRouteName(target.canarySubset),
    matches,
    ...rest,
    backendRefs: [{ ...omitKeys(canaryRef(base, target, shape), "weight"), weight: 1 }],
  };
}

/** The HTTPRoute half of the patch computation (`route-patch.ts`). */
export const HTTP_ROUTE_DIALECT: RouteDialect = {
  naming: HTTP_ROUTE_NAMING,
  select: selectManagedRule,
  atWeight: ruleAtWeight,
  writtenAt: (baseline, target, weight) => [ruleAtWeight(baseline, target, weight)],
  headerRule: headerRuleFor,
  describeWeights: describeBackendWeights,
  canaryWeight: canaryPercentOf,
  checkBaseline: ruleBaselineShape,
};
