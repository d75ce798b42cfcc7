import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { waitFor } from "./engine.ts";

const BIN = resolve(import.meta.dirname, "../../bin/canarybot.js");

export type ServeProcess = {
  child: ChildProcess;
  /** The HTTP port of `/slack/events`. */
  port: number;
  /** What it logged (JSON lines on stderr). */
  log(): string;
  exited: Promise<void>;
};

/**
 * `canarybot serve` as a child process (HTTP mode on a free port, the tick worker in it) with `env`; resolves once
 * the Slack app is ready. The caller kills what is left in `children` after the test.
 */
export async function spawnServe(
  env: Record<string, string>,
  children: ChildProcess[],
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, "serve"], {
    // Readiness is read off the log, so it logs at info whatever the test runs at.
    env: { ...env, PORT: "0", LOG_LEVEL: "info" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const port = await waitFor(
    "canarybot serve to be ready",
    () => {
      if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}:\n${log}`);
      const ready = /"port":(\d+),"path":"\/slack\/events".*"msg":"slack app ready"/.exec(log);
      return ready ? Number(ready[1]) : undefined;
    },
    30_000,
  );
  return { child, port, log: () => log, exited };
}

/** A `canarybot` command run as a child process with `env`, as a person types it. */
export async function runBin(
  env: Record<string, string>,
  children: ChildProcess[],
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((done) => child.once("exit", (exitCode) => done(exitCode)));
  return { code, stdout, stderr };
}
