// The Kubernetes sandbox for a bench, in a child process of its own or in the bench's process. In a deployment the
// API server is another machine: in a child, the emulator's TLS, JSON and object store do not run on the event loop
// of the canarybot being measured (the two cores are still shared, as Redis's are). In the bench's process
// (`inproc`), they do, which is less fair to canarybot.
import { fork } from "node:child_process";
import { subscribe } from "node:diagnostics_channel";
import { startKubeSandbox } from "../sandbox/kube/server.ts";
import type { KubeSandbox } from "../sandbox/kube/server.ts";
import { SCENARIOS } from "../sandbox/kube/scenarios.ts";
import type { ScenarioName } from "../sandbox/kube/scenarios.ts";
import { meshService } from "../test/support/mesh-services.ts";

const CHILD_FLAG = "--kube-sandbox-child";

/** What the sandbox served since the previous `stats()`: requests by method, TCP connections accepted, its CPU. */
export type KubeStats = { requests: Record<string, number>; connections: number; cpuMs: number };

/** A service of `meshService` (its VirtualService, DestinationRule, Service, Deployments, Pods) in a namespace. */
export type MeshServiceRef = { name: string; namespace: string };

export type BenchKube = {
  /** Where the sandbox runs, for the bench's description of its run. */
  where: string;
  writeKubeconfig(path: string): Promise<void>;
  /** Seeded where the sandbox runs: the bench's own process never holds their objects (its memory is measured). */
  seedServices(services: readonly MeshServiceRef[]): Promise<void>;
  /** Since the previous call (the first call starts the count). */
  stats(): Promise<KubeStats>;
  close(): Promise<void>;
};

type Ask =
  | { type: "kubeconfig"; path: string }
  | { type: "seed"; services: readonly MeshServiceRef[] }
  | { type: "stats" }
  | { type: "close" };
type Request = Ask & { id: number };
type Reply = { id: number; stats?: KubeStats; error?: string };

/** A sandbox with the objects of `scenario`. */
export async function startBenchKube(
  mode: "child" | "inproc",
  scenario: ScenarioName = "empty",
): Promise<BenchKube> {
  return mode === "inproc" ? inProcess(scenario) : inChild(scenario);
}

function meshServiceObjects(services: readonly MeshServiceRef[]): unknown[] {
  return services.flatMap(({ name, namespace }) =>
    meshService(name).map((object) => {
      const typed = object as { metadata: Record<string, unknown> };
      return { ...typed, metadata: { ...typed.metadata, namespace } };
    }),
  );
}

async function inProcess(scenario: ScenarioName): Promise<BenchKube> {
  const sandbox = await startKubeSandbox({ scenario });
  const read = statsReader(sandbox);
  return {
    where: "in this process (shares canarybot's event loop)",
    writeKubeconfig: (path) => sandbox.writeKubeconfig(path),
    seedServices: (services) => Promise.resolve(sandbox.seed(meshServiceObjects(services))),
    stats: () => Promise.resolve(read()),
    close: () => sandbox.close(),
  };
}

async function inChild(scenario: ScenarioName): Promise<BenchKube> {
  const child = fork(import.meta.filename, [CHILD_FLAG, scenario], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let exit: Error | undefined;
  const pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  child.on("message", (reply: Reply) => {
    pending.get(reply.id)?.resolve(reply);
    pending.delete(reply.id);
  });
  child.once("exit", (code) => {
    exit = new Error(`the kube sandbox's process exited with ${code}`);
    for (const waiting of pending.values()) waiting.reject(exit);
    pending.clear();
  });
  let next = 0;
  const ask = async (request: Ask): Promise<Reply> => {
    if (exit) throw exit;
    const id = ++next;
    const reply = await new Promise<Reply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      child.send({ ...request, id });
    });
    if (reply.error !== undefined) throw new Error(`kube sandbox: ${reply.error}`);
    return reply;
  };
  await ask({ type: "stats" }); // answered once it listens
  return {
    where: "in a child process",
    writeKubeconfig: async (path) => void (await ask({ type: "kubeconfig", path })),
    seedServices: async (services) => void (await ask({ type: "seed", services })),
    stats: async () => (await ask({ type: "stats" })).stats ?? { requests: {}, connections: 0, cpuMs: 0 },
    async close() {
      if (exit) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      await ask({ type: "close" });
      await exited;
    },
  };
}

/** Counts requests by method, accepted TCP connections and CPU since the last call; forgets the request log. */
function statsReader(sandbox: KubeSandbox): () => KubeStats {
  let connections = 0;
  subscribe("net.server.socket", () => (connections += 1));
  let cpu = process.cpuUsage();
  return () => {
    const requests: Record<string, number> = {};
    for (const record of sandbox.requests.all()) requests[record.method] = (requests[record.method] ?? 0) + 1;
    sandbox.requests.clear();
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const stats = { requests, connections, cpuMs: (used.user + used.system) / 1000 };
    connections = 0;
    return stats;
  };
}

async function runChild(): Promise<void> {
  const scenario = SCENARIOS.find((name) => name === process.argv[process.argv.indexOf(CHILD_FLAG) + 1]);
  const sandbox = await startKubeSandbox({ scenario: scenario ?? "empty" });
  const read = statsReader(sandbox);
  const answer = async (request: Request): Promise<Reply> => {
    switch (request.type) {
      case "kubeconfig":
        await sandbox.writeKubeconfig(request.path);
        return { id: request.id };
      case "seed":
        sandbox.seed(meshServiceObjects(request.services));
        return { id: request.id };
      case "stats":
        return { id: request.id, stats: read() };
      case "close":
        await sandbox.close();
        return { id: request.id };
    }
  };
  process.on("message", (request: Request) => {
    void answer(request)
      .catch((error: unknown) => ({ id: request.id, error: String(error) }))
      .then((reply) => {
        process.send?.(reply);
        if (request.type === "close") process.disconnect?.();
      });
  });
}

if (process.argv.includes(CHILD_FLAG)) await runChild();
