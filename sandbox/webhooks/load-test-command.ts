/** What a `hey` command line asks for: requests per second in all (`-q` per worker × `-c` workers) and for how long. */
export type LoadTest = { url: string; rps: number; durationMs?: number };

/**
 * Reads the load a flagger-loadtester `hey` command would generate: `hey -z 1m -q 10 -c 2 http://podinfo-canary:9898/`
 * is 20 requests per second for a minute. Undefined for anything that is not a rate-limited `hey` (hey without `-q`
 * sends as fast as it can, which a simulation cannot honour).
 */
export function parseHeyCommand(command: string): LoadTest | undefined {
  const words = command.trim().split(/\s+/);
  if (words[0] !== "hey") return undefined;
  const flag = (name: string): string | undefined => {
    const index = words.indexOf(name);
    return index >= 0 ? words[index + 1] : undefined;
  };
  const perWorker = Number(flag("-q"));
  const workers = Number(flag("-c") ?? "50");
  const url = words.at(-1) ?? "";
  if (!(perWorker > 0) || !(workers > 0) || !/^https?:\/\//.test(url)) return undefined;
  const duration = flag("-z");
  const durationMs = duration === undefined ? undefined : parseGoDuration(duration);
  return { url, rps: perWorker * workers, ...(durationMs === undefined ? {} : { durationMs }) };
}

const UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `1m30s` → 90000; undefined when it is not one. */
function parseGoDuration(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join("") !== text) return undefined;
  return parts.reduce((total, part) => total + Number(part[1]) * (UNITS_MS[part[2] ?? ""] ?? 0), 0);
}
