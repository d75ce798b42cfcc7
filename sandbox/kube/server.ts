import { randomBytes } from "node:crypto";
import { chmod, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { sandboxTlsMaterial } from "./certificates.ts";
import { Faults, parseFaultSpec } from "./faults.ts";
import { isJsonObject } from "../../src/json/json-value.ts";
import { buildKubeconfig } from "./kubeconfig.ts";
import { ObjectStore, type KubeObject } from "./object-store.ts";
import {
  deploymentsAfter,
  isChangedBy,
  parsePodHealthChange,
  withPodHealthChange,
  type PodHealthChange,
} from "./pod-health-control.ts";
import { RequestLog } from "./request-log.ts";
import { handleResourceRequest, putObject, type ApiResponse } from "./resource-handlers.ts";
import { openApiDocument, v2Document } from "./openapi.ts";
import { encodeOpenApiV2 } from "./openapi-v2-protobuf.ts";
import { DEFAULT_ISTIO_VERSIONS, NAMESPACES, servedResources, type ApiResource } from "./resources.ts";
import { routeRequest } from "./request-paths.ts";
import { isWatch, serveWatch } from "./watch.ts";
import { scenarioObjects, type ScenarioName } from "./scenarios.ts";
import {
  conflict,
  internalError,
  KubeStatusError,
  methodNotAllowed,
  pathNotFound,
  serviceUnavailable,
  unauthorized,
  type KubeStatus,
} from "./status.ts";
import { errorText } from "../errors.ts";

export type KubeSandboxOptions = {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Listen address (default 127.0.0.1); the certificate covers 127.0.0.1 and localhost. */
  readonly host?: string;
  readonly scenario?: ScenarioName;
  /** networking.istio.io versions to serve (default v1, v1beta1, v1alpha3); the others answer 404. */
  readonly istioVersions?: readonly string[];
  /** Seeded after the scenario's objects (like `kubectl apply`), e.g. from readManifests() or workloadObjects(). */
  readonly objects?: readonly unknown[];
  /** The bearer token the server requires (default: random). */
  readonly token?: string;
};

/** The kinds tests can read and write directly. */
export type SandboxKind =
  "VirtualService" | "DestinationRule" | "HTTPRoute" | "Service" | "Deployment" | "Pod" | "Namespace";

/** Namespaces every cluster has; a seeded object's namespace is created with it. */
const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

export type KubeSandbox = {
  /** https://127.0.0.1:PORT (or https://localhost:PORT when listening on localhost). */
  readonly url: string;
  readonly token: string;
  /** PEM of the CA that signed the server certificate (also in the kubeconfig as certificate-authority-data). */
  readonly caCertPem: string;
  /** Kubeconfig YAML for the real client: CA data, server, bearer token, namespace default. */
  readonly kubeconfig: string;
  writeKubeconfig(path: string): Promise<void>;
  readonly faults: Faults;
  readonly requests: RequestLog;
  /** The stored object at its storage version, or undefined. */
  get(kind: SandboxKind, namespace: string, name: string): KubeObject | undefined;
  list(kind: SandboxKind, namespace?: string): KubeObject[];
  /** Writes like a human's `kubectl edit`/`apply` (validated, resourceVersion bumped, no precondition). */
  put(object: unknown): KubeObject;
  delete(kind: SandboxKind, namespace: string, name: string): boolean;
  seed(objects: readonly unknown[]): void;
  /** Makes the pods a change names unready, ready or restarted (also `POST /_sandbox/pods`); the pods changed. */
  changePods(change: PodHealthChange): KubeObject[];
  close(): Promise<void>;
};

const CONTROL_PREFIX = "/_sandbox/";
// What the server answers a protobuf request for /openapi/v2 with (the Accept type itself is no valid media type).
const OPENAPI_V2_PROTOBUF = "application/octet-stream";

/**
 * A Kubernetes API server stand-in over HTTPS for the real client-node: Istio VirtualServices and
 * DestinationRules (CRD-schema validated, resourceVersion preconditions, JSON and merge patches), read-only
 * Deployments and Pods, discovery, bearer-token auth, and injectable faults. Resolves once it is listening.
 */
export async function startKubeSandbox(options: KubeSandboxOptions = {}): Promise<KubeSandbox> {
  const host = options.host ?? "127.0.0.1";
  const urlHost = host === "localhost" ? "localhost" : "127.0.0.1";
  if (!["127.0.0.1", "localhost", "0.0.0.0"].includes(host)) {
    throw new Error(`the kube sandbox certificate covers 127.0.0.1 and localhost only, not ${host}`);
  }
  const resources = servedResources(options.istioVersions ?? DEFAULT_ISTIO_VERSIONS);
  const store = new ObjectStore();
  const faults = new Faults();
  const requests = new RequestLog();
  const token = options.token ?? randomBytes(24).toString("hex");

  const resourceOfKind = (kind: string): ApiResource => {
    const resource = resources.find((candidate) => candidate.kind === kind);
    if (resource === undefined) throw new Error(`the kube sandbox does not serve kind ${kind}`);
    return resource;
  };
  const put = (object: unknown): KubeObject => {
    if (!isJsonObject(object) || typeof object.apiVersion !== "string" || typeof object.kind !== "string") {
      throw new Error("an object needs apiVersion and kind");
    }
    const resource = resourceOfKind(object.kind);
    const group = object.apiVersion.includes("/") ? object.apiVersion.split("/")[0] : "";
    if (group !== resource.group)
      throw new Error(`the kube sandbox does not serve ${object.apiVersion} ${object.kind}`);
    const metadata = isJsonObject(object.metadata) ? object.metadata : {};
    const name = typeof metadata.name === "string" ? metadata.name : "";
    const namespace = typeof metadata.namespace === "string" ? metadata.namespace : "default";
    if (resource.namespaced && store.get(NAMESPACES, "", namespace) === undefined) {
      putObject(store, NAMESPACES, { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    }
    return putObject(store, resource, {
      ...object,
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { ...metadata, name },
    });
  };
  const seed = (objects: readonly unknown[]): void => objects.forEach(put);
  seed(SYSTEM_NAMESPACES.map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } })));
  seed(scenarioObjects(options.scenario ?? "empty"));
  seed(options.objects ?? []);

  const tls = sandboxTlsMaterial();
  const server = createServer({ key: tls.keyPem, cert: tls.certPem }, (request, response) => {
    handle({ resources, store, faults, requests, token }, request, response).catch((error: unknown) => {
      response.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  const sockets = trackSockets(server);
  await listen(server, options.port ?? 0, host);
  const url = `https://${urlHost}:${(server.address() as AddressInfo).port}`;
  const kubeconfig = buildKubeconfig({ server: url, caCertPem: tls.caCertPem, token });

  return {
    url,
    token,
    caCertPem: tls.caCertPem,
    kubeconfig,
    writeKubeconfig: async (path) => {
      await writeFile(path, kubeconfig);
      // The kubeconfig holds the token: readable by its owner only, also when the file was already there.
      await chmod(path, 0o600);
    },
    faults,
    requests,
    get: (kind, namespace, name) => store.get(resourceOfKind(kind), namespace, name),
    list: (kind, namespace) => store.list(resourceOfKind(kind), namespace),
    put,
    delete: (kind, namespace, name) => store.delete(resourceOfKind(kind), namespace, name) !== undefined,
    seed,
    changePods: (change) => changePods({ resources, store }, change),
    close: () => close(server, sockets),
  };
}

type Context = {
  readonly resources: readonly ApiResource[];
  readonly store: ObjectStore;
  readonly faults: Faults;
  readonly requests: RequestLog;
  readonly token: string;
};

async function handle(context: Context, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? "/", "https://sandbox.invalid");
  const method = request.method ?? "GET";
  const body = await readBody(request);
  if (url.pathname.startsWith(CONTROL_PREFIX)) {
    const { status, json } =
      url.pathname === `${CONTROL_PREFIX}pods`
        ? podControl(context, method, body)
        : control(context.faults, method, url.pathname, body);
    writeJson(response, status, json);
    return;
  }
  const contentType = request.headers["content-type"] ?? "";
  let answer: ApiResponse;
  let faulted = false;
  try {
    if (method === "GET" && isWatch(url.searchParams)) {
      if (startWatch(context, request, url, response)) return;
    }
    answer = await answerApiRequest(context, request, url, method, contentType, body, () => (faulted = true));
  } catch (error) {
    const status: KubeStatus =
      error instanceof KubeStatusError ? error.status : internalError(errorText(error));
    answer = { status: status.code, body: status };
  }
  context.requests.record({
    method,
    path: url.pathname + url.search,
    contentType,
    status: answer.status,
    body,
    faulted,
  });
  if (Buffer.isBuffer(answer.body)) {
    response.writeHead(answer.status, { "Content-Type": answer.contentType ?? "application/octet-stream" });
    response.end(answer.body);
    return;
  }
  writeJson(response, answer.status, answer.body, answer.warnings);
}

/** Starts streaming a watch when the request names a resource collection or object; false otherwise. */
function startWatch(context: Context, request: IncomingMessage, url: URL, response: ServerResponse): boolean {
  if (request.headers.authorization !== `Bearer ${context.token}`) throw new KubeStatusError(unauthorized());
  const route = routeRequest(context.resources, url.pathname);
  if (route.kind !== "resource") return false;
  context.requests.record({
    method: "GET",
    path: url.pathname + url.search,
    contentType: "",
    status: 200,
    body: "",
    faulted: false,
  });
  serveWatch(
    context.store,
    route.target,
    { query: url.searchParams, accept: request.headers.accept ?? "" },
    response,
  );
  return true;
}

async function answerApiRequest(
  context: Context,
  request: IncomingMessage,
  url: URL,
  method: string,
  contentType: string,
  body: string,
  markFaulted: () => void,
): Promise<ApiResponse> {
  if (request.headers.authorization !== `Bearer ${context.token}`) throw new KubeStatusError(unauthorized());
  // client-go reads OpenAPI v2 in protobuf only.
  if (method === "GET" && url.pathname === "/openapi/v2" && /protobuf/.test(request.headers.accept ?? "")) {
    return {
      status: 200,
      body: encodeOpenApiV2(v2Document(context.resources)),
      contentType: OPENAPI_V2_PROTOBUF,
    };
  }
  const openApi = method === "GET" ? openApiDocument(context.resources, url) : undefined;
  if (openApi !== undefined) return { status: 200, body: openApi };
  const route = routeRequest(context.resources, url.pathname);
  switch (route.kind) {
    case "not-found":
      throw new KubeStatusError(pathNotFound());
    case "discovery":
      if (method !== "GET") throw new KubeStatusError(methodNotAllowed());
      return { status: 200, body: route.document };
    case "resource": {
      const { target } = route;
      const { namespace, name } = target;
      const fault = context.faults.take({ method, resource: target.resource.plural, namespace, name });
      if (fault.delayMs > 0) await sleep(fault.delayMs);
      if (fault.failure !== undefined) {
        markFaulted();
        const status =
          fault.failure === "conflict"
            ? conflict(target.resource, target.name ?? "")
            : fault.failure === 503
              ? serviceUnavailable()
              : internalError("injected by the canarybot kube sandbox");
        throw new KubeStatusError(status);
      }
      return handleResourceRequest(context.store, target, {
        method,
        query: url.searchParams,
        contentType,
        body,
        accept: request.headers.accept ?? "",
      });
    }
  }
}

/** `POST /_sandbox/faults` (a FaultSpec), `GET /_sandbox/faults`, `DELETE /_sandbox/faults[/{id}]`. */
function control(
  faults: Faults,
  method: string,
  pathname: string,
  body: string,
): { status: number; json: unknown } {
  const [resource, id, ...rest] = pathname.slice(CONTROL_PREFIX.length).split("/");
  if (resource !== "faults" || rest.length > 0) return { status: 404, json: { error: "not found" } };
  try {
    if (method === "POST" && id === undefined)
      return { status: 201, json: { id: faults.add(parseFaultSpec(JSON.parse(body))) } };
    if (method === "GET" && id === undefined) return { status: 200, json: faults.list() };
    if (method === "DELETE" && id === undefined) {
      faults.clear();
      return { status: 200, json: {} };
    }
    if (method === "DELETE" && id !== undefined) {
      return faults.remove(Number(id))
        ? { status: 200, json: {} }
        : { status: 404, json: { error: `no fault ${id}` } };
    }
    return { status: 405, json: { error: `${method} not allowed` } };
  } catch (error) {
    return { status: 400, json: { error: errorText(error) } };
  }
}

/** `POST /_sandbox/pods` (a PodHealthChange): the names of the pods changed. */
function podControl(context: Context, method: string, body: string): { status: number; json: unknown } {
  if (method !== "POST") return { status: 405, json: { error: `${method} not allowed` } };
  try {
    const changed = changePods(context, parsePodHealthChange(JSON.parse(body)));
    return { status: 200, json: { pods: changed.map((pod) => pod.metadata.name) } };
  } catch (error) {
    return { status: 400, json: { error: errorText(error) } };
  }
}

function changePods(context: Pick<Context, "resources" | "store">, change: PodHealthChange): KubeObject[] {
  const pods = context.resources.find((resource) => resource.kind === "Pod");
  if (pods === undefined) throw new Error("the kube sandbox serves no pods");
  const at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const matching = context.store.list(pods, change.namespace).filter((pod) => isChangedBy(change, pod));
  if (matching.length === 0) {
    throw new Error(`no pod in namespace ${change.namespace} has labels ${JSON.stringify(change.labels)}`);
  }
  const changed = matching.map((pod) => putObject(context.store, pods, withPodHealthChange(pod, change, at)));
  const deployments = context.resources.find((resource) => resource.kind === "Deployment");
  if (deployments !== undefined) {
    const all = context.store.list(pods, change.namespace);
    for (const updated of deploymentsAfter(context.store.list(deployments, change.namespace), all, changed)) {
      putObject(context.store, deployments, updated);
    }
  }
  return changed;
}

function writeJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  warnings: readonly string[] = [],
): void {
  response.statusCode = status;
  response.setHeader("Content-Type", "application/json");
  // RFC 7234 warn-code 299 with the text quoted, as the API server sends field warnings.
  if (warnings.length > 0)
    response.setHeader(
      "Warning",
      warnings.map((text) => `299 - ${JSON.stringify(text)}`),
    );
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** Every TCP connection, including those that never finished a TLS handshake (which HTTP does not see). */
function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return sockets;
}

function close(server: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error === undefined ? resolve() : reject(error)));
    // Clients keep connections alive, or connect and say nothing; without this close() waits for them to time out.
    server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
  });
}
