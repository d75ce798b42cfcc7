// Rollout ticks one worker process sustains, and the tick lag (due → picked up / done), at scale:
//   node bench/tick-throughput.bench.ts [--n 100,500,1000] [--seconds 5] [--warmup 1] [--interval-ms 50]
//                                       [--concurrency 16] [--kube child|inproc] [--paced-share 0.5|0]
//
// Per N: seeds N VirtualServices (test/support meshService objects, 10 per namespace) in the Kubernetes sandbox,
// starts N rollouts of 100 steps (1..100%) through RolloutService.start, then runs one in-process tick worker
// (openRuntime + createTickWorker, exactly what startWorker() builds, with a counter around the handler) for a
// fixed window. The interval is below what the worker can serve, so every rollout always has a tick due: this
// measures capacity, and the lag is the backlog (≈ N / capacity − interval). The warm-up starts after one full
// pass (N ticks handled), which clears the ticks that fell due while the rollouts were starting.
//
// Floor, same run, same Redis: a bare BullMQ Queue + Worker, same queue/job-id scheme
// (`rollout.<id>.tick.<n>`), same job options and concurrency, whose processor only schedules the next delayed job.
//
// Paced (unless --paced-share 0): the largest N again at an offered rate of share × the capacity measured above
// (interval = N / rate, rollouts started at that pace so their ticks fall due evenly), then the floor at the rate
// canarybot handled: lag and CPU per tick without a backlog.
//
// Lag comes from BullMQ's own job hashes read after each window (due = timestamp + opts.delay; picked up =
// processedOn; done = finishedOn), so measuring it costs the worker nothing. It covers the last 1,000 ticks of a
// window (the tick queue keeps that many completed jobs, DEFAULT_KEEP_COMPLETED).
//
// By default the sandbox runs in a child process (bench/kube-sandbox-child.ts): the machine's cores are shared by
// the worker, the sandbox and Redis either way; `--kube inproc` puts the sandbox on the worker's event loop, which
// is less fair to canarybot.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { Queue, Worker } from "bullmq";
import type { JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import { loadEnvConfig } from "../src/config/env.ts";
import { bullConnection, DEFAULT_TICK_QUEUE, tickJobId } from "../src/jobs/tick-job.ts";
import type { TickJobData } from "../src/jobs/tick-job.ts";
import { DEFAULT_KEEP_COMPLETED, DEFAULT_KEEP_FAILED } from "../src/jobs/tick-queue.ts";
import { createTickWorker } from "../src/jobs/tick-worker.ts";
import { createLogger } from "../src/logger.ts";
import { openRuntime } from "../src/runtime.ts";
import type { Runtime } from "../src/runtime.ts";
import type { Plan, TargetSpec } from "../src/rollout/types.ts";
import { REDIS_URL, connectRedis, deleteKeysWithPrefix } from "../test/support/redis.ts";
import { startBenchKube } from "./kube-sandbox-child.ts";
import type { BenchKube, KubeStats } from "./kube-sandbox-child.ts";
import { percentile, recordResults, runDescription, verdict } from "./results.ts";

const SERVICES_PER_NAMESPACE = 10;
const STEPS = Array.from({ length: 100 }, (_, i) => i + 1);
const START_CONCURRENCY = 16;

function serviceAt(index: number): { name: string; namespace: string } {
  return {
    name: `svc-${String(index).padStart(4, "0")}`,
    namespace: `bench-${String(Math.floor(index / SERVICES_PER_NAMESPACE)).padStart(3, "0")}`,
  };
}

/** The sandbox and the kubeconfig that reaches it. */
type KubeEndpoint = BenchKube & { kubeconfigPath: string };

async function openKube(mode: "child" | "inproc", total: number, dir: string): Promise<KubeEndpoint> {
  const kube = await startBenchKube(mode);
  await kube.seedServices(Array.from({ length: total }, (_, i) => serviceAt(i)));
  const kubeconfigPath = join(dir, "kubeconfig");
  await kube.writeKubeconfig(kubeconfigPath);
  return Object.assign(kube, { kubeconfigPath });
}

type Counters = { ticks: number; errors: number };

/** Wait until `n` more ticks are handled (each rollout ticked once, roughly), at most a minute. */
async function onePass(counters: Counters, n: number): Promise<void> {
  const target = counters.ticks + n;
  const deadline = performance.now() + 60_000;
  while (counters.ticks < target && performance.now() < deadline) await sleep(50);
}

type RedisStats = { cpuMs: number; commands: number };

async function redisStats(redis: Redis): Promise<RedisStats> {
  const info = await redis.info();
  const field = (name: string): number => Number(new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1] ?? NaN);
  return {
    cpuMs: (field("used_cpu_user") + field("used_cpu_sys")) * 1000,
    commands: field("total_commands_processed"),
  };
}

type Window = {
  seconds: number;
  ticks: number;
  errors: number;
  cpuMs: number;
  elu: number;
  redis: RedisStats;
  kube: KubeStats;
  startedAt: number;
  endedAt: number;
};

/** Counters over a fixed window; the kube stats are reset at its start. */
async function measure(
  counters: Counters,
  redis: Redis,
  kube: KubeEndpoint,
  seconds: number,
): Promise<Window> {
  await kube.stats();
  const redisBefore = await redisStats(redis);
  const ticks = counters.ticks;
  const errors = counters.errors;
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const startedAt = Date.now();
  await sleep(seconds * 1000);
  const endedAt = Date.now();
  const used = process.cpuUsage(cpu);
  const eluUsed = performance.eventLoopUtilization(elu);
  const ticksDone = counters.ticks - ticks;
  const errorsSeen = counters.errors - errors;
  const kubeStats = await kube.stats();
  const redisAfter = await redisStats(redis);
  return {
    seconds: (endedAt - startedAt) / 1000,
    ticks: ticksDone,
    errors: errorsSeen,
    cpuMs: (used.user + used.system) / 1000,
    elu: eluUsed.utilization,
    redis: {
      cpuMs: redisAfter.cpuMs - redisBefore.cpuMs,
      commands: redisAfter.commands - redisBefore.commands,
    },
    kube: kubeStats,
    startedAt,
    endedAt,
  };
}

type Lag = { count: number; pickupP50: number; pickupP99: number; doneP50: number; doneP99: number };

/** Due → picked up and due → done, from the completed jobs BullMQ kept for the window. */
async function readLag(redis: Redis, bullPrefix: string, window: Window): Promise<Lag> {
  const base = `${bullPrefix}:${DEFAULT_TICK_QUEUE}`;
  const ids = await redis.zrangebyscore(`${base}:completed`, window.startedAt, window.endedAt);
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(`${base}:${id}`, "timestamp", "opts", "processedOn", "finishedOn");
  const replies = (await pipeline.exec()) ?? [];
  const pickup: number[] = [];
  const done: number[] = [];
  for (const [error, value] of replies) {
    if (error || !Array.isArray(value)) continue;
    const [timestamp, opts, processedOn, finishedOn] = value as (string | null)[];
    if (timestamp == null || opts == null || processedOn == null || finishedOn == null) continue;
    const delay = Number((JSON.parse(opts) as { delay?: number }).delay ?? 0);
    const due = Number(timestamp) + delay;
    pickup.push(Number(processedOn) - due);
    done.push(Number(finishedOn) - due);
  }
  return {
    count: pickup.length,
    pickupP50: percentile(pickup, 0.5),
    pickupP99: percentile(pickup, 0.99),
    doneP50: percentile(done, 0.5),
    doneP99: percentile(done, 0.99),
  };
}

/** Bytes Redis holds for one run's keys (MEMORY USAGE), by kind of key, and the worker process's RSS. */
type Footprint = {
  bytes: Record<string, number>;
  rssIdleMiB: number;
  rssLiveMiB: number;
  /** The highest V8 heap in use and allocated, sampled with the RSS. */
  heapUsedMiB: number;
  heapTotalMiB: number;
  /** V8 heap in use right after the window, after a full GC (run with --expose-gc; NaN without). */
  heapLiveMiB: number;
};

type Result = { window: Window; lag: Lag; startsPerSecond?: number; footprint?: Footprint };

/** What a key under the run's prefix is, for the footprint table. */
function keyKind(key: string, prefix: string): string {
  const rest = key.slice(prefix.length + 1);
  if (rest.startsWith(`${DEFAULT_TICK_QUEUE}:`)) {
    const part = rest.slice(DEFAULT_TICK_QUEUE.length + 1);
    return /^rollout\./.test(part) ? "tick jobs" : "tick queue indexes";
  }
  if (rest.startsWith("canarybot-notifications:")) return "notification queue";
  const kind = rest.split(":")[0] ?? "";
  return ["rollout", "audit"].includes(kind) ? kind : "other canarybot keys";
}

async function redisFootprint(redis: Redis, prefix: string): Promise<Record<string, number>> {
  const bytes: Record<string, number> = {};
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory("USAGE", key, "SAMPLES", "0");
    const replies = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const kind = keyKind(key, prefix);
      bytes[kind] = (bytes[kind] ?? 0) + Number(replies[i]?.[1] ?? 0);
    });
  } while (cursor !== "0");
  return bytes;
}

const rssMiB = (): number => process.memoryUsage.rss() / 2 ** 20;

type PhaseOptions = {
  n: number;
  offset: number;
  intervalMs: number;
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
  /** Spread the first ticks evenly over one interval (paced runs); otherwise all are due at once. */
  spread: boolean;
};

function uniquePrefix(label: string): string {
  return `bench-${label}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

async function runCanarybot(redis: Redis, kube: KubeEndpoint, options: PhaseOptions): Promise<Result> {
  const prefix = uniquePrefix("tick");
  const env = loadEnvConfig({
    REDIS_URL,
    CANARYBOT_PREFIX: prefix,
    KUBECONFIG: kube.kubeconfigPath,
    LOG_LEVEL: "silent",
    CANARYBOT_MIN_INTERVAL_MS: String(Math.min(options.intervalMs, 1000)),
    WORKER_CONCURRENCY: String(options.concurrency),
  });
  const logger = createLogger("silent");
  const runtime = openRuntime({
    env,
    processEnv: { KUBECONFIG: kube.kubeconfigPath, HOME: process.env.HOME },
    logger,
  });
  const counters: Counters = { ticks: 0, errors: 0 };
  let worker: ReturnType<typeof createTickWorker> | undefined;
  let rssIdleMiB = Number.NaN;
  const startWorker = async (): Promise<void> => {
    // What startWorker() in src/runtime.ts builds, with a counter around the handler.
    worker = createTickWorker({
      connection: env.REDIS_URL,
      prefix: env.CANARYBOT_PREFIX,
      concurrency: env.WORKER_CONCURRENCY,
      handler: async (rolloutId, tick) => {
        try {
          await runtime.service.tick(rolloutId, tick);
          counters.ticks += 1;
        } catch (error) {
          counters.errors += 1;
          throw error;
        }
      },
      onExhausted: (rolloutId, tick, error) => runtime.service.tickExhausted(rolloutId, tick, error),
      onError: (error) => console.error(`tick worker: ${error.message}`),
    });
    await worker.waitUntilReady();
  };
  try {
    let startsPerSecond: number | undefined;
    if (options.spread) {
      // Paced: the worker runs while rollouts start at the offered rate, so first ticks fall due evenly.
      await startWorker();
      globalThis.gc?.();
      rssIdleMiB = rssMiB();
      const gapMs = options.intervalMs / options.n;
      const began = performance.now();
      await startRollouts(runtime, options, (i) => sleep(Math.max(0, began + i * gapMs - performance.now())));
    } else {
      const began = performance.now();
      await startRollouts(runtime, options);
      startsPerSecond = options.n / ((performance.now() - began) / 1000);
      await startWorker();
      // Every tick was due while the others started: one full pass clears that backlog.
      await onePass(counters, options.n);
    }
    await sleep(options.warmupSeconds * 1000);
    const peak = { rss: 0, heapUsed: 0, heapTotal: 0 };
    const sampler = setInterval(() => {
      const usage = process.memoryUsage();
      peak.rss = Math.max(peak.rss, usage.rss / 2 ** 20);
      peak.heapUsed = Math.max(peak.heapUsed, usage.heapUsed / 2 ** 20);
      peak.heapTotal = Math.max(peak.heapTotal, usage.heapTotal / 2 ** 20);
    }, 250);
    const window = await measure(counters, redis, kube, options.seconds);
    clearInterval(sampler);
    let heapLiveMiB = Number.NaN;
    if (globalThis.gc) {
      globalThis.gc();
      heapLiveMiB = process.memoryUsage().heapUsed / 2 ** 20;
    }
    const lag = await readLag(redis, prefix, window);
    const footprint = options.spread
      ? {
          bytes: await redisFootprint(redis, prefix),
          rssIdleMiB,
          rssLiveMiB: peak.rss,
          heapUsedMiB: peak.heapUsed,
          heapTotalMiB: peak.heapTotal,
          heapLiveMiB,
        }
      : undefined;
    return {
      window,
      lag,
      ...(startsPerSecond === undefined ? {} : { startsPerSecond }),
      ...(footprint ? { footprint } : {}),
    };
  } finally {
    await worker?.close();
    await runtime.close();
    await deleteKeysWithPrefix(redis, `${prefix}:`);
  }
}

async function startRollouts(
  runtime: Runtime,
  options: PhaseOptions,
  before: (i: number) => Promise<unknown> = () => Promise.resolve(),
): Promise<void> {
  const plan: Plan = {
    steps: STEPS,
    intervalMs: options.intervalMs,
    approvalGates: [],
    twoPersonRule: false,
  };
  let nextIndex = 0;
  const starter = async (): Promise<void> => {
    for (let i = nextIndex++; i < options.n; i = nextIndex++) {
      await before(i);
      const { name, namespace } = serviceAt(options.offset + i);
      const target: TargetSpec = {
        namespace,
        service: name,
        virtualService: name,
        host: name,
        stableSubset: "v1",
        canarySubset: "v2",
      };
      await runtime.service.start({ target, plan, by: "cli:bench" });
    }
  };
  await Promise.all(Array.from({ length: START_CONCURRENCY }, starter));
}

async function runFloor(redis: Redis, kube: KubeEndpoint, options: PhaseOptions): Promise<Result> {
  const prefix = uniquePrefix("floor");
  const jobOptions = (rolloutId: string, tick: number, delay: number): JobsOptions => ({
    // The options BullMqTickScheduler.schedule() sends.
    jobId: tickJobId(rolloutId, tick),
    delay,
    attempts: 5,
    backoff: { type: "exponential", delay: 1000 },
    removeOnComplete: DEFAULT_KEEP_COMPLETED,
    removeOnFail: DEFAULT_KEEP_FAILED,
  });
  const queue = new Queue<TickJobData>(DEFAULT_TICK_QUEUE, {
    connection: bullConnection(REDIS_URL, "queue"),
    prefix,
  });
  const counters: Counters = { ticks: 0, errors: 0 };
  const worker = new Worker<TickJobData>(
    DEFAULT_TICK_QUEUE,
    async (job) => {
      const { rolloutId, tick } = job.data;
      await queue.add(
        "tick",
        { rolloutId, tick: tick + 1 },
        jobOptions(rolloutId, tick + 1, options.intervalMs),
      );
      counters.ticks += 1;
    },
    { connection: bullConnection(REDIS_URL, "worker"), prefix, concurrency: options.concurrency },
  );
  worker.on("error", (error) => console.error(`floor worker: ${error.message}`));
  try {
    await worker.waitUntilReady();
    const ids = Array.from({ length: options.n }, (_, i) => serviceAt(options.offset + i).name);
    await queue.addBulk(
      ids.map((rolloutId, i) => ({
        name: "tick",
        data: { rolloutId, tick: 1 },
        opts: jobOptions(
          rolloutId,
          1,
          options.spread ? Math.round((i * options.intervalMs) / options.n) : options.intervalMs,
        ),
      })),
    );
    if (!options.spread) await onePass(counters, options.n);
    await sleep(options.warmupSeconds * 1000);
    const window = await measure(counters, redis, kube, options.seconds);
    const lag = await readLag(redis, prefix, window);
    return { window, lag };
  } finally {
    await worker.close();
    await queue.close();
    await deleteKeysWithPrefix(redis, `${prefix}:`);
  }
}

const fmt = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");
const perSecond = (r: Result): number => r.window.ticks / r.window.seconds;

function describe(label: string, r: Result): string {
  const { window: w, lag } = r;
  const perTick = (value: number): string => fmt(value / Math.max(1, w.ticks), 2);
  const kubeTotal = Object.values(w.kube.requests).reduce((a, b) => a + b, 0);
  const byMethod = Object.entries(w.kube.requests)
    .map(([method, count]) => `${method} ${perTick(count)}`)
    .join(", ");
  return [
    `  ${label.padEnd(9)} ${fmt(perSecond(r), 0).padStart(6)} ticks/s (${w.ticks} in ${fmt(w.seconds)} s` +
      `${w.errors > 0 ? `, ${w.errors} failed` : ""})` +
      (r.startsPerSecond === undefined ? "" : `, starts ${fmt(r.startsPerSecond, 0)}/s`),
    `            lag due→picked up p50 ${fmt(lag.pickupP50, 0)} ms, p99 ${fmt(lag.pickupP99, 0)} ms; ` +
      `due→done p50 ${fmt(lag.doneP50, 0)} ms, p99 ${fmt(lag.doneP99, 0)} ms (${lag.count} ticks)`,
    `            cpu/tick: worker process ${perTick(w.cpuMs)} ms (event loop ${fmt(w.elu * 100, 0)}% busy), ` +
      `redis ${perTick(w.redis.cpuMs)} ms, sandbox ${perTick(w.kube.cpuMs)} ms; ` +
      `redis commands/tick ${perTick(w.redis.commands)}`,
    ...(kubeTotal > 0 || label !== "floor"
      ? [
          `            kube requests/tick ${perTick(kubeTotal)} (${byMethod || "none"}), ` +
            `new TCP connections/tick ${perTick(w.kube.connections)}`,
        ]
      : []),
  ].join("\n");
}

function describeFootprint(footprint: Footprint, n: number): string {
  const total = Object.values(footprint.bytes).reduce((a, b) => a + b, 0);
  const parts = Object.entries(footprint.bytes)
    .sort(([, a], [, b]) => b - a)
    .map(([kind, bytes]) => `${kind} ${fmt(bytes / n / 1024, 2)}`)
    .join(", ");
  return (
    `            worker RSS ${fmt(footprint.rssIdleMiB, 0)} MiB idle (runtime open, no rollout), ` +
    `${fmt(footprint.rssLiveMiB, 0)} MiB at most with ${n} live (V8 heap at most ${fmt(footprint.heapUsedMiB, 0)} ` +
    `MiB used of ${fmt(footprint.heapTotalMiB, 0)} MiB, ${fmt(footprint.heapLiveMiB, 0)} MiB live after a full GC); ` +
    `Redis ${fmt(total / n / 1024, 2)} KiB per live rollout (${parts})`
  );
}

/** Issue 13's targets for one worker with N live rollouts, from the paced run. */
function targetsLine(canarybot: Result, floor: Result, n: number): string {
  const cpu = canarybot.window.cpuMs / canarybot.window.ticks / (floor.window.cpuMs / floor.window.ticks);
  const footprint = canarybot.footprint;
  const kib = footprint ? Object.values(footprint.bytes).reduce((a, b) => a + b, 0) / n / 1024 : Number.NaN;
  return [
    `Targets (paced run, ${n} live): tick lag p99 < 500 ms ${verdict(canarybot.lag.pickupP99 < 500)} (${fmt(canarybot.lag.pickupP99, 0)} ms)`,
    `worker CPU per tick ≤ 5× the floor ${verdict(cpu <= 5)} (${fmt(cpu, 1)}×)`,
    `RSS < 300 MiB ${verdict((footprint?.rssLiveMiB ?? Number.NaN) < 300)} (${fmt(footprint?.rssLiveMiB ?? Number.NaN, 0)} MiB)`,
    `Redis < 10 KB per live rollout ${verdict(kib * 1024 < 10_000)} (${fmt(kib, 2)} KiB).`,
  ].join("; ");
}

function ratioLine(canarybot: Result, floor: Result): string {
  const ticks = perSecond(canarybot) / perSecond(floor);
  const cpu = canarybot.window.cpuMs / canarybot.window.ticks / (floor.window.cpuMs / floor.window.ticks);
  return (
    `  ratio canarybot/floor: throughput ${fmt(ticks, 3)}, worker cpu/tick ${fmt(cpu, 1)}x, ` +
    `lag p50 ${fmt(canarybot.lag.pickupP50 / floor.lag.pickupP50, 1)}x, ` +
    `p99 ${fmt(canarybot.lag.pickupP99 / floor.lag.pickupP99, 1)}x`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: "string", default: "100,500,1000" },
      seconds: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      "interval-ms": { type: "string", default: "50" },
      concurrency: { type: "string", default: "16" },
      kube: { type: "string", default: "child" },
      "paced-share": { type: "string", default: "0.5" },
      // A fixed interval for the paced run instead of share × capacity (e.g. 5000: 1,000 rollouts every 5 s); then
      // only the paced run is made.
      "paced-interval-ms": { type: "string" },
      "no-write": { type: "boolean", default: false },
    },
  });
  const sizes = values.n.split(",").map(Number);
  const seconds = Number(values.seconds);
  const warmupSeconds = Number(values.warmup);
  const intervalMs = Number(values["interval-ms"]);
  const concurrency = Number(values.concurrency);
  const pacedShare = Number(values["paced-share"]);
  const largest = Math.max(...sizes);
  const total = sizes.reduce((a, b) => a + b, 0) + (pacedShare > 0 ? largest : 0);

  if (values.kube !== "child" && values.kube !== "inproc") throw new Error("--kube is child or inproc");
  const redis = await connectRedis();
  const dir = await mkdtemp(join(tmpdir(), "canarybot-bench-"));
  const kube = await openKube(values.kube, total, dir);
  const report: string[] = [];
  let targets = "";
  try {
    let offset = 0;
    let capacityAtLargest = Number.NaN;
    // With a fixed paced interval only the paced run is made: nothing before it inflates the worker's RSS.
    for (const n of values["paced-interval-ms"] === undefined ? sizes : []) {
      const phase = { n, offset, intervalMs, concurrency, warmupSeconds, seconds, spread: false };
      offset += n;
      const canarybot = await runCanarybot(redis, kube, phase);
      const floor = await runFloor(redis, kube, phase);
      if (n === largest) capacityAtLargest = perSecond(canarybot);
      report.push(
        `N=${n}, interval ${intervalMs} ms (always due: saturated)`,
        describe("canarybot", canarybot),
        describe("floor", floor),
        ratioLine(canarybot, floor),
      );
    }
    if (pacedShare > 0 && (Number.isFinite(capacityAtLargest) || values["paced-interval-ms"] !== undefined)) {
      const fixed =
        values["paced-interval-ms"] === undefined ? undefined : Number(values["paced-interval-ms"]);
      const rate = fixed === undefined ? capacityAtLargest * pacedShare : (largest / fixed) * 1000;
      const pacedInterval = fixed ?? Math.round((largest / rate) * 1000);
      // Due times are spread evenly, so a window shorter than the interval still samples the steady rate.
      const phase = {
        n: largest,
        offset,
        intervalMs: pacedInterval,
        concurrency,
        warmupSeconds,
        seconds,
        spread: true,
      };
      const canarybot = await runCanarybot(redis, kube, phase);
      // The floor runs at the rate canarybot actually handled (its starts may not have kept the offered pace).
      const floorInterval = Math.round((largest / perSecond(canarybot)) * 1000);
      const floor = await runFloor(redis, kube, { ...phase, intervalMs: floorInterval });
      report.push(
        `N=${largest}, interval ${pacedInterval} ms (paced: offered ${fmt(rate, 0)} ticks/s` +
          (Number.isFinite(capacityAtLargest)
            ? ` = ${fmt((rate / capacityAtLargest) * 100, 0)}% of the capacity above`
            : "") +
          `; floor interval ${floorInterval} ms)`,
        describe("canarybot", canarybot),
        ...(canarybot.footprint ? [describeFootprint(canarybot.footprint, largest)] : []),
        describe("floor", floor),
        ratioLine(canarybot, floor),
      );
      targets = targetsLine(canarybot, floor, largest);
    }
    const command =
      `node ${process.execArgv.includes("--expose-gc") ? "--expose-gc " : ""}bench/tick-throughput.bench.ts ${process.argv
        .slice(2)
        .filter((arg) => arg !== "--no-write")
        .join(" ")}`.trim();
    await recordResults("tick-throughput", [
      runDescription(
        command,
        `1 worker, concurrency ${concurrency}, plans of ${STEPS.length} steps, Kubernetes sandbox ${kube.where}, ` +
          `${seconds} s windows after ${warmupSeconds} s warm-up`,
      ),
      "",
      "```",
      ...report,
      "```",
      ...(targets ? ["", targets] : []),
    ]);
  } finally {
    await kube.close();
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
