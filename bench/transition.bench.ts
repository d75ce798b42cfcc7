// Cost of the pure core per event: `node bench/transition.bench.ts [rollouts] [rounds]`.
//
// A seeded simulation drives `rollouts` rollouts through whole lives the way the service would (each route effect
// answered by weights-applied, mostly; ticks with verdicts carrying metric snapshots; people pausing, resuming,
// approving, promoting, rolling back; drift, errors, stale tick jobs, late clicks on finished rollouts) and records
// every (rollout, event, now) it fed to transition(). The bench then replays that corpus: transition() per event,
// against a floor of structuredClone() of the same rollout per event, in alternating rounds; median of the rounds.
import { performance } from "node:perf_hooks";
import { isTerminal } from "../src/rollout/plan.ts";
import { newRollout } from "../src/rollout/new-rollout.ts";
import { makeAnalysisPolicy } from "../test/support/rollouts.ts";
import { transition } from "../src/rollout/transition.ts";
import { CheckStatus, Phase } from "../src/rollout/types.ts";
import { benchArgs, median, recordResults, runDescription } from "./results.ts";
import type {
  CheckResult,
  Plan,
  Rollout,
  RolloutEvent,
  SubsetMetrics,
  Verdict,
} from "../src/rollout/types.ts";

const [rolloutsArg, roundsArg] = benchArgs();
const rolloutCount = Number(rolloutsArg ?? 300);
const rounds = Number(roundsArg ?? 7);
const ROUND_MS = 400;

/** mulberry32: a small seeded PRNG, so every run replays the same corpus. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(12);
const chance = (p: number): boolean => random() < p;
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

const POLICY = makeAnalysisPolicy();

const PLANS: Plan[] = [
  {
    steps: [5, 10, 25, 50, 100],
    intervalMs: 60_000,
    approvalGates: [],
    twoPersonRule: true,
    analysis: POLICY,
  },
  {
    steps: [5, 10, 25, 50, 100],
    intervalMs: 60_000,
    approvalGates: [50],
    twoPersonRule: true,
    analysis: POLICY,
  },
  {
    steps: [1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
    intervalMs: 120_000,
    approvalGates: [],
    twoPersonRule: true,
    analysis: POLICY,
  },
  {
    steps: [10, 50, 100],
    intervalMs: 60_000,
    approvalGates: [],
    twoPersonRule: true,
    headerMatch: { name: "x-canary", value: "1" },
    analysis: POLICY,
  },
  { steps: [10, 50, 100], intervalMs: 30_000, approvalGates: [], twoPersonRule: false },
];

function subset(successRate: number, p99Ms: number, rate: number): SubsetMetrics {
  return {
    requestRate: rate,
    successRate,
    p50Ms: p99Ms / 4,
    p90Ms: p99Ms / 2,
    p99Ms,
    requests: Math.round(rate * 60),
  };
}

function verdict(weight: number, now: number): Verdict {
  const roll = random();
  const status = roll < 0.85 ? CheckStatus.Pass : roll < 0.95 ? CheckStatus.Inconclusive : CheckStatus.Fail;
  const canaryRate = (weight / 100) * 40;
  const successRate = status === CheckStatus.Fail ? 0.95 : 0.998;
  const checks: CheckResult[] = [
    {
      name: "success-rate",
      status: status === CheckStatus.Fail ? CheckStatus.Fail : CheckStatus.Pass,
      value: successRate,
      threshold: ">= 99%",
    },
    { name: "error-rate-increase", status: CheckStatus.Pass, value: 0.001, threshold: "<= +1pp" },
    { name: "p99", status: CheckStatus.Pass, value: 180, threshold: "<= 500ms" },
    { name: "p99-ratio", status: CheckStatus.Pass, value: 1.1, threshold: "<= 1.25x stable (165ms)" },
    {
      name: "requests",
      status: status === CheckStatus.Inconclusive ? CheckStatus.Inconclusive : CheckStatus.Pass,
      value: status === CheckStatus.Inconclusive ? 12 : canaryRate * 60,
      threshold: ">= 50",
      ...(status === CheckStatus.Inconclusive ? { detail: "too few requests in the window" } : {}),
    },
  ];
  return {
    status,
    checks,
    snapshot: {
      at: now,
      windowSeconds: 60,
      canaryWeight: weight,
      canary: subset(successRate, 180, canaryRate),
      stable: subset(0.999, 165, 40 - canaryRate),
    },
  };
}

function simulatedRollout(index: number, now: number): Rollout {
  const service = pick(["reviews", "ratings", "details", "productpage", "checkout", "cart"]);
  return newRollout({
    id: `${service}-${index}`,
    target: {
      namespace: "shop",
      service,
      virtualService: service,
      host: `${service}.shop.svc.cluster.local`,
      stableSubset: "v1",
      canarySubset: "v2",
    },
    plan: pick(PLANS),
    by: "U0STARTER",
    now,
    report: { channel: "C0RELEASES", ts: "1767268800.000100" },
  });
}

type Case = { rollout: Rollout; event: RolloutEvent; now: number };

/** One rollout's life, as the service would feed it to the core. */
function simulate(index: number, corpus: Case[]): void {
  let now = Date.UTC(2026, 0, 1, 9, 0, 0) + index * 7_000;
  let rollout = simulatedRollout(index, now);
  const baseline = {
    name: "primary",
    route: [{ destination: { host: rollout.target.host, subset: "v1" }, weight: 100 }],
  };
  const pending: RolloutEvent[] = [
    { type: "preflight-passed", baseline, subsetLabels: { v1: { version: "v1" }, v2: { version: "v2" } } },
  ];
  let pendingTick: number | undefined;
  let lateClicks = chance(0.3) ? 2 : 0;
  for (let guard = 0; guard < 400; guard++) {
    let event: RolloutEvent | undefined = pending.shift();
    if (event === undefined && isTerminal(rollout.phase)) {
      // Someone clicks a button on the finished rollout's message.
      if (lateClicks-- <= 0) return;
      event = chance(0.5) ? { type: "pause", by: "U0LATE" } : { type: "promote", by: "U0LATE" };
    }
    event ??= nextEvent(rollout, pendingTick);
    corpus.push({ rollout, event, now });
    const result = transition(rollout, event, now);
    if (result.refused === undefined) rollout = { ...result.rollout, version: rollout.version + 1 };
    for (const effect of result.effects) {
      if (effect.type === "set-weights") {
        // The router mostly confirms; sometimes someone has edited the route, sometimes Kubernetes fails.
        const roll = random();
        if (roll < 0.97) {
          pending.push({
            type: "weights-applied",
            weight: effect.canaryWeight,
            headerRouteActive: effect.headerRoute,
          });
        } else if (roll < 0.985) {
          pending.push({
            type: "drift-detected",
            detail: "route weights are v1=70,v2=30, expected v1=90,v2=10",
          });
        } else {
          pending.push({ type: "error", kind: "kubernetes_unavailable", detail: "503 from the API server" });
        }
      } else if (effect.type === "restore-route") {
        pending.push({ type: "route-restored" });
      } else if (effect.type === "schedule-tick") {
        pendingTick = effect.tick;
        now += effect.delayMs;
      }
    }
    now += 250;
  }
}

function nextEvent(rollout: Rollout, pendingTick: number | undefined): RolloutEvent {
  const tick = pendingTick ?? rollout.tick;
  if (rollout.phase === Phase.Paused) return { type: "resume", by: pick(["U0STARTER", "U0OTHER"]) };
  if (rollout.phase === Phase.AwaitingApproval || rollout.phase === Phase.HeaderStage) {
    if (chance(0.3)) return { type: "tick", tick };
    // The starter tries first now and then: refused under the two-person rule.
    return { type: "approve", by: chance(0.2) ? "U0STARTER" : "U0OTHER" };
  }
  const roll = random();
  if (roll < 0.02) return { type: "pause", by: "U0OTHER", reason: "checking dashboards" };
  if (roll < 0.03) return { type: "rollback", by: "U0OTHER", reason: "customer reports" };
  if (roll < 0.035) return { type: "promote", by: "U0OTHER" };
  if (roll < 0.055) return { type: "tick", tick: tick - 1 }; // a duplicated or stale tick job
  const weight = rollout.plan.steps[rollout.stepIndex] ?? 0;
  if (rollout.phase === Phase.Progressing && rollout.plan.analysis) {
    return { type: "tick", tick, verdict: verdict(weight, rollout.updatedAt) };
  }
  return { type: "tick", tick };
}

const corpus: Case[] = [];
for (let i = 0; i < rolloutCount; i++) simulate(i, corpus);

const mix = new Map<string, number>();
for (const { event } of corpus) {
  const key = event.type === "tick" && event.verdict ? `tick(${event.verdict.status})` : event.type;
  mix.set(key, (mix.get(key) ?? 0) + 1);
}
const meanSnapshots = corpus.reduce((sum, c) => sum + c.rollout.snapshots.length, 0) / corpus.length;
const meanBytes = corpus.reduce((sum, c) => sum + JSON.stringify(c.rollout).length, 0) / corpus.length;

let sink = 0;
function runTransition(): number {
  let n = 0;
  for (const { rollout, event, now } of corpus) {
    sink += transition(rollout, event, now).effects.length;
    n++;
  }
  return n;
}
function runClone(): number {
  let n = 0;
  for (const { rollout } of corpus) {
    sink += structuredClone(rollout).snapshots.length;
    n++;
  }
  return n;
}

/** Nanoseconds per event over about ROUND_MS of whole passes through the corpus. */
function timeRound(run: () => number): number {
  const start = performance.now();
  let events = 0;
  do events += run();
  while (performance.now() - start < ROUND_MS);
  return ((performance.now() - start) * 1e6) / events;
}

// Warm-up: let both reach the optimizing tier before timing.
timeRound(runTransition);
timeRound(runClone);
const transitionNs: number[] = [];
const cloneNs: number[] = [];
for (let round = 0; round < rounds; round++) {
  transitionNs.push(timeRound(runTransition));
  cloneNs.push(timeRound(runClone));
}
const t = median(transitionNs);
const floor = median(cloneNs);
const mixText = [...mix]
  .sort((a, b) => b[1] - a[1])
  .map(([type, count]) => `${type} ${((count / corpus.length) * 100).toFixed(1)}%`)
  .join(", ");
await recordResults("transition", [
  runDescription(
    `node bench/transition.bench.ts ${rolloutCount} ${rounds}`,
    `${corpus.length} events from ${rolloutCount} simulated rollouts (rollout JSON ${(meanBytes / 1024).toFixed(1)} KiB mean, ${meanSnapshots.toFixed(1)} snapshots mean)`,
  ),
  "",
  `Event mix: ${mixText}.`,
  "",
  "| | µs per event (median of rounds) |",
  "|---|---|",
  `| \`transition()\` | ${(t / 1000).toFixed(2)} |`,
  `| floor: \`structuredClone(rollout)\` | ${(floor / 1000).toFixed(2)} |`,
  "",
  `Ratio: **${(t / floor).toFixed(2)}×** (median of ${rounds} rounds; no target).`,
]);
if (sink === 0) console.log("");
