// The mesh sandbox: a traffic simulator that follows the live VirtualService and exposes Istio's standard metrics
// (or the Linkerd proxy's).
export { startMeshSandbox } from "./mesh-sandbox.ts";
export type { MeshRoutesStatus, MeshSandbox, MeshSandboxOptions } from "./mesh-sandbox.ts";
export {
  DEFAULT_MESH_PORT,
  meshOptionsFromFlags,
  parseHeaderFlag,
  parseSubsetFlag,
  runMeshSandbox,
} from "./cli.ts";
export type { MeshSandboxFlags, RunIo } from "./cli.ts";
export { DEFAULT_BEHAVIOUR, DEFAULT_RPS, MeshControl } from "./settings.ts";
export type {
  HeaderTraffic,
  LatencySetting,
  MeshSettings,
  SubsetBehaviour,
  SubsetBehaviourPatch,
} from "./settings.ts";
export { NO_SUBSET, UNROUTED } from "./simulator.ts";
export type { MeshTotals, ServiceTotals, SubsetTotals } from "./simulator.ts";
export { ISTIO_DURATION_BUCKETS_MS, ISTIO_REQUEST_LABELS } from "./istio-metrics.ts";
export { LINKERD_LABELS, LINKERD_LATENCY_BUCKETS_MS } from "./linkerd-metrics.ts";
