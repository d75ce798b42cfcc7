import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { checkConfigText } from "../../src/config/check.ts";
import { SECRET_VARIABLES } from "../../src/config/secrets.ts";

const DEPLOY = resolve(import.meta.dirname, "../../deploy/kubernetes");

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/**
 * The Kubernetes OpenAPI schemas of each kind, as compiled validators: kubernetes-models (MIT, generated from
 * the Kubernetes OpenAPI spec; a dev dependency, so nothing is fetched at test time).
 */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
};

/** `kubectl kustomize DIR`: renders without a cluster. */
function kustomize(dir: string): Manifest[] {
  const run = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
  if (run.error) {
    throw new Error(
      `kubectl not found (${run.error.message}): apt-get install -y kubernetes-client, or put kubectl on PATH`,
    );
  }
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${run.stderr}`);
  return parseAllDocuments(run.stdout).map((document) => document.toJS() as Manifest);
}

function one<T>(manifests: Manifest[], kind: string): T {
  const found = manifests.filter((manifest) => manifest.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as T;
}

type Container = {
  args: string[];
  ports: { name: string; containerPort: number }[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  volumeMounts: { name: string; mountPath: string }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
};
type DeploymentShape = {
  spec: {
    template: {
      spec: {
        serviceAccountName: string;
        terminationGracePeriodSeconds: number;
        containers: Container[];
        volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
      };
    };
  };
};

describe("deploy/kubernetes", () => {
  let manifests: Manifest[] = [];
  let redis: Manifest[] = [];
  beforeAll(() => {
    manifests = kustomize(DEPLOY);
    redis = kustomize(resolve(DEPLOY, "redis"));
  });

  it("renders with kubectl kustomize, and every manifest is valid against its kind's Kubernetes schema", () => {
    const kinds = [...manifests, ...redis].map((manifest) => `${manifest.apiVersion}/${manifest.kind}`);
    expect(new Set(kinds)).toEqual(new Set(Object.keys(MODELS)));
    for (const manifest of [...manifests, ...redis]) {
      const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
      expect(Model, manifest.kind).toBeDefined();
      if (!Model) continue;
      expect(
        () => new Model(manifest as never).validate(),
        `${manifest.kind} ${manifest.metadata.name}`,
      ).not.toThrow();
      if (!["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(manifest.kind)) {
        expect(manifest.metadata.namespace, `${manifest.kind} ${manifest.metadata.name}`).toBe("canarybot");
      }
    }
  });

  it("probes /healthz and /readyz on the port serve's --metrics-port opens, and leaves 10 s for shutdown", () => {
    const deployment = one<DeploymentShape>(manifests, "Deployment");
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    if (!container) throw new Error("no container");
    const metricsPort = container.ports.find((port) => port.name === "metrics")?.containerPort;
    expect(container.args[container.args.indexOf("--metrics-port") + 1]).toBe(String(metricsPort));
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(10);
    expect(pod.serviceAccountName).toBe(one<Manifest>(manifests, "ServiceAccount").metadata.name);
  });

  it("takes secrets from a Secret (files or references), never as literal values", () => {
    const pod = one<DeploymentShape>(manifests, "Deployment").spec.template.spec;
    const [container] = pod.containers;
    if (!container) throw new Error("no container");
    const secretVolume = pod.volumes.find((volume) => volume.secret)?.name;
    const secretDir = container.volumeMounts.find((mount) => mount.name === secretVolume)?.mountPath;
    expect(secretDir).toBeDefined();
    for (const variable of container.env) {
      expect(SECRET_VARIABLES as readonly string[], `${variable.name} set as a literal`).not.toContain(
        variable.name,
      );
      if (variable.name.endsWith("_FILE")) expect(variable.value?.startsWith(`${secretDir}/`)).toBe(true);
      if (variable.name === "REDIS_URL")
        expect(variable.valueFrom).toEqual({ secretKeyRef: { name: "canarybot", key: "redis-url" } });
    }
    expect(container.env.map((variable) => variable.name)).toEqual(
      expect.arrayContaining(["SLACK_BOT_TOKEN_FILE", "SLACK_SIGNING_SECRET_FILE", "REDIS_URL"]),
    );
  });

  it("mounts a ConfigMap whose config.yaml passes `config check` where --config looks for it", () => {
    const pod = one<DeploymentShape>(manifests, "Deployment").spec.template.spec;
    const [container] = pod.containers;
    if (!container) throw new Error("no container");
    const configMap = one<Manifest & { data: Record<string, string> }>(manifests, "ConfigMap");
    const volume = pod.volumes.find((candidate) => candidate.configMap?.name === configMap.metadata.name);
    const mount = container.volumeMounts.find((candidate) => candidate.name === volume?.name);
    expect(container.args[container.args.indexOf("--config") + 1]).toBe(`${mount?.mountPath}/config.yaml`);
    expect(checkConfigText(configMap.data["config.yaml"] ?? "", "config.yaml")).toMatchObject({ ok: true });
  });

  it("keeps a replica through voluntary disruptions, and the Redis option persists with AOF", () => {
    const budget = one<{ spec: { minAvailable: number; selector: unknown } }>(
      manifests,
      "PodDisruptionBudget",
    );
    expect(budget.spec.minAvailable).toBe(1);
    const statefulSet = one<{ spec: { template: { spec: { containers: { args: string[] }[] } } } }>(
      redis,
      "StatefulSet",
    );
    expect(statefulSet.spec.template.spec.containers[0]?.args.join(" ")).toContain("--appendonly yes");
  });
});
