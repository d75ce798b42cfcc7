export { startKubeSandbox, type KubeSandbox, type KubeSandboxOptions, type SandboxKind } from "./server.ts";
export { runKubeSandbox, type RunKubeSandboxOptions } from "./run.ts";
export {
  scenarioObjects,
  workloadObjects,
  SCENARIOS,
  type ScenarioName,
  type WorkloadOptions,
} from "./scenarios.ts";
export { istioFixturePath, readManifests } from "./fixtures.ts";
export type { FaultSpec, Faults } from "./faults.ts";
export type { PodHealthChange } from "./pod-health-control.ts";
export type { RequestLog, RequestRecord } from "./request-log.ts";
export type { KubeObject, ObjectMeta } from "./object-store.ts";
export { KubeStatusError, type KubeStatus } from "./status.ts";
