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
import pLimit, { type LimitFunction } from "p-limit";
import { CanaryError, ErrorCode, isCanaryError } from "../errors.ts";
import type { JsonPatchOperation } from "../json/json-patch.ts";
import { isJsonObject } from "../json/json-value.ts";
import type { RouteReads } from "../rollout/ports.ts";
import { meshContextOf } from "../rollout/target.ts";
import type { Target } from "../rollout/types.ts";
import { httpStatusOf, serverMessage, translateKubeError } from "./kube-errors.ts";
import { withContext } from "./kubeconfig.ts";
import {
  decideRetry,
  DEFAULT_OPERATION_BUDGET_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  seconds,
  type RetryPolicy,
} from "./retry-budget.ts";
import type { RouteChange } from "./route-patch.ts";
import { resourceVersionOf } from "./route-rules.ts";
import { retry, wait } from "../retry.ts";

/** Recorded in `managedFields` of every object canarybot writes. */
export const FIELD_MANAGER = "canarybot";

export type RouterOptions = {
  /** Re-reads after a conflict (409, or a failed `test` guard) before a write gives up. Default 5. */
  maxConflicts?: number;
  /** Backoff before the n-th retry: `backoffMs * 2^(n-1)`, with jitter, capped at 2 s. Default 50 ms. */
  backoffMs?: number;
  /** Per-request timeout. Default 10 s. */
  requestTimeoutMs?: number;
  /** Total time of one operation, every request and retry included. Default 20 s. */
  operationBudgetMs?: number;
  /**
   * Requests in flight at once per kubeconfig context; the rest wait their turn. Each one in flight beyond the
   * pooled connections opens a new TLS connection (a handshake and a new SecureContext), which under a burst of
   * starts costs more than the wait. Default 8.
   */
  maxConcurrentRequests?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
};

/** The request options of one operation: every request's timeout is cut to what is left of its budget. */
export type CallOptions = {
  request: ConfigurationOptions<ObservableMiddleware>;
  patch: ConfigurationOptions<ObservableMiddleware>;
};

/** One set of API clients per kubeconfig context, made once and reused; their requests share the context's bound. */
export type Clients = {
  custom: CustomObjectsApi;
  apps: AppsV1Api;
  core: CoreV1Api;
  apis: ApisApi;
};

/**
 * The route object a router writes: what messages call it (`identity`), where an operation's `RouteReads` keep it
 * (`kind`, see `routeReadsKey`), and its API reference, which may wait on a version discovered per context.
 */
export type RouteObject = {
  identity: string;
  kind: string;
  ref: (clients: Clients, options: CallOptions) => Promise<CustomObjectRef>;
};

/** Where a router keeps a route object in an operation's `RouteReads`: its kind, cluster, namespace and name. */
export function routeReadsKey(
  kind: string,
  target: Pick<Target, "context" | "meshContext" | "namespace" | "virtualService">,
): string {
  return `${kind}:${meshContextOf(target) ?? ""}:${target.namespace}/${target.virtualService}`;
}

/**
 * An API client whose every call waits for a slot of its context's `limit`. Every method of a generated client-node
 * API is a request returning a Promise, so bounding them here bounds every router's and probe's requests alike.
 */
function limited<Api extends object>(api: Api, limit: LimitFunction): Api {
  return new Proxy(api, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      return (...args: unknown[]) => limit(() => method.apply(target, args));
    },
  });
}

/** A failed `test` guard (422) that the next round must explain: the object changed, or the patch is invalid. */
type Rejected = { resourceVersion: string | undefined; operations: string; error: unknown };

export type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/**
 * client-node 2 builds a new undici Agent for every request, so every GET and PATCH pays a TCP connect and a TLS
 * handshake (about 80% of a worker's CPU at 1,000 rollouts, see docs/benchmarks.md). Reuse the first Agent built
 * for each API server instead: its keep-alive connections then serve every later request.
 */
export function sharedConnectionsMiddleware(dispatchers: Map<string, Dispatcher>): ObservableMiddleware {
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
 * What every router shares about talking to the Kubernetes API: API clients per context over pooled connections,
 * one time budget per operation with `decideRetry`'s retries, errors translated at the boundary, and the guarded
 * read-compute-patch loop that survives conflicts.
 */
export class KubeOperations {
  readonly #kubeConfig: KubeConfig;
  readonly #clients = new Map<string, Clients>();
  readonly #policy: RetryPolicy;
  readonly #requestTimeoutMs: number;
  readonly #maxConcurrentRequests: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;
  readonly #dispatchers = new Map<string, Dispatcher>();

  constructor(kubeConfig: KubeConfig, options: RouterOptions = {}) {
    this.#kubeConfig = kubeConfig;
    this.#policy = {
      maxConflicts: Math.max(1, options.maxConflicts ?? 5),
      backoffMs: options.backoffMs ?? 50,
      budgetMs: options.operationBudgetMs ?? DEFAULT_OPERATION_BUDGET_MS,
    };
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#maxConcurrentRequests = Math.max(1, Math.trunc(options.maxConcurrentRequests ?? 8));
    this.#sleep = options.sleep ?? wait;
    this.#now = options.now ?? Date.now;
  }

  /** Close the kept-alive connections to the API servers. */
  async close(): Promise<void> {
    const dispatchers = [...this.#dispatchers.values()];
    this.#dispatchers.clear();
    await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
  }

  /** The clients of a kubeconfig context (undefined: the current one), made once and reused. */
  clientsFor(context: string | undefined): Clients {
    const key = context ?? "";
    let clients = this.#clients.get(key);
    if (clients === undefined) {
      const config = context === undefined ? this.#kubeConfig : withContext(this.#kubeConfig, context);
      const limit = pLimit(this.#maxConcurrentRequests);
      clients = {
        custom: limited(config.makeApiClient(CustomObjectsApi), limit),
        apps: limited(config.makeApiClient(AppsV1Api), limit),
        core: limited(config.makeApiClient(CoreV1Api), limit),
        apis: limited(config.makeApiClient(ApisApi), limit),
      };
      this.#clients.set(key, clients);
    }
    return clients;
  }

  /**
   * Read, compute, patch; on a conflict (409), a failed `test` guard (422) or a transient failure, read again
   * and recompute, within the operation's budget. Drift and preflight errors from the pure half end it at once.
   * The first round starts from the object this operation last read or wrote (`reads`), if any: the patch's
   * `test` guard on its resourceVersion makes the server refuse it if the object has changed since, and the next
   * round reads it afresh; "nothing to write" is only concluded from a fresh read. What the server answers is kept
   * for the operation's next write.
   */
  async write(
    target: Pick<Target, "context" | "meshContext" | "namespace" | "virtualService">,
    route: RouteObject,
    action: string,
    plan: (object: unknown) => RouteChange,
    reads?: RouteReads,
  ): Promise<void> {
    const prefix = `${route.identity}: ${action} failed`;
    const key = routeReadsKey(route.kind, target);
    let known: unknown = await reads?.get(key);
    reads?.delete(key);
    let rejected: Rejected | undefined;
    await this.run(prefix, async (options) => {
      // Route objects are the mesh cluster's.
      const clients = this.clientsFor(meshContextOf(target));
      const ref = await route.ref(clients, options);
      const shared = known;
      known = undefined;
      let object = shared ?? (await getCustomObject(clients, ref, options));
      let change = plan(object);
      if (change.kind === "unchanged" && shared !== undefined) {
        // A shared read may be stale, and "nothing to write" has no guard to catch that: say it of a fresh read only.
        object = await getCustomObject(clients, ref, options);
        change = plan(object);
      }
      if (change.kind === "unchanged") {
        reads?.set(key, object);
        return;
      }
      const attempted = {
        resourceVersion: resourceVersionOf(object),
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
        const patched = await patchCustomObject(clients, ref, change.operations, options);
        if (isJsonObject(patched)) reads?.set(key, patched);
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
   * Read `route` into `reads` in the background, for this operation's next `write`. One attempt within the
   * operation's budget; a failure leaves `undefined`, which the write takes for "not read yet".
   */
  prefetch(
    target: Pick<Target, "context" | "meshContext" | "namespace" | "virtualService">,
    route: RouteObject,
    reads: RouteReads,
  ): void {
    reads.set(
      routeReadsKey(route.kind, target),
      this.#readOnce(target, route).catch(() => undefined),
    );
  }

  async #readOnce(
    target: Pick<Target, "context" | "meshContext" | "namespace" | "virtualService">,
    route: RouteObject,
  ): Promise<unknown> {
    const options = this.#callOptions(this.#now() + this.#policy.budgetMs);
    const clients = this.clientsFor(meshContextOf(target));
    return getCustomObject(clients, await route.ref(clients, options), options);
  }

  /**
   * A guarded write that puts the route back. An object deleted mid-rollout leaves nothing to restore, and never
   * will: that is a `not_found` of its own (not retryable), so a rollback can end instead of retrying forever.
   */
  async restore(
    target: Pick<Target, "context" | "meshContext" | "namespace" | "virtualService">,
    route: RouteObject,
    plan: (object: unknown) => RouteChange,
    reads?: RouteReads,
  ): Promise<void> {
    try {
      await this.write(target, route, "restore", plan, reads);
    } catch (error) {
      if (!isCanaryError(error, ErrorCode.NotFound)) throw error;
      throw new CanaryError(
        ErrorCode.NotFound,
        `${route.identity} no longer exists: there is no route left to restore`,
        { cause: error },
      );
    }
  }

  /**
   * Run one operation within its budget: `attempt` gets request options whose timeouts never outlast the
   * budget, and is retried as `decideRetry` says. Failures come out as CanaryErrors prefixed with `prefix`.
   */
  async run<T>(prefix: string, attempt: (options: CallOptions) => Promise<T>): Promise<T> {
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
}

/** One custom object: `networking.istio.io/v1 virtualservices default/reviews`. */
export type CustomObjectRef = {
  group: string;
  version: string;
  plural: string;
  namespace: string;
  name: string;
};

export async function getCustomObject(
  clients: Clients,
  ref: CustomObjectRef,
  options: CallOptions,
): Promise<unknown> {
  return (await clients.custom.getNamespacedCustomObject(ref, options.request)) as unknown;
}

/** A JSON patch, recorded under canarybot's field manager; answers the object as the server stored it. */
export async function patchCustomObject(
  clients: Clients,
  ref: CustomObjectRef,
  operations: JsonPatchOperation[],
  options: CallOptions,
): Promise<unknown> {
  return (await clients.custom.patchNamespacedCustomObject(
    { ...ref, body: operations, fieldManager: FIELD_MANAGER },
    options.patch,
  )) as unknown;
}

/** A Service's selector; undefined when there is no such Service. */
export async function serviceSelector(
  clients: Clients,
  service: { name: string; namespace: string },
  options: CallOptions,
): Promise<Record<string, string> | undefined> {
  try {
    const found = await clients.core.readNamespacedService(service, options.request);
    return { ...(found.spec?.selector ?? {}) };
  } catch (error) {
    if (httpStatusOf(error) === 404) return undefined;
    throw error;
  }
}
