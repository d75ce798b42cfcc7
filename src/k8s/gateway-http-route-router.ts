import type { KubeConfig } from "@kubernetes/client-node";
import { CanaryError, ErrorCode } from "../errors.ts";
import type {
  PodHealthProbe,
  RouteExpectation,
  RouteReads,
  TargetInspection,
  TrafficRouter,
} from "../rollout/ports.ts";
import { meshContextOf } from "../rollout/target.ts";
import type { HeaderMatch, PodHealth, Target } from "../rollout/types.ts";
import { describeRuleChange } from "./describe-change.ts";
import {
  backendRefsOf,
  canaryPercentOf,
  currentBackendOf,
  HTTP_ROUTE_DIALECT,
  httpRouteIdentity,
  ruleBaselineShape,
  type HttpRouteRule,
} from "./http-route-rule.ts";
import { omitKeys } from "./json.ts";
import { httpStatusOf } from "./kube-errors.ts";
import {
  getCustomObject,
  KubeOperations,
  routeReadsKey,
  serviceSelector,
  type CallOptions,
  type Clients,
  type CustomObjectRef,
  type RouteObject,
  type RouterOptions,
} from "./kube-operations.ts";
import { labelSelectorOf, podHealthOf } from "./pod-health.ts";
import { managedRuleForRollout, requireSubsetsReady, serviceReadinessProblem } from "./preflight.ts";
import { computeRulePatch, computeRuleRestorePatch } from "./route-patch.ts";

export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";
/** The HTTPRoute version the router reads and writes: GA since Gateway API 1.0. */
export const GATEWAY_API_VERSION = "v1";
/** This router's objects in an operation's `RouteReads`. */
const READS_KIND = "gateway-httproute";

/**
 * `TrafficRouter` on a Gateway API HTTPRoute (Linkerd 2.14+, Envoy Gateway, Istio's Gateway API mode, Cilium):
 * the subsets are backend Services and the split is the managed rule's `backendRefs` weights. The patch logic is
 * the VirtualService router's (`route-patch.ts` over `HTTP_ROUTE_DIALECT`), and so are the budget, retries and
 * error translation (`KubeOperations`).
 */
export class GatewayHttpRouteRouter implements TrafficRouter, PodHealthProbe {
  readonly #kube: KubeOperations;

  constructor(kubeConfig: KubeConfig, options: RouterOptions = {}) {
    this.#kube = new KubeOperations(kubeConfig, options);
  }

  close(): Promise<void> {
    return this.#kube.close();
  }

  async inspect(target: Target, reads?: RouteReads): Promise<TargetInspection> {
    return this.#kube.run(`${httpRouteIdentity(target)}: inspect failed`, async (options) => {
      const httpRoute = await this.#readForPreflight(
        this.#kube.clientsFor(meshContextOf(target)),
        target,
        options,
      );
      reads?.set(routeReadsKey(READS_KIND, target), httpRoute);
      const clients = this.#kube.clientsFor(target.context);
      const managed = managedRuleForRollout(HTTP_ROUTE_DIALECT, httpRoute, target);
      const subsets = [target.stableSubset, target.canarySubset];
      const [selectors, pods] = await Promise.all([
        Promise.all(
          subsets.map((name) => serviceSelector(clients, { name, namespace: target.namespace }, options)),
        ),
        clients.core.listNamespacedPod({ namespace: target.namespace }, options.request),
      ]);
      const problems = subsets.map((name, index) =>
        serviceReadinessProblem(name, selectors[index], pods.items),
      );
      requireSubsetsReady(target, problems);
      return {
        baseline: structuredClone(managed.route),
        canaryWeight: canaryPercentOf(managed.route, target),
        apiVersion: `${GATEWAY_API_GROUP}/${GATEWAY_API_VERSION}`,
        // A backend's pods are what its Service selects: metrics tell the subsets apart by those labels.
        subsetLabels: Object.fromEntries(subsets.map((name, index) => [name, selectors[index] ?? {}])),
      };
    });
  }

  async setWeights(
    target: Target,
    desired: { canaryWeight: number; headerMatch?: HeaderMatch; headerRouteActive: boolean },
    expected: RouteExpectation,
    reads?: RouteReads,
  ): Promise<void> {
    const plan = (httpRoute: unknown) =>
      computeRulePatch(HTTP_ROUTE_DIALECT, httpRoute, target, expected, desired);
    await this.#kube.write(target, httpRouteObject(target), "set weights", plan, reads);
  }

  async restore(target: Target, baseline: unknown, reads?: RouteReads): Promise<void> {
    const plan = (httpRoute: unknown) =>
      computeRuleRestorePatch(HTTP_ROUTE_DIALECT, httpRoute, target, baseline);
    await this.#kube.restore(target, httpRouteObject(target), plan, reads);
  }

  prefetch(target: Target, reads: RouteReads): void {
    this.#kube.prefetch(target, httpRouteObject(target), reads);
  }

  /** The canary's pods: those its backend Service selects (`labels`, the selector preflight recorded). */
  async observe(target: Target, labels: Record<string, string>): Promise<PodHealth> {
    const prefix = `${target.namespace}/${target.service}: reading the pods of ${target.canarySubset} failed`;
    return this.#kube.run(prefix, async (options) => {
      const pods = await this.#kube
        .clientsFor(target.context)
        .core.listNamespacedPod(
          { namespace: target.namespace, labelSelector: labelSelectorOf(labels) },
          options.request,
        );
      return podHealthOf(pods.items);
    });
  }

  async currentSubset(target: Omit<Target, "stableSubset" | "canarySubset">): Promise<string> {
    const prefix = `${httpRouteIdentity(target)}: reading the current backend failed`;
    return this.#kube.run(prefix, async (options) =>
      currentBackendOf(
        await this.#readForPreflight(this.#kube.clientsFor(meshContextOf(target)), target, options),
        target,
      ),
    );
  }

  async describeChange(
    target: Target,
    desired: { canaryWeight: number; headerMatch?: HeaderMatch },
  ): Promise<string> {
    return this.#kube.run(`${httpRouteIdentity(target)}: describe change failed`, async (options) => {
      const httpRoute = await this.#get(this.#kube.clientsFor(meshContextOf(target)), target, options);
      return describeRuleChange(HTTP_ROUTE_DIALECT, httpRoute, target, desired, (rule) =>
        previewBaseline(rule, target),
      );
    });
  }

  async #readForPreflight(
    clients: Clients,
    target: Pick<Target, "namespace" | "virtualService">,
    options: CallOptions,
  ): Promise<unknown> {
    try {
      return await this.#get(clients, target, options);
    } catch (error) {
      if (httpStatusOf(error) !== 404) throw error;
      throw new CanaryError(
        ErrorCode.PreflightFailed,
        `${httpRouteIdentity(target)} not found (or the cluster does not serve ${GATEWAY_API_GROUP}/${GATEWAY_API_VERSION} HTTPRoutes)`,
        { cause: error },
      );
    }
  }

  #get(clients: Clients, target: Pick<Target, "namespace" | "virtualService">, options: CallOptions) {
    return getCustomObject(clients, httpRouteRef(target), options);
  }
}

function httpRouteObject(target: Target): RouteObject {
  return {
    identity: httpRouteIdentity(target),
    kind: READS_KIND,
    ref: () => Promise.resolve(httpRouteRef(target)),
  };
}

function httpRouteRef(target: Pick<Target, "namespace" | "virtualService">): CustomObjectRef {
  return {
    group: GATEWAY_API_GROUP,
    version: GATEWAY_API_VERSION,
    plural: "httproutes",
    namespace: target.namespace,
    name: target.virtualService,
  };
}

/**
 * The rule a preview starts from: the live rule when it can start a rollout, otherwise (mid-rollout) the live rule
 * with its canary backendRef dropped and the stable weight left out.
 */
function previewBaseline(rule: HttpRouteRule, target: Target): HttpRouteRule {
  try {
    ruleBaselineShape(rule, target);
    return rule;
  } catch (error) {
    const others = backendRefsOf(rule).filter((entry) => entry.name !== target.canarySubset);
    const stable = others.length === 1 ? others[0] : undefined;
    if (stable?.name !== target.stableSubset) throw error;
    return { ...rule, backendRefs: [omitKeys(stable, "weight")] };
  }
}
