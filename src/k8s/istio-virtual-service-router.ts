import {
  ApisApi,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
} from "@kubernetes/client-node";
import { CanaryError, ErrorCode, isCanaryError } from "../errors.ts";
import type { JsonPatchOperation } from "../json/json-patch.ts";
import { isJsonObject } from "../json/json-value.ts";
import type { PodHealthProbe, RouteExpectation, TargetInspection, TrafficRouter } from "../rollout/ports.ts";
import { meshContextOf } from "../rollout/target.ts";
import type { HeaderMatch, PodHealth, Target } from "../rollout/types.ts";
import { retry, wait } from "../retry.ts";
import { describeRouteChange } from "./describe-change.ts";
import { serviceOfHost } from "./istio-host.ts";
import { cloneJson } from "./json.ts";
import { httpStatusOf, serverMessage, translateKubeError } from "./kube-errors.ts";
import { withContext } from "./kubeconfig.ts";
import { labelSelectorOf, podHealthOf } from "./pod-health.ts";
import { managedRouteForRollout, subsetLabelsFor, subsetReadinessProblem, type Labels } from "./preflight.ts";
import {
  decideRetry,
  DEFAULT_OPERATION_BUDGET_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  seconds,
  type RetryPolicy,
} from "./retry-budget.ts";
import { computeRestorePatch, computeRoutePatch, type RouteChange } from "./virtual-service-patch.ts";
import {
  canaryWeightOf,
  currentSubsetOf,
  resourceVersionOf,
  virtualServiceIdentity,
} from "./virtual-service-route.ts";

export const ISTIO_NETWORKING_GROUP = "networking.istio.io";
/** Versions of networking.istio.io the router speaks, most preferred first. */
export const ISTIO_NETWORKING_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;
/** Recorded in `managedFields` of every object canarybot writes. */
export const FIELD_MANAGER = "canarybot";

export type IstioRouterOptions = {
  /** Re-reads after a conflict (409, or a failed `test` guard) before a write gives up. Default 5. */
  maxConflicts?: number;
  /** Backoff before the n-th retry: `backoffMs * 2^(n-1)`, with jitter, capped at 2 s. Default 50 ms. */
  backoffMs?: number;
  /** Per-request timeout. Default 10 s. */
  requestTimeoutMs?: number;
  /** Total time of one operation, every request and retry included. Default 20 s. */
  operationBudgetMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
};

/** The request options of one operation: every request's timeout is cut to what is left of its budget. */
type CallOptions = {
  request: ConfigurationOptions<ObservableMiddleware>;
  patch: ConfigurationOptions<ObservableMiddleware>;
};

/** One set of API clients per kubeconfig context, made once and reused; the discovered Istio version with them. */
type Clients = {
  custom: CustomObjectsApi;
  apps: AppsV1Api;
  core: CoreV1Api;
  apis: ApisApi;
  networkingVersion?: Promise<string>;
};

/**
 * How long a tick's pod check trusts a Service selector it read: a selector seldom changes, and reading it on every
 * tick doubled a tick's requests (and, on a 404, its CPU). Preflight always reads it afresh.
 */
const SELECTOR_TTL_MS = 60_000;

/** A failed `test` guard (422) that the next round must explain: the object changed, or the patch is invalid. */
type Rejected = { resourceVersion: string | undefined; operations: string; error: unknown };

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/**
 * client-node 2 builds a new undici Agent for every request, so every GET and PATCH pays a TCP connect and a TLS
 * handshake (about 80% of a worker's CPU at 1,000 rollouts, see docs/benchmarks.md). Reuse the first Agent built
 * for each API server instead: its keep-alive connections then serve every later request.
 */
function sharedConnectionsMiddleware(dispatchers: Map<string, Dispatcher>): ObservableMiddleware {
  return {
    pre: (context) => {
      const origin = new URL(context.getUrl()).origin;
      const built = context.getDispatcher();
      const shared = dispatchers.get(origin);
      if (shared) context.setDispatcher(shared);
      else if (built) dispatchers.set(origin, built);
      return new Observable(Promise.resolve(context));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
}

function timeoutMiddleware(timeoutMs: () => number): ObservableMiddleware {
  return {
    pre: (context) => {
      context.setSignal(AbortSignal.timeout(timeoutMs()));
      return new Observable(Promise.resolve(context));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
}

/** Our own timeout fired (AbortSignal.timeout rejects fetch with a DOMException named TimeoutError). */
function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === "TimeoutError";
}

/**
 * `TrafficRouter` on an Istio VirtualService, through the real Kubernetes API. Decides nothing itself: it reads
 * the object, lets the pure functions of `virtual-service-patch.ts` compute a guarded JSON patch, and sends it.
 * Stateless per rollout; the only state is the API clients and the discovered API version, per context.
 * VirtualServices and DestinationRules are the mesh cluster's (`meshContext`), Deployments, Services and pods the
 * workload cluster's (`context`). It is the `PodHealthProbe` too: the pods behind a subset, found as preflight
 * finds them, within the same budget and retries.
 */
export class IstioVirtualServiceRouter implements TrafficRouter, PodHealthProbe {
  readonly #kubeConfig: KubeConfig;
  readonly #clients = new Map<string, Clients>();
  readonly #policy: RetryPolicy;
  readonly #requestTimeoutMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;
  readonly #dispatchers = new Map<string, Dispatcher>();
  readonly #selectors = new Map<string, { labels: Labels; readAt: number }>();

  constructor(kubeConfig: KubeConfig, options: IstioRouterOptions = {}) {
    this.#kubeConfig = kubeConfig;
    this.#policy = {
      maxConflicts: Math.max(1, options.maxConflicts ?? 5),
      backoffMs: options.backoffMs ?? 50,
      budgetMs: options.operationBudgetMs ?? DEFAULT_OPERATION_BUDGET_MS,
    };
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#sleep = options.sleep ?? wait;
    this.#now = options.now ?? Date.now;
  }

  /** Close the kept-alive connections to the API servers. */
  async close(): Promise<void> {
    const dispatchers = [...this.#dispatchers.values()];
    this.#dispatchers.clear();
    await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
  }

  async inspect(target: Target): Promise<TargetInspection> {
    return this.#operation(`${virtualServiceIdentity(target)}: inspect failed`, async (options) => {
      const { clients, version, virtualService } = await this.#readForPreflight(target, options);
      const managed = managedRouteForRollout(virtualService, target);
      const workloads = this.#clientsFor(target.context);
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
      const problems = [target.stableSubset, target.canarySubset]
        .map((subset) =>
          subsetReadinessProblem(subset, subsetLabels[subset] ?? {}, deployments.items, selector),
        )
        .filter((problem): problem is string => problem !== undefined);
      if (problems.length > 0) {
        throw new CanaryError(
          ErrorCode.PreflightFailed,
          `${target.namespace}/${target.service}: ${problems.join("; ")}`,
        );
      }
      return {
        baseline: cloneJson(managed.route),
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
  ): Promise<void> {
    await this.#write(target, "set weights", (virtualService) =>
      computeRoutePatch(virtualService, target, expected, desired),
    );
  }

  /**
   * A VirtualService deleted mid-rollout leaves nothing to restore, and never will: that is a `not_found` of its
   * own (not retryable), so a rollback can end instead of retrying forever.
   */
  async restore(target: Target, baseline: unknown): Promise<void> {
    try {
      await this.#write(target, "restore", (virtualService) =>
        computeRestorePatch(virtualService, target, baseline),
      );
    } catch (error) {
      if (!isCanaryError(error, ErrorCode.NotFound)) throw error;
      throw new CanaryError(
        ErrorCode.NotFound,
        `${virtualServiceIdentity(target)} no longer exists: there is no route left to restore`,
        { cause: error },
      );
    }
  }

  async observe(target: Target, labels: Labels): Promise<PodHealth> {
    const prefix = `${target.namespace}/${target.service}: reading the pods of ${target.canarySubset} failed`;
    return this.#operation(prefix, async (options) => {
      const clients = this.#clientsFor(target.context);
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
    return this.#operation(prefix, async (options) =>
      currentSubsetOf((await this.#readForPreflight(target, options)).virtualService, target),
    );
  }

  async describeChange(
    target: Target,
    desired: { canaryWeight: number; headerMatch?: HeaderMatch },
  ): Promise<string> {
    const prefix = `${virtualServiceIdentity(target)}: describe change failed`;
    return this.#operation(prefix, async (options) => {
      const clients = this.#clientsFor(meshContextOf(target));
      const version = await this.#networkingVersion(clients, options);
      const virtualService = await this.#getVirtualService(clients, version, target, options);
      return describeRouteChange(virtualService, target, desired);
    });
  }

  /** The VirtualService for a preflight, where its absence is a preflight failure rather than `not_found`. */
  async #readForPreflight(
    target: Pick<Target, "context" | "meshContext" | "namespace" | "virtualService">,
    options: CallOptions,
  ) {
    const clients = this.#clientsFor(meshContextOf(target));
    const version = await this.#networkingVersion(clients, options);
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

  /**
   * Read, compute, patch; on a conflict (409), a failed `test` guard (422) or a transient failure, read again
   * and recompute, within the operation's budget. Drift and preflight errors from the pure half end it at once.
   */
  async #write(
    target: Target,
    action: string,
    plan: (virtualService: unknown) => RouteChange,
  ): Promise<void> {
    const prefix = `${virtualServiceIdentity(target)}: ${action} failed`;
    let rejected: Rejected | undefined;
    await this.#operation(prefix, async (options) => {
      const clients = this.#clientsFor(meshContextOf(target));
      const version = await this.#networkingVersion(clients, options);
      const virtualService = await this.#getVirtualService(clients, version, target, options);
      const change = plan(virtualService);
      if (change.kind === "unchanged") return;
      const attempted = {
        resourceVersion: resourceVersionOf(virtualService),
        operations: JSON.stringify(change.operations),
      };
      if (
        rejected !== undefined &&
        rejected.resourceVersion === attempted.resourceVersion &&
        rejected.operations === attempted.operations
      ) {
        // The server refused this very patch and nothing has changed since: the guards held, so the content
        // itself is what it rejects (schema validation).
        throw translateKubeError(rejected.error, prefix);
      }
      try {
        await this.#patchVirtualService(clients, version, target, change.operations, options);
      } catch (error) {
        if (httpStatusOf(error) !== 422) throw error;
        // A failed `test` guard: the object changed between our GET and PATCH. Read it again; the next round
        // tells a change (recompute, drift check) from a patch the server will never accept.
        rejected = { ...attempted, error };
        throw new CanaryError(
          ErrorCode.Conflict,
          `${prefix}: the object changed under us: ${serverMessage(error)}`,
          { retryable: true, cause: error },
        );
      }
    });
  }

  /**
   * Run one operation within its budget: `attempt` gets request options whose timeouts never outlast the
   * budget, and is retried as `decideRetry` says. Failures come out as CanaryErrors prefixed with `prefix`.
   */
  async #operation<T>(prefix: string, attempt: (options: CallOptions) => Promise<T>): Promise<T> {
    const startedAt = this.#now();
    const options = this.#callOptions(startedAt + this.#policy.budgetMs);
    let conflicts = 0;
    return retry(
      () => attempt(options),
      (outcome, attempts) => {
        if (outcome.ok) return undefined;
        const failure = isTimeout(outcome.error)
          ? new CanaryError(
              ErrorCode.KubernetesUnavailable,
              `${prefix}: the Kubernetes API did not answer in time (request timeout ${seconds(this.#requestTimeoutMs)})`,
              { retryable: true, cause: outcome.error },
            )
          : translateKubeError(outcome.error, prefix);
        if (failure.code === ErrorCode.Conflict) conflicts++;
        const elapsedMs = this.#now() - startedAt;
        const decision = decideRetry(this.#policy, { attempt: attempts, conflicts, elapsedMs, failure });
        if (!decision.retry) throw decision.error;
        return decision.delayMs;
      },
      this.#sleep,
    );
  }

  #callOptions(deadline: number): CallOptions {
    const request: ConfigurationOptions<ObservableMiddleware> = {
      middleware: [
        sharedConnectionsMiddleware(this.#dispatchers),
        timeoutMiddleware(() => Math.max(1, Math.min(this.#requestTimeoutMs, deadline - this.#now()))),
      ],
      middlewareMergeStrategy: "append",
    };
    // client-node 2 picks a PATCH body type per call from the Content-Type header the options set.
    return { request, patch: setHeaderOptions("Content-Type", PatchStrategy.JsonPatch, request) };
  }

  /** The clients of a kubeconfig context (undefined: the current one). */
  #clientsFor(context: string | undefined): Clients {
    const key = context ?? "";
    let clients = this.#clients.get(key);
    if (clients === undefined) {
      const config = context === undefined ? this.#kubeConfig : withContext(this.#kubeConfig, context);
      clients = {
        custom: config.makeApiClient(CustomObjectsApi),
        apps: config.makeApiClient(AppsV1Api),
        core: config.makeApiClient(CoreV1Api),
        apis: config.makeApiClient(ApisApi),
      };
      this.#clients.set(key, clients);
    }
    return clients;
  }

  /** The networking.istio.io version to use (v1, else v1beta1, else v1alpha3), discovered once per context. */
  #networkingVersion(clients: Clients, options: CallOptions): Promise<string> {
    clients.networkingVersion ??= this.#discoverVersion(clients, options).catch((error: unknown) => {
      clients.networkingVersion = undefined;
      throw error;
    });
    return clients.networkingVersion;
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

  async #getVirtualService(
    clients: Clients,
    version: string,
    target: Pick<Target, "namespace" | "virtualService">,
    options: CallOptions,
  ): Promise<unknown> {
    return (await clients.custom.getNamespacedCustomObject(
      {
        group: ISTIO_NETWORKING_GROUP,
        version,
        namespace: target.namespace,
        plural: "virtualservices",
        name: target.virtualService,
      },
      options.request,
    )) as unknown;
  }

  async #patchVirtualService(
    clients: Clients,
    version: string,
    target: Target,
    operations: JsonPatchOperation[],
    options: CallOptions,
  ): Promise<void> {
    await clients.custom.patchNamespacedCustomObject(
      {
        group: ISTIO_NETWORKING_GROUP,
        version,
        namespace: target.namespace,
        plural: "virtualservices",
        name: target.virtualService,
        body: operations,
        fieldManager: FIELD_MANAGER,
      },
      options.patch,
    );
  }

  /** The Service selector narrows the pods a subset's labels pick when the Service lives beside the rollout. */
  async #hostSelector(clients: Clients, target: Target, options: CallOptions): Promise<Labels> {
    const service = serviceOfHost(target.host, target.namespace);
    return service?.namespace === target.namespace ? this.#serviceSelector(clients, service, options) : {};
  }

  async #recentHostSelector(clients: Clients, target: Target, options: CallOptions): Promise<Labels> {
    const key = `${target.context ?? ""}/${target.namespace}/${target.host}`;
    const kept = this.#selectors.get(key);
    if (kept && this.#now() - kept.readAt < SELECTOR_TTL_MS) return kept.labels;
    const labels = await this.#hostSelector(clients, target, options);
    this.#selectors.set(key, { labels, readAt: this.#now() });
    return labels;
  }

  /** The selector of the Service behind the host, to narrow the readiness check; {} when there is no such Service. */
  async #serviceSelector(
    clients: Clients,
    service: { name: string; namespace: string },
    options: CallOptions,
  ): Promise<Labels> {
    try {
      const found = await clients.core.readNamespacedService(service, options.request);
      return { ...(found.spec?.selector ?? {}) };
    } catch (error) {
      if (httpStatusOf(error) === 404) return {};
      throw error;
    }
  }
}
