import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../support/engine.ts";

const BIN = resolve(import.meta.dirname, "../../bin/canarybot.js");

describe("canarybot sandbox kube", () => {
  let dir = "";
  const children: ChildProcess[] = [];
  afterEach(async () => {
    // A failed test must not leave its sandbox running.
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("serves bookinfo on a free port, writes a kubeconfig the real client uses, and stops on SIGINT", async () => {
    dir = await mkdtemp(join(tmpdir(), "canarybot-sandbox-cli-"));
    const kubeconfigPath = join(dir, "kubeconfig");
    const child = spawn(
      process.execPath,
      [BIN, "sandbox", "kube", "--port", "0", "--kubeconfig-out", kubeconfigPath],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    children.push(child);
    let output = "";
    const url = await new Promise<string>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`no URL printed within 15 s:\n${output}`)), 15_000);
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const found = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
        if (found && output.includes(kubeconfigPath)) {
          clearTimeout(timer);
          ready(found);
        }
      });
      child.once("exit", (code) => fail(new Error(`exited with ${String(code)}:\n${output}`)));
    });

    expect((await stat(kubeconfigPath)).mode & 0o077).toBe(0);
    const config = new KubeConfig();
    config.loadFromString(await readFile(kubeconfigPath, "utf8"));
    expect(config.getCurrentCluster()?.server).toBe(url);
    const api = config.makeApiClient(CustomObjectsApi);
    const reviews = (await api.getNamespacedCustomObject({
      group: "networking.istio.io",
      version: "v1",
      namespace: "default",
      plural: "virtualservices",
      name: "reviews",
    })) as { spec: { http: { route: { destination: { subset: string } }[] }[] } };
    expect(reviews.spec.http[0]?.route[0]?.destination.subset).toBe("v1");

    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  });

  it("--mesh runs the traffic simulator beside it, its metrics following the sandbox's VirtualService", async () => {
    dir = await mkdtemp(join(tmpdir(), "canarybot-sandbox-cli-"));
    const kubeconfigPath = join(dir, "kubeconfig");
    const child = spawn(
      process.execPath,
      [
        BIN,
        "sandbox",
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
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(child);
    let output = "";
    const meshUrl = await new Promise<string>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`no mesh URL printed within 15 s:\n${output}`)), 15_000);
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const found = /mesh sandbox: (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
        if (found) {
          clearTimeout(timer);
          ready(found);
        }
      });
      child.once("exit", (code) => fail(new Error(`exited with ${String(code)}:\n${output}`)));
    });
    expect(output).toMatch(/kube sandbox listening on https:\/\/127\.0\.0\.1:\d+/);

    const series = (text: string, version: string): boolean =>
      text
        .split("\n")
        .some(
          (line) =>
            line.startsWith("istio_requests_total{") &&
            line.includes('destination_service_name="reviews"') &&
            line.includes(`destination_version="${version}"`),
        );
    const metrics = await waitFor("reviews v1 requests in the mesh metrics", async () => {
      const text = await (await fetch(`${meshUrl}/metrics`)).text();
      return series(text, "v1") ? text : undefined;
    });
    // bookinfo's reviews route sends everything to v1.
    expect(series(metrics, "v2")).toBe(false);

    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  });
});
