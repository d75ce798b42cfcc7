import type { MetricsMesh } from "../../src/rollout/types.ts";
import { errorText, SandboxError } from "../errors.ts";
import { loadKubeConfig } from "./kubeconfig.ts";
import { startMeshSandbox } from "./mesh-sandbox.ts";
import type { MeshSandbox, MeshSandboxOptions } from "./mesh-sandbox.ts";
import type { HeaderTraffic, SubsetBehaviourPatch } from "./settings.ts";

/**
 * `canarybot-sandbox mesh` flags, as a command-line parser hands them over (strings; repeatable ones as arrays):
 *
 *   --kubeconfig ./sandbox.kubeconfig --context c --namespace default --service reviews [--service ratings]
 *   --rps 50 --port 15090 --host 0.0.0.0 --seed 7 --poll-ms 250
 *   --subset v2:errorRate=0.05,p50=20,p99=900   (repeatable; key `v2`, `reviews/v2` or `*`)
 *   --header qa=canary-test:5%                   (repeatable; name=value:share, share as 0.05 or 5%)
 *   --metrics linkerd                            (whose metrics /metrics serves: istio, the default, or linkerd)
 */
export type MeshSandboxFlags = {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  service?: string[];
  rps?: string;
  port?: string;
  host?: string;
  seed?: string;
  pollMs?: string;
  subset?: string[];
  header?: string[];
  metrics?: string;
};

/** Port the CLI listens on by default: Envoy's Prometheus stats port, as on a real sidecar. */
export const DEFAULT_MESH_PORT = 15090;

function share(text: string): number | undefined {
  const t = text.trim();
  const value = t.endsWith("%") ? Number(t.slice(0, -1)) / 100 : Number(t);
  return t !== "" && Number.isFinite(value) && value >= 0 && value <= 1 ? value : undefined;
}

/** `v2:errorRate=0.05,p50=20,p99=900` → ["v2", { errorRate: 0.05, latencyMs: { p50: 20, p99: 900 } }]. */
export function parseSubsetFlag(flag: string): [string, SubsetBehaviourPatch] {
  const colon = flag.indexOf(":");
  const key = colon < 0 ? "" : flag.slice(0, colon).trim();
  const bad = (why: string) =>
    new SandboxError(`--subset ${flag}: ${why} (expected v2:errorRate=0.05,p50=20,p99=900)`);
  if (key === "") throw bad("no subset name");
  const patch: SubsetBehaviourPatch = {};
  for (const part of flag.slice(colon + 1).split(",")) {
    const [name = "", raw = ""] = part.split("=", 2).map((s) => s.trim());
    if (name === "") continue;
    if (name === "errorRate" || name === "errors") {
      const value = share(raw);
      if (value === undefined) throw bad(`${name} must be a share between 0 and 1 (or 0%..100%)`);
      patch.errorRate = value;
    } else if (name === "p50" || name === "p99") {
      const value = Number(raw.replace(/ms$/, ""));
      if (!(Number.isFinite(value) && value > 0))
        throw bad(`${name} must be a positive number of milliseconds`);
      patch.latencyMs = { ...patch.latencyMs, [name]: value };
    } else {
      throw bad(`unknown setting "${name}"`);
    }
  }
  return [key, patch];
}

/** `qa=canary-test:5%` → { name: "qa", value: "canary-test", share: 0.05 }. */
export function parseHeaderFlag(flag: string): HeaderTraffic {
  const eq = flag.indexOf("=");
  const colon = flag.lastIndexOf(":");
  const value = colon > eq ? share(flag.slice(colon + 1)) : undefined;
  if (eq <= 0 || colon <= eq || value === undefined) {
    throw new SandboxError(`--header ${flag}: expected name=value:share, e.g. qa=canary-test:5%`);
  }
  return { name: flag.slice(0, eq).trim().toLowerCase(), value: flag.slice(eq + 1, colon), share: value };
}

/** The meshes whose metrics the sandbox can serve. */
const MESHES = ["istio", "linkerd"] as const satisfies readonly MetricsMesh[];

function parseMetricsFlag(text: string | undefined): MetricsMesh | undefined {
  if (text === undefined) return undefined;
  const meshes: readonly string[] = MESHES;
  if (meshes.includes(text)) return text as MetricsMesh;
  throw new SandboxError(`--metrics ${text}: expected ${meshes.join(" or ")}`);
}

function integer(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SandboxError(`--${flag} ${text}: expected a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Everything but the kube client, from flags; `invalid_input` naming every bad flag. */
export function meshOptionsFromFlags(flags: MeshSandboxFlags): Omit<MeshSandboxOptions, "kubeConfig"> {
  const problems: string[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (error) {
      problems.push(errorText(error));
      return undefined;
    }
  };
  const rps = attempt(() => {
    if (flags.rps === undefined) return undefined;
    const value = Number(flags.rps);
    if (!(Number.isFinite(value) && value >= 0 && value <= 100_000)) {
      throw new SandboxError(`--rps ${flags.rps}: expected requests per second from 0 to 100000`);
    }
    return value;
  });
  const port = attempt(() => integer("port", flags.port, 0, 65535));
  const seed = attempt(() => integer("seed", flags.seed, 0, 2 ** 32 - 1));
  const pollMs = attempt(() => integer("poll-ms", flags.pollMs, 10, 60_000));
  const subsets: Record<string, SubsetBehaviourPatch> = {};
  for (const flag of flags.subset ?? []) {
    const parsed = attempt(() => parseSubsetFlag(flag));
    if (parsed === undefined) continue;
    const [key, patch] = parsed;
    const previous = subsets[key] ?? {};
    const latencyMs = { ...previous.latencyMs, ...patch.latencyMs };
    subsets[key] = { ...previous, ...patch, ...(Object.keys(latencyMs).length > 0 ? { latencyMs } : {}) };
  }
  const headers = (flags.header ?? []).map((flag) => attempt(() => parseHeaderFlag(flag)));
  const metrics = attempt(() => parseMetricsFlag(flags.metrics));
  if (problems.length > 0) throw new SandboxError(problems.join("; "));

  const services = flags.service ?? ["reviews"];
  return {
    namespace: flags.namespace ?? "default",
    services,
    port: port ?? DEFAULT_MESH_PORT,
    ...(flags.host === undefined ? {} : { host: flags.host }),
    ...(rps === undefined ? {} : { rps }),
    ...(seed === undefined ? {} : { seed }),
    ...(pollMs === undefined ? {} : { pollMs }),
    ...(metrics === undefined ? {} : { metrics }),
    subsets,
    headers: headers.filter((h): h is HeaderTraffic => h !== undefined),
  };
}

export type RunIo = {
  env?: Readonly<Record<string, string | undefined>>;
  log?: (line: string) => void;
  /** Stops the sandbox when aborted; by default SIGINT / SIGTERM do. */
  signal?: AbortSignal;
  /** Told the running sandbox once it listens (tests, the demo). */
  onStarted?: (sandbox: MeshSandbox) => void;
};

/**
 * `canarybot-sandbox mesh`: starts the mesh sandbox, prints where it listens and how to steer it, and runs until
 * SIGINT / SIGTERM (or `io.signal`).
 */
export async function runMeshSandbox(flags: MeshSandboxFlags, io: RunIo = {}): Promise<void> {
  const log = io.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const options = meshOptionsFromFlags(flags);
  const { kubeConfig, location } = loadKubeConfig({
    ...(flags.kubeconfig === undefined ? {} : { kubeconfigPath: flags.kubeconfig }),
    ...(flags.context === undefined ? {} : { context: flags.context }),
    env: io.env ?? process.env,
  });
  const sandbox = await startMeshSandbox({ ...options, kubeConfig });
  const settings = sandbox.settings();
  log(`mesh sandbox: ${sandbox.url}`);
  const whose = options.metrics === "linkerd" ? "Linkerd proxy metrics" : "Istio standard metrics";
  log(`  metrics  ${sandbox.metricsUrl}   (${whose}; scrape every 1s)`);
  log(
    `  control  ${sandbox.controlUrl}   (GET settings and totals; POST {"subsets":{"v2":{"errorRate":0.05}}})`,
  );
  log(
    `  traffic  ${settings.rps} rps to ${options.services.join(", ")} in ${options.namespace}, ` +
      `routes read from ${kubeConfig.getCurrentCluster()?.server ?? location}`,
  );
  io.onStarted?.(sandbox);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      io.signal?.removeEventListener("abort", stop);
      resolve();
    };
    if (io.signal !== undefined) {
      if (io.signal.aborted) stop();
      else io.signal.addEventListener("abort", stop, { once: true });
    } else {
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    }
  });
  await sandbox.close();
  log("mesh sandbox: stopped");
}
