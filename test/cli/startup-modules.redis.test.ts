import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCanarybot } from "../support/cli-process.ts";
import { REDIS_URL, uniqueName } from "../support/redis.ts";

const RECORDER = resolve(import.meta.dirname, "../support/record-loaded-modules.ts");
const HEAVY = ["@kubernetes/client-node", "@slack/bolt", "chart.js", "@napi-rs/canvas", "bullmq"];

/**
 * Issue 13 item 1: a command loads what it uses. `--help` and the commands that only read Redis never load the
 * Kubernetes client, Bolt, chart.js or BullMQ (together they were most of a 3.6 s start).
 */
describe("what a command loads", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "canarybot-modules-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const loaded = async (args: string[], code = 0): Promise<string[]> => {
    const log = join(dir, `${args.join("-")}.log`);
    // No Redis keys are written: an unused prefix reads as "no rollouts".
    const env = { HOME: dir, REDIS_URL, CANARYBOT_PREFIX: uniqueName("modules"), CANARYBOT_MODULE_LOG: log };
    const result = await runCanarybot(args, env, { nodeArgs: ["--import", RECORDER] });
    expect(result.code, result.stderr).toBe(code);
    return (await readFile(log, "utf8")).trim().split("\n");
  };
  const heavyIn = (urls: string[]): string[] =>
    HEAVY.filter((name) => urls.some((url) => url.includes(`/node_modules/${name}/`)));

  it.each([[["--help"]], [["status"]], [["list", "--json"]]])(
    "%j loads none of the heavy modules",
    async (args) => {
      const urls = await loaded(args);
      expect(urls.some((url) => url.endsWith("/src/cli/program.ts"))).toBe(true);
      expect(heavyIn(urls)).toEqual([]);
    },
  );

  it("a command that steps rollouts does load them (the recorder sees what is loaded)", async () => {
    // `worker` without a kubeconfig stops at once, after loading what it would run with.
    const urls = await loaded(["worker"], 1);
    expect(heavyIn(urls)).toEqual(expect.arrayContaining(["@kubernetes/client-node", "bullmq"]));
  });
});
