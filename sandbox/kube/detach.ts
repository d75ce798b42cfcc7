import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { errorText, SandboxError } from "../errors.ts";

const BIN = fileURLToPath(new URL("../bin/canarybot-sandbox.js", import.meta.url));
// Set on the child only: it tells the parent over IPC when its kubeconfig is on disk.
const DETACHED = "CANARYBOT_SANDBOX_DETACHED";
const READY = "kubeconfig-written";

/**
 * `canarybot-sandbox kube --detach`: the same command in a background process, returning to the shell only once that
 * process has written its kubeconfig, so the next line of a script can use it. Its output goes to a log file
 * beside the kubeconfig; it stops on SIGINT/SIGTERM like the foreground command.
 */
export async function runDetached(
  args: readonly string[],
  kubeconfigOut: string,
  print: (text: string) => void,
): Promise<number> {
  const logPath = `${kubeconfigOut}.log`;
  const log = openLog(logPath);
  const child = spawn(process.execPath, [BIN, ...args.filter((arg) => arg !== "--detach")], {
    stdio: ["ignore", log, log, "ipc"],
    env: { ...process.env, [DETACHED]: "1" },
  });
  closeSync(log);
  const outcome = await new Promise<"ready" | number>((settle) => {
    child.once("message", (message) => settle(message === READY ? "ready" : -1));
    child.once("exit", (code) => settle(code ?? 2));
    child.once("error", () => settle(2));
  });
  const output = readFileSync(logPath, "utf8");
  if (outcome !== "ready") {
    print(output);
    return outcome === 0 ? 2 : outcome;
  }
  child.disconnect();
  child.unref();
  print(
    `${output}sandbox running in the background as pid ${child.pid}, its output in ${logPath}; stop it with: kill ${child.pid}\n`,
  );
  return 0;
}

function openLog(path: string): number {
  try {
    return openSync(path, "w");
  } catch (error) {
    const reason = errorText(error);
    throw new SandboxError(`cannot write the sandbox's log beside --kubeconfig-out: ${reason}`);
  }
}

/** In a process `runDetached` started: tell it the kubeconfig is written, then stop talking to it. */
export function reportReadyToParent(): void {
  if (process.env[DETACHED] !== "1" || process.send === undefined) return;
  process.send(READY, () => process.disconnect?.());
}
