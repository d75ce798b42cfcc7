// Round trips per operation, and how long a Rollback click takes to reach the route:
//   node bench/round-trips.bench.ts [--clicks 30] [--api-latency-ms 0,5] [--no-clicks]
//
// Counts (deterministic): one runtime as `openRuntime` builds it, on Redis and an in-process Kubernetes sandbox.
// For a start (no stable subset named, as `/canary start <service>` sends it), a tick that moves a step, a pause, a
// resume and a rollback through `RolloutService`, it prints
//   - the Redis commands this process sent (ioredis's tracing channel; BullMQ's included), by name,
//   - the commands Redis executed for them (MONITOR, the ones inside Lua scripts included),
//   - the Kubernetes requests the sandbox answered, by method.
// A tick here is `service.tick` alone: the BullMQ worker's own commands per job (moving it to active and to
// completed) are the floor of bench/tick-throughput.bench.ts.
//
// Timing: `canarybot serve --no-worker` (startServe) with the Slack sandbox, as bench/slack-ack.bench.ts runs it.
// Each round starts a rollout, waits for its message, clicks its Rollback button (a signed request) and takes the
// time from sending the click to the sandbox answering the route's PATCH. Floor, same run: a warm client-node PATCH
// of another VirtualService (a JSON patch that only tests a field) on a kept-alive connection, send → answer. Both
// once per `--api-latency-ms` value: the sandbox holds every VirtualService request that long before answering, as
// an API server some way off would (0: loopback, where the click's time is this process's CPU).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { ConfigurationOptions, ObservableMiddleware } from "@kubernetes/client-node";
import { loadEnvConfig } from "../src/config/env.ts";
import { sharedConnectionsMiddleware } from "../src/k8s/kube-operations.ts";
import type { Dispatcher } from "../src/k8s/kube-operations.ts";
import { createLogger } from "../src/logger.ts";
import { openRuntime } from "../src/runtime.ts";
import type { Plan, Rollout, TargetSpec } from "../src/rollout/types.ts";
import { startKubeSandbox } from "../sandbox/kube/server.ts";
import type { KubeSandbox } from "../sandbox/kube/server.ts";
import { createSignedRequestClient } from "../sandbox/slack/signed-request-client.ts";
import { startSlackSandbox } from "../sandbox/slack/web-api-sandbox.ts";
import type { SlackSandbox } from "../sandbox/slack/web-api-sandbox.ts";
import { EVENTS_PATH } from "../src/slack/app.ts";
import { ActionId } from "../src/slack/render-rollout-message.ts";
import { meshService } from "../test/support/mesh-services.ts";
import { serveInProcess } from "../test/support/serve-in-process.ts";
import { REDIS_URL, connectRedis, deleteKeysWithPrefix, uniqueName } from "../test/support/redis.ts";
import { percentile, recordResults, runDescription, verdict } from "./results.ts";
import {
  countByName,
  monitorRedisCommands,
  recordRedisCommands,
  takeKubeRequests,
} from "../test/support/round-trips.ts";

const SIGNING_SECRET = "benchSigningSecret0123456789abcd";
const CHANNEL = "C0RELEASES";
const CLICKER = "U0BOB";
const HOUR = 3_600_000;
/** Rollouts report to a channel, as Slack-started ones do: their notifications go through the BullMQ queue. */
const report = { channel: CHANNEL };

const PLAN: Plan = { steps: [10, 20, 50, 100], intervalMs: HOUR, approvalGates: [], twoPersonRule: false };

function spec(service: string): TargetSpec {
  return { namespace: "default", service, virtualService: service, host: service, canarySubset: "v2" };
}

const now = (): number => performance.timeOrigin + performance.now();

const show = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, count]) => `${name} ${count}`)
    .join(", ") || "none";

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

/** Table rows of the round trips of each operation. */
async function countOperations(dir: string): Promise<string[]> {
  const kube = await startKubeSandbox({ scenario: "empty", objects: meshService("svc-count") });
  const kubeconfigPath = join(dir, "kubeconfig-count");
  await kube.writeKubeconfig(kubeconfigPath);
  const prefix = uniqueName("bench-trips");
  const env = loadEnvConfig({
    REDIS_URL,
    CANARYBOT_PREFIX: prefix,
    KUBECONFIG: kubeconfigPath,
    LOG_LEVEL: "silent",
  });
  const runtime = openRuntime({
    env,
    processEnv: { KUBECONFIG: kubeconfigPath, HOME: process.env.HOME },
    logger: createLogger("silent"),
  });
  const redis = await connectRedis();
  const sent = recordRedisCommands();
  const executed = await monitorRedisCommands(redis.duplicate(), `${prefix}:`);
  const { service, store } = runtime;
  const rows: string[] = [];
  const measure = async (label: string, operation: () => Promise<unknown>): Promise<void> => {
    sent.take();
    await executed.take();
    takeKubeRequests(kube);
    await operation();
    const client = countByName(sent.take());
    const server = countByName(await executed.take());
    const requests = takeKubeRequests(kube);
    rows.push(
      `| ${label} | ${total(client)} (${show(client)}) | ${total(server)} | ${total(requests)} (${show(requests)}) |`,
    );
  };
  const current = async (id: string): Promise<Rollout> => {
    const rollout = await store.get(id);
    if (!rollout) throw new Error(`${id} vanished`);
    return rollout;
  };
  try {
    // Warm-up: connections, script loading and API discovery are paid once per process, not per operation.
    const warm = await service.start({ target: spec("svc-count"), plan: PLAN, by: "cli:bench", report });
    await service.act(warm.id, { type: "rollback", by: "cli:bench", reason: "warm-up" });
    let id = "";
    await measure("start (stable subset read off the route)", async () => {
      id = (await service.start({ target: spec("svc-count"), plan: PLAN, by: "cli:bench", report })).id;
    });
    const tick = (await current(id)).tick;
    await measure("tick that moves a step", () => service.tick(id, tick));
    await measure("stale tick (already run)", () => service.tick(id, tick));
    await measure("pause", () => service.act(id, { type: "pause", by: "cli:bench" }));
    await measure("resume", () => service.act(id, { type: "resume", by: "cli:bench" }));
    await measure("rollback", () => service.act(id, { type: "rollback", by: "cli:bench", reason: "bench" }));
    return [
      "Round trips per operation (RolloutService; Redis keys of this bench only):",
      "",
      "| operation | Redis commands sent (by name) | executed by Redis (Lua included) | Kubernetes requests |",
      "|---|---|---|---|",
      ...rows,
    ];
  } finally {
    sent.stop();
    await executed.stop();
    await runtime.close();
    await deleteKeysWithPrefix(redis, `${prefix}:`);
    redis.disconnect();
    await kube.close();
  }
}

/** A warm client-node PATCH: one kept-alive connection, a JSON patch that only tests a field. */
function warmPatcher(kube: KubeSandbox, name: string): () => Promise<number> {
  const config = new KubeConfig();
  config.loadFromString(kube.kubeconfig);
  const custom = config.makeApiClient(CustomObjectsApi);
  const request: ConfigurationOptions<ObservableMiddleware> = {
    middleware: [sharedConnectionsMiddleware(new Map<string, Dispatcher>())],
    middlewareMergeStrategy: "append",
  };
  const options = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch, request);
  return async () => {
    const began = now();
    await custom.patchNamespacedCustomObject(
      {
        group: "networking.istio.io",
        version: "v1",
        namespace: "default",
        plural: "virtualservices",
        name,
        body: [{ op: "test", path: "/metadata/name", value: name }],
      },
      options,
    );
    return now() - began;
  };
}

/** The rollout's message once its buttons carry the rollout's stored version (a click on it is not stale). */
function rolloutMessage(slack: SlackSandbox, rollout: Rollout | undefined): string | undefined {
  if (!rollout) return undefined;
  const value = `"${rollout.id}@${rollout.version}"`;
  return slack.messages(CHANNEL).find((message) => JSON.stringify(message.blocks ?? []).includes(value))?.ts;
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

/** Lines on the time from a Rollback click to the route's PATCH, against a warm PATCH, at each API latency. */
async function timeClicks(clicks: number, latencies: readonly number[]): Promise<string[]> {
  const slack = await startSlackSandbox({
    users: [{ id: CLICKER, name: "bob" }],
    channels: [{ id: CHANNEL, name: "releases" }],
  });
  const kube = await startKubeSandbox({
    scenario: "empty",
    objects: [...meshService("svc-click"), ...meshService("svc-floor")],
  });
  const canarybot = await serveInProcess({
    slack,
    kube,
    signingSecret: SIGNING_SECRET,
    label: "bench-click",
  });
  const { serve } = canarybot;
  const client = createSignedRequestClient({
    endpoint: `http://127.0.0.1:${serve.port ?? 0}${EVENTS_PATH}`,
    signingSecret: SIGNING_SECRET,
    slack,
  });
  const patch = warmPatcher(kube, "svc-floor");
  const sent = recordRedisCommands();

  /** One timed round per click at this latency, after three warm-up rounds. */
  const timeRounds = async (latencyMs: number) => {
    const clickMs: number[] = [];
    const floorMs: number[] = [];
    const perClick: number[] = [];
    const delay =
      latencyMs > 0 ? kube.faults.add({ resource: "virtualservices", delayMs: latencyMs }) : undefined;
    const warmup = 3;
    for (let round = 0; round < warmup + clicks; round++) {
      const started = await serve.runtime.service.start({
        target: spec("svc-click"),
        plan: PLAN,
        by: CLICKER,
        report: { channel: CHANNEL },
      });
      let messageTs: string | undefined;
      await until(
        "the rollout message",
        async () =>
          (messageTs = rolloutMessage(slack, await serve.runtime.store.get(started.id))) !== undefined,
      );
      await sleep(5);
      for (let i = 0; i < 3; i++) floorMs.push(await patch());
      kube.requests.clear();
      sent.take();
      const began = now();
      const answer = await client.clickButton({
        channel: CHANNEL,
        messageTs: messageTs ?? "",
        actionId: ActionId.Rollback,
        userId: CLICKER,
      });
      if (answer.status !== 200) throw new Error(`click answered HTTP ${answer.status}`);
      await until("the route's PATCH", () => kube.requests.all().some((record) => record.method === "PATCH"));
      const patched = kube.requests.all().find((record) => record.method === "PATCH");
      await until(
        "the rollback",
        async () => (await serve.runtime.store.get(started.id))?.phase === "rolled-back",
      );
      await sleep(20);
      if (round >= warmup) {
        clickMs.push((patched?.at ?? Number.NaN) - began);
        perClick.push(sent.take().length);
      }
    }
    if (delay !== undefined) kube.faults.remove(delay);
    const floor50 = percentile(floorMs.slice(warmup * 3), 0.5);
    const click50 = percentile(clickMs, 0.5);
    return {
      latencyMs,
      click50,
      click90: percentile(clickMs, 0.9),
      floor50,
      ratio: click50 / floor50,
      perClick,
    };
  };

  try {
    const results = [];
    for (const latencyMs of latencies) results.push(await timeRounds(latencyMs));
    const loopback = results.find((result) => result.latencyMs === 0) ?? results[0];
    return [
      "",
      `Rollback click → route PATCH answered, ${clicks} clicks per row (HTTP mode, signed, one at a time); the added`,
      "API latency holds every VirtualService request that long in the sandbox, as an API server some way off would:",
      "",
      "| API latency added | click p50 | click p90 | floor: warm client-node PATCH p50 | **ratio p50** | Redis commands per click (median) |",
      "|---|---|---|---|---|---|",
      ...results.map(
        (result) =>
          `| ${result.latencyMs} ms | ${result.click50.toFixed(2)} ms | ${result.click90.toFixed(2)} ms | ${result.floor50.toFixed(2)} ms | **${result.ratio.toFixed(2)}** | ${percentile(result.perClick, 0.5)} |`,
      ),
      "",
      `Target click → route written ≤ 3× a warm PATCH, with no latency added: ${verdict((loopback?.ratio ?? Infinity) <= 3)}.`,
    ];
  } finally {
    sent.stop();
    await canarybot.close();
    await kube.close();
    await slack.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clicks: { type: "string", default: "30" },
      "api-latency-ms": { type: "string", default: "0,5" },
      "no-clicks": { type: "boolean", default: false },
      "no-write": { type: "boolean", default: false },
    },
  });
  const dir = await mkdtemp(join(tmpdir(), "canarybot-bench-"));
  try {
    const counts = await countOperations(dir);
    const latencies = values["api-latency-ms"].split(",").filter(Boolean).map(Number);
    const timing = values["no-clicks"] ? [] : await timeClicks(Number(values.clicks), latencies);
    const command = `node bench/round-trips.bench.ts${values["no-clicks"] ? " --no-clicks" : ` --clicks ${values.clicks} --api-latency-ms ${values["api-latency-ms"]}`}`;
    await recordResults("round-trips", [runDescription(command), "", ...counts, ...timing]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
