import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { findOnPath } from "../../sandbox/demo/processes.ts";

const run = promisify(execFile);

export type KubectlResult = { stdout: string; stderr: string; code: number };

/**
 * The real kubectl against a kubeconfig, with a HOME of its own (kubectl caches discovery there). Fails the test
 * with how to install kubectl when it is not on PATH.
 */
export function kubectl(kubeconfigPath: string, home: string) {
  const binary = findOnPath("kubectl", process.env);
  if (binary === undefined) {
    throw new Error(
      "kubectl not on PATH: apt-get install -y kubernetes-client (or any kubectl), or set PATH",
    );
  }
  const env = { PATH: process.env.PATH, HOME: home, KUBECONFIG: kubeconfigPath };
  const k = async (...args: string[]): Promise<KubectlResult> => {
    try {
      const { stdout, stderr } = await run(binary, args, { env, timeout: 30_000 });
      return { stdout, stderr, code: 0 };
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string; code?: number };
      return { stdout: failed.stdout ?? "", stderr: failed.stderr ?? "", code: failed.code ?? -1 };
    }
  };
  return {
    run: k,
    /** `kubectl get <resource> <name> -o json`, parsed; fails on a non-zero exit. */
    async getJson(resource: string, name: string, namespace = "default"): Promise<unknown> {
      const got = await k("get", resource, name, "-n", namespace, "-o", "json");
      if (got.code !== 0)
        throw new Error(`kubectl get ${resource} ${name} exited ${got.code}: ${got.stderr}`);
      return JSON.parse(got.stdout) as unknown;
    },
  };
}

type BackendRef = { name?: string; weight?: number };
type Rule = { name?: string; backendRefs?: BackendRef[] };

/**
 * "reviews-v1=90,reviews-v2=10": the backendRef weights of an HTTPRoute's rule that sends to `stable` (else, once
 * promoted, to `canary`), canarybot's header rule aside; an omitted weight reads as written, "-".
 */
export function backendWeights(httpRoute: unknown, stable: string, canary?: string): string | undefined {
  const rules = (httpRoute as { spec?: { rules?: Rule[] } } | undefined)?.spec?.rules ?? [];
  const sendsTo = (service: string | undefined) => (rule: Rule) =>
    !rule.name?.startsWith("canarybot-header-") &&
    (rule.backendRefs ?? []).some((ref) => ref.name === service);
  const rule =
    rules.find(sendsTo(stable)) ?? (canary === undefined ? undefined : rules.find(sendsTo(canary)));
  return rule?.backendRefs?.map((ref) => `${ref.name ?? "?"}=${ref.weight ?? "-"}`).join(",");
}
