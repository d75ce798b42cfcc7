import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebhookSandbox } from "../../sandbox/webhooks/index.ts";
import type { WebhookSandbox } from "../../sandbox/webhooks/index.ts";
import { RedisRolloutStore } from "../../src/store/redis-rollout-store.ts";
import { ownRedisServer } from "../support/own-redis.ts";
import { runCanarybot } from "../support/cli-process.ts";
import type { ProcessResult } from "../support/cli-process.ts";
import { engineHarness } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { makeRollout } from "../support/rollouts.ts";
import { startCanarybot } from "../support/processes.ts";

/**
 * Issue 10 item 5: `canarybot start … --wait` and `canarybot wait <id>` in child processes, as a pipeline runs them,
 * against real Redis and the Kubernetes sandbox, with a worker stepping the rollouts.
 */
describe("start --wait and wait", () => {
  let h: EngineHarness;
  let hooks: WebhookSandbox;

  beforeAll(async () => {
    h = await engineHarness("cli-wait");
    hooks = await startWebhookSandbox();
    await h.worker();
  }, 60_000);
  afterAll(async () => {
    await hooks?.close();
    await h?.cleanup();
  });

  const canarybot = (...args: string[]): Promise<ProcessResult> =>
    runCanarybot(args, h.env, { killAfterMs: 60_000 });
  const lines = (result: ProcessResult): string[] => result.stdout.trimEnd().split("\n");
  /** A canarybot child once it has printed `ready`, and its exit code with all it printed once it ends. */
  const followed = async (args: string[], ready: string) => {
    const started = await startCanarybot(args, new RegExp(ready.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), {
      env: h.env,
    });
    const exited = new Promise<{ code: number | null; output: string }>((done) =>
      started.child.once("exit", (code) => done({ code, output: started.output() })),
    );
    return { exited };
  };

  it("exits 0 once promoted, a line per phase and weight change", async () => {
    const result = await canarybot(
      ...["start", "reviews", "--canary", "v2", "--steps", "50,100", "--interval", "1s", "--wait"],
    );
    expect(result.stderr).toBe("");
    const shown = lines(result);
    expect(shown.slice(0, 2)).toEqual([
      expect.stringMatching(/^reviews-\d+ started: default\/reviews v1 → v2, progressing at 50%$/),
      expect.stringMatching(/^reviews-\d+ progressing 50% · step 1\/2$/),
    ]);
    // The write to 100% may be seen pending (`50% → 100%`) or not, as the polls fall; never a line twice.
    expect(shown.at(-1)).toMatch(/^reviews-\d+ promoted 100% · step 2\/2: all steps passed$/);
    expect(new Set(shown).size).toBe(shown.length);
    expect(result.code).toBe(0);
  }, 60_000);

  it("exits 3 when rolled back: a --webhook load test that keeps failing reaches the failure limit", async () => {
    hooks.script("/hooks/load", [{ status: 500, body: "load test failed" }]);
    const result = await canarybot(
      ...["start", "reviews", "--canary", "v3", "--steps", "10,100", "--interval", "1s", "--wait"],
      ...["--webhook", `type=rollout,name=load,url=${hooks.url}/hooks/load,metadata.cmd=hey -z 1s http://r/`],
    );
    expect(result.stderr).toBe("");
    expect(lines(result).at(-1)).toMatch(/^reviews-\d+ rolled-back 0% · back from step 1\/2: .*webhook load/);
    expect(result.code).toBe(3);
    expect(hooks.requests("/hooks/load").length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it("exits 4 when --wait-timeout passes at an approval gate; the rollout goes on, and wait follows it to the end", async () => {
    const result = await canarybot(
      // v2 took the traffic in the first test: v3 is the canary now.
      ...["start", "reviews", "--canary", "v3", "--steps", "10,100", "--interval", "1s"],
      ...["--approve-at", "10", "--as", "alice", "--wait", "--wait-timeout", "1s"],
    );
    expect(result.stderr).toBe("");
    const id = /^(\S+) started/.exec(result.stdout)?.[1] ?? "";
    expect(lines(result).slice(-2)).toEqual([
      `${id} awaiting-approval 10% · step 1/2: waits for a person's approval (not cli:alice)`,
      `${id} still awaiting-approval after --wait-timeout 1s: stopped waiting, the rollout goes on (canarybot wait ${id} follows it again)`,
    ]);
    expect(result.code).toBe(4);
    const status = JSON.parse((await h.cli("status", id, "--json")).stdout) as { phase: string };
    expect(status.phase).toBe("awaiting-approval");

    const awaiting = `${id} awaiting-approval 10% · step 1/2: waits for a person's approval (not cli:alice)`;
    // Approved by someone else once `wait` has printed where the rollout stands.
    const waiting = await followed(["wait", id], awaiting);
    const approved = await canarybot("approve", id, "--as", "bob");
    expect(approved.code).toBe(0);
    const { code, output } = await waiting.exited;
    expect(output.trimEnd().split("\n")[0]).toBe(awaiting);
    expect(output.trimEnd().split("\n").at(-1)).toMatch(new RegExp(`^${id} promoted 100% · step 2/2`));
    expect(code).toBe(0);
  }, 90_000);

  it("refuses --wait where nothing starts now, a wrong --wait-timeout and a #channel, in one line", async () => {
    const dry = await canarybot("start", "reviews", "--canary", "v2", "--dry-run", "--wait");
    expect([dry.code, dry.stderr]).toEqual([1, "--wait: not with --dry-run or --at (nothing starts now)\n"]);
    const bad = await canarybot("wait", "reviews-1", "--wait-timeout", "soon");
    expect([bad.code, bad.stderr]).toEqual([
      1,
      '--wait-timeout: "soon" is not a duration like 30s, 2m or 500ms\n',
    ]);
    const alone = await canarybot("start", "reviews", "--canary", "v2", "--wait-timeout", "1m");
    expect([alone.code, alone.stderr]).toEqual([1, "--wait-timeout: only with --wait\n"]);
    const channel = await canarybot("start", "reviews", "--canary", "v2", "--channel", "#deploys", "--wait");
    expect([channel.code, channel.stderr]).toEqual([
      1,
      "--channel #deploys: expected a Slack channel id (C…), not a #name\n",
    ]);
  }, 60_000);
});

describe("wait when Redis goes away", () => {
  it("prints one line and exits 2, within seconds", async () => {
    const redis = await ownRedisServer();
    await redis.start();
    try {
      const own = new Redis(redis.url);
      await new RedisRolloutStore(own, { prefix: "canarybot:" }).create(makeRollout({ id: "reviews-1" }));
      own.disconnect();
      const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", REDIS_URL: redis.url };
      const waiting = await startCanarybot(["wait", "reviews-1"], /^reviews-1 progressing .*\n/, { env });
      const exited = new Promise<number | null>((done) => waiting.child.once("exit", done));
      await redis.stop();
      const stopped = Date.now();
      const code = await Promise.race([
        exited,
        new Promise<"hung">((done) => setTimeout(() => done("hung"), 15_000)),
      ]);
      if (code === "hung") await waiting.stop("SIGKILL");
      expect(code).toBe(2);
      expect(Date.now() - stopped).toBeLessThan(10_000);
      expect(waiting.output()).toMatch(
        new RegExp(`^reviews-1 progressing [^\\n]+\\nRedis at ${redis.url} unreachable: [^\\n]+\\n$`),
      );
    } finally {
      await redis.cleanup();
    }
  }, 60_000);
});
