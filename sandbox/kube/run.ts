import { once } from "node:events";
import type { ScenarioName } from "./scenarios.ts";
import { reportReadyToParent } from "./detach.ts";
import { startKubeSandbox, type KubeSandbox } from "./server.ts";
import { errorText, SandboxError } from "../errors.ts";

export type RunKubeSandboxOptions = {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  readonly kubeconfigOut: string;
  readonly scenario?: ScenarioName;
  readonly istioVersions?: readonly string[];
  readonly print?: (text: string) => void;
  /** Resolves when the sandbox should stop; by default the first SIGINT or SIGTERM. */
  readonly stopSignal?: Promise<void>;
};

/** `canarybot-sandbox kube`: serve until asked to stop, with a kubeconfig written for other processes. */
export async function runKubeSandbox(options: RunKubeSandboxOptions): Promise<void> {
  const print = options.print ?? ((text: string) => process.stdout.write(text));
  const sandbox = await startKubeSandbox({
    scenario: options.scenario ?? "bookinfo",
    port: options.port,
    host: options.host,
    istioVersions: options.istioVersions,
  });
  try {
    await writeKubeconfigOut(sandbox, options.kubeconfigOut);
    print(`kube sandbox listening on ${sandbox.url}\n`);
    print(`kubeconfig written to ${options.kubeconfigOut}\n`);
    reportReadyToParent();
    await (options.stopSignal ?? processStopSignal());
  } finally {
    await sandbox.close();
  }
}

/** The kubeconfig for other processes; a path that cannot be written is the user's to fix. */
export async function writeKubeconfigOut(sandbox: KubeSandbox, path: string): Promise<void> {
  try {
    await sandbox.writeKubeconfig(path);
  } catch (error) {
    const reason = errorText(error);
    throw new SandboxError(`cannot write --kubeconfig-out: ${reason}`);
  }
}

function processStopSignal(): Promise<void> {
  const controller = new AbortController();
  const { signal } = controller;
  return Promise.race([once(process, "SIGINT", { signal }), once(process, "SIGTERM", { signal })]).then(() =>
    controller.abort(),
  );
}
