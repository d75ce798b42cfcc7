import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PROMETHEUS_BIN } from "../../support/prometheus.ts";
import { connectRedis } from "../../support/redis.ts";

const MAIN = resolve(import.meta.dirname, "../../../sandbox/bin/demo.js");

/** The processes whose parent is `pid` (what the demo spawned: Prometheus, perhaps redis-server). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
      .split("\n")
      .map((line) => Number(line.trim()))
      .filter((child) => child > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("npm run demo", () => {
  const started: ChildProcess[] = [];
  afterEach(() => {
    // A failed test must not leave the demo (or what it spawned) running.
    for (const child of started.splice(0)) {
      if (child.pid !== undefined) for (const pid of childrenOf(child.pid)) process.kill(pid, "SIGKILL");
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  /** Starts `npm run demo`'s entry point on a free port; resolves with its URL and what it printed. */
  const startDemoProcess = async (env: NodeJS.ProcessEnv) => {
    const demo = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", MAIN, "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LOG_LEVEL: "error", ...env },
    });
    started.push(demo);
    let output = "";
    demo.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const url = await new Promise<string>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`no URL within 30 s:\n${output}`)), 30_000);
      demo.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const found = /open (http:\/\/localhost:\d+)/.exec(output)?.[1];
        if (found !== undefined) {
          clearTimeout(timer);
          ready(found.replace("localhost", "127.0.0.1"));
        }
      });
      demo.once("exit", (code) => fail(new Error(`the demo exited (${code}):\n${output}`)));
    });
    const stop = async (): Promise<number | null> => {
      const exited = new Promise<number | null>((done) => demo.once("exit", (code) => done(code)));
      demo.kill("SIGINT");
      return exited;
    };
    return { demo, url, output, stop };
  };

  it("prints the page's URL within 10 s, serves it, and on Ctrl-C stops everything it started and deletes its keys", async () => {
    const redis = await connectRedis();
    const began = Date.now();
    const { demo, url, output, stop } = await startDemoProcess({ PROMETHEUS_BIN });
    const startupMs = Date.now() - began;
    const prefix = /keys under (\S+:)/.exec(output)?.[1] ?? "";
    expect(prefix).toMatch(/^canarybot-demo-[0-9a-f]+:$/);
    expect(output).toMatch(/kubectl --kubeconfig \S+ get virtualservice reviews -w/);
    expect(output).toMatch(/prometheus http:\/\/127\.0\.0\.1:\d+/);

    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("deploys");
    const spawned = childrenOf(demo.pid!);
    expect(spawned.length).toBeGreaterThanOrEqual(1); // Prometheus at least
    expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThan(0); // the worker's queue

    expect(await stop()).toBe(0);
    expect(spawned.filter(isRunning)).toEqual([]);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
    redis.disconnect();
    expect(startupMs).toBeLessThan(10_000);
  }, 60_000);

  it("runs without Prometheus, saying on the page that analysis is off", async () => {
    const { output, url, stop } = await startDemoProcess({ PROMETHEUS_BIN: "" });
    expect(output).toContain("prometheus: none (not on PATH); analysis is off");
    const state = (await (await fetch(`${url}/api/state`)).json()) as {
      analysis: { on: boolean; note: string };
    };
    expect(state.analysis).toEqual({ on: false, note: expect.stringMatching(/analysis is off/) as unknown });
    expect(await stop()).toBe(0);
  }, 60_000);

  it("says in one line what to do about a busy port (exit 2) or a bad one (exit 1)", async () => {
    const busy = createServer();
    await new Promise<void>((listening) => busy.listen(0, "127.0.0.1", listening));
    const port = (busy.address() as AddressInfo).port;
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((done) => {
        const demo = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", MAIN, ...args], {
          stdio: ["ignore", "ignore", "pipe"],
          env: { ...process.env, PROMETHEUS_BIN: "", LOG_LEVEL: "error" },
        });
        started.push(demo);
        let stderr = "";
        demo.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        demo.once("exit", (code) => done({ code, stderr }));
      });
    try {
      expect(await run(["--port", String(port)])).toEqual({
        code: 2,
        stderr: `demo: port ${port} is in use: npm run demo -- --port ${port + 1}\n`,
      });
      expect(await run(["--port", "http"])).toEqual({
        code: 1,
        stderr: "demo: --port http is not a port number (0-65535)\n",
      });
    } finally {
      busy.close();
    }
  }, 60_000);
});
