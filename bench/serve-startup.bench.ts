// How long `canarybot serve` takes until Slack can reach it: `node bench/serve-startup.bench.ts [runs=10]`.
//
// Wall time from spawn to the log line that says the Slack app listens ("slack app ready", after auth.test against
// the Slack sandbox, the runtime on Redis and, for `serve`, the worker), for `canarybot serve` and `canarybot serve
// --no-worker`. Floor, same rounds: a bare Bolt App on an HTTPReceiver (same signing secret and path) that also
// calls auth.test, then listens; it is this file run with `--floor-child`. The three alternate run by run after
// two warm-up rounds; medians and the ratio to the floor's median. Each process is stopped with SIGTERM and awaited
// before the next starts. The floor child loads Bolt only: canarybot's modules are imported by the parent, on demand.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { App, HTTPReceiver } from "@slack/bolt";

const SIGNING_SECRET = "benchSigningSecret0123456789abcd";
const READY_TIMEOUT_MS = 60_000;

if (process.argv.includes("--floor-child")) {
  // The floor: what any Bolt app does before it can ack, with the token checked once as canarybot checks it.
  const receiver = new HTTPReceiver({
    signingSecret: SIGNING_SECRET,
    endpoints: process.env.BENCH_EVENTS_PATH ?? "",
    processBeforeResponse: false,
  });
  const app = new App({
    receiver,
    token: process.env.SLACK_BOT_TOKEN ?? "",
    tokenVerificationEnabled: false,
    clientOptions: { slackApiUrl: process.env.SLACK_API_URL ?? "" },
  });
  app.command("/canary", async ({ ack }) => ack());
  await app.client.auth.test();
  await app.start(0);
  console.error("slack app ready");
  process.on("SIGTERM", () => void app.stop().then(() => process.exit(0)));
} else {
  await main();
}

async function main(): Promise<void> {
  const [
    { EVENTS_PATH },
    { startSlackSandbox },
    { benchArgs, median, recordResults, runDescription, writeUnreachableKubeconfig },
  ] = await Promise.all([
    import("../src/slack/app.ts"),
    import("../sandbox/slack/web-api-sandbox.ts"),
    import("./results.ts"),
  ]);
  const runs = Number(benchArgs()[0] ?? 10);
  const BIN = resolve(import.meta.dirname, "../bin/canarybot.js");
  const slack = await startSlackSandbox({ botToken: "xoxb-bench-serve-startup" });
  const dir = mkdtempSync(join(tmpdir(), "canarybot-serve-startup-"));
  const kubeconfig = join(dir, "kubeconfig");
  // Serving Slack and an idle worker must not need the API server.
  writeUnreachableKubeconfig(kubeconfig);
  const env = {
    ...process.env,
    CANARYBOT_PREFIX: `bench-serve-startup-${process.pid}`,
    KUBECONFIG: kubeconfig,
    LOG_LEVEL: "info",
    PORT: "0",
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    BENCH_EVENTS_PATH: EVENTS_PATH,
  };
  const commands = [
    { name: "bare Bolt app (floor)", args: [import.meta.filename, "--floor-child"] },
    { name: "canarybot serve", args: [BIN, "serve"] },
    { name: "canarybot serve --no-worker", args: [BIN, "serve", "--no-worker"] },
  ];
  const times = commands.map(() => [] as number[]);
  try {
    for (let run = -2; run < runs; run += 1) {
      for (const [i, command] of commands.entries()) {
        const elapsed = await untilReady(command.name, command.args, env);
        if (run >= 0) times[i]?.push(elapsed);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await slack.close();
  }

  const floor = median(times[0] ?? []);
  const rows = commands.map((command, i) => {
    const own = times[i] ?? [];
    const m = median(own);
    return `| \`${command.name}\` | ${m.toFixed(0)} ms | ${Math.min(...own).toFixed(0)} ms | ${Math.max(...own).toFixed(0)} ms | ${(m / floor).toFixed(2)}× |`;
  });
  const serveRatio = median(times[1] ?? []) / floor;
  await recordResults("serve-startup", [
    runDescription(`node bench/serve-startup.bench.ts ${runs}`, `${runs} runs each`),
    "",
    "| process | median until listening | min | max | ratio to the bare Bolt app |",
    "|---|---|---|---|---|",
    ...rows,
    "",
    `Target \`serve\` listening ≤ 1.5× a bare Bolt app: **${serveRatio <= 1.5 ? "met" : "not met"}** (${serveRatio.toFixed(2)}×).`,
  ]);
}

/** Spawn, time until the "slack app ready" log line, then stop it and wait for it to exit. */
async function untilReady(
  name: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", resolveExit));
  try {
    return await new Promise<number>((resolveReady, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name}: not listening after ${READY_TIMEOUT_MS} ms:\n${output}`)),
        READY_TIMEOUT_MS,
      );
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
        if (output.includes("slack app ready")) {
          clearTimeout(timer);
          resolveReady(performance.now() - started);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited ${code} before listening:\n${output}`));
      });
    });
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}
