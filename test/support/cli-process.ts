import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";

const BIN = resolve(import.meta.dirname, "../../bin/canarybot.js");

export type ProcessResult = {
  /** Exit code, or null when the process had to be killed (it hung). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
};

/**
 * Run the real `bin/canarybot.js` in a child process with exactly `env` (nothing inherited, so no KUBECONFIG or
 * REDIS_URL of the machine leaks in), killing it after `killAfterMs`: a command that hangs comes back with code null.
 */
export function runCanarybot(
  args: string[],
  env: Record<string, string>,
  options: { killAfterMs?: number; nodeArgs?: string[]; bin?: string } = {},
): Promise<ProcessResult> {
  const started = Date.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.bin ?? BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs ?? 20_000);
  return new Promise((done, fail) => {
    child.once("error", fail);
    child.once("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** A kubeconfig that loads but names an API server nobody listens on. */
export const UNREACHABLE_KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: c, context: { cluster: c, user: u } }]
current-context: c
`;

/** A port on which nothing listens. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const { port } = server.address() as { port: number };
  await new Promise((closed) => server.close(closed));
  return port;
}
