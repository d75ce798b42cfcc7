import { stringify } from "yaml";
import { CanaryError, ErrorCode } from "../errors.ts";
import { applyJsonPatch, JsonPatchError, type JsonPatchOperation } from "../json/json-patch.ts";
import { isJsonObject } from "../json/json-value.ts";
import type { HeaderMatch, Target } from "../rollout/types.ts";
import { omitKeys } from "./json.ts";
import { computeRulePatch } from "./route-patch.ts";
import {
  headerRouteName,
  objectIdentity,
  ruleLabel,
  rulesOf,
  type RouteDialect,
  type Rule,
} from "./route-rules.ts";
import {
  baselineShape,
  destinationsOf,
  isSubsetOf,
  VIRTUAL_SERVICE_DIALECT,
  type HttpRoute,
} from "./virtual-service-route.ts";

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
  return describeRuleChange(VIRTUAL_SERVICE_DIALECT, virtualService, target, desired, (route) =>
    previewBaseline(route, target),
  );
}

/**
 * `describeRouteChange` for any kind of route: `previewBaseline` turns the live managed rule into the baseline the
 * preview starts from.
 */
export function describeRuleChange(
  dialect: RouteDialect,
  object: unknown,
  target: Target,
  desired: { canaryWeight: number; headerMatch?: HeaderMatch },
  previewBaseline: (rule: Rule) => Rule,
): string {
  const { naming } = dialect;
  const identity = objectIdentity(naming, target);
  const managed = dialect.select(object, target);
  const headerName = headerRouteName(target.canarySubset);
  const isOurHeader = (route: unknown) => isJsonObject(route) && route.name === headerName;
  const headerActive = rulesOf(object, naming.field).some(isOurHeader);
  const baseline = previewBaseline(managed.route);
  const change = computeRulePatch(
    dialect,
    object,
    target,
    {
      baseline,
      appliedWeight: dialect.canaryWeight(managed.route, target),
      headerRouteActive: headerActive,
      force: true,
    },
    { ...desired, headerRouteActive: desired.headerMatch !== undefined },
  );
  const label = `${identity} ${ruleLabel(naming, managed.route, managed.index)}`;
  if (change.kind === "unchanged")
    return `${label}: no change (${dialect.describeWeights(managed.route, target)})`;

  const after = previewPatch(object, change.operations);
  const afterManaged = dialect.select(after, target);
  const lines = [
    `${label}: ${dialect.describeWeights(managed.route, target)} → ${dialect.describeWeights(afterManaged.route, target)}`,
  ];
  const headerAfter = rulesOf(after, naming.field).findIndex(isOurHeader);
  const header = `header ${naming.noun} '${headerName}'`;
  if (!headerActive && headerAfter >= 0 && desired.headerMatch) {
    lines.push(
      `adds ${header} at ${naming.field}[${headerAfter}]: requests with ` +
        `${desired.headerMatch.name}: ${desired.headerMatch.value} → ${target.canarySubset}`,
    );
  } else if (headerActive && headerAfter < 0) {
    lines.push(`removes ${header}`);
  } else if (
    change.operations.some((op) => op.op === "replace" && op.path !== `/spec/${naming.field}/${change.index}`)
  ) {
    lines.push(`updates ${header}`);
  }
  lines.push(
    ...yamlDiff(
      { [naming.field]: rulesOf(object, naming.field) },
      { [naming.field]: rulesOf(after, naming.field) },
      4,
    ),
  );
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
