import { CanaryError, ErrorCode } from "../errors.ts";
import { isJsonObject, type JsonObject } from "../json/json-value.ts";
import type { HeaderMatch, Target } from "../rollout/types.ts";
import { isSameHost } from "./istio-host.ts";
import { omitKeys } from "./json.ts";
import {
  assertWeight,
  headerRouteName,
  objectIdentity,
  pickRule,
  ruleLabel,
  rulesOf,
  type ManagedRule,
  type RouteDialect,
  type RuleNaming,
} from "./route-rules.ts";

/** An Istio `HTTPRoute` as fetched: only the fields canarybot reads are typed, every other one is carried as is. */
export type HttpRoute = JsonObject & { name?: string; match?: unknown; route?: unknown };
/** An Istio `HTTPRouteDestination`. */
export type RouteDestination = JsonObject & { destination: Destination; weight?: number };
export type Destination = JsonObject & { host: string; subset?: string };

export const VIRTUAL_SERVICE_NAMING: RuleNaming = {
  kind: "VirtualService",
  field: "http",
  noun: "route",
  title: "HTTP route",
  checkHint: "Check the target's host and subsets",
};

/** "VirtualService default/reviews": how every message names the object. */
export function virtualServiceIdentity(target: Pick<Target, "namespace" | "virtualService">): string {
  return objectIdentity(VIRTUAL_SERVICE_NAMING, target);
}

/** "route 'reviews' (http[0])" or "unnamed route http[1]". */
export function routeLabel(route: unknown, index: number): string {
  return ruleLabel(VIRTUAL_SERVICE_NAMING, route, index);
}

/** The `spec.http` list of a fetched VirtualService (empty when it has none). */
export function httpRoutes(virtualService: unknown): unknown[] {
  return rulesOf(virtualService, "http");
}

/** The `route[]` entries of an HTTP route that carry a destination. */
export function destinationsOf(route: unknown): RouteDestination[] {
  if (!isJsonObject(route) || !Array.isArray(route.route)) return [];
  return route.route.filter(
    (entry): entry is RouteDestination =>
      isJsonObject(entry) && isJsonObject(entry.destination) && typeof entry.destination.host === "string",
  );
}

/** Weight a destination effectively receives: an omitted weight means 100 for a lone destination, else 0. */
export function effectiveWeight(entry: RouteDestination, count: number): number {
  return typeof entry.weight === "number" ? entry.weight : count === 1 ? 100 : 0;
}

/** "v1=90, v2=10": the split of a route, destinations named by subset (and host when it is not the target's). */
export function describeWeights(route: unknown, target: Pick<Target, "host" | "namespace">): string {
  const entries = destinationsOf(route);
  if (entries.length === 0) return "no destinations";
  return entries
    .map(
      (entry) => `${destinationLabel(entry.destination, target)}=${effectiveWeight(entry, entries.length)}`,
    )
    .join(", ");
}

function destinationLabel(destination: Destination, target: Pick<Target, "host" | "namespace">): string {
  const subset = destination.subset ?? "(no subset)";
  return isSameHost(destination.host, target.host, target.namespace)
    ? subset
    : `${destination.host}/${subset}`;
}

export function isSubsetOf(entry: RouteDestination, target: Target, subset: string): boolean {
  return (
    entry.destination.subset === subset && isSameHost(entry.destination.host, target.host, target.namespace)
  );
}

/** The HTTP route a rollout manages, and where it sits in `spec.http`. */
export type ManagedRoute = ManagedRule<HttpRoute>;

/**
 * The one HTTP route a rollout moves traffic on: the route named `target.route` when given, otherwise the one
 * route whose destinations include the stable subset of the target host. canarybot's own header route is never
 * a candidate. None or several → `preflight_failed` naming the VirtualService, the candidates and the way out.
 */
export function selectManagedRoute(virtualService: unknown, target: Target): ManagedRoute {
  return pickRule<HttpRoute>(virtualService, {
    naming: VIRTUAL_SERVICE_NAMING,
    target,
    isCandidate: (route) =>
      destinationsOf(route).some((entry) => isSubsetOf(entry, target, target.stableSubset)),
    wanted: `host ${target.host} subset ${target.stableSubset}`,
    describeWeights: (route) => describeWeights(route, target),
  });
}

/**
 * The subset a route sends all its traffic to now, for a start that names no stable subset: the route named
 * `target.route`, else the one route with a destination on `target.host`. It must send traffic (weight > 0) to
 * exactly one subset of that host; otherwise `preflight_failed` saying how it splits.
 */
export function currentSubsetOf(
  virtualService: unknown,
  target: Pick<Target, "namespace" | "virtualService" | "host" | "route">,
): string {
  const onHost = (entry: RouteDestination) =>
    isSameHost(entry.destination.host, target.host, target.namespace);
  const picked = pickRule<HttpRoute>(virtualService, {
    naming: VIRTUAL_SERVICE_NAMING,
    target,
    isCandidate: (route) => destinationsOf(route).some(onHost),
    wanted: `host ${target.host}`,
    describeWeights: (route) => describeWeights(route, target),
  });
  const entries = destinationsOf(picked.route);
  const live = entries.filter((entry) => effectiveWeight(entry, entries.length) > 0);
  const subsets = [...new Set(live.map((entry) => (onHost(entry) ? entry.destination.subset : undefined)))];
  const [only] = subsets;
  if (subsets.length === 1 && only !== undefined) return only;
  const weights = entries
    .map(
      (entry) =>
        `${entry.destination.host}/${entry.destination.subset ?? "(no subset)"}=${effectiveWeight(entry, entries.length)}`,
    )
    .join(", ");
  throw new CanaryError(
    ErrorCode.PreflightFailed,
    `${virtualServiceIdentity(target)} ${routeLabel(picked.route, picked.index)} does not send all its traffic to ` +
      `one subset of ${target.host} (${weights}); name the stable subset explicitly`,
  );
}

/** Where the stable (and, if present, the canary) destination sit in a baseline route's `route[]`. */
type BaselineShape = { stable: number; canary?: number };

/**
 * Check that a route can start a rollout: it sends everything to the stable subset, either alone (weight
 * omitted or 100) or next to other destinations at weight 0, which carry no traffic (the canary subset among
 * them, or the subset an earlier release left behind: `v1=0, v2=100`). Anything else → `preflight_failed`.
 */
export function baselineShape(baseline: unknown, target: Target, index?: number): BaselineShape {
  const label = `${virtualServiceIdentity(target)} ${index === undefined ? "managed route" : routeLabel(baseline, index)}`;
  const fail = (why: string): never => {
    throw new CanaryError(
      ErrorCode.PreflightFailed,
      `${label} ${why}; a rollout starts from a route that sends 100% to ${target.host} subset ` +
        `${target.stableSubset} (other destinations, ${target.canarySubset} among them, only at weight 0)`,
    );
  };
  if (target.stableSubset === target.canarySubset)
    fail(`cannot be split: stable and canary are both '${target.stableSubset}'`);
  if (!isJsonObject(baseline) || !Array.isArray(baseline.route)) return fail("has no route destinations");
  const entries = destinationsOf(baseline);
  if (entries.length !== baseline.route.length || entries.length === 0) {
    return fail(`sends ${describeWeights(baseline, target)}`);
  }
  const stable = entries.findIndex((entry) => isSubsetOf(entry, target, target.stableSubset));
  const stableEntry = entries[stable];
  if (stableEntry === undefined) return fail(`sends ${describeWeights(baseline, target)}`);
  if (entries.length === 1) {
    if (effectiveWeight(stableEntry, 1) !== 100) fail(`sends ${describeWeights(baseline, target)}`);
    return { stable };
  }
  const carrying = entries.filter((entry) => effectiveWeight(entry, entries.length) !== 0);
  if (
    carrying.length !== 1 ||
    carrying[0] !== stableEntry ||
    effectiveWeight(stableEntry, entries.length) !== 100
  ) {
    return fail(`already splits traffic: ${describeWeights(baseline, target)}`);
  }
  const canary = entries.findIndex((entry) => isSubsetOf(entry, target, target.canarySubset));
  return canary < 0 ? { stable } : { stable, canary };
}

/** Canary weight a route carries now: the weights of its canary-subset destinations. */
export function canaryWeightOf(route: unknown, target: Target): number {
  const entries = destinationsOf(route);
  return entries
    .filter((entry) => isSubsetOf(entry, target, target.canarySubset))
    .reduce((sum, entry) => sum + effectiveWeight(entry, entries.length), 0);
}

/**
 * The managed route at a canary weight, computed from the baseline alone: every field but `route` is the
 * baseline's, untouched. Weight 0 is the baseline itself, exactly. Weight 100 is one destination to the canary
 * subset with no weight, as a person writes a route: the route the next release starts from. In between,
 * `route` is the baseline's with the stable entry at 100 - w and a canary entry at w (see `splitRoute`).
 */
export function routeAtWeight(baseline: unknown, target: Target, canaryWeight: number): HttpRoute {
  assertWeight(canaryWeight);
  if (canaryWeight > 0 && canaryWeight < 100) return splitRoute(baseline, target, canaryWeight);
  const shape = baselineShape(baseline, target);
  const copy = structuredClone(baseline) as HttpRoute;
  if (canaryWeight === 0) return copy;
  return { ...copy, route: [omitKeys(canaryEntry(copy, target, shape), "weight")] };
}

/**
 * The baseline's `route` with the stable entry at 100 - w and the canary entry at w: the baseline's own canary
 * entry if it had one, else the stable destination with the canary subset, after the others. Other weight-0
 * destinations stay as they are. At 100 this is the two-destination shape (`v1=0, v2=100`) earlier versions
 * wrote on promotion; it is only accepted as ours, never written (see `routesWrittenAt`).
 */
function splitRoute(baseline: unknown, target: Target, canaryWeight: number): HttpRoute {
  const shape = baselineShape(baseline, target);
  const copy = structuredClone(baseline) as HttpRoute;
  const route = [...destinationsOf(copy)];
  route[shape.stable] = { ...(route[shape.stable] as RouteDestination), weight: 100 - canaryWeight };
  const canary = { ...canaryEntry(copy, target, shape), weight: canaryWeight };
  if (shape.canary === undefined) route.push(canary);
  else route[shape.canary] = canary;
  return { ...copy, route };
}

/** The canary's destination entry: the baseline's own, else the stable destination with the canary subset. */
function canaryEntry(baseline: HttpRoute, target: Target, shape: BaselineShape): RouteDestination {
  const entries = destinationsOf(baseline);
  if (shape.canary !== undefined) return entries[shape.canary] as RouteDestination;
  const stableEntry = entries[shape.stable] as RouteDestination;
  return { destination: { ...structuredClone(stableEntry.destination), subset: target.canarySubset } };
}

/**
 * Every shape of the managed route canarybot may have left at a weight: `routeAtWeight`, and at 100 also the
 * two-destination shape earlier versions wrote (`v1=0, v2=100`). Both count as ours; the next write converts
 * the old one (level-triggered healing).
 */
export function routesWrittenAt(baseline: unknown, target: Target, canaryWeight: number): HttpRoute[] {
  const current = routeAtWeight(baseline, target, canaryWeight);
  return canaryWeight === 100 ? [current, splitRoute(baseline, target, 100)] : [current];
}

/**
 * The header-stage route, inserted directly before the managed route: the managed route (timeout, retries,
 * rewrite, headers, fault, mirror … kept, so canary requests are handled like their stable twins) with the
 * header ANDed into each of its match conditions and the canary subset as its only destination.
 *
 * The managed route's own match conditions are kept because the header route sits ahead of it: a bare header
 * match would also capture requests that the managed route never sees (other paths, other hosts, requests
 * that belong to routes further down) and send them to this service's canary.
 */
export function headerRouteFor(baseline: unknown, target: Target, header: HeaderMatch): HttpRoute {
  const shape = baselineShape(baseline, target);
  const base = structuredClone(baseline) as HttpRoute;
  const stableEntry = destinationsOf(base)[shape.stable] as RouteDestination;
  const condition = { [header.name]: { exact: header.value } };
  const conditions = Array.isArray(base.match) && base.match.length > 0 ? base.match : [{}];
  const match = conditions.map((original: unknown) => {
    const clause = isJsonObject(original) ? original : {};
    const headers = isJsonObject(clause.headers) ? clause.headers : {};
    if (Object.keys(headers).some((name) => name.toLowerCase() === header.name.toLowerCase())) {
      throw new CanaryError(
        ErrorCode.InvalidInput,
        `${virtualServiceIdentity(target)}: the managed route already matches on header '${header.name}'; ` +
          `choose another header for the header stage`,
      );
    }
    return { ...clause, headers: { ...headers, ...condition } };
  });
  const rest = omitKeys(base, "name", "match", "route");
  return {
    name: headerRouteName(target.canarySubset),
    match,
    ...rest,
    route: [{ destination: { ...stableEntry.destination, subset: target.canarySubset } }],
  };
}

/** The VirtualService half of the patch computation (`route-patch.ts`). */
export const VIRTUAL_SERVICE_DIALECT: RouteDialect = {
  naming: VIRTUAL_SERVICE_NAMING,
  select: selectManagedRoute,
  atWeight: routeAtWeight,
  writtenAt: routesWrittenAt,
  headerRule: headerRouteFor,
  describeWeights,
  canaryWeight: canaryWeightOf,
  checkBaseline: baselineShape,
};
