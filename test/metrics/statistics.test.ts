import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  binomialUpperTail,
  logGamma,
  mannWhitneySlowerPValue,
  normalUpperTail,
} from "../../src/metrics/statistics.ts";

/** P(X ≥ k) by summing the binomial probabilities, for small n. */
function binomialTailBySum(k: number, n: number, p: number): number {
  let total = 0;
  let choose = 1;
  for (let i = 0; i <= n; i++) {
    if (i >= k) total += choose * p ** i * (1 - p) ** (n - i);
    choose = (choose * (n - i)) / (i + 1);
  }
  return total;
}

/** The U statistic's normal approximation from expanded samples, ties counted one pair at a time. */
function mannWhitneyByPairs(canary: number[], stable: number[]): number {
  const a = canary.flatMap((count, bin) => Array<number>(count).fill(bin));
  const b = stable.flatMap((count, bin) => Array<number>(count).fill(bin));
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  const all = [...a, ...b];
  const n = all.length;
  const ties = [...new Set(all)]
    .map((v) => all.filter((w) => w === v).length)
    .reduce((s, t) => s + t ** 3 - t, 0);
  const variance = ((a.length * b.length) / 12) * (n + 1 - ties / (n * (n - 1)));
  return normalUpperTail((u - (a.length * b.length) / 2 - 0.5) / Math.sqrt(variance));
}

describe("statistics", () => {
  it("logGamma matches ln((n-1)!)", () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(10)).toBeCloseTo(Math.log(362_880), 10);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 10);
  });

  it("normalUpperTail matches the standard normal table", () => {
    expect(normalUpperTail(0)).toBeCloseTo(0.5, 6);
    expect(normalUpperTail(1.959964)).toBeCloseTo(0.025, 6);
    expect(normalUpperTail(-1.644854)).toBeCloseTo(0.95, 6);
  });

  it("binomialUpperTail matches the summed probabilities", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 0, max: 80 }),
        fc.double({ min: 0.001, max: 0.999, noNaN: true }),
        (n, k, p) => {
          expect(binomialUpperTail(k, n, p)).toBeCloseTo(binomialTailBySum(k, n, p), 9);
        },
      ),
    );
    expect(binomialUpperTail(0, 10, 0.3)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.3)).toBe(0);
    expect(binomialUpperTail(1, 60, 0.01)).toBeCloseTo(1 - 0.99 ** 60, 12);
  });

  it("binomialUpperTail stays finite and sensible for a day of requests", () => {
    const p = binomialUpperTail(1_100, 100_000, 0.01);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(0.01);
  });

  it("the Mann-Whitney p-value from bucket counts equals the one from the expanded samples", () => {
    const counts = fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(counts, counts, (canary, stable) => {
        const bins = Math.max(canary.length, stable.length);
        const pad = (c: number[]) => [...c, ...Array<number>(bins - c.length).fill(0)];
        const [a, b] = [pad(canary), pad(stable)];
        const total = [...a, ...b].reduce((s, c) => s + c, 0);
        const oneBin = a.every((c, i) => c + (b[i] ?? 0) === 0 || c + (b[i] ?? 0) === total);
        fc.pre(a.some((c) => c > 0) && b.some((c) => c > 0) && !oneBin);
        expect(mannWhitneySlowerPValue(a, b)).toBeCloseTo(mannWhitneyByPairs(a, b), 9);
      }),
    );
  });

  it("Mann-Whitney: the same distribution is not significant, a slower canary is, a faster one is not", () => {
    expect(mannWhitneySlowerPValue([2, 20, 20, 6, 1], [40, 420, 430, 110, 10])).toBeGreaterThan(0.3);
    expect(mannWhitneySlowerPValue([0, 0, 10, 30, 10], [40, 420, 430, 110, 10])).toBeLessThan(0.001);
    expect(mannWhitneySlowerPValue([10, 30, 10, 0, 0], [40, 420, 430, 110, 10])).toBeGreaterThan(0.99);
    expect(mannWhitneySlowerPValue([0, 0], [5, 5])).toBe(1);
    expect(mannWhitneySlowerPValue([0, 7], [0, 9])).toBe(1);
  });
});
