import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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

  const loaded = async (
    args: string[],
    code = 0,
    extraEnv: Record<string, string> = {},
  ): Promise<string[]> => {
    const log = join(dir, `${args.join("-").replace(/[^\w-]+/g, "_")}.log`);
    // No Redis keys are written: an unused prefix reads as "no rollouts".
    const env = {
      HOME: dir,
      REDIS_URL,
      CANARYBOT_PREFIX: uniqueName("modules"),
      CANARYBOT_MODULE_LOG: log,
      ...extraEnv,
    };
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

  it("`worker` refuses a missing kubeconfig before it loads the Kubernetes client", async () => {
    const urls = await loaded(["worker", "--kubeconfig", join(dir, "absent")], 1);
    expect(heavyIn(urls)).not.toContain("@kubernetes/client-node");
  });

  it("a command that talks to Kubernetes does load the client (the recorder sees what is loaded)", async () => {
    // Nothing listens on port 1: every request is refused at once, and the budget ends the retries soon.
    const kubeconfig = join(dir, "unreachable");
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "nowhere", cluster: { server: "https://127.0.0.1:1" } }],
        users: [{ name: "nobody", user: { token: "t" } }],
        contexts: [{ name: "nowhere", context: { cluster: "nowhere", user: "nobody" } }],
        "current-context": "nowhere",
      }),
    );
    const urls = await loaded(
      ["start", "reviews", "--canary", "v2", "--dry-run", "--kubeconfig", kubeconfig],
      2,
      {
        KUBE_OPERATION_BUDGET_MS: "500",
      },
    );
    expect(heavyIn(urls)).toContain("@kubernetes/client-node");
  });
});
