import { writeKubeconfigOut, type RunKubeSandboxOptions } from "./kube/run.ts";
import { reportReadyToParent } from "./kube/detach.ts";
import { startKubeSandbox } from "./kube/server.ts";
import { runMeshSandbox } from "./mesh/cli.ts";
import type { MeshSandboxFlags } from "./mesh/cli.ts";

/**
 * `canarybot-sandbox kube --mesh`: the Kubernetes sandbox and, beside it, the traffic simulator reading its
 * VirtualServices, in one process until stopped: the local stand-in for a cluster with Istio.
 */
export async function runKubeWithMesh(
  options: RunKubeSandboxOptions & {
    mesh: MeshSandboxFlags;
    env: Readonly<Record<string, string | undefined>>;
  },
): Promise<void> {
  const print = options.print ?? ((text: string) => process.stdout.write(text));
  const kube = await startKubeSandbox({
    scenario: options.scenario ?? "bookinfo",
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.host === undefined ? {} : { host: options.host }),
  });
  const stop = new AbortController();
  void options.stopSignal?.then(() => stop.abort());
  try {
    await writeKubeconfigOut(kube, options.kubeconfigOut);
    print(`kube sandbox listening on ${kube.url}\nkubeconfig written to ${options.kubeconfigOut}\n`);
    reportReadyToParent();
    await runMeshSandbox(
      { ...options.mesh, kubeconfig: options.kubeconfigOut },
      { log: (line) => print(`${line}\n`), signal: stop.signal, env: options.env },
    );
  } finally {
    await kube.close();
  }
}
