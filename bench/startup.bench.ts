// Start-up cost of the command line: `node bench/startup.bench.ts [runs=15] [other bin/canarybot.js…]`.
//
// Wall time from spawn to exit of `canarybot --help`, `canarybot status` and `canarybot list --json` (both read
// Redis only: an empty prefix of the bench's own, a kubeconfig that names an unreachable server), against the floor
// of `node -e 0` in the same run. The commands alternate run by run, so load changes hit all of them alike; the
// table gives medians and the ratio to the floor's median. Other checkouts' `bin/canarybot.js` given as arguments are
// measured in the same rounds (a before/after comparison on one loaded machine). `hyperfine`, when installed:
// `hyperfine -N -w 3 'node -e 0' './bin/canarybot.js --help'`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import {
  benchArgs,
  median,
  recordResults,
  runDescription,
  verdict,
  writeUnreachableKubeconfig,
} from "./results.ts";

const [runsArg, ...others] = benchArgs();
const runs = Number(runsArg ?? 15);
const BIN = resolve(import.meta.dirname, "../bin/canarybot.js");
const dir = mkdtempSync(join(tmpdir(), "canarybot-startup-"));
const kubeconfig = join(dir, "kubeconfig");
// A loadable kubeconfig pointing nowhere: commands that need no Kubernetes must not care.
writeUnreachableKubeconfig(kubeconfig);
const env = {
  ...process.env,
  CANARYBOT_PREFIX: `bench-startup-${process.pid}`,
  KUBECONFIG: kubeconfig,
  LOG_LEVEL: "silent",
};

const bins = [BIN, ...others.map((path) => resolve(path))];
const label = (bin: string): string => (bin === BIN ? "canarybot" : `${bin}:`);
const commands: { name: string; args: string[] }[] = [
  { name: "node -e 0 (floor)", args: ["-e", "0"] },
  ...bins.flatMap((bin) => [
    { name: `${label(bin)} --help`, args: [bin, "--help"] },
    { name: `${label(bin)} status`, args: [bin, "status"] },
    { name: `${label(bin)} list --json`, args: [bin, "list", "--json"] },
  ]),
];

const times = commands.map(() => [] as number[]);
try {
  for (let run = -2; run < runs; run += 1) {
    commands.forEach((command, i) => {
      const started = performance.now();
      const result = spawnSync(process.execPath, command.args, { env, encoding: "utf8" });
      const elapsed = performance.now() - started;
      if (result.status !== 0) {
        throw new Error(`${command.name} exited ${result.status}: ${result.stderr}${result.stdout}`);
      }
      if (run >= 0) times[i]?.push(elapsed); // the first two rounds warm the disk cache
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const floor = median(times[0] ?? []);
const ratio = (name: string): number =>
  median(times[commands.findIndex((c) => c.name === name)] ?? []) / floor;
const help = ratio("canarybot --help");
const status = ratio("canarybot status");
await recordResults("startup", [
  runDescription(`node bench/startup.bench.ts ${runs}`, `${runs} runs each, compile cache on`),
  "",
  "| command | median | min | max | ratio to `node -e 0` |",
  "|---|---|---|---|---|",
  ...commands.map((command, i) => {
    const own = times[i] ?? [];
    const m = median(own);
    return `| \`${command.name}\` | ${m.toFixed(0)} ms | ${Math.min(...own).toFixed(0)} ms | ${Math.max(...own).toFixed(0)} ms | ${(m / floor).toFixed(1)}× |`;
  }),
  "",
  `Targets: \`--help\` ≤ 3× ${verdict(help <= 3)} (${help.toFixed(1)}×); \`status\` ≤ 5× ${verdict(status <= 5)} (${status.toFixed(1)}×).`,
]);
