import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis, deleteKeysWithPrefix, REDIS_URL, uniqueName } from "../support/redis.ts";
import type { Redis } from "ioredis";

const ROOT = resolve(import.meta.dirname, "../..");
const FIXED_PORTS = [9090, 15090]; // the metrics recipe's Prometheus and mesh sandbox

/** The ```sh blocks of the README's Quickstart section (up to the next `## ` heading), as written. */
async function quickstartBlocks(): Promise<string[]> {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf("\n## Quickstart");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? "");
}

/** What a plain `git clone` holds, copied into `<empty folder>/canarybot`: nothing beside it. */
async function cleanCopy(): Promise<string> {
  const outer = await mkdtemp(join(tmpdir(), "canarybot-clone-"));
  const copy = join(outer, "canarybot");
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
    .split("\0")
    .filter(Boolean);
  for (const file of files) {
    await mkdir(dirname(join(copy, file)), { recursive: true });
    await cp(join(ROOT, file), join(copy, file), { verbatimSymlinks: true });
  }
  return copy;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer()
      .once("error", () => done(false))
      .listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

/**
 * Runs the README's quickstart and its metrics recipe verbatim, one after the other in one bash, in a copy of the
 * repository with nothing beside it, as a new user pasting them would: `npm ci`, the sandbox, a worker, a rollout
 * through its approval gate, then Prometheus judging a failing canary and a healed one.
 */
describe("the README's quickstart, pasted into a shell in a fresh clone", () => {
  let redis: Redis;
  let copy = "";
  const prefix = uniqueName("readme");

  beforeAll(async () => {
    redis = await connectRedis();
    const onPath = spawnSync("bash", ["-c", "command -v prometheus"]).status === 0;
    expect(
      onPath,
      "the README's metrics recipe runs `prometheus` from PATH: apt-get install prometheus",
    ).toBe(true);
    for (const port of FIXED_PORTS) {
      expect(await portIsFree(port), `the README's metrics recipe needs port ${port} free`).toBe(true);
    }
    copy = await cleanCopy();
  });

  afterAll(async () => {
    await deleteKeysWithPrefix(redis, `${prefix}:`);
    redis.disconnect();
    if (copy) await rm(dirname(copy), { recursive: true, force: true });
  });

  it("runs top to bottom: a promotion through the gate, an automatic rollback, then a promotion on metrics", async () => {
    const blocks = await quickstartBlocks();
    expect(blocks).toHaveLength(2);
    // Node 24 first on PATH, as the README's Requirements set it up; everything else as a user's shell has it.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
      REDIS_URL,
      CANARYBOT_PREFIX: prefix,
    };
    delete env.KUBECONFIG;
    delete env.PROMETHEUS_URL;
    // Its own process group: every process the blocks start (sandboxes, workers, Prometheus) is killed with it.
    const bash = spawn("bash", ["-eu"], { cwd: copy, env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    bash.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    bash.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => bash.once("exit", (code) => done(code)));
    bash.stdin.end(`${blocks.join("\n")}\n`);
    let code: number | null;
    try {
      code = await Promise.race([
        exited,
        new Promise<null>((_, fail) =>
          setTimeout(() => fail(new Error(`still running after 8 minutes:\n${output}`)), 480_000),
        ),
      ]);
    } finally {
      try {
        process.kill(-(bash.pid ?? 0), "SIGKILL");
      } catch {
        // already gone
      }
    }
    expect(code, output).toBe(0);

    expect(output).toMatch(/^reviews-1 started: default\/reviews v1 → v2, progressing at 10%$/m);
    const history = (id: string): { actor: string; action: string; toPhase: string }[] =>
      JSON.parse(
        execFileSync(process.execPath, ["bin/canarybot.js", "history", id, "--json"], {
          cwd: copy,
          env: { ...env, KUBECONFIG: join(copy, ".quickstart", "kubeconfig") },
          encoding: "utf8",
          timeout: 60_000,
        }),
      ) as { actor: string; action: string; toPhase: string }[];
    const first = history("reviews-1");
    expect(first.map((entry) => entry.toPhase)).toContain("awaiting-approval");
    expect(first).toContainEqual(expect.objectContaining({ actor: "cli:someone-else", action: "approve" }));
    expect(first.at(-1)?.toPhase).toBe("promoted");
    // Judged by the restarted worker on the mesh sandbox's metrics, not stepped by the old one into a false drift.
    expect(history("reviews-2").at(-1)?.toPhase).toBe("rolled-back");
    expect(history("reviews-3").at(-1)?.toPhase).toBe("promoted");
    expect(output).not.toMatch(/drift/);
    expect(await readFile(join(copy, ".quickstart", "worker.log"), "utf8")).not.toMatch(/drift/);
    const chart = await readFile(join(copy, ".quickstart", "reviews.png"));
    expect(chart.subarray(1, 4).toString()).toBe("PNG");
    expect(await readdir(join(copy, ".quickstart"))).toContain("kubeconfig");
  }, 600_000);
});
