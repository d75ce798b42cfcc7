// What every bench shares: its arguments, the statistics it reports, and where its figures go. Each bench writes
// its table between its own `<!-- name:start -->` / `<!-- name:end -->` markers in docs/benchmarks.md ("Latest
// figures"), so `npm run bench` leaves the page with the figures, floors and ratios of one run on one machine;
// `--no-write` (any bench) only prints them.
import { writeFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";

const DOCS = join(import.meta.dirname, "../docs/benchmarks.md");
const NO_WRITE = "--no-write";

/** The bench's own arguments, without the shared `--no-write`. */
export function benchArgs(): string[] {
  return process.argv.slice(2).filter((arg) => arg !== NO_WRITE);
}

/** Nearest-rank percentile (q in 0..1) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** The middle value, or the mean of the two middle ones; NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** "met" or "not met", for a target line. */
export const verdict = (met: boolean): string => (met ? "met" : "**not met**");

/** The line that opens every bench's figures: when, the command that reproduces them, and the machine. */
export function runDescription(command: string, detail?: string): string {
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(" / ");
  return (
    `Run ${new Date().toISOString().slice(0, 16)}Z: \`${command}\`${detail ? `; ${detail}` : ""}; ` +
    `${cpus().length} cores (${cpu}), load average ${load} at the end; Node ${process.version}.`
  );
}

/** Print the figures and, unless `--no-write`, put them between the bench's markers in docs/benchmarks.md. */
export async function recordResults(name: string, lines: readonly string[]): Promise<void> {
  const report = lines.join("\n");
  console.log(report);
  if (process.argv.includes(NO_WRITE)) return;
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const text = await readFile(DOCS, "utf8");
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) {
    console.error(`${DOCS} has no ${start} … ${end} block: add one where these figures belong`);
    process.exitCode = 1;
    return;
  }
  await writeFile(DOCS, `${text.slice(0, from + start.length)}\n${report}\n${text.slice(to)}`);
  console.error(`figures written to ${DOCS} (${name})`);
}

/** A loadable kubeconfig naming an API server nobody listens on: for commands that must not need Kubernetes. */
export function writeUnreachableKubeconfig(path: string): void {
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]
users: [{ name: u, user: { token: x } }]
contexts: [{ name: c, context: { cluster: c, user: u } }]
current-context: c
`,
  );
}
