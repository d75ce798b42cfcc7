// The judge: false rollbacks of healthy canaries, and how long a failing canary keeps its traffic.
//   node bench/judge.bench.ts [--canaries 50] [--failing 10] [--floor 5] [--rps 20] [--interval 60] [--scrape 1]
//                             [--judge statistical|threshold] [--no-write]
//
// One run, everything real but Kubernetes: the Kubernetes sandbox, one mesh sandbox simulating every service (its
// traffic follows each live VirtualService), a real Prometheus scraping it, Redis, and canarybot's tick worker in
// this process judging through PrometheusMetricsProvider with the default thresholds. All rollouts run at once,
// one service (and VirtualService) each, every service at `--rps`:
// - healthy: `--canaries` per weight (1%, 5%, 20%), plan [w, 100], canary and stable alike (the mesh default,
//   no errors, 20 ms median, 80 ms p99). Any rollback is a false one.
// - failing: `--failing` per error rate (2%, 5%, 50%), plan [20, 100], the canary failing that share of its
//   requests from the start: injection is the route confirmed at 20% (the start's route write), the figure is
//   injection → the route back on stable, against the target interval × failure limit + 2 scrapes. A promotion is a miss.
// - floor: `--floor` rollouts at 20% rolled back by a person right after their start: route write → restored,
//   the restore path alone, in the same run and under the same load.
// Ends when every rollout is promoted, paused or rolled back (at most 6 intervals after the last start). Writes
// its table between the judge-bench markers of docs/benchmarks.md unless --no-write.
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { DEFAULT_ANALYSIS_POLICY } from "../src/metrics/analysis.ts";
import type { AnalysisPolicy, Plan, Rollout, Target } from "../src/rollout/types.ts";
import { startMeshSandbox } from "../sandbox/mesh/mesh-sandbox.ts";
import { engineHarness } from "../test/support/engine.ts";
import { meshService } from "../test/support/mesh-services.ts";
import { startPrometheus, waitForIstioRates } from "../test/support/prometheus.ts";
import { routeWeights } from "../test/support/route-weights.ts";
import { percentile, recordResults, runDescription } from "./results.ts";

const HEALTHY_WEIGHTS = [1, 5, 20];
const ERROR_RATES = [0.02, 0.05, 0.5];
const FAILING_WEIGHT = 20;
const START_CONCURRENCY = 4;
const POLL_MS = 100;

const { values: args } = parseArgs({
  options: {
    canaries: { type: "string", default: "50" },
    failing: { type: "string", default: "10" },
    floor: { type: "string", default: "5" },
    rps: { type: "string", default: "20" },
    interval: { type: "string", default: "60" },
    scrape: { type: "string", default: "1" },
    judge: { type: "string" },
    "no-write": { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
});
const canaries = Number(args.canaries);
const failingPerRate = Number(args.failing);
const floorCount = Number(args.floor);
const rps = Number(args.rps);
const intervalS = Number(args.interval);
const scrapeS = Number(args.scrape);

type Group = "healthy" | "failing" | "floor";
type Run = {
  service: string;
  group: Group;
  /** Canary weight (healthy), or error rate (failing). */
  level: number;
  id?: string;
  /** When the start began: the canary gets traffic from its first route write, inside the start. */
  injectedAt?: number;
  restoredAt?: number;
  final?: Rollout;
};

const pad = (n: number): string => String(n).padStart(3, "0");
const runs: Run[] = [
  ...HEALTHY_WEIGHTS.flatMap((w) =>
    Array.from({ length: canaries }, (_, i): Run => ({
      service: `ok${w}-${pad(i)}`,
      group: "healthy",
      level: w,
    })),
  ),
  ...ERROR_RATES.flatMap((rate) =>
    Array.from({ length: failingPerRate }, (_, i): Run => ({
      service: `err${rate * 100}-${pad(i)}`,
      group: "failing",
      level: rate,
    })),
  ),
  ...Array.from({ length: floorCount }, (_, i): Run => ({
    service: `floor-${pad(i)}`,
    group: "floor",
    level: 20,
  })),
];
// Interleaved, so that every group's ticks spread over the same seconds.
const startOrder = [...runs].sort((a, b) =>
  (a.service.split("-")[1] ?? "").localeCompare(b.service.split("-")[1] ?? ""),
);

const policy: AnalysisPolicy = {
  ...DEFAULT_ANALYSIS_POLICY,
  ...(args.judge === undefined ? {} : ({ judge: args.judge } as Partial<AnalysisPolicy>)),
};
const planFor = (weight: number): Plan => ({
  steps: [weight, 100],
  intervalMs: intervalS * 1000,
  approvalGates: [],
  twoPersonRule: false,
  analysis: policy,
});

const TERMINAL = new Set(["promoted", "rolled-back", "failed", "paused"]);

const seconds = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "—");

async function main(): Promise<void> {
  const began = Date.now();
  const h = await engineHarness("bench-judge", { objects: runs.flatMap((run) => meshService(run.service)) });
  const closers: (() => Promise<void>)[] = [() => h.cleanup()];
  try {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(h.kube.kubeconfig);
    const mesh = await startMeshSandbox({
      kubeConfig,
      namespace: "default",
      services: runs.map((run) => run.service),
      rps,
      pollMs: 250,
      subsets: Object.fromEntries(
        runs
          .filter((run) => run.group === "failing")
          .map((run) => [`${run.service}/v2`, { errorRate: run.level }]),
      ),
    });
    closers.unshift(() => mesh.close());
    const prometheus = await startPrometheus({
      targets: [new URL(mesh.metricsUrl).host],
      scrapeIntervalSeconds: scrapeS,
    });
    closers.unshift(() => prometheus.stop());
    await waitForIstioRates(prometheus, 60_000);
    h.env.PROMETHEUS_URL = prometheus.url;
    h.env.PROMETHEUS_SCRAPE_INTERVAL_SECONDS = String(scrapeS);
    await h.worker();
    const runtime = h.runtime();

    const target = (service: string): Target => ({
      namespace: "default",
      service,
      virtualService: service,
      host: service,
      stableSubset: "v1",
      canarySubset: "v2",
    });
    const queue = [...startOrder];
    const starter = async (): Promise<void> => {
      for (let run = queue.shift(); run !== undefined; run = queue.shift()) {
        run.injectedAt = Date.now();
        const weight = run.group === "failing" ? FAILING_WEIGHT : run.level;
        const started = await runtime.service.start({
          target: target(run.service),
          plan: planFor(weight),
          by: "cli:bench",
        });
        run.id = started.id;
        // Injection: the route confirmed at the canary weight, from when the canary takes (failing) traffic.
        run.injectedAt = started.routeSince ?? run.injectedAt;
        if (run.group === "floor") {
          // The floor: a person's rollback of a canary whose route was just written.
          run.injectedAt = Date.now();
          await runtime.service.act(started.id, {
            type: "rollback",
            by: "cli:bench",
            reason: "judge bench floor",
          });
          while (
            routeWeights(h.kube.get("VirtualService", "default", run.service), "v1", "v2") !== "v1=100"
          ) {
            await sleep(5);
          }
          run.restoredAt = Date.now();
        }
      }
    };
    await Promise.all(Array.from({ length: START_CONCURRENCY }, starter));
    const lastStart = Date.now();
    console.error(`started ${runs.length} rollouts in ${seconds(lastStart - began)} (setup included)`);

    const deadline = lastStart + 6 * intervalS * 1000;
    for (;;) {
      const now = Date.now();
      for (const run of runs) {
        if (run.restoredAt === undefined && run.group !== "healthy") {
          const weights = routeWeights(h.kube.get("VirtualService", "default", run.service), "v1", "v2");
          if (weights === "v1=100") run.restoredAt = now;
        }
      }
      const states = await Promise.all(
        runs.map((run) => (run.id ? runtime.store.get(run.id) : Promise.resolve(undefined))),
      );
      states.forEach((state, i) => {
        const run = runs[i];
        if (run && state && TERMINAL.has(state.phase)) run.final = state;
      });
      if (
        runs.every(
          (run) =>
            run.final !== undefined &&
            (run.group === "healthy" || run.restoredAt !== undefined || run.final.phase === "promoted"),
        )
      )
        break;
      if (now > deadline) break;
      await sleep(POLL_MS);
    }

    const audits = await Promise.all(
      runs.map((run) => (run.id ? runtime.store.audit(run.id) : Promise.resolve([]))),
    );
    if (args.verbose) {
      runs.forEach((run, i) => {
        const at0 = run.injectedAt ?? 0;
        const trail = (audits[i] ?? []).map(
          (e) => `+${((e.at - at0) / 1000).toFixed(1)}s ${e.action} ${e.detail ?? ""}`,
        );
        console.error(`${run.service} ${run.final?.phase ?? "live"}\n  ${trail.join("\n  ")}`);
      });
    }
    const report = render(
      runs,
      audits.map((entries) => entries.map((e) => e.action)),
      Date.now() - began,
    );
    await recordResults("judge-bench", report);
  } finally {
    for (const close of closers) await close().catch((error: unknown) => console.error(error));
  }
}

function render(all: Run[], actions: string[][], elapsedMs: number): string[] {
  const withActions = all.map((run, i) => ({ run, actions: actions[i] ?? [] }));
  const count = (list: string[], action: string): number => list.filter((a) => a === action).length;
  const phase = (run: Run): string => run.final?.phase ?? "still live";
  const lines: string[] = [];
  const interval = intervalS * 1000;
  const limit = policy.failureLimit;
  const target = interval * limit + 2 * scrapeS * 1000;
  const floor = withActions.filter(({ run }) => run.group === "floor");
  const floorTimes = floor.flatMap(({ run }) =>
    run.restoredAt !== undefined && run.injectedAt !== undefined ? [run.restoredAt - run.injectedAt] : [],
  );
  const floorP50 = percentile(floorTimes, 0.5);

  lines.push(
    runDescription(
      `node bench/judge.bench.ts --canaries ${canaries} --failing ${failingPerRate} --rps ${rps} ` +
        `--interval ${intervalS} --scrape ${scrapeS}${args.judge ? ` --judge ${args.judge}` : ""}`,
      `judge ${policy.judge ?? "threshold (no statistical judge in this version)"}, failure limit ${limit}, ` +
        `${runs.length} rollouts at once in ${seconds(elapsedMs)}`,
    ),
    "",
    "Healthy canaries (plan `[w, 100]`; a false rollback is any rollback):",
    "",
    "| canary weight | canaries | canary requests per window (median) | judged ticks | failed ticks | inconclusive ticks | promoted | paused | **false rollbacks** |",
    "|---|---|---|---|---|---|---|---|---|",
  );
  for (const weight of HEALTHY_WEIGHTS) {
    const group = withActions.filter(({ run }) => run.group === "healthy" && run.level === weight);
    const requests = group.flatMap(({ run }) =>
      (run.final?.snapshots ?? []).map((s) => s.canary.requests ?? 0),
    );
    const acts = group.flatMap(({ actions: a }) => a);
    const failed = count(acts, "hold") + count(acts, "rollback");
    const inconclusive = count(acts, "inconclusive") + count(acts, "pause");
    const passed = count(acts, "step") - group.length; // the first step is the start's
    lines.push(
      `| ${weight}% | ${group.length} | ${requests.length ? percentile(requests, 0.5) : "—"} | ${failed + inconclusive + passed} | ${failed} | ${inconclusive} | ` +
        `${group.filter(({ run }) => phase(run) === "promoted").length} | ${group.filter(({ run }) => phase(run) === "paused").length} | ` +
        `**${group.filter(({ run }) => phase(run) === "rolled-back").length}** |`,
    );
  }
  const falseReasons = withActions
    .filter(({ run }) => run.group === "healthy" && phase(run) === "rolled-back")
    .map(({ run }) => `${run.service}: ${run.final?.outcome?.reason ?? "?"}`);
  if (falseReasons.length > 0) lines.push("", "False rollbacks:", "", ...falseReasons.map((r) => `- ${r}`));

  lines.push(
    "",
    `Failing canaries (plan \`[${FAILING_WEIGHT}, 100]\`, failing from the start): injection → route restored. ` +
      `Target ≤ interval × failure limit + 2 scrapes = ${seconds(target)}; floor = a person's rollback right after ` +
      `the route write, same run: p50 ${seconds(floorP50)} (max ${seconds(Math.max(...floorTimes))}, ${floorTimes.length} rollouts).`,
    "",
    "| canary errors | canaries | rolled back | missed (promoted) | other | restored p50 | restored max | **max / target** | p50 − floor |",
    "|---|---|---|---|---|---|---|---|---|",
  );
  for (const rate of ERROR_RATES) {
    const group = all.filter((run) => run.group === "failing" && run.level === rate);
    const times = group.flatMap((run) =>
      run.final?.phase === "rolled-back" && run.restoredAt !== undefined && run.injectedAt !== undefined
        ? [run.restoredAt - run.injectedAt]
        : [],
    );
    const rolledBack = group.filter((run) => phase(run) === "rolled-back").length;
    const missed = group.filter((run) => phase(run) === "promoted").length;
    const max = times.length ? Math.max(...times) : Number.NaN;
    lines.push(
      `| ${rate * 100}% | ${group.length} | ${rolledBack} | ${missed} | ${group.length - rolledBack - missed} | ` +
        `${seconds(percentile(times, 0.5))} | ${seconds(max)} | **${(max / target).toFixed(2)}** | ${seconds(percentile(times, 0.5) - floorP50)} |`,
    );
  }
  return lines;
}

await main();
