import type { KubeObject } from "./object-store.ts";
import { deploymentStatus } from "./scenarios.ts";

/**
 * What to do to the pods that carry `labels` in `namespace`: make them unready (their containers in
 * CrashLoopBackOff) or ready again, and/or restart their containers `restarts` times (as a crash loop does).
 */
export type PodHealthChange = {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ready?: boolean;
  readonly restarts?: number;
};

/** Reads a change from untrusted JSON (`POST /_sandbox/pods`): one message saying what is wrong. */
export function parsePodHealthChange(value: unknown): PodHealthChange {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error('a pod change is a JSON object: {"labels": {"version": "v2"}, "ready": false}');
  }
  const { namespace = "default", labels, ready, restarts, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new Error(`unknown pod change field ${JSON.stringify(unknown[0])}`);
  if (typeof namespace !== "string") throw new Error("namespace must be a string");
  const isLabels =
    typeof labels === "object" &&
    labels !== null &&
    !Array.isArray(labels) &&
    Object.keys(labels).length > 0 &&
    Object.values(labels).every((label) => typeof label === "string");
  if (!isLabels) throw new Error('labels must name the pods: {"version": "v2"}');
  if (ready !== undefined && typeof ready !== "boolean") throw new Error("ready must be true or false");
  if (restarts !== undefined && !(Number.isInteger(restarts) && (restarts as number) > 0)) {
    throw new Error("restarts must be a whole number above 0");
  }
  if (ready === undefined && restarts === undefined) throw new Error("a pod change needs ready or restarts");
  return {
    namespace,
    labels: labels as Record<string, string>,
    ...(ready === undefined ? {} : { ready }),
    ...(restarts === undefined ? {} : { restarts: restarts as number }),
  };
}

export function isChangedBy(change: PodHealthChange, pod: KubeObject): boolean {
  const labels = pod.metadata.labels ?? {};
  return (
    (pod.metadata.namespace ?? "default") === change.namespace &&
    Object.entries(change.labels).every(([key, value]) => labels[key] === value)
  );
}

/**
 * The Deployments whose pods a change touched, with the status the controller would report for their pods now
 * (ready and available replicas), so that `kubectl get deploy` and the next preflight see what the pods show.
 */
export function deploymentsAfter(
  deployments: readonly KubeObject[],
  pods: readonly KubeObject[],
  changed: readonly KubeObject[],
): KubeObject[] {
  return deployments.flatMap((deployment) => {
    const spec = (deployment.spec ?? {}) as { selector?: { matchLabels?: Record<string, string> } };
    const selector = spec.selector?.matchLabels ?? {};
    const selects = (pod: KubeObject) =>
      Object.entries(selector).every(([key, value]) => pod.metadata.labels?.[key] === value);
    if (Object.keys(selector).length === 0 || !changed.some(selects)) return [];
    const own = pods.filter(selects);
    const ready = own.filter((pod) => {
      const conditions = ((pod.status ?? {}) as { conditions?: Condition[] }).conditions ?? [];
      return conditions.some((condition) => condition.type === "Ready" && condition.status === "True");
    }).length;
    return [{ ...deployment, status: deploymentStatus(own.length, ready) }];
  });
}

type ContainerStatus = Record<string, unknown> & { restartCount?: number };
type Condition = { type?: string; status?: string; lastTransitionTime?: string };

/** The pod as the kubelet would report it after the change: conditions, container readiness, state, restarts. */
export function withPodHealthChange(pod: KubeObject, change: PodHealthChange, at: string): KubeObject {
  const status = (pod.status ?? {}) as { conditions?: Condition[]; containerStatuses?: ContainerStatus[] };
  const containers = status.containerStatuses ?? [];
  const wasReady = containers.every((container) => container.ready === true);
  const ready = change.ready ?? wasReady;
  const flag = ready ? "True" : "False";
  const conditions = (status.conditions ?? []).map((condition) =>
    (condition.type === "Ready" || condition.type === "ContainersReady") && condition.status !== flag
      ? { ...condition, status: flag, lastTransitionTime: at }
      : condition,
  );
  const containerStatuses = containers.map((container): ContainerStatus => {
    const restarts = change.restarts ?? 0;
    return {
      ...container,
      ready,
      started: ready,
      restartCount: (container.restartCount ?? 0) + restarts,
      ...(restarts > 0
        ? { lastState: { terminated: { exitCode: 1, reason: "Error", startedAt: at, finishedAt: at } } }
        : {}),
      state: ready
        ? { running: { startedAt: at } }
        : { waiting: { reason: "CrashLoopBackOff", message: "back-off restarting failed container" } },
    };
  });
  return { ...pod, status: { ...status, conditions, containerStatuses } };
}
