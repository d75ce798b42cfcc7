import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { istioFixturePath, readManifests, workloadObjects } from "../../sandbox/kube/index.ts";
import { startKubeSandbox } from "../../sandbox/kube/server.ts";
import type { KubeSandbox, KubeSandboxOptions } from "../../sandbox/kube/server.ts";
import type { EngineHarness } from "./engine.ts";

/** A mesh cluster as a managed mesh has it: bookinfo's VirtualServices and DestinationRules, no workloads at all. */
export const MESH_ONLY: KubeSandboxOptions = {
  scenario: "empty",
  objects: [
    ...readManifests(istioFixturePath("samples/bookinfo-networking/virtual-service-all-v1.yaml")),
    ...readManifests(istioFixturePath("samples/bookinfo-networking/destination-rule-all.yaml")),
  ],
};

export type TwoClusters = { mesh: KubeSandbox; workloads: KubeSandbox; close(): Promise<void> };

/**
 * Mesh and workloads in two clusters: the harness's sandbox (start it with `MESH_ONLY`) is the mesh's, a second one
 * runs reviews v1, v2 and v3 (no Istio objects). The harness's processes get one kubeconfig with contexts `mesh`
 * (current) and `workloads`, and a config file whose `reviews` service reads its pods in `workloads` and its route
 * in `mesh`.
 */
export async function meshAndWorkloads(h: EngineHarness, dir: string): Promise<TwoClusters> {
  const workloads = await startKubeSandbox({
    scenario: "empty",
    objects: ["v1", "v2", "v3"].flatMap((version) => workloadObjects({ app: "reviews", version })),
  });
  const kubeconfig = join(dir, "two-clusters.kubeconfig");
  const entry = (name: string, sandbox: KubeSandbox) => ({
    cluster: {
      name,
      cluster: {
        server: sandbox.url,
        "certificate-authority-data": Buffer.from(sandbox.caCertPem).toString("base64"),
      },
    },
    user: { name, user: { token: sandbox.token } },
    context: { name, context: { cluster: name, user: name, namespace: "default" } },
  });
  const entries = [entry("mesh", h.kube), entry("workloads", workloads)];
  await writeFile(
    kubeconfig,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: entries.map((item) => item.cluster),
      users: entries.map((item) => item.user),
      contexts: entries.map((item) => item.context),
      "current-context": "mesh",
    }),
    { mode: 0o600 },
  );
  const config = join(dir, "canarybot.yaml");
  await writeFile(
    config,
    stringify({ services: { reviews: { context: "workloads", meshContext: "mesh" } } }),
  );
  // The harness's CLI and workers read these when they run, so every process of the test sees both clusters.
  h.env.KUBECONFIG = kubeconfig;
  h.env.CANARYBOT_CONFIG = config;
  return { mesh: h.kube, workloads, close: () => workloads.close() };
}

/** The API paths a sandbox was asked for, by method: `GET /api/v1/namespaces/default/pods`. */
export function requestedPaths(sandbox: KubeSandbox): string[] {
  return sandbox.requests.all().map((request) => `${request.method} ${request.path.split("?")[0] ?? ""}`);
}
