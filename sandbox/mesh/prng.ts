/** A seeded source of uniform numbers in [0, 1): the simulator's only randomness, so a seed replays a run. */
export type Random = () => number;

/** sfc32 (Chris Doty-Humphrey's small fast counter), seeded from one 32-bit integer. */
export function seededRandom(seed: number): Random {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // Mix the seed in before the first use.
  for (let i = 0; i < 15; i++) next();
  return next;
}

/** A standard normal deviate (Box–Muller). */
export function normal(random: Random): number {
  const u = 1 - random(); // (0, 1]: log(0) never happens
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** z of the 99th percentile of the standard normal distribution. */
const Z99 = 2.326347874040841;

/**
 * A log-normal latency with the given median and 99th percentile (milliseconds): ln X ~ N(ln p50, σ²) with
 * σ = (ln p99 − ln p50) / z₀.₉₉. p99 = p50 gives a constant.
 */
export function logNormalMs(random: Random, p50: number, p99: number): number {
  const sigma = Math.max(0, Math.log(p99) - Math.log(p50)) / Z99;
  return Math.exp(Math.log(p50) + sigma * normal(random));
}
