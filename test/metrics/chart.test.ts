import { createCanvas, loadImage } from "@napi-rs/canvas";
import { describe, expect, it } from "vitest";
import { rolloutChartData } from "../../src/metrics/chart-data.ts";
import { renderRolloutChart } from "../../src/metrics/chart.ts";
import { formatUtcTime } from "../../src/rollout/time-text.ts";
import type { MetricsSnapshot } from "../../src/rollout/types.ts";

const T0 = Date.UTC(2026, 0, 1, 14, 0, 0);
const POLICY = { minSuccessRate: 0.99, maxP99Ms: 500 };

function snapshot(i: number, weight: number, overrides: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  return {
    at: T0 + i * 60_000,
    windowSeconds: 60,
    canaryWeight: weight,
    canary: { successRate: 0.995, p99Ms: 180 + i * 20, requests: 100 },
    stable: { successRate: 0.999, p99Ms: 120, requests: 900 },
    ...overrides,
  };
}

const ROLLOUT = [0, 10, 10, 20, 50, 50, 100].map((w, i) => snapshot(i, w));

type Decoded = { width: number; height: number; pixels: Uint8ClampedArray };

async function decode(png: Buffer): Promise<Decoded> {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0);
  return {
    width: image.width,
    height: image.height,
    pixels: ctx.getImageData(0, 0, image.width, image.height).data,
  };
}

/** IHDR: 8-byte signature, 4-byte length, "IHDR", then width and height as big-endian u32. */
function ihdrSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.subarray(12, 16).toString("latin1")).toBe("IHDR");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Pixels in a box that are clearly not white (and not transparent). */
function inkIn(d: Decoded, box: { x0: number; y0: number; x1: number; y1: number }): number {
  let ink = 0;
  for (let y = box.y0; y < box.y1; y++) {
    for (let x = box.x0; x < box.x1; x++) {
      const i = (y * d.width + x) * 4;
      const [r, g, b, a] = [d.pixels[i]!, d.pixels[i + 1]!, d.pixels[i + 2]!, d.pixels[i + 3]!];
      if (a > 0 && r + g + b < 600) ink++;
    }
  }
  return ink;
}

/** Pixels close to a colour (the canary orange, the stable blue). */
function pixelsNear(d: Decoded, rgb: [number, number, number]): number {
  let count = 0;
  for (let i = 0; i < d.pixels.length; i += 4) {
    const dist =
      Math.abs(d.pixels[i]! - rgb[0]) +
      Math.abs(d.pixels[i + 1]! - rgb[1]) +
      Math.abs(d.pixels[i + 2]! - rgb[2]);
    if (dist < 40) count++;
  }
  return count;
}

describe("rolloutChartData", () => {
  it("labels snapshots HH:MM:SS in UTC, oldest first", () => {
    const data = rolloutChartData([snapshot(2, 20), snapshot(0, 0), snapshot(1, 10)]);
    expect(data.labels).toEqual(["14:00:00", "14:01:00", "14:02:00"]);
    expect(data.weight).toEqual([0, 10, 20]);
    expect(formatUtcTime(Date.UTC(2026, 5, 30, 23, 59, 7))).toBe("23:59:07");
  });

  it("turns missing values and unavailable snapshots into gaps, never 0", () => {
    const data = rolloutChartData([
      snapshot(0, 10),
      snapshot(1, 10, { canary: { successRate: 0.98 } }),
      snapshot(2, 20, { unavailable: "prometheus: timeout" }),
      snapshot(3, 20, { stable: { successRate: Number.NaN, p99Ms: 130 } }),
    ]);
    expect(data.weight).toEqual([10, 10, 20, 20]);
    expect(data.successRate.canary).toEqual([99.5, 98, null, 99.5]);
    expect(data.successRate.stable).toEqual([99.9, 99.9, null, null]);
    expect(data.p99Ms.canary).toEqual([180, null, null, 240]);
    expect(data.p99Ms.stable).toEqual([120, 120, null, 130]);
  });

  it("keeps thresholds inside the visible ranges", () => {
    const data = rolloutChartData(ROLLOUT, { minSuccessRate: 0.9, maxP99Ms: 2000 });
    expect(data.thresholds).toEqual({ minSuccessRatePercent: 90, maxP99Ms: 2000 });
    expect(data.ranges.successRate.min).toBeLessThan(90);
    expect(data.ranges.successRate.max).toBe(100);
    expect(data.ranges.p99Ms.max).toBeGreaterThan(2000);
    expect(rolloutChartData(ROLLOUT).thresholds).toBeUndefined();
  });
});

describe("renderRolloutChart", () => {
  it("renders an 800x400 PNG by default with ink in the plotting area", async () => {
    const png = await renderRolloutChart({ snapshots: ROLLOUT, policy: POLICY, title: "reviews-12" });
    expect(ihdrSize(png)).toEqual({ width: 800, height: 400 });
    const d = await decode(png);
    expect([d.width, d.height]).toEqual([800, 400]);
    // White background: the corner is opaque white, not transparent.
    expect([...d.pixels.subarray(0, 4)]).toEqual([255, 255, 255, 255]);
    // Lines in the middle of the canvas, away from title, legend and axis labels.
    expect(inkIn(d, { x0: 120, y0: 80, x1: 780, y1: 330 })).toBeGreaterThan(500);
    expect(pixelsNear(d, [0xe8, 0x59, 0x0c])).toBeGreaterThan(200); // canary
    expect(pixelsNear(d, [0x1c, 0x7e, 0xd6])).toBeGreaterThan(200); // stable
    expect(pixelsNear(d, [0xc9, 0x2a, 0x2a])).toBeGreaterThan(100); // thresholds
  });

  it("honours width and height", async () => {
    const png = await renderRolloutChart({ snapshots: ROLLOUT, width: 640, height: 300 });
    expect(ihdrSize(png)).toEqual({ width: 640, height: 300 });
    const d = await decode(png);
    expect([d.width, d.height]).toEqual([640, 300]);
  });

  it("renders empty snapshots", async () => {
    const png = await renderRolloutChart({ snapshots: [], policy: POLICY });
    const d = await decode(png);
    expect([d.width, d.height]).toEqual([800, 400]);
    expect(pixelsNear(d, [0xe8, 0x59, 0x0c])).toBeLessThan(200); // only the legend swatch, no canary line
  });

  it("renders gaps instead of dropping to zero", async () => {
    const gappy = [
      snapshot(0, 10),
      snapshot(1, 10, { canary: {}, stable: {} }),
      snapshot(2, 20, { unavailable: "prometheus: timeout" }),
      snapshot(3, 20),
      snapshot(4, 50, { canary: { successRate: 0.97 } }),
    ];
    const full = await decode(
      await renderRolloutChart({ snapshots: gappy.map((s, i) => snapshot(i, s.canaryWeight)) }),
    );
    const withGaps = await decode(await renderRolloutChart({ snapshots: gappy, policy: POLICY }));
    expect(inkIn(withGaps, { x0: 120, y0: 80, x1: 780, y1: 330 })).toBeGreaterThan(300);
    // Fewer canary-coloured pixels than the same chart without gaps: the missing stretch is not drawn at all.
    expect(pixelsNear(withGaps, [0xe8, 0x59, 0x0c])).toBeLessThan(pixelsNear(full, [0xe8, 0x59, 0x0c]));
  });
});
