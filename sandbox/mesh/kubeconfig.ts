import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { errorText, SandboxError } from "../errors.ts";

/**
 * The cluster whose routes the mesh follows: `--kubeconfig`, else the first file of `$KUBECONFIG`, else
 * ~/.kube/config, at `--context` or its current context. A file that does not load, or a context it lacks, is the
 * user's to fix.
 */
export function loadKubeConfig(options: {
  kubeconfigPath?: string;
  context?: string;
  env: Readonly<Record<string, string | undefined>>;
}): { kubeConfig: KubeConfig; location: string } {
  const location =
    options.kubeconfigPath ??
    options.env.KUBECONFIG?.split(":").find((path) => path !== "") ??
    join(options.env.HOME ?? homedir(), ".kube", "config");
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromFile(location);
  } catch (error) {
    throw new SandboxError(`cannot load the kubeconfig ${location}: ${errorText(error)}`);
  }
  const context = options.context ?? kubeConfig.getCurrentContext();
  if (!kubeConfig.getContextObject(context)) {
    const names = kubeConfig.getContexts().map((entry) => entry.name);
    throw new SandboxError(
      `kubeconfig ${location} has no context "${context}"; pass --context (contexts: ${names.join(", ") || "none"})`,
    );
  }
  kubeConfig.setCurrentContext(context);
  return { kubeConfig, location };
}
