/** A tiny reader of the Prometheus text exposition format, enough to check what the mesh sandbox serves. */
export type Sample = { name: string; labels: Record<string, string>; value: number };

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

function unescape(value: string): string {
  return value.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
}

function parseValue(text: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(text);
}

export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? "";
    LABEL.lastIndex = 0;
    let consumed = 0;
    for (let l = LABEL.exec(body); l !== null; l = LABEL.exec(body)) {
      labels[l[1] ?? ""] = unescape(l[2] ?? "");
      consumed = LABEL.lastIndex;
    }
    if (consumed !== body.length) throw new Error(`bad labels in: ${line}`);
    samples.push({ name: m[1] ?? "", labels, value: parseValue(m[3] ?? "") });
  }
  return samples;
}

/** Label names of each sample of `name`, in the order they appear. */
export function labelNamesOf(samples: readonly Sample[], name: string): string[][] {
  return samples.filter((s) => s.name === name).map((s) => Object.keys(s.labels));
}

/** Sum of the values of `name` whose labels include every pair of `where`. */
export function sumOf(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Cumulative bucket counts by `le` of a histogram, summed over the series matching `where`. */
export function bucketsOf(
  samples: readonly Sample[],
  histogram: string,
  where: Record<string, string> = {},
): Map<string, number> {
  const buckets = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== `${histogram}_bucket`) continue;
    if (!Object.entries(where).every(([k, v]) => s.labels[k] === v)) continue;
    const le = s.labels.le ?? "";
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  return buckets;
}

/** Label names a Go-templated Istio proxy test expectation (`- name: x`) lists, in order. */
export function templateLabelNames(template: string): string[] {
  return [...template.matchAll(/^ {2}- name: ([a-z_]+)$/gm)].map((m) => m[1] ?? "");
}
