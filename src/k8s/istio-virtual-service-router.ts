import type { KubeConfig } from "@kubernetes/client-node";
import { CanaryError, ErrorCode } from "../errors.ts";
import { isJsonObject } from "../json/json-value.ts";
import type {
  PodHealthProbe,
  RouteExpectation,
  RouteReads,
  TargetInspection,
  TrafficRouter,
} from "../rollout/ports.ts";
import { meshContextOf } from "../rollout/target.ts";
import type { HeaderMatch, PodHealth, Target } from "../rollout/types.ts";
import { describeRouteChange } from "./describe-change.ts";
import { serviceOfHost } from "./istio-host.ts";
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
import {
  managedRouteForRollout,
  requireSubsetsReady,
  subsetLabelsFor,
  subsetReadinessProblem,
  type Labels,
} from "./preflight.ts";
import { computeRestorePatch, computeRoutePatch } from "./virtual-service-patch.ts";
import { canaryWeightOf, currentSubsetOf, virtualServiceIdentity } from "./virtual-service-route.ts";

export const ISTIO_NETWORKING_GROUP = "networking.istio.io";
/** Versions of networking.istio.io the router speaks, most preferred first. */
export const ISTIO_NETWORKING_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;
/** This router's objects in an operation's `RouteReads`. */
const READS_KIND = "istio-virtualservice";

/**
 * `TrafficRouter` on an Istio VirtualService, through the real Kubernetes API. Decides nothing itself: it reads
 * the object, lets the pure functions of `virtual-service-patch.ts` compute a guarded JSON patch, and sends it.
 * Stateless per rollout; the only state is the API clients and the discovered API version, per context.
 * VirtualServices and DestinationRules are the mesh cluster's (`meshContext`), Deployments, Services and pods the
 * workload cluster's (`context`). It is the `PodHealthProbe` too: the pods behind a subset, found as preflight
 * finds them, within the same budget and retries.
 */
export class IstioVirtualServiceRouter implements TrafficRouter, PodHealthProbe {
  readonly #kube: KubeOperations;
  readonly #now: () => number;
  /** The discovered networking.istio.io version, per context. */
  readonly #versions = new Map<string, Promise<string>>();
  readonly #selectors = new Map<string, { labels: Labels; readAt: number }>();

  constructor(kubeConfig: KubeConfig, options: RouterOptions = {}) {
    this.#kube = new KubeOperations(kubeConfig, options);
    this.#now = options.now ?? Date.now;
  }

  /** Close the kept-alive connections to the API servers. */
  close(): Promise<void> {
    return this.#kube.close();
  }

  async inspect(target: Target, reads?: RouteReads): Promise<TargetInspection> {
    return this.#kube.run(`${virtualServiceIdentity(target)}: inspect failed`, async (options) => {
      const { clients, version, virtualService } = await this.#readForPreflight(target, options);
      reads?.set(routeReadsKey(READS_KIND, target), virtualService);
      const managed = managedRouteForRollout(virtualService, target);
      const workloads = this.#kube.clientsFor(target.context);
      const [destinationRules, deployments, selector] = await Promise.all([
        clients.custom.listNamespacedCustomObject(
          { group: ISTIO_NETWORKING_GROUP, version, namespace: target.namespace, plural: "destinationrules" },
          options.request,
        ) as Promise<unknown>,
        workloads.apps.listNamespacedDeployment({ namespace: target.namespace }, options.request),
        this.#hostSelector(workloads, target, options),
      ]);
      const items =
        isJsonObject(destinationRules) && Array.isArray(destinationRules.items) ? destinationRules.items : [];
      const subsetLabels = subsetLabelsFor(items, target);
      const problems = [target.stableSubset, target.canarySubset].map((subset) =>
        subsetReadinessProblem(subset, subsetLabels[subset] ?? {}, deployments.items, selector),
      );
      requireSubsetsReady(target, problems);
      return {
        baseline: structuredClone(managed.route),
        canaryWeight: canaryWeightOf(managed.route, target),
        apiVersion: `${ISTIO_NETWORKING_GROUP}/${version}`,
        subsetLabels,
      };
    });
  }

  async setWeights(
    target: Target,
    desired: { canaryWeight: number; headerMatch?: HeaderMatch; headerRouteActive: boolean },
    expected: RouteExpectation,
    reads?: RouteReads,
  ): Promise<void> {
    const plan = (virtualService: unknown) => computeRoutePatch(virtualService, target, expected, desired);
    await this.#kube.write(target, this.#route(target), "set weights", plan, reads);
  }

  async restore(target: Target, baseline: unknown, reads?: RouteReads): Promise<void> {
    const plan = (virtualService: unknown) => computeRestorePatch(virtualService, target, baseline);
    await this.#kube.restore(target, this.#route(target), plan, reads);
  }

  prefetch(target: Target, reads: RouteReads): void {
    this.#kube.prefetch(target, this.#route(target), reads);
  }

  async observe(target: Target, labels: Labels): Promise<PodHealth> {
    const prefix = `${target.namespace}/${target.service}: reading the pods of ${target.canarySubset} failed`;
    return this.#kube.run(prefix, async (options) => {
      const clients = this.#kube.clientsFor(target.context);
      const selector = await this.#recentHostSelector(clients, target, options);
      const pods = await clients.core.listNamespacedPod(
        { namespace: target.namespace, labelSelector: labelSelectorOf({ ...selector, ...labels }) },
        options.request,
      );
      return podHealthOf(pods.items);
    });
  }

  async currentSubset(target: Omit<Target, "stableSubset" | "canarySubset">): Promise<string> {
    const prefix = `${virtualServiceIdentity(target)}: reading the current subset failed`;
    return this.#kube.run(prefix, async (options) =>
      currentSubsetOf((await this.#readForPreflight(target, options)).virtualService, target),
    );
  }

  async describeChange(
    target: Target,
    desired: { canaryWeight: number; headerMatch?: HeaderMatch },
  ): Promise<string> {
    const prefix = `${virtualServiceIdentity(target)}: describe change failed`;
    return this.#kube.run(prefix, async (options) => {
      const clients = this.#kube.clientsFor(meshContextOf(target));
      const version = await this.#networkingVersion(target, clients, options);
      const virtualService = await this.#getVirtualService(clients, version, target, options);
      return describeRouteChange(virtualService, target, desired);
    });
  }

  /** The VirtualService for a preflight, where its absence is a preflight failure rather than `not_found`. */
  async #readForPreflight(
    target: Pick<Target, "context" | "meshContext" | "namespace" | "virtualService">,
    options: CallOptions,
  ) {
    const clients = this.#kube.clientsFor(meshContextOf(target));
    const version = await this.#networkingVersion(target, clients, options);
    try {
      const virtualService = await this.#getVirtualService(clients, version, target, options);
      return { clients, version, virtualService };
    } catch (error) {
      if (httpStatusOf(error) !== 404) throw error;
      throw new CanaryError(ErrorCode.PreflightFailed, `${virtualServiceIdentity(target)} not found`, {
        cause: error,
      });
    }
  }

  /** The VirtualService as `KubeOperations` writes it, at the networking version this context serves. */
  #route(target: Target): RouteObject {
    return {
      identity: virtualServiceIdentity(target),
      kind: READS_KIND,
      ref: async (clients, options) =>
        virtualServiceRef(await this.#networkingVersion(target, clients, options), target),
    };
  }

  /** The networking.istio.io version to use (v1, else v1beta1, else v1alpha3), discovered once per context. */
  #networkingVersion(
    target: Pick<Target, "context" | "meshContext">,
    clients: Clients,
    options: CallOptions,
  ): Promise<string> {
    const key = meshContextOf(target) ?? "";
    let version = this.#versions.get(key);
    if (version === undefined) {
      version = this.#discoverVersion(clients, options).catch((error: unknown) => {
        this.#versions.delete(key);
        throw error;
      });
      this.#versions.set(key, version);
    }
    return version;
  }

  async #discoverVersion(clients: Clients, options: CallOptions): Promise<string> {
    const groups = await clients.apis.getAPIVersions(options.request);
    const group = groups.groups.find((entry) => entry.name === ISTIO_NETWORKING_GROUP);
    const served = new Set(group?.versions.map((entry) => entry.version) ?? []);
    const version = ISTIO_NETWORKING_VERSIONS.find((candidate) => served.has(candidate));
    if (version === undefined) {
      throw new CanaryError(
        ErrorCode.PreflightFailed,
        `the cluster does not serve ${ISTIO_NETWORKING_GROUP} ${ISTIO_NETWORKING_VERSIONS.join(", ")} ` +
          `(${served.size === 0 ? "group absent: is Istio installed?" : `it serves ${[...served].join(", ")}`})`,
      );
    }
    return version;
  }

  #getVirtualService(
    clients: Clients,
    version: string,
    target: Pick<Target, "namespace" | "virtualService">,
    options: CallOptions,
  ): Promise<unknown> {
    return getCustomObject(clients, virtualServiceRef(version, target), options);
  }

  /** The Service selector narrows the pods a subset's labels pick when the Service lives beside the rollout. */
  async #hostSelector(clients: Clients, target: Target, options: CallOptions): Promise<Labels> {
    const service = serviceOfHost(target.host, target.namespace);
    return service?.namespace === target.namespace
      ? ((await serviceSelector(clients, service, options)) ?? {})
      : {};
  }

  async #recentHostSelector(clients: Clients, target: Target, options: CallOptions): Promise<Labels> {
    const key = `${target.context ?? ""}/${target.namespace}/${target.host}`;
    const kept = this.#selectors.get(key);
    if (kept && this.#now() - kept.readAt < SELECTOR_TTL_MS) return kept.labels;
    const labels = await this.#hostSelector(clients, target, options);
    this.#selectors.set(key, { labels, readAt: this.#now() });
    return labels;
  }
}

/**
 * How long a tick's pod check trusts a Service selector it read: a selector seldom changes, and reading it on every
 * tick doubled a tick's requests (and, on a 404, its CPU). Preflight always reads it afresh.
 */
const SELECTOR_TTL_MS = 60_000;

function virtualServiceRef(
  version: string,
  target: Pick<Target, "namespace" | "virtualService">,
): CustomObjectRef {
  return {
    group: ISTIO_NETWORKING_GROUP,
    version,
    plural: "virtualservices",
    namespace: target.namespace,
    name: target.virtualService,
  };
}
