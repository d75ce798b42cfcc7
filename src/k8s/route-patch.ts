import { CanaryError, ErrorCode, isCanaryError } from "../errors.ts";
import { pointer, type JsonPatchOperation } from "../json/json-patch.ts";
import { isJsonObject, jsonEqual } from "../json/json-value.ts";
import type { RouteExpectation } from "../rollout/ports.ts";
import type { HeaderMatch, Target } from "../rollout/types.ts";
import {
  headerRouteName,
  isHeaderRoute,
  objectIdentity,
  resourceVersionOf,
  ruleLabel,
  rulesOf,
  type ManagedRule,
  type RouteDialect,
  type Rule,
} from "./route-rules.ts";

/** What `setWeights` is asked to reach. */
export type DesiredRoute = { canaryWeight: number; headerMatch?: HeaderMatch; headerRouteActive: boolean };

/** The outcome of comparing the live object with what is wanted: nothing to write, or one JSON patch. */
export type RouteChange =
  | { kind: "unchanged"; index: number }
  | {
      kind: "patch";
      /** Index of the managed rule in the rule list before the patch. */
      index: number;
      /** `test` guards first (resourceVersion, then every route the patch depends on), then the edits. */
      operations: JsonPatchOperation[];
    };

/** The live header-stage route, if any. */
type LiveHeaderRoute = { index: number; route: unknown } | undefined;

function liveHeaderRoute(dialect: RouteDialect, object: unknown, target: Target): LiveHeaderRoute {
  const name = headerRouteName(target.canarySubset);
  const rules = rulesOf(object, dialect.naming.field);
  const index = rules.findIndex((route) => isJsonObject(route) && route.name === name);
  return index < 0 ? undefined : { index, route: rules[index] };
}

/**
 * Find the managed rule in an object canarybot has already written to. Selection is the preflight's
 * (route name, else the one route to the stable subset); at 100% the route no longer sends to the stable subset,
 * so next the one route that is exactly the baseline at 100% is taken; then the baseline's route name. If the
 * route cannot be found at all, someone else changed the object: `drift`.
 */
export function locateManagedRule(
  dialect: RouteDialect,
  object: unknown,
  target: Target,
  baseline: unknown,
): ManagedRule {
  try {
    return dialect.select(object, target);
  } catch (error) {
    if (!isCanaryError(error, ErrorCode.PreflightFailed)) throw error;
    const promoted = fullyPromoted(dialect, baseline, target);
    const name = isJsonObject(baseline) && typeof baseline.name === "string" ? baseline.name : undefined;
    const candidates = rulesOf(object, dialect.naming.field)
      .map((route, index) => ({ route, index }))
      .filter((entry) => isJsonObject(entry.route) && !isHeaderRoute(entry.route));
    const found = [
      candidates.filter((entry) => promoted !== undefined && jsonEqual(entry.route, promoted)),
      candidates.filter((entry) => name !== undefined && (entry.route as Rule).name === name),
    ].find((matches) => matches.length === 1)?.[0];
    if (found !== undefined) return { index: found.index, route: found.route as Rule };
    throw new CanaryError(
      ErrorCode.Drift,
      `the managed ${dialect.naming.noun} of ${objectIdentity(dialect.naming, target)} can no longer be found: ${error.message}`,
      { cause: error },
    );
  }
}

/** The baseline at 100%, or undefined for a baseline that cannot make one (never saved by a preflight). */
function fullyPromoted(dialect: RouteDialect, baseline: unknown, target: Target): Rule | undefined {
  try {
    return dialect.atWeight(baseline, target, 100);
  } catch {
    return undefined;
  }
}

function guards(
  field: string,
  object: unknown,
  managed: ManagedRule,
  header: LiveHeaderRoute,
): JsonPatchOperation[] {
  const version = resourceVersionOf(object);
  const operations: JsonPatchOperation[] = [];
  if (version !== undefined)
    operations.push({ op: "test", path: "/metadata/resourceVersion", value: version });
  operations.push({ op: "test", path: pointer("spec", field, managed.index), value: managed.route });
  if (header)
    operations.push({ op: "test", path: pointer("spec", field, header.index), value: header.route });
  return operations;
}

/**
 * The edits that turn (managed, header) into (wantedManaged, wantedHeader). The managed route is replaced first
 * (its index is still valid), then the header route is added at that index (so it lands directly before the
 * managed route), replaced, or removed.
 */
function edits(
  field: string,
  managed: ManagedRule,
  header: LiveHeaderRoute,
  wantedManaged: Rule,
  wantedHeader: Rule | undefined,
): JsonPatchOperation[] {
  const operations: JsonPatchOperation[] = [];
  if (!jsonEqual(managed.route, wantedManaged)) {
    operations.push({ op: "replace", path: pointer("spec", field, managed.index), value: wantedManaged });
  }
  if (header === undefined && wantedHeader !== undefined) {
    operations.push({ op: "add", path: pointer("spec", field, managed.index), value: wantedHeader });
  } else if (header !== undefined && wantedHeader === undefined) {
    operations.push({ op: "remove", path: pointer("spec", field, header.index) });
  } else if (header !== undefined && wantedHeader !== undefined && !jsonEqual(header.route, wantedHeader)) {
    operations.push({ op: "replace", path: pointer("spec", field, header.index), value: wantedHeader });
  }
  return operations;
}

function wantedHeaderRoute(
  dialect: RouteDialect,
  baseline: unknown,
  target: Target,
  desired: DesiredRoute,
): Rule | undefined {
  if (!desired.headerRouteActive) return undefined;
  if (desired.headerMatch === undefined) {
    throw new CanaryError(ErrorCode.InvalidInput, "a header route was requested without a header match");
  }
  return dialect.headerRule(baseline, target, desired.headerMatch);
}

/**
 * The JSON patch that moves the managed route to `desired`, guarded by `test` operations on the resourceVersion
 * and on every route it reads, so the API server refuses it if anything changed since the GET.
 *
 * The live route is accepted when it is a shape canarybot wrote (`routesWrittenAt`) at the weight it last
 * confirmed (`expected.appliedWeight`) or at the desired one; the latter is the crash window between a successful
 * write and persisting it. A live route exactly at the desired shape yields "unchanged" (no write); an older shape
 * of the same weight is rewritten. Anything else is a human's edit: `drift`, saying what differs, unless
 * `expected.force`. No other route or field is touched.
 */
export function computeRulePatch(
  dialect: RouteDialect,
  object: unknown,
  target: Target,
  expected: RouteExpectation,
  desired: DesiredRoute,
): RouteChange {
  const { field } = dialect.naming;
  const managed = locateManagedRule(dialect, object, target, expected.baseline);
  const header = liveHeaderRoute(dialect, object, target);
  const wantedManaged = dialect.atWeight(expected.baseline, target, desired.canaryWeight);
  const wantedHeader = wantedHeaderRoute(dialect, expected.baseline, target, desired);
  const headerAtDesired = jsonEqual(header?.route, wantedHeader);
  if (jsonEqual(managed.route, wantedManaged) && headerAtDesired)
    return { kind: "unchanged", index: managed.index };

  if (expected.force !== true) {
    const problems: string[] = [];
    const ours = [expected.appliedWeight, desired.canaryWeight].flatMap((weight) =>
      dialect.writtenAt(expected.baseline, target, weight),
    );
    if (!ours.some((route) => jsonEqual(managed.route, route))) {
      const expectedManaged = dialect.atWeight(expected.baseline, target, expected.appliedWeight);
      problems.push(describeRouteDrift(dialect, managed.route, expectedManaged, target));
    }
    if (!headerAtDesired) {
      const problem = describeHeaderDrift(dialect, header, expected, desired, target);
      if (problem !== undefined) problems.push(problem);
    }
    if (problems.length > 0) {
      throw new CanaryError(
        ErrorCode.Drift,
        `${objectIdentity(dialect.naming, target)} ${ruleLabel(dialect.naming, managed.route, managed.index)} was changed outside ` +
          `canarybot: ${problems.join("; ")}`,
      );
    }
  }
  return {
    kind: "patch",
    index: managed.index,
    operations: [
      ...guards(field, object, managed, header),
      ...edits(field, managed, header, wantedManaged, wantedHeader),
    ],
  };
}

/** Undefined when the live header route is one canarybot could have left: the expected state or the desired one. */
function describeHeaderDrift(
  dialect: RouteDialect,
  header: LiveHeaderRoute,
  expected: RouteExpectation,
  desired: DesiredRoute,
  target: Target,
): string | undefined {
  const { field, noun } = dialect.naming;
  const name = `header ${noun} '${headerRouteName(target.canarySubset)}'`;
  if (!expected.headerRouteActive) {
    return header === undefined
      ? undefined
      : `${name} is present (${field}[${header.index}]); canarybot had not added it`;
  }
  if (header === undefined) return `${name} was removed; canarybot had added it`;
  // Active as expected: without the header match it cannot be rebuilt, so carrying canarybot's name is enough.
  if (desired.headerMatch === undefined) return undefined;
  const ours = dialect.headerRule(expected.baseline, target, desired.headerMatch);
  return jsonEqual(header.route, ours) ? undefined : `${name} (${field}[${header.index}]) was edited`;
}

function describeRouteDrift(dialect: RouteDialect, live: unknown, expected: Rule, target: Target): string {
  const liveWeights = dialect.describeWeights(live, target);
  const expectedWeights = dialect.describeWeights(expected, target);
  if (liveWeights !== expectedWeights)
    return `weights are ${liveWeights}; canarybot last set ${expectedWeights}`;
  const liveObject = isJsonObject(live) ? live : {};
  const keys = [...new Set([...Object.keys(liveObject), ...Object.keys(expected)])].filter(
    (key) => !jsonEqual(liveObject[key], expected[key]),
  );
  return `fields changed since canarybot last wrote the ${dialect.naming.noun}: ${keys.sort().join(", ")}`;
}

/**
 * The JSON patch that puts the managed route back to `baseline` exactly and removes the header route. A restore
 * always wins over a human's edit of the managed route (it is the way back), but it is still guarded by `test`
 * operations so that it applies to exactly the object it was computed from. Nothing to do → "unchanged".
 */
export function computeRuleRestorePatch(
  dialect: RouteDialect,
  object: unknown,
  target: Target,
  baseline: unknown,
): RouteChange {
  const { field, noun } = dialect.naming;
  if (!isJsonObject(baseline)) {
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `${objectIdentity(dialect.naming, target)}: the saved baseline is not a ${noun}`,
    );
  }
  const managed = locateManagedRule(dialect, object, target, baseline);
  const header = liveHeaderRoute(dialect, object, target);
  const operations = edits(field, managed, header, baseline, undefined);
  if (operations.length === 0) return { kind: "unchanged", index: managed.index };
  return {
    kind: "patch",
    index: managed.index,
    operations: [...guards(field, object, managed, header), ...operations],
  };
}
