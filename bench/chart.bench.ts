// Rollout chart render time: `node bench/chart.bench.ts [renders] [snapshots]`.
// Prints milliseconds per render (PNG encode included) after a few warm-up renders, and the ratio to a floor
// measured in the same run: a blank 800x400 canvas (white, like the chart's background) encoded to PNG.
import { createCanvas } from "@napi-rs/canvas";
import { renderRolloutChart } from "../src/metrics/chart.ts";
import type { MetricsSnapshot } from "../src/rollout/types.ts";
import { benchArgs, percentile, recordResults, runDescription } from "./results.ts";

const [rendersArg, pointsArg] = benchArgs();
const renders = Number(rendersArg ?? 50);
const points = Number(pointsArg ?? 60);
const t0 = Date.UTC(2026, 0, 1, 14, 0, 0);
const steps = [1, 5, 10, 25, 50, 100];

const snapshots: MetricsSnapshot[] = Array.from({ length: points }, (_, i) => ({
  at: t0 + i * 30_000,
  windowSeconds: 60,
  canaryWeight: steps[Math.min(steps.length - 1, Math.floor((i / points) * steps.length))] ?? 0,
  canary: i % 17 === 5 ? {} : { successRate: 0.995 - (i % 7) * 0.001, p99Ms: 180 + (i % 11) * 15 },
  stable: { successRate: 0.999, p99Ms: 150 + (i % 5) * 5 },
}));
const input = { snapshots, policy: { minSuccessRate: 0.99, maxP99Ms: 500 }, title: "bench" };

for (let i = 0; i < 5; i++) await renderRolloutChart(input);
const times: number[] = [];
let bytes = 0;
for (let i = 0; i < renders; i++) {
  const start = performance.now();
  bytes = (await renderRolloutChart(input)).length;
  times.push(performance.now() - start);
}
const mean = times.reduce((a, b) => a + b, 0) / times.length;

const blankPng = async (): Promise<Buffer> => {
  const canvas = createCanvas(800, 400);
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, 800, 400);
  return canvas.encode("png");
};
for (let i = 0; i < 5; i++) await blankPng();
const floorTimes: number[] = [];
for (let i = 0; i < renders; i++) {
  const start = performance.now();
  await blankPng();
  floorTimes.push(performance.now() - start);
}
const floorMean = floorTimes.reduce((a, b) => a + b, 0) / floorTimes.length;
await recordResults("chart", [
  runDescription(
    `node bench/chart.bench.ts ${renders} ${points}`,
    `${renders} renders of ${points} snapshots, 800×400`,
  ),
  "",
  "| | mean | p50 | p95 | PNG |",
  "|---|---|---|---|---|",
  `| \`renderRolloutChart\` | ${mean.toFixed(1)} ms | ${percentile(times, 0.5).toFixed(1)} ms | ${percentile(times, 0.95).toFixed(1)} ms | ${(bytes / 1024).toFixed(1)} KiB |`,
  `| floor: blank canvas to PNG | ${floorMean.toFixed(2)} ms | ${percentile(floorTimes, 0.5).toFixed(2)} ms | ${percentile(floorTimes, 0.95).toFixed(2)} ms | |`,
  "",
  `Ratio chart / floor (means): **${(mean / floorMean).toFixed(1)}×** (no target: it shows a change in drawing cost).`,
]);
