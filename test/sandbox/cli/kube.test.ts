import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../support/engine.ts";
import { SANDBOX_BIN, startCanarybot, type StartedProcess } from "../../support/processes.ts";

async function reviewsSubset(
  kubeconfigPath: string,
): Promise<{ server: string | undefined; subset?: string }> {
  const config = new KubeConfig();
  config.loadFromString(await readFile(kubeconfigPath, "utf8"));
  const api = config.makeApiClient(CustomObjectsApi);
  const reviews = (await api.getNamespacedCustomObject({
    group: "networking.istio.io",
    version: "v1",
    namespace: "default",
    plural: "virtualservices",
    name: "reviews",
  })) as { spec: { http: { route: { destination: { subset: string } }[] }[] } };
  return {
    server: config.getCurrentCluster()?.server,
    subset: reviews.spec.http[0]?.route[0]?.destination.subset,
  };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("canarybot-sandbox kube", () => {
  let dir = "";
  const started: StartedProcess[] = [];
  const detached: number[] = [];
  afterEach(async () => {
    // A failed test must not leave its sandbox running.
    for (const process of started.splice(0)) await process.stop("SIGKILL");
    for (const pid of detached.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("serves bookinfo on a free port, writes a kubeconfig the real client uses, and stops on SIGINT", async () => {
    dir = await mkdtemp(join(tmpdir(), "canarybot-sandbox-cli-"));
    const kubeconfigPath = join(dir, "kubeconfig");
    const sandbox = await startCanarybot(
      ["kube", "--port", "0", "--kubeconfig-out", kubeconfigPath],
      /listening on (https:\/\/127\.0\.0\.1:\d+)\nkubeconfig written to (.*)\n/,
      { bin: SANDBOX_BIN },
    );
    started.push(sandbox);
    expect(sandbox.match[2]).toBe(kubeconfigPath);

    expect((await stat(kubeconfigPath)).mode & 0o077).toBe(0);
    expect(await reviewsSubset(kubeconfigPath)).toEqual({ server: sandbox.match[1], subset: "v1" });
    expect(await sandbox.stop("SIGINT")).toBe(0);
  });

  it("--detach returns to the shell once the kubeconfig is written, leaving the sandbox running until killed", async () => {
    dir = await mkdtemp(join(tmpdir(), "canarybot-sandbox-cli-"));
    const kubeconfigPath = join(dir, "kubeconfig");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [SANDBOX_BIN, "kube", "--port", "0", "--kubeconfig-out", kubeconfigPath, "--detach"],
      { timeout: 60_000 },
    );
    const pid = Number(/as pid (\d+)/.exec(stdout)?.[1]);
    detached.push(pid);
    expect(stdout).toMatch(
      new RegExp(
        `^kube sandbox listening on https://127\\.0\\.0\\.1:\\d+\\nkubeconfig written to ${kubeconfigPath}\\n` +
          `sandbox running in the background as pid ${pid}, its output in ${kubeconfigPath}\\.log; stop it with: kill ${pid}\\n$`,
      ),
    );
    // The command has returned: the very next line of a script finds the kubeconfig and a sandbox behind it.
    expect((await reviewsSubset(kubeconfigPath)).subset).toBe("v1");

    process.kill(pid, "SIGTERM");
    await waitFor("the detached sandbox to stop", () => (alive(pid) ? undefined : true), 60_000);
  });

  it("a --kubeconfig-out it cannot write is the user's mistake: one line, exit 1", async () => {
    for (const detach of [[], ["--detach"]]) {
      const failed = await promisify(execFile)(
        process.execPath,
        [SANDBOX_BIN, "kube", "--kubeconfig-out", "/nonexistent/canarybot/kubeconfig", ...detach],
        { timeout: 60_000 },
      ).catch((error: unknown) => error as { code: number; stderr: string });
      expect(failed).toMatchObject({ code: 1 });
      expect((failed as { stderr: string }).stderr).toMatch(
        /^cannot write .*\/nonexistent\/canarybot\/kubeconfig.*\n$/,
      );
    }
  });

  it("--mesh runs the traffic simulator beside it, its metrics following the sandbox's VirtualService", async () => {
    dir = await mkdtemp(join(tmpdir(), "canarybot-sandbox-cli-"));
    const kubeconfigPath = join(dir, "kubeconfig");
    const sandbox = await startCanarybot(
      [
        "kube",
        "--port",
        "0",
        "--kubeconfig-out",
        kubeconfigPath,
        "--mesh",
        "--mesh-port",
        "0",
        "--rps",
        "100",
      ],
      /mesh sandbox: (http:\/\/127\.0\.0\.1:\d+)/,
      { bin: SANDBOX_BIN },
    );
    started.push(sandbox);
    const meshUrl = sandbox.match[1] ?? "";
    expect(sandbox.output()).toMatch(/kube sandbox listening on https:\/\/127\.0\.0\.1:\d+/);

    const series = (text: string, version: string): boolean =>
      text
        .split("\n")
        .some(
          (line) =>
            line.startsWith("istio_requests_total{") &&
            line.includes('destination_service_name="reviews"') &&
            line.includes(`destination_version="${version}"`),
        );
    const metrics = await waitFor(
      "reviews v1 requests in the mesh metrics",
      async () => {
        const text = await (await fetch(`${meshUrl}/metrics`)).text();
        return series(text, "v1") ? text : undefined;
      },
      60_000,
    );
    // bookinfo's reviews route sends everything to v1.
    expect(series(metrics, "v2")).toBe(false);
    expect(await sandbox.stop("SIGINT")).toBe(0);
  });
});
