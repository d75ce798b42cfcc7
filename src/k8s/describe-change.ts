import { stringify } from "yaml";
import { CanaryError, ErrorCode } from "../errors.ts";
import { applyJsonPatch, JsonPatchError, type JsonPatchOperation } from "../json/json-patch.ts";
import { isJsonObject } from "../json/json-value.ts";
import type { HeaderMatch, Target } from "../rollout/types.ts";
import { omitKeys } from "./json.ts";
import { computeRoutePatch } from "./virtual-service-patch.ts";
import {
  baselineShape,
  canaryWeightOf,
  describeWeights,
  destinationsOf,
  httpRoutes,
  isSubsetOf,
  routeLabel,
  selectManagedRoute,
  virtualServiceIdentity,
  type HttpRoute,
} from "./virtual-service-route.ts";
import { headerRouteName } from "./route-rules.ts";

/**
 * The route a preview starts from: the live route when it can start a rollout, otherwise (mid-rollout) the live
 * route with its canary destination dropped and the stable weight left out.
 */
function previewBaseline(route: HttpRoute, target: Target): HttpRoute {
  try {
    baselineShape(route, target);
    return route;
  } catch (error) {
    const others = destinationsOf(route).filter((entry) => !isSubsetOf(entry, target, target.canarySubset));
    const stable = others.length === 1 ? others[0] : undefined;
    if (stable === undefined || !isSubsetOf(stable, target, target.stableSubset)) throw error;
    return { ...route, route: [omitKeys(stable, "weight")] };
  }
}

/** The object after `operations`, as the API server would apply them; a patch that does not apply is our bug. */
function previewPatch(virtualService: unknown, operations: readonly JsonPatchOperation[]): unknown {
  try {
    return applyJsonPatch(virtualService, operations);
  } catch (error) {
    if (!(error instanceof JsonPatchError)) throw error;
    throw new CanaryError(ErrorCode.InvalidInput, `JSON patch: ${error.message}`, { cause: error });
  }
}

/**
 * A human-readable preview of what `setWeights` would do to the live VirtualService (for `--dry-run`): one line
 * per changed route ("route 'reviews' (http[0]): v1=100 → v1=90, v2=10"), then a YAML diff of `spec.http`.
 * The header route is wanted when `desired.headerMatch` is given.
 */
export function describeRouteChange(
  virtualService: unknown,
  target: Target,
  desired: { canaryWeight: number; headerMatch?: HeaderMatch },
): string {
  const identity = virtualServiceIdentity(target);
  const managed = selectManagedRoute(virtualService, target);
  const headerName = headerRouteName(target.canarySubset);
  const headerActive = httpRoutes(virtualService).some(
    (route) => isJsonObject(route) && route.name === headerName,
  );
  const baseline = previewBaseline(managed.route, target);
  const change = computeRoutePatch(
    virtualService,
    target,
    {
      baseline,
      appliedWeight: canaryWeightOf(managed.route, target),
      headerRouteActive: headerActive,
      force: true,
    },
    { ...desired, headerRouteActive: desired.headerMatch !== undefined },
  );
  const label = `${identity} ${routeLabel(managed.route, managed.index)}`;
  if (change.kind === "unchanged") return `${label}: no change (${describeWeights(managed.route, target)})`;

  const after = previewPatch(virtualService, change.operations);
  const afterManaged = selectManagedRoute(after, target);
  const lines = [
    `${label}: ${describeWeights(managed.route, target)} → ${describeWeights(afterManaged.route, target)}`,
  ];
  const headerAfter = httpRoutes(after).findIndex(
    (route) => isJsonObject(route) && route.name === headerName,
  );
  if (!headerActive && headerAfter >= 0 && desired.headerMatch) {
    lines.push(
      `adds header route '${headerName}' at http[${headerAfter}]: requests with ` +
        `${desired.headerMatch.name}: ${desired.headerMatch.value} → ${target.canarySubset}`,
    );
  } else if (headerActive && headerAfter < 0) {
    lines.push(`removes header route '${headerName}'`);
  } else if (
    change.operations.some((op) => op.op === "replace" && op.path !== `/spec/http/${change.index}`)
  ) {
    lines.push(`updates header route '${headerName}'`);
  }
  const before =
    isJsonObject(virtualService) && isJsonObject(virtualService.spec) ? virtualService.spec.http : [];
  const afterHttp = isJsonObject(after) && isJsonObject(after.spec) ? after.spec.http : [];
  lines.push(...yamlDiff({ http: before }, { http: afterHttp }, 4));
  return lines.join("\n");
}

/** A unified-style line diff of two values' YAML, with `context` unchanged lines around each change. */
export function yamlDiff(before: unknown, after: unknown, context = 2): string[] {
  const a = stringify(before).trimEnd().split("\n");
  const b = stringify(after).trimEnd().split("\n");
  // Longest common subsequence table, from the end.
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = lcs[i] as number[];
      row[j] =
        a[i] === b[j] ? (lcs[i + 1]?.[j + 1] ?? 0) + 1 : Math.max(lcs[i + 1]?.[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const diff: { mark: " " | "-" | "+"; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      diff.push({ mark: " ", line: a[i++] as string });
      j++;
    } else if (i < a.length && (j >= b.length || (lcs[i + 1]?.[j] ?? 0) >= (lcs[i]?.[j + 1] ?? 0))) {
      diff.push({ mark: "-", line: a[i++] as string });
    } else {
      diff.push({ mark: "+", line: b[j++] as string });
    }
  }
  const changed = diff.map((entry) => entry.mark !== " ");
  const out: string[] = [];
  let previous = -1;
  diff.forEach((entry, k) => {
    if (!changed.slice(Math.max(0, k - context), k + context + 1).includes(true)) return;
    if (k > previous + 1) out.push("  ...");
    out.push(`${entry.mark} ${entry.line}`);
    previous = k;
  });
  return out;
}
