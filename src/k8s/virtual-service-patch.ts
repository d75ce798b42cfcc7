import { CanaryError, ErrorCode, isCanaryError } from "../errors.ts";
import { pointer, type JsonPatchOperation } from "../json/json-patch.ts";
import { isJsonObject, jsonEqual } from "../json/json-value.ts";
import type { RouteExpectation } from "../rollout/ports.ts";
import type { HeaderMatch, Target } from "../rollout/types.ts";
import {
  describeWeights,
  headerRouteFor,
  headerRouteName,
  httpRoutes,
  isHeaderRoute,
  resourceVersionOf,
  routeAtWeight,
  routeLabel,
  selectManagedRoute,
  virtualServiceIdentity,
  type HttpRoute,
  type ManagedRoute,
} from "./virtual-service-route.ts";

/** What `setWeights` is asked to reach. */
export type DesiredRoute = { canaryWeight: number; headerMatch?: HeaderMatch; headerRouteActive: boolean };

/** The outcome of comparing the live VirtualService with what is wanted: nothing to write, or one JSON patch. */
export type RouteChange =
  | { kind: "unchanged"; index: number }
  | {
      kind: "patch";
      /** Index of the managed route in `spec.http` before the patch. */
      index: number;
      /** `test` guards first (resourceVersion, then every route the patch depends on), then the edits. */
      operations: JsonPatchOperation[];
    };

/** The live header-stage route, if any. */
type LiveHeaderRoute = { index: number; route: unknown } | undefined;

function liveHeaderRoute(virtualService: unknown, target: Target): LiveHeaderRoute {
  const name = headerRouteName(target.canarySubset);
  const index = httpRoutes(virtualService).findIndex((route) => isJsonObject(route) && route.name === name);
  return index < 0 ? undefined : { index, route: httpRoutes(virtualService)[index] };
}

/**
 * Find the managed route in a VirtualService canarybot has already written to. Selection is the preflight's
 * (route name, else the one route to the stable subset); if that no longer finds it, the baseline's route name
 * is tried; if the route cannot be found at all, someone else changed the object: `drift`.
 */
export function locateManagedRoute(virtualService: unknown, target: Target, baseline: unknown): ManagedRoute {
  try {
    return selectManagedRoute(virtualService, target);
  } catch (error) {
    if (!isCanaryError(error, ErrorCode.PreflightFailed)) throw error;
    const name = isJsonObject(baseline) && typeof baseline.name === "string" ? baseline.name : undefined;
    const named = httpRoutes(virtualService)
      .map((route, index) => ({ route, index }))
      .filter(
        (entry) => isJsonObject(entry.route) && !isHeaderRoute(entry.route) && entry.route.name === name,
      );
    const only = named.length === 1 ? named[0] : undefined;
    if (name !== undefined && only !== undefined)
      return { index: only.index, route: only.route as HttpRoute };
    throw new CanaryError(
      ErrorCode.Drift,
      `the managed route of ${virtualServiceIdentity(target)} can no longer be found: ${error.message}`,
      { cause: error },
    );
  }
}

function guards(
  virtualService: unknown,
  managed: ManagedRoute,
  header: LiveHeaderRoute,
): JsonPatchOperation[] {
  const version = resourceVersionOf(virtualService);
  const operations: JsonPatchOperation[] = [];
  if (version !== undefined)
    operations.push({ op: "test", path: "/metadata/resourceVersion", value: version });
  operations.push({ op: "test", path: pointer("spec", "http", managed.index), value: managed.route });
  if (header)
    operations.push({ op: "test", path: pointer("spec", "http", header.index), value: header.route });
  return operations;
}

/**
 * The edits that turn (managed, header) into (wantedManaged, wantedHeader). The managed route is replaced first
 * (its index is still valid), then the header route is added at that index (so it lands directly before the
 * managed route), replaced, or removed.
 */
function edits(
  managed: ManagedRoute,
  header: LiveHeaderRoute,
  wantedManaged: HttpRoute,
  wantedHeader: HttpRoute | undefined,
): JsonPatchOperation[] {
  const operations: JsonPatchOperation[] = [];
  if (!jsonEqual(managed.route, wantedManaged)) {
    operations.push({ op: "replace", path: pointer("spec", "http", managed.index), value: wantedManaged });
  }
  if (header === undefined && wantedHeader !== undefined) {
    operations.push({ op: "add", path: pointer("spec", "http", managed.index), value: wantedHeader });
  } else if (header !== undefined && wantedHeader === undefined) {
    operations.push({ op: "remove", path: pointer("spec", "http", header.index) });
  } else if (header !== undefined && wantedHeader !== undefined && !jsonEqual(header.route, wantedHeader)) {
    operations.push({ op: "replace", path: pointer("spec", "http", header.index), value: wantedHeader });
  }
  return operations;
}

function wantedHeaderRoute(baseline: unknown, target: Target, desired: DesiredRoute): HttpRoute | undefined {
  if (!desired.headerRouteActive) return undefined;
  if (desired.headerMatch === undefined) {
    throw new CanaryError(ErrorCode.InvalidInput, "a header route was requested without a header match");
  }
  return headerRouteFor(baseline, target, desired.headerMatch);
}

/**
 * The JSON patch that moves the managed route to `desired`, guarded by `test` operations on the resourceVersion
 * and on every route it reads, so the API server refuses it if anything changed since the GET.
 *
 * The live route is accepted when it is what canarybot last confirmed writing (`expected`: the baseline at
 * `appliedWeight`, with or without the header route) or already what is desired; the latter is the crash
 * window between a successful write and persisting it, and yields "unchanged" (no write). Anything else is a
 * human's edit: `drift`, saying what differs, unless `expected.force`. No other route or field is touched.
 */
export function computeRoutePatch(
  virtualService: unknown,
  target: Target,
  expected: RouteExpectation,
  desired: DesiredRoute,
): RouteChange {
  const managed = locateManagedRoute(virtualService, target, expected.baseline);
  const header = liveHeaderRoute(virtualService, target);
  const wantedManaged = routeAtWeight(expected.baseline, target, desired.canaryWeight);
  const wantedHeader = wantedHeaderRoute(expected.baseline, target, desired);
  const managedAtDesired = jsonEqual(managed.route, wantedManaged);
  const headerAtDesired = jsonEqual(header?.route, wantedHeader);
  if (managedAtDesired && headerAtDesired) return { kind: "unchanged", index: managed.index };

  if (expected.force !== true) {
    const problems: string[] = [];
    const expectedManaged = routeAtWeight(expected.baseline, target, expected.appliedWeight);
    if (!managedAtDesired && !jsonEqual(managed.route, expectedManaged)) {
      problems.push(describeRouteDrift(managed.route, expectedManaged, target));
    }
    if (!headerAtDesired) {
      const problem = describeHeaderDrift(header, expected, desired, target);
      if (problem !== undefined) problems.push(problem);
    }
    if (problems.length > 0) {
      throw new CanaryError(
        ErrorCode.Drift,
        `${virtualServiceIdentity(target)} ${routeLabel(managed.route, managed.index)} was changed outside ` +
          `canarybot: ${problems.join("; ")}`,
      );
    }
  }
  return {
    kind: "patch",
    index: managed.index,
    operations: [
      ...guards(virtualService, managed, header),
      ...edits(managed, header, wantedManaged, wantedHeader),
    ],
  };
}

/** Undefined when the live header route is one canarybot could have left: the expected state or the desired one. */
function describeHeaderDrift(
  header: LiveHeaderRoute,
  expected: RouteExpectation,
  desired: DesiredRoute,
  target: Target,
): string | undefined {
  const name = `header route '${headerRouteName(target.canarySubset)}'`;
  if (!expected.headerRouteActive) {
    return header === undefined
      ? undefined
      : `${name} is present (http[${header.index}]); canarybot had not added it`;
  }
  if (header === undefined) return `${name} was removed; canarybot had added it`;
  // Active as expected: without the header match it cannot be rebuilt, so carrying canarybot's name is enough.
  if (desired.headerMatch === undefined) return undefined;
  const ours = headerRouteFor(expected.baseline, target, desired.headerMatch);
  return jsonEqual(header.route, ours) ? undefined : `${name} (http[${header.index}]) was edited`;
}

function describeRouteDrift(live: unknown, expected: HttpRoute, target: Target): string {
  const liveWeights = describeWeights(live, target);
  const expectedWeights = describeWeights(expected, target);
  if (liveWeights !== expectedWeights)
    return `weights are ${liveWeights}; canarybot last set ${expectedWeights}`;
  const liveObject = isJsonObject(live) ? live : {};
  const keys = [...new Set([...Object.keys(liveObject), ...Object.keys(expected)])].filter(
    (key) => !jsonEqual(liveObject[key], expected[key]),
  );
  return `fields changed since canarybot last wrote the route: ${keys.sort().join(", ")}`;
}

/**
 * The JSON patch that puts the managed route back to `baseline` exactly and removes the header route. A restore
 * always wins over a human's edit of the managed route (it is the way back), but it is still guarded by `test`
 * operations so that it applies to exactly the object it was computed from. Nothing to do → "unchanged".
 */
export function computeRestorePatch(virtualService: unknown, target: Target, baseline: unknown): RouteChange {
  if (!isJsonObject(baseline)) {
    throw new CanaryError(
      ErrorCode.InvalidInput,
      `${virtualServiceIdentity(target)}: the saved baseline is not a route`,
    );
  }
  const managed = locateManagedRoute(virtualService, target, baseline);
  const header = liveHeaderRoute(virtualService, target);
  const operations = edits(managed, header, baseline, undefined);
  if (operations.length === 0) return { kind: "unchanged", index: managed.index };
  return {
    kind: "patch",
    index: managed.index,
    operations: [...guards(virtualService, managed, header), ...operations],
  };
}
