/**
 * The tests the statistical judge runs, purely: a one-sided binomial test on error counts and a one-sided
 * Mann-Whitney U test on latencies binned by histogram buckets (as Kayenta's judge does, with ties).
 * Every function returns a p-value: the chance of a result at least this bad if the canary were fine.
 */

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let sum = c[0] ?? 0;
  for (let i = 1; i < c.length; i++) sum += (c[i] ?? 0) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(X ≥ k) for X ~ Binomial(n, p): how likely k or more errors in n requests are at an error rate of p. */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  return regularizedBeta(p, k, n - k + 1);
}

/**
 * erfc(x) for x ≥ 0: below 2.5 from erf's series of positive terms (e^{-x²} Σ 2ⁿx^{2n+1} / (2n+1)!!), above it from
 * the continued fraction (x + ½/(x + 1/(x + 3⁄2/(x + …)))), both to double precision.
 */
function erfc(x: number): number {
  if (x < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; term > 1e-17 * sum; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  let fraction = x;
  for (let n = 60; n >= 1; n--) fraction = x + n / 2 / fraction;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * fraction);
}

/** Standard normal upper tail P(Z ≥ z). */
export function normalUpperTail(z: number): number {
  const tail = erfc(Math.abs(z) / Math.SQRT2) / 2;
  return z >= 0 ? tail : 1 - tail;
}

/**
 * One-sided Mann-Whitney U test that the canary is slower than the stable subset, from requests counted per
 * latency bucket (the same bucket bounds for both, fastest first). Requests in one bucket are ties: they share
 * the mean rank, and the variance is corrected for ties. Normal approximation with continuity correction, which
 * is what Kayenta uses too; with no requests on either side there is nothing to test (p = 1).
 */
export function mannWhitneySlowerPValue(canary: readonly number[], stable: readonly number[]): number {
  const n1 = canary.reduce((s, c) => s + c, 0);
  const n2 = stable.reduce((s, c) => s + c, 0);
  const n = n1 + n2;
  if (n1 === 0 || n2 === 0) return 1;
  let below = 0;
  let rankSum = 0;
  let ties = 0;
  const bins = Math.max(canary.length, stable.length);
  for (let i = 0; i < bins; i++) {
    const c = canary[i] ?? 0;
    const t = c + (stable[i] ?? 0);
    rankSum += c * (below + (t + 1) / 2);
    ties += t * t * t - t;
    below += t;
  }
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (!(variance > 0)) return 1; // every request in one bucket: no difference to see
  return normalUpperTail((u - mean - 0.5) / Math.sqrt(variance));
}
