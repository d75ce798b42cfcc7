import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppsV1Api, KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { runKubeSandbox } from "../../../sandbox/kube/run.ts";

describe("runKubeSandbox", () => {
  it("serves bookinfo on a free port, writes a private kubeconfig, and stops when told", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kube-sandbox-"));
    const kubeconfigOut = join(dir, "kubeconfig");
    const printed: string[] = [];
    let stop = () => {};
    const stopSignal = new Promise<void>((resolve) => (stop = resolve));
    let listening = () => {};
    const started = new Promise<void>((resolve) => (listening = resolve));

    try {
      const running = runKubeSandbox({
        port: 0,
        kubeconfigOut,
        stopSignal,
        print: (text) => {
          printed.push(text);
          if (text.startsWith("kubeconfig written")) listening();
        },
      });
      await started;

      const config = new KubeConfig();
      config.loadFromFile(kubeconfigOut);
      const apps = config.makeApiClient(AppsV1Api);
      const deployment = await apps.readNamespacedDeployment({ namespace: "default", name: "reviews-v1" });
      expect(deployment.status?.readyReplicas).toBe(1);
      expect(printed).toEqual([
        expect.stringMatching(/^kube sandbox listening on https:\/\/127\.0\.0\.1:\d+\n$/),
        `kubeconfig written to ${kubeconfigOut}\n`,
      ]);
      expect((await stat(kubeconfigOut)).mode & 0o777).toBe(0o600);

      stop();
      await running;
      await expect(
        apps.readNamespacedDeployment({ namespace: "default", name: "reviews-v1" }),
      ).rejects.toThrow();
      expect(await readFile(kubeconfigOut, "utf8")).toContain(
        config.getCurrentCluster()?.server ?? "missing",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
