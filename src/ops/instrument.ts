import type { WebClient } from "@slack/web-api";
import type { Analyzer, RolloutStore, TrafficRouter } from "../rollout/ports.ts";
import type { OpsMetrics } from "./metrics.ts";

/**
 * Wrappers that count and time the ports at composition, so the adapters stay free of metrics code. Each
 * returns an object implementing the same port; behaviour (results, errors) passes through unchanged.
 */

export function instrumentRouter(router: TrafficRouter, metrics: OpsMetrics): TrafficRouter {
  const time = <T>(operation: string, call: () => Promise<T>) =>
    metrics.timeCall("kubernetes", operation, call);
  return {
    inspect: (target, reads) => time("inspect", () => router.inspect(target, reads)),
    async setWeights(target, desired, expected, reads) {
      await time("setWeights", () => router.setWeights(target, desired, expected, reads));
      if (desired.canaryWeight !== expected.appliedWeight) metrics.stepTaken();
    },
    restore: (target, baseline, reads) => time("restore", () => router.restore(target, baseline, reads)),
    prefetch: (target, reads) => router.prefetch(target, reads),
    currentSubset: (target) => time("currentSubset", () => router.currentSubset(target)),
    describeChange: (target, desired) => time("describeChange", () => router.describeChange(target, desired)),
  };
}

export function instrumentAnalyzer(analyzer: Analyzer, metrics: OpsMetrics): Analyzer {
  return {
    analyze: (rollout, now) =>
      metrics.timeCall("prometheus", "analyze", () => analyzer.analyze(rollout, now)),
  };
}

/** Counts phase changes and rollbacks from the audit entries as they are written. */
export function instrumentStore(store: RolloutStore, metrics: OpsMetrics): RolloutStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === "appendAudit") {
        return async (entry: Parameters<RolloutStore["appendAudit"]>[0]) => {
          await target.appendAudit(entry);
          metrics.audited(entry);
        };
      }
      if (property === "save") {
        // A change's entries are saved with it: counted once the save went through.
        return async (...args: Parameters<RolloutStore["save"]>) => {
          const saved = await target.save(...args);
          for (const entry of args[2] ?? []) metrics.audited(entry);
          return saved;
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

type MakeRequest = (url: string, body: unknown, headers?: unknown) => Promise<Response>;

/**
 * Every Web API request the client sends (`chat.postMessage`, `chat.update`, the calls of a file upload), by
 * method. The client binds its method functions when it is built, so the hook is its one request function; an
 * answer of `ok: false` (Slack's errors come with HTTP 200) counts as an error.
 */
export function instrumentSlackClient(client: WebClient, metrics: OpsMetrics): WebClient {
  const inner = client as unknown as { makeRequest: MakeRequest };
  const makeRequest = inner.makeRequest.bind(client);
  inner.makeRequest = (url, body, headers) =>
    metrics.timeCall(
      "slack",
      new URL(url).pathname.split("/").pop() || "request",
      () => makeRequest(url, body, headers),
      slackRefused,
    );
  return client;
}

/** Reads a copy of the body, leaving the original for the client. */
async function slackRefused(response: Response): Promise<boolean> {
  try {
    const body: unknown = await response.clone().json();
    return typeof body === "object" && body !== null && (body as { ok?: unknown }).ok === false;
  } catch {
    return false; // not JSON (a file upload's answer): the HTTP status said it went through
  }
}
