import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNREACHABLE_KUBECONFIG, closedPort, runCanarybot } from "../support/cli-process.ts";
import { waitFor } from "../support/engine.ts";

/**
 * Issue 8 item 4: a Redis that accepts connections but never answers (here a test-owned `redis-server`, stopped
 * with SIGSTOP) fails every command within 10 s with one line, instead of hanging it until someone kills it.
 */
describe("with a frozen Redis", () => {
  let server: ChildProcess;
  let home: string;
  let url: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    const port = await closedPort();
    url = `redis://127.0.0.1:${port}`;
    home = await mkdtemp(join(tmpdir(), "canarybot-frozen-"));
    server = spawn(
      "redis-server",
      ["--port", String(port), "--save", "", "--appendonly", "no", "--dir", home],
      {
        stdio: "ignore",
      },
    );
    server.once("error", (error) => {
      throw new Error(`cannot run redis-server (${error.message}): apt-get install -y redis-server`);
    });
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on("error", () => undefined);
    await waitFor("the test's redis-server to answer", async () => {
      try {
        if (probe.status !== "ready") await probe.connect();
        return (await probe.ping()) === "PONG" ? true : undefined;
      } catch {
        return undefined;
      }
    });
    probe.disconnect();
    const kubeconfig = join(home, "kubeconfig");
    await writeFile(kubeconfig, UNREACHABLE_KUBECONFIG);
    env = { HOME: home, REDIS_URL: url, KUBECONFIG: kubeconfig };
    server.kill("SIGSTOP");
  }, 30_000);
  afterAll(async () => {
    server?.kill("SIGCONT");
    server?.kill("SIGKILL");
    await rm(home, { recursive: true, force: true });
  });

  it.each([
    [["status"]],
    [["history", "reviews-1"]],
    [["rollback", "reviews-1"]],
    [["start", "reviews", "--canary", "v2", "--stable", "v1"]],
  ])("%j exits 2 within 10 s with one line", async (args) => {
    const result = await runCanarybot(args, env);
    expect(result.stderr).toBe(`Redis at ${url} unreachable: no answer within 3 s\n`);
    expect(result.code).toBe(2);
    expect(result.ms).toBeLessThan(10_000);
  });
});
