import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { delimiter, join } from "node:path";

/** A port nobody listens on now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The first executable called `name` on PATH, or undefined. */
export function findOnPath(
  name: string,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A child process the demo (or a test) owns: its recent output for error messages, and a stop that waits. */
export type OwnedProcess = {
  readonly child: ChildProcess;
  output(): string;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
};

export function spawnOwned(binary: string, args: readonly string[]): OwnedProcess {
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-4_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  // A missing binary is reported through the readiness wait (hasExited), not as an unhandled error.
  child.on("error", (error) => keep(Buffer.from(String(error))));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    output: () => log,
    hasExited,
    async stop(graceMs = 5_000) {
      if (child.pid === undefined || hasExited()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `ready` until it answers true; fails early when the process exits, or after `timeoutMs`. */
export async function waitUntilReady(
  what: string,
  owned: OwnedProcess,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (owned.hasExited()) {
      throw new Error(
        `${what} exited (${owned.child.exitCode ?? owned.child.signalCode}) before it was ready:\n${owned.output()}`,
      );
    }
    if (await ready().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} was not ready within ${timeoutMs} ms:\n${owned.output()}`);
}
