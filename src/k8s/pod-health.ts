import { isJsonObject } from "../json/json-value.ts";
import type { PodHealth } from "../rollout/types.ts";
import type { Labels } from "./preflight.ts";

/** "app=reviews,version=v2": a label selector asking for every one of the labels. */
export function labelSelectorOf(labels: Labels): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/**
 * The health of a subset's pods, as listed: those still meant to run (not finished, not being deleted), how many of
 * them are Ready, their containers' restarts in total, and why a container of an unready pod waits.
 */
export function podHealthOf(pods: readonly unknown[]): PodHealth {
  const running = pods.filter(isJsonObject).filter((pod) => {
    const metadata = isJsonObject(pod.metadata) ? pod.metadata : {};
    const phase = isJsonObject(pod.status) ? pod.status.phase : undefined;
    return metadata.deletionTimestamp == null && phase !== "Succeeded" && phase !== "Failed";
  });
  let ready = 0;
  let restarts = 0;
  let waiting: string | undefined;
  for (const pod of running) {
    const status = isJsonObject(pod.status) ? pod.status : {};
    const conditions = Array.isArray(status.conditions) ? status.conditions : [];
    const isReady = conditions.some(
      (condition) => isJsonObject(condition) && condition.type === "Ready" && condition.status === "True",
    );
    if (isReady) ready++;
    const containers = Array.isArray(status.containerStatuses) ? status.containerStatuses : [];
    for (const container of containers) {
      if (!isJsonObject(container)) continue;
      if (typeof container.restartCount === "number") restarts += container.restartCount;
      const state = isJsonObject(container.state) ? container.state : {};
      const reason = isJsonObject(state.waiting) ? state.waiting.reason : undefined;
      if (!isReady && waiting === undefined && typeof reason === "string") waiting = reason;
    }
  }
  return { pods: running.length, ready, restarts, ...(waiting === undefined ? {} : { waiting }) };
}
