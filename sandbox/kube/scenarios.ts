import { createHash } from "node:crypto";
import { gatewayApiFixturePath, istioFixturePath, readManifests } from "./fixtures.ts";
import type { KubeObject } from "./object-store.ts";

export const SCENARIOS = ["bookinfo", "bookinfo-gateway-api", "empty"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The objects a scenario starts with; seed them (or your own list) with `sandbox.seed(objects)`. */
export function scenarioObjects(name: ScenarioName): unknown[] {
  switch (name) {
    case "bookinfo":
      return bookinfoObjects();
    case "bookinfo-gateway-api":
      return bookinfoGatewayApiObjects();
    case "empty":
      return [];
  }
}

const BOOKINFO_WORKLOADS = [
  { app: "productpage", version: "v1" },
  { app: "details", version: "v1" },
  { app: "ratings", version: "v1" },
  { app: "reviews", version: "v1" },
  { app: "reviews", version: "v2" },
  { app: "reviews", version: "v3" },
] as const;

/**
 * Istio's bookinfo in namespace default: every service routed 100% to subset v1 (upstream
 * virtual-service-all-v1.yaml), the subsets of destination-rule-all.yaml, and one ready pod per version.
 */
function bookinfoObjects(): unknown[] {
  return [
    ...readManifests(istioFixturePath("samples/bookinfo-networking/virtual-service-all-v1.yaml")),
    ...readManifests(istioFixturePath("samples/bookinfo-networking/destination-rule-all.yaml")),
    ...BOOKINFO_WORKLOADS.flatMap((workload) => workloadObjects(workload)),
  ];
}

/**
 * bookinfo routed by Gateway API instead of Istio's own objects: a Service per app and one per reviews version
 * (`reviews-v1` … `reviews-v3`, selecting `version`), the pods behind them, and Istio's mesh (GAMMA) HTTPRoute
 * `reviews` sending everything to `reviews-v1` (upstream route-reviews-v1.yaml). No VirtualService, no
 * DestinationRule.
 */
function bookinfoGatewayApiObjects(): unknown[] {
  const apps = [...new Set(BOOKINFO_WORKLOADS.map((workload) => workload.app))];
  const reviews = BOOKINFO_WORKLOADS.filter((workload) => workload.app === "reviews");
  return [
    ...readManifests(gatewayApiFixturePath("samples/istio-bookinfo-route-reviews-v1.yaml")).map((route) => ({
      ...(route as Record<string, unknown>),
      metadata: { ...(route as { metadata: object }).metadata, namespace: "default" },
    })),
    ...apps.map((app, index) => serviceObject({ name: app, app, index })),
    ...reviews.map((workload, index) =>
      serviceObject({
        name: `${workload.app}-${workload.version}`,
        app: workload.app,
        version: workload.version,
        index: apps.length + index,
      }),
    ),
    ...BOOKINFO_WORKLOADS.flatMap((workload) => workloadObjects(workload)),
  ];
}

/** A ClusterIP Service on port 9080 selecting `app` (and `version`, for a per-version backend Service). */
export function serviceObject(options: {
  name: string;
  app: string;
  version?: string;
  namespace?: string;
  index?: number;
}): KubeObject {
  const { name, app, version, namespace = "default", index = 0 } = options;
  const clusterIP = `10.96.${Math.floor(index / 200)}.${10 + (index % 200)}`;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, labels: { app, service: app } },
    spec: {
      type: "ClusterIP",
      clusterIP,
      clusterIPs: [clusterIP],
      ports: [{ name: "http", port: 9080, protocol: "TCP", targetPort: 9080 }],
      selector: version === undefined ? { app } : { app, version },
    },
  };
}

export type WorkloadOptions = {
  readonly app: string;
  readonly version: string;
  readonly namespace?: string;
  readonly replicas?: number;
  /** How many of the pods are Running and Ready (default: all). */
  readonly readyReplicas?: number;
};

/** A bookinfo-style Deployment `<app>-<version>` (labels app, version) and its pods, as the cluster reports them. */
export function workloadObjects(options: WorkloadOptions): KubeObject[] {
  const { app, version, namespace = "default", replicas = 1 } = options;
  const ready = Math.min(options.readyReplicas ?? replicas, replicas);
  const name = `${app}-${version}`;
  const labels = { app, version };
  const templateHash = hashSuffix(name, 10);
  const image = `docker.io/istio/examples-bookinfo-${name}:1.20.3`;
  const deployment: KubeObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: `bookinfo-${app}`,
          containers: [
            { name: app, image, imagePullPolicy: "IfNotPresent", ports: [{ containerPort: 9080 }] },
          ],
        },
      },
    },
    status: deploymentStatus(replicas, ready),
  };
  const pods = Array.from({ length: replicas }, (_, i): KubeObject => {
    const podName = `${name}-${templateHash}-${hashSuffix(`${name}/${i}`, 5)}`;
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: podName, namespace, labels: { ...labels, "pod-template-hash": templateHash } },
      spec: {
        serviceAccountName: `bookinfo-${app}`,
        nodeName: SANDBOX_NODE,
        containers: [{ name: app, image, ports: [{ containerPort: 9080 }] }],
      },
      status: podStatus({ container: app, image, ready: i < ready, podName, index: i }),
    };
  });
  return [deployment, ...pods];
}

// Go's omitempty drops zero counts: a deployment with no ready pods has no readyReplicas at all.
export function deploymentStatus(replicas: number, ready: number): Record<string, unknown> {
  const count = (field: string, value: number) => (value === 0 ? {} : { [field]: value });
  return {
    observedGeneration: 1,
    ...count("replicas", replicas),
    ...count("updatedReplicas", replicas),
    ...count("readyReplicas", ready),
    ...count("availableReplicas", ready),
    ...count("unavailableReplicas", replicas - ready),
    conditions: [
      ready > 0
        ? {
            type: "Available",
            status: "True",
            reason: "MinimumReplicasAvailable",
            message: "Deployment has minimum availability.",
          }
        : {
            type: "Available",
            status: "False",
            reason: "MinimumReplicasUnavailable",
            message: "Deployment does not have minimum availability.",
          },
      { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" },
    ],
  };
}

const SANDBOX_NODE = "sandbox-node-1";
// When the sandbox's pods "started": a fixed instant, so seeded objects are the same on every run.
const STARTED_AT = "2025-01-01T00:00:00Z";

/**
 * A pod's status with every field a typed client requires (the Python client's V1ContainerStatus refuses a
 * status without `imageID`): IPs, start time, QoS class, container ids and image digests.
 */
function podStatus(pod: {
  container: string;
  image: string;
  ready: boolean;
  podName: string;
  index: number;
}): Record<string, unknown> {
  const { container, image, ready } = pod;
  const flag = ready ? "True" : "False";
  const digest = createHash("sha256").update(image).digest("hex");
  const podIP = `10.244.0.${10 + (parseInt(createHash("sha256").update(pod.podName).digest("hex").slice(0, 4), 16) % 240)}`;
  return {
    phase: "Running",
    conditions: [
      { type: "Initialized", status: "True", lastTransitionTime: STARTED_AT },
      { type: "Ready", status: flag, lastTransitionTime: STARTED_AT },
      { type: "ContainersReady", status: flag, lastTransitionTime: STARTED_AT },
      { type: "PodScheduled", status: "True", lastTransitionTime: STARTED_AT },
    ],
    hostIP: "172.18.0.2",
    hostIPs: [{ ip: "172.18.0.2" }],
    podIP,
    podIPs: [{ ip: podIP }],
    startTime: STARTED_AT,
    qosClass: "BestEffort",
    containerStatuses: [
      {
        name: container,
        image,
        imageID: `${image.replace(/:[^:/]+$/, "")}@sha256:${digest}`,
        containerID: `containerd://${createHash("sha256").update(pod.podName).digest("hex")}`,
        ready,
        started: ready,
        restartCount: 0,
        lastState: {},
        state: ready
          ? { running: { startedAt: STARTED_AT } }
          : { waiting: { reason: "CrashLoopBackOff", message: "back-off restarting failed container" } },
      },
    ],
  };
}

// Stable, pod-like name suffixes from the alphabet the real name generator uses (the mesh sandbox names pods so too).
export function hashSuffix(seed: string, length: number): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  const digest = createHash("sha256").update(seed).digest();
  return Array.from({ length }, (_, i) => alphabet[(digest[i] ?? 0) % alphabet.length]).join("");
}
