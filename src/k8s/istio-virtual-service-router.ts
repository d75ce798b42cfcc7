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
import { CanaryError, ErrorCode } from "../errors.ts";
import type { JsonPatchOperation } from "../json/json-patch.ts";
import { isJsonObject } from "../json/json-value.ts";
import type { RouteExpectation, TargetInspection, TrafficRouter } from "../rollout/ports.ts";
import type { HeaderMatch, Target } from "../rollout/types.ts";
import { describeRouteChange } from "./describe-change.ts";
import { serviceOfHost } from "./istio-host.ts";
import { cloneJson } from "./json.ts";
import { httpStatusOf, serverMessage, translateKubeError } from "./kube-errors.ts";
import { withContext } from "./kubeconfig.ts";
import { managedRouteForRollout, subsetLabelsFor, subsetReadinessProblem, type Labels } from "./preflight.ts";
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
  /** GET + PATCH rounds per write before giving up (conflicts, failed test guards, 5xx, timeouts). Default 5. */
  maxAttempts?: number;
  /** Backoff before the n-th retry: `backoffMs * 2^(n-1)`, with jitter, capped at 2 s. Default 50 ms. */
  backoffMs?: number;
  /** Per-request timeout. Default 10 s. */
  requestTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
};

/** One set of API clients per kubeconfig context, made once and reused; the discovered Istio version with them. */
type Clients = {
  custom: CustomObjectsApi;
  apps: AppsV1Api;
  core: CoreV1Api;
  apis: ApisApi;
  networkingVersion?: Promise<string>;
};

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

function timeoutMiddleware(ms: number): ObservableMiddleware {
  return {
    pre: (context) => {
      context.setSignal(AbortSignal.timeout(ms));
      return new Observable(Promise.resolve(context));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
}

/**
 * `TrafficRouter` on an Istio VirtualService, through the real Kubernetes API. Decides nothing itself: it reads
 * the object, lets the pure functions of `virtual-service-patch.ts` compute a guarded JSON patch, and sends it.
 * Stateless per rollout; the only state is the API clients and the discovered API version, per context.
 */
export class IstioVirtualServiceRouter implements TrafficRouter {
  readonly #kubeConfig: KubeConfig;
  readonly #clients = new Map<string, Clients>();
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #dispatchers = new Map<string, Dispatcher>();
  readonly #requestOptions: ConfigurationOptions<ObservableMiddleware>;
  readonly #patchOptions: ConfigurationOptions<ObservableMiddleware>;

  constructor(kubeConfig: KubeConfig, options: IstioRouterOptions = {}) {
    this.#kubeConfig = kubeConfig;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.#backoffMs = options.backoffMs ?? 50;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#requestOptions = {
      middleware: [
        sharedConnectionsMiddleware(this.#dispatchers),
        timeoutMiddleware(options.requestTimeoutMs ?? 10_000),
      ],
      middlewareMergeStrategy: "append",
    };
    // client-node 2 picks a PATCH body type per call from the Content-Type header the options set.
    this.#patchOptions = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch, this.#requestOptions);
  }

  /** Close the kept-alive connections to the API servers. */
  async close(): Promise<void> {
    const dispatchers = [...this.#dispatchers.values()];
    this.#dispatchers.clear();
    await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
  }

  async inspect(target: Target): Promise<TargetInspection> {
    const identity = virtualServiceIdentity(target);
    try {
      const { clients, version, virtualService } = await this.#readForPreflight(target);
      const managed = managedRouteForRollout(virtualService, target);
      // The Service selector narrows the readiness check when the Service lives beside the rollout.
      const service = serviceOfHost(target.host, target.namespace);
      const [destinationRules, deployments, selector] = await Promise.all([
        clients.custom.listNamespacedCustomObject(
          { group: ISTIO_NETWORKING_GROUP, version, namespace: target.namespace, plural: "destinationrules" },
          this.#requestOptions,
        ) as Promise<unknown>,
        clients.apps.listNamespacedDeployment({ namespace: target.namespace }, this.#requestOptions),
        service?.namespace === target.namespace
          ? this.#serviceSelector(clients, service)
          : Promise.resolve({}),
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
    } catch (error) {
      throw translateKubeError(error, `${identity}: inspect failed`);
    }
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

  async restore(target: Target, baseline: unknown): Promise<void> {
    await this.#write(target, "restore", (virtualService) =>
      computeRestorePatch(virtualService, target, baseline),
    );
  }

  async currentSubset(target: Omit<Target, "stableSubset" | "canarySubset">): Promise<string> {
    const identity = virtualServiceIdentity(target);
    try {
      return currentSubsetOf((await this.#readForPreflight(target)).virtualService, target);
    } catch (error) {
      throw translateKubeError(error, `${identity}: reading the current subset failed`);
    }
  }

  async describeChange(
    target: Target,
    desired: { canaryWeight: number; headerMatch?: HeaderMatch },
  ): Promise<string> {
    const identity = virtualServiceIdentity(target);
    try {
      const clients = this.#clientsFor(target);
      const version = await this.#networkingVersion(clients);
      return describeRouteChange(await this.#getVirtualService(clients, version, target), target, desired);
    } catch (error) {
      throw translateKubeError(error, `${identity}: describe change failed`);
    }
  }

  /** The VirtualService for a preflight, where its absence is a preflight failure rather than `not_found`. */
  async #readForPreflight(target: Pick<Target, "context" | "namespace" | "virtualService">) {
    const clients = this.#clientsFor(target);
    const version = await this.#networkingVersion(clients);
    try {
      return { clients, version, virtualService: await this.#getVirtualService(clients, version, target) };
    } catch (error) {
      if (httpStatusOf(error) !== 404) throw error;
      throw new CanaryError(ErrorCode.PreflightFailed, `${virtualServiceIdentity(target)} not found`, {
        cause: error,
      });
    }
  }

  /**
   * Read, compute, patch; on a conflict (409), a failed `test` guard (422) or a transient failure, read again
   * and recompute, up to `maxAttempts` rounds. Drift and preflight errors from the pure half end it at once.
   */
  async #write(
    target: Target,
    action: string,
    plan: (virtualService: unknown) => RouteChange,
  ): Promise<void> {
    const prefix = `${virtualServiceIdentity(target)}: ${action} failed`;
    let rejected: Rejected | undefined;
    for (let attempt = 1; ; attempt++) {
      let attempted: Omit<Rejected, "error"> | undefined;
      let failure: CanaryError;
      try {
        const clients = this.#clientsFor(target);
        const version = await this.#networkingVersion(clients);
        const virtualService = await this.#getVirtualService(clients, version, target);
        const change = plan(virtualService);
        if (change.kind === "unchanged") return;
        attempted = {
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
        await this.#patchVirtualService(clients, version, target, change.operations);
        return;
      } catch (error) {
        if (attempted !== undefined && httpStatusOf(error) === 422) {
          // A failed `test` guard: the object changed between our GET and PATCH. Read it again; the next round
          // tells a change (recompute, drift check) from a patch the server will never accept.
          rejected = { ...attempted, error };
          failure = new CanaryError(
            ErrorCode.Conflict,
            `${prefix}: the object changed under us: ${serverMessage(error)}`,
            {
              retryable: true,
              cause: error,
            },
          );
        } else {
          failure = translateKubeError(error, prefix);
        }
      }
      const transient =
        failure.code === ErrorCode.Conflict || failure.code === ErrorCode.KubernetesUnavailable;
      if (!failure.retryable || !transient) throw failure;
      if (attempt >= this.#maxAttempts) {
        throw new CanaryError(failure.code, `${failure.message} (gave up after ${attempt} attempts)`, {
          retryable: true,
          cause: failure.cause,
        });
      }
      await this.#sleep(this.#backoff(attempt));
    }
  }

  #backoff(attempt: number): number {
    const ceiling = Math.min(2_000, this.#backoffMs * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  #clientsFor(target: Pick<Target, "context">): Clients {
    const key = target.context ?? "";
    let clients = this.#clients.get(key);
    if (clients === undefined) {
      const config =
        target.context === undefined ? this.#kubeConfig : withContext(this.#kubeConfig, target.context);
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
  #networkingVersion(clients: Clients): Promise<string> {
    clients.networkingVersion ??= this.#discoverVersion(clients).catch((error: unknown) => {
      clients.networkingVersion = undefined;
      throw error;
    });
    return clients.networkingVersion;
  }

  async #discoverVersion(clients: Clients): Promise<string> {
    const groups = await clients.apis.getAPIVersions(this.#requestOptions);
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
  ): Promise<unknown> {
    return (await clients.custom.getNamespacedCustomObject(
      {
        group: ISTIO_NETWORKING_GROUP,
        version,
        namespace: target.namespace,
        plural: "virtualservices",
        name: target.virtualService,
      },
      this.#requestOptions,
    )) as unknown;
  }

  async #patchVirtualService(
    clients: Clients,
    version: string,
    target: Target,
    operations: JsonPatchOperation[],
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
      this.#patchOptions,
    );
  }

  /** The selector of the Service behind the host, to narrow the readiness check; {} when there is no such Service. */
  async #serviceSelector(clients: Clients, service: { name: string; namespace: string }): Promise<Labels> {
    try {
      const found = await clients.core.readNamespacedService(service, this.#requestOptions);
      return { ...(found.spec?.selector ?? {}) };
    } catch (error) {
      if (httpStatusOf(error) === 404) return {};
      throw error;
    }
  }
}
