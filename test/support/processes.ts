import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";

export const BIN = resolve(import.meta.dirname, "../../bin/canarybot.js");
/** The sandboxes' own command line (the annex's bin). */
export const SANDBOX_BIN = resolve(import.meta.dirname, "../../sandbox/bin/canarybot-sandbox.js");

/** A process a test started, its output kept as it arrives. */
export type StartedProcess = {
  child: ChildProcess;
  /** stdout and stderr as they arrived, interleaved. */
  output(): string;
  /** Sends the signal and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
};

/**
 * `node bin/canarybot.js <args>` (or `options.bin`), resolving once its output matches `ready` (the first match), or failing with
 * the output when it exits first or `timeoutMs` passes: a readiness wait, generous for a loaded machine.
 */
export async function startCanarybot(
  args: readonly string[],
  ready: RegExp,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; bin?: string } = {},
): Promise<StartedProcess & { match: RegExpExecArray }> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const child = spawn(process.execPath, [options.bin ?? BIN, ...args], {
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const match = await new Promise<RegExpExecArray>((resolveMatch, fail) => {
    const timer = setTimeout(() => {
      fail(new Error(`canarybot ${args.join(" ")}: no ${String(ready)} within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const found = ready.exec(output);
      if (found) {
        clearTimeout(timer);
        resolveMatch(found);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`canarybot ${args.join(" ")} exited with ${String(code)}:\n${output}`));
    });
  });
  return {
    child,
    match,
    output: () => output,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
