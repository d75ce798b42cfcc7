import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";

export const BIN = resolve(import.meta.dirname, "../../bin/canarybot.js");
/** The sandboxes' own command line (the annex's bin). */
export const SANDBOX_BIN = resolve(import.meta.dirname, "../../sandbox/bin/canarybot-sandbox.js");

/** A process a test started, its output kept as it arrives. */
export type StartedProcess = {
  child: ChildProcess;
  /** The first match of `ready` (a string's match is the string itself). */
  match: RegExpExecArray;
  /** stdout and stderr as they arrived, interleaved. */
  output(): string;
  /** Sends the signal (unless it has exited) and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** The exit code, and how long after the first `stop` it came (ms). */
  exited: Promise<{ code: number | null; afterMs: number }>;
};

/**
 * `node bin/canarybot.js <args>` (or `options.bin`), resolving once its output matches `ready` (a pattern, or text
 * it contains), or failing with the output when it exits first or `timeoutMs` passes: a readiness wait, generous
 * for a loaded machine.
 */
export async function startCanarybot(
  args: readonly string[],
  ready: RegExp | string,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; bin?: string } = {},
): Promise<StartedProcess> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const pattern =
    typeof ready === "string" ? new RegExp(ready.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&")) : ready;
  const child = spawn(process.execPath, [options.bin ?? BIN, ...args], {
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let stoppedAt: number | undefined;
  const exited = new Promise<{ code: number | null; afterMs: number }>((done) =>
    child.once("exit", (code) => done({ code, afterMs: Date.now() - (stoppedAt ?? Date.now()) })),
  );
  const onData = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const match = await new Promise<RegExpExecArray>((resolveMatch, fail) => {
    const timer = setTimeout(() => {
      fail(new Error(`canarybot ${args.join(" ")}: no ${String(ready)} within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const check = (): void => {
      const found = pattern.exec(output);
      if (!found) return;
      clearTimeout(timer);
      child.stdout.off("data", check);
      child.stderr.off("data", check);
      resolveMatch(found);
    };
    child.stdout.on("data", check);
    child.stderr.on("data", check);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      fail(new Error(`canarybot ${args.join(" ")} exited with ${String(code)}:\n${output}`));
    });
  });
  return {
    child,
    match,
    output: () => output,
    exited,
    stop: async (signal = "SIGTERM") => {
      stoppedAt ??= Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return (await exited).code;
    },
  };
}

/** The port the health server said it listens on. */
export function healthPort(output: string): number {
  const line = output.split("\n").find((text) => text.includes("health server listening"));
  const port = line ? (JSON.parse(line) as { port?: number }).port : undefined;
  if (port === undefined) throw new Error(`no "health server listening" line in:\n${output}`);
  return port;
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", () => listening()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((closed) => server.close(() => closed()));
  return port;
}
