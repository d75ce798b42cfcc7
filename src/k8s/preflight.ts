import { CanaryError, ErrorCode } from "../errors.ts";
import { isJsonObject } from "../json/json-value.ts";
import type { Target } from "../rollout/types.ts";
import { isSameHost } from "./istio-host.ts";
import { VIRTUAL_SERVICE_DIALECT, type ManagedRoute } from "./virtual-service-route.ts";
import {
  headerRouteName,
  objectIdentity,
  rulesOf,
  type ManagedRule,
  type RouteDialect,
} from "./route-rules.ts";

export type Labels = Record<string, string>;

/**
 * The rule a new rollout will manage, checked: selected (see `RouteDialect.select`), sending 100% to the stable
 * subset (see `RouteDialect.checkBaseline`), and no canarybot header rule left over from an earlier rollout.
 */
export function managedRuleForRollout(dialect: RouteDialect, object: unknown, target: Target): ManagedRule {
  const managed = dialect.select(object, target);
  dialect.checkBaseline(managed.route, target, managed.index);
  const name = headerRouteName(target.canarySubset);
  const { field, noun } = dialect.naming;
  const leftover = rulesOf(object, field).findIndex((route) => isJsonObject(route) && route.name === name);
  if (leftover >= 0) {
    throw new CanaryError(
      ErrorCode.PreflightFailed,
      `${objectIdentity(dialect.naming, target)} still has canarybot's header ${noun} '${name}' (${field}[${leftover}]) ` +
        `from an earlier rollout; roll that rollout back or remove the ${noun}`,
    );
  }
  return managed;
}

/** `managedRuleForRollout` on a VirtualService's `spec.http`. */
export function managedRouteForRollout(virtualService: unknown, target: Target): ManagedRoute {
  const managed = managedRuleForRollout(VIRTUAL_SERVICE_DIALECT, virtualService, target);
  return { index: managed.index, route: managed.route };
}

function stringMap(value: unknown): Labels {
  if (!isJsonObject(value)) return {};
  return Object.fromEntries(
    Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
  );
}

function nameOf(object: unknown): string {
  return isJsonObject(object) && isJsonObject(object.metadata) && typeof object.metadata.name === "string"
    ? object.metadata.name
    : "(unnamed)";
}

/** "version=v2,app=reviews" */
export function formatLabels(labels: Labels): string {
  const text = Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  return text === "" ? "no labels: every pod of the host" : text;
}

/**
 * Labels of the stable and canary subsets, from the DestinationRules of the target's namespace whose `spec.host`
 * names the target host (any spelling of it). No such DestinationRule, or a subset none of them defines →
 * `preflight_failed` naming what is missing. With several rules for one host the first definition of a subset wins.
 */
export function subsetLabelsFor(
  destinationRules: readonly unknown[],
  target: Target,
): Record<string, Labels> {
  const rules = destinationRules.filter(
    (rule) =>
      isJsonObject(rule) &&
      isJsonObject(rule.spec) &&
      typeof rule.spec.host === "string" &&
      isSameHost(rule.spec.host, target.host, target.namespace),
  );
  if (rules.length === 0) {
    throw new CanaryError(
      ErrorCode.PreflightFailed,
      `no DestinationRule in namespace ${target.namespace} has host ${target.host}; ` +
        `define subsets ${target.stableSubset} and ${target.canarySubset} for it`,
    );
  }
  const defined = new Map<string, Labels>();
  for (const rule of rules) {
    const subsets =
      isJsonObject(rule) && isJsonObject(rule.spec) && Array.isArray(rule.spec.subsets)
        ? rule.spec.subsets
        : [];
    for (const subset of subsets) {
      if (isJsonObject(subset) && typeof subset.name === "string" && !defined.has(subset.name)) {
        defined.set(subset.name, stringMap(subset.labels));
      }
    }
  }
  const names = rules.map((rule) => `${target.namespace}/${nameOf(rule)}`).join(", ");
  const result: Record<string, Labels> = {};
  for (const subset of [target.stableSubset, target.canarySubset]) {
    const labels = defined.get(subset);
    if (labels === undefined) {
      const known = [...defined.keys()];
      throw new CanaryError(
        ErrorCode.PreflightFailed,
        `DestinationRule ${names} has no subset '${subset}' for host ${target.host} ` +
          `(subsets: ${known.length === 0 ? "none" : known.join(", ")})`,
      );
    }
    result[subset] = labels;
  }
  return result;
}

function includesLabels(labels: Labels, wanted: Labels): boolean {
  return Object.entries(wanted).every(([key, value]) => labels[key] === value);
}

/**
 * Why a subset has no ready pods, or undefined when it has some: a Deployment in the namespace whose pod
 * template carries the subset labels (and the Service selector, when known) with at least one ready replica.
 */
export function subsetReadinessProblem(
  subset: string,
  labels: Labels,
  deployments: readonly unknown[],
  serviceSelector: Labels = {},
): string | undefined {
  const wanted = { ...serviceSelector, ...labels };
  const matching = deployments.filter((deployment) => {
    if (
      !isJsonObject(deployment) ||
      !isJsonObject(deployment.spec) ||
      !isJsonObject(deployment.spec.template)
    ) {
      return false;
    }
    const template = deployment.spec.template;
    return includesLabels(stringMap(isJsonObject(template.metadata) ? template.metadata.labels : {}), wanted);
  });
  const readyReplicas = (deployment: unknown): number =>
    isJsonObject(deployment) &&
    isJsonObject(deployment.status) &&
    typeof deployment.status.readyReplicas === "number"
      ? deployment.status.readyReplicas
      : 0;
  if (matching.some((deployment) => readyReplicas(deployment) >= 1)) return undefined;
  const prefix = `subset ${subset} (${formatLabels(labels)}) has no ready pods`;
  if (matching.length === 0) {
    return `${prefix}: no Deployment with ready replicas matches (no Deployment's pod template has ${formatLabels(wanted)})`;
  }
  const unready = matching
    .map((deployment) => `${nameOf(deployment)} has ${readyReplicas(deployment)} ready`)
    .join(", ");
  return `${prefix}: no Deployment with ready replicas matches (${unready})`;
}

function isReadyPod(pod: unknown): boolean {
  if (!isJsonObject(pod) || !isJsonObject(pod.status) || !Array.isArray(pod.status.conditions)) return false;
  return pod.status.conditions.some(
    (condition) => isJsonObject(condition) && condition.type === "Ready" && condition.status === "True",
  );
}

/**
 * Why a backend Service cannot take traffic, or undefined when it can: it exists, has a selector, and at least one
 * ready pod of the namespace carries the selector's labels (the pods its endpoints would list).
 */
export function serviceReadinessProblem(
  name: string,
  selector: Labels | undefined,
  pods: readonly unknown[],
): string | undefined {
  if (selector === undefined) return `Service ${name} not found`;
  if (Object.keys(selector).length === 0) {
    return `Service ${name} has no selector: canarybot cannot tell which pods serve it`;
  }
  const matching = pods.filter(
    (pod) =>
      isJsonObject(pod) &&
      isJsonObject(pod.metadata) &&
      includesLabels(stringMap(pod.metadata.labels), selector),
  );
  if (matching.some(isReadyPod)) return undefined;
  return matching.length === 0
    ? `Service ${name} (${formatLabels(selector)}) has no pods`
    : `Service ${name} (${formatLabels(selector)}) has no ready pods (${matching.length} not ready)`;
}

/** Preflight refuses a rollout while either subset has a problem, naming every one. */
export function requireSubsetsReady(
  target: Pick<Target, "namespace" | "service">,
  problems: readonly (string | undefined)[],
): void {
  const found = problems.filter((problem): problem is string => problem !== undefined);
  if (found.length > 0) {
    throw new CanaryError(
      ErrorCode.PreflightFailed,
      `${target.namespace}/${target.service}: ${found.join("; ")}`,
    );
  }
}
