// `npm run demo`: the channel page over the sandboxes, until Ctrl-C. Exit 1 for a bad argument, 2 when something
// outside (Redis, a busy port) is missing, always with one line saying what to do.
import { DemoSetupError } from "./demo-redis.ts";
import { startDemo } from "./start-demo.ts";
import type { Demo } from "./start-demo.ts";

const DEFAULT_PORT = 3000;

function portFrom(args: readonly string[], env: Readonly<Record<string, string | undefined>>): number {
  const index = args.indexOf("--port");
  const raw = index >= 0 ? args[index + 1] : env.DEMO_PORT;
  if (raw === undefined) return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write(`demo: --port ${raw} is not a port number (0-65535)\n`);
    process.exit(1);
  }
  return port;
}

function reason(error: unknown, port: number): string {
  const code = (error as { code?: string }).code;
  if (code === "EADDRINUSE") return `port ${port} is in use: npm run demo -- --port ${port + 1}`;
  if (error instanceof DemoSetupError) return error.message;
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

const port = portFrom(process.argv.slice(2), process.env);
const print = (line: string) => process.stdout.write(`${line}\n`);
let demo: Demo | undefined;
let stopping = false;
const stop = (): void => {
  if (stopping) {
    // A second Ctrl-C: stop waiting, but still leave no child process behind.
    for (const pid of demo?.childPids() ?? []) process.kill(pid, "SIGKILL");
    process.exit(130);
  }
  stopping = true;
  print("stopping…");
  // Still starting: the start finishes, then closes (below), so nothing it spawned is left behind.
  if (demo !== undefined) void demo.close().then(() => process.exit(0));
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

try {
  demo = await startDemo({ port, env: process.env, print });
} catch (error) {
  process.stderr.write(`demo: ${reason(error, port)}\n`);
  process.exit(2);
}
if (stopping) {
  await demo.close();
  process.exit(0);
} else {
  print(`watch the VirtualService from another terminal:\n  ${demo.kubectlWatch}`);
  print(`\nopen ${demo.url}   (Ctrl-C stops everything)`);
}
