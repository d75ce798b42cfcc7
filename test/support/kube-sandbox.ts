import type { IncomingHttpHeaders } from "node:http";
import { request } from "node:https";
import { ApiException, AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import type { KubeSandbox } from "../../sandbox/kube/server.ts";
import type { KubeStatus } from "../../sandbox/kube/status.ts";
import { startMeshSandbox } from "../../sandbox/mesh/index.ts";
import type { MeshSandbox, MeshSandboxOptions } from "../../sandbox/mesh/index.ts";

/** client-node's configuration from the sandbox's kubeconfig, loaded exactly as the bot loads one. */
export function kubeConfigOf(sandbox: KubeSandbox): KubeConfig {
  const config = new KubeConfig();
  config.loadFromString(sandbox.kubeconfig);
  return config;
}

/** The real client-node APIs on the sandbox. */
export function kubeClients(sandbox: KubeSandbox) {
  const config = kubeConfigOf(sandbox);
  return {
    config,
    custom: config.makeApiClient(CustomObjectsApi),
    apps: config.makeApiClient(AppsV1Api),
    core: config.makeApiClient(CoreV1Api),
  };
}

/** Awaits a call that must fail with an ApiException; returns its HTTP code and the Status body the server sent. */
export async function apiFailure(call: Promise<unknown>): Promise<{ code: number; status: KubeStatus }> {
  const error: unknown = await call.then(
    () => undefined,
    (rejection: unknown) => rejection,
  );
  if (!(error instanceof ApiException)) throw new Error(`expected an ApiException, got ${String(error)}`);
  const body: unknown = error.body;
  return {
    code: error.code,
    status: JSON.parse(typeof body === "string" ? body : JSON.stringify(body)) as KubeStatus,
  };
}

/** The mesh sandbox's traffic, split as the routes in `sandbox` say (read through client-node). */
export function meshOn(
  sandbox: KubeSandbox,
  options: Omit<MeshSandboxOptions, "kubeConfig">,
): Promise<MeshSandbox> {
  return startMeshSandbox({ kubeConfig: kubeConfigOf(sandbox), ...options });
}

export type RawResponse = { status: number; headers: IncomingHttpHeaders; json: unknown };

/**
 * One HTTPS request to the sandbox without client-node, for what the client hides: headers (Warning), the
 * Status body of a 401, discovery of custom groups, the fault control endpoint. Sends the token unless `token: null`.
 */
export function rawRequest(
  sandbox: KubeSandbox,
  method: string,
  path: string,
  options: { token?: string | null; contentType?: string; body?: unknown } = {},
): Promise<RawResponse> {
  const token = options.token === undefined ? sandbox.token : options.token;
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, sandbox.url),
      {
        method,
        ca: sandbox.caCertPem,
        headers: {
          ...(token === null ? {} : { Authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { "Content-Type": options.contentType ?? "application/json" }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            json: text === "" ? undefined : JSON.parse(text),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
