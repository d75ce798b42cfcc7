import type { KubeConfig } from "@kubernetes/client-node";
import { randomUUID } from "node:crypto";
import { errorMessage } from "../errors.ts";
import { openRedis } from "../store/redis-client.ts";

/** One thing `/readyz` needs: resolves when it answers, rejects with why not. */
export type ReadinessCheck = {
  readonly name: string;
  check(): Promise<void>;
  close(): Promise<void>;
};

/** Each check gets this long: a probe must answer well within the 5 s a readiness flip may take. */
export const CHECK_TIMEOUT_MS = 2_000;

/**
 * Redis answers a PING on a connection of its own: the shared connections queue commands while Redis is away
 * (so a PING there would wait, not fail), and their timeouts are tuned for rollouts, not probes. It also still holds
 * what it held: the first answer leaves a marker under `markerKey` (or reads the one another replica left), and a
 * marker that later is gone or changed means Redis lost canarybot's data (restarted without persistence, flushed,
 * failed over to an empty replica). Then the rollouts it held are unknown, nothing is written to any route from a
 * guess, and the process stays unready, saying so, until it is restarted.
 */
export function redisReadiness(url: string, markerKey: string): ReadinessCheck {
  const redis = openRedis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: CHECK_TIMEOUT_MS,
    // Reconnect quickly, forever: readiness must come back within seconds of Redis.
    retryStrategy: () => 500,
  });
  redis.on("error", () => undefined); // reported through the failing PING
  redis.connect().catch(() => undefined);
  let marker: string | undefined;
  return {
    name: "redis",
    async check() {
      await withTimeout(redis.ping(), "PING");
      if (marker === undefined) {
        await withTimeout(redis.set(markerKey, randomUUID(), "NX"), "SET marker");
        marker = (await withTimeout(redis.get(markerKey), "GET marker")) ?? undefined;
        return;
      }
      const now = await withTimeout(redis.get(markerKey), "GET marker");
      if (now !== marker) {
        throw new Error(
          "Redis has lost canarybot's data since this process started (its marker is gone): the rollouts it " +
            "held are unknown and no route is written from a guess; check the VirtualServices, then restart",
        );
      }
    },
    close() {
      redis.disconnect();
      return Promise.resolve();
    },
  };
}

/**
 * The Kubernetes API answers `/version`, which every authenticated client may read (no RBAC rule needed). The client
 * is loaded for the first check (`loadKubeConfig`), not when the process starts.
 */
export function kubernetesReadiness(loadKubeConfig: () => Promise<KubeConfig>): ReadinessCheck {
  let api: Promise<{ getCode(): Promise<unknown> }> | undefined;
  return {
    name: "kubernetes",
    async check() {
      api ??= Promise.all([import("@kubernetes/client-node"), loadKubeConfig()]).then(
        ([{ VersionApi }, config]) => config.makeApiClient(VersionApi),
      );
      try {
        await withTimeout(
          api.then((client) => client.getCode()),
          "GET /version",
        );
      } catch (error) {
        // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, a certificate, …).
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        const why = cause?.code ?? cause?.message;
        throw new Error(`${errorMessage(error)}${why ? ` (${why})` : ""}`, {
          cause: error,
        });
      }
    },
    close: () => Promise.resolve(),
  };
}

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what}: no answer in ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
