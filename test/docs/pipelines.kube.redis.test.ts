import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startMeshSandbox } from "../../sandbox/mesh/index.ts";
import type { MeshSandbox } from "../../sandbox/mesh/index.ts";
import { ActionId } from "../../src/slack/render-rollout-message.ts";
import { BOB, DEPLOYS, SRE, botHarness } from "../support/bot-harness.ts";
import type { BotHarness } from "../support/bot-harness.ts";
import { engineHarness, waitFor } from "../support/engine.ts";
import type { EngineHarness } from "../support/engine.ts";
import { REDIS_URL } from "../support/redis.ts";

const ROOT = resolve(import.meta.dirname, "../..");

/** A pipeline as the doc writes it: the shell of each stage in order, and of its failure and abort handler. */
type Pipeline = {
  stages: { name: string; script: string }[];
  onFailure: string;
  env: Record<string, string>;
  /** How the agent runs a step's script: Jenkins' `sh` is `sh -xe`, an Actions `run:` is `bash -e`. */
  shell: [string, ...string[]];
};

function codeBlocks(doc: string, language: string): string[] {
  return [...doc.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, "gm"))].map(
    (m) => m[1] ?? "",
  );
}

/** The Jenkinsfile's `sh '''…'''` of every stage, and of `post { unsuccessful { … } }`. */
function jenkinsPipeline(doc: string): Pipeline {
  const [jenkinsfile = ""] = codeBlocks(doc, "groovy");
  const stages = [
    ...jenkinsfile.matchAll(/stage\('([^']+)'\)\s*\{\s*steps\s*\{\s*sh '''\n([\s\S]*?)'''/g),
  ].map((match) => ({ name: match[1] ?? "", script: match[2] ?? "" }));
  const onFailure = /unsuccessful\s*\{\s*sh '''\n([\s\S]*?)'''/.exec(jenkinsfile)?.[1] ?? "";
  return { stages, onFailure, env: { BUILD_TAG: "jenkins-reviews-7" }, shell: ["sh", "-xe"] };
}

/** The workflow's `run:` of every step but the one writing the agent's credentials, and of its `if: failure() …` step. */
function githubPipeline(doc: string): Pipeline {
  const workflow = codeBlocks(doc, "yaml").find((block) => block.includes("jobs:")) ?? "";
  const steps = (
    parse(workflow) as { jobs: { release: { steps: { name: string; run?: string; if?: string }[] } } }
  ).jobs.release.steps;
  const stages = steps
    .filter((step) => step.run !== undefined && step.if === undefined && step.name !== "Cluster credentials")
    .map((step) => ({ name: step.name, script: step.run ?? "" }));
  const onFailure = steps.find((step) => step.if === "failure() || cancelled()")?.run ?? "";
  return { stages, onFailure, env: { GITHUB_RUN_ID: "4242" }, shell: ["bash", "-e"] };
}

type Bash = { exited: Promise<{ code: number | null; output: string }>; kill(): void };

/** The doc's config file, with an interval a test can wait for. */
const CONFIG = "services:\n  reviews:\n    defaults: { steps: [10, 100], interval: 1s, approveAt: 10 }\n";

/** A CI agent: a workspace with `canarybot` and kubectl on PATH (Node 24 first), running a pipeline's scripts. */
type Agent = {
  dir: string;
  run(script: string): Bash;
  /** Runs stage `index` to its end, which must be success. */
  stage(index: number): Promise<string>;
  /** The rollout the job started: the first word of `.canary/start.log`. */
  rolloutId(): Promise<string>;
  cleanup(): Promise<void>;
};

async function agent(pipeline: Pipeline, base: Record<string, string>, config: string): Promise<Agent> {
  const dir = await mkdtemp(join(tmpdir(), "canarybot-pipeline-"));
  await symlink(join(ROOT, "bin/canarybot.js"), join(dir, "canarybot"));
  await writeFile(join(dir, "canarybot.yaml"), config);
  const env = {
    ...base,
    ...pipeline.env,
    PATH: `${dir}:${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
    // kubectl keeps its discovery cache under HOME: the workspace's own, as on a fresh agent.
    HOME: dir,
    CANARYBOT_CONFIG: join(dir, "canarybot.yaml"),
  };
  const run = (script: string): Bash => {
    const [shell, ...flags] = pipeline.shell;
    const child = spawn(shell, [...flags, "-c", script], {
      cwd: dir,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    return {
      exited: new Promise((done) => child.once("exit", (code) => done({ code, output }))),
      // An aborted job: its shell and whatever it runs.
      kill: () => process.kill(-(child.pid ?? 0), "SIGTERM"),
    };
  };
  return {
    dir,
    run,
    async stage(index) {
      const { code, output } = await run(pipeline.stages[index]?.script ?? "exit 99").exited;
      expect(code, `${pipeline.stages[index]?.name}:\n${output}`).toBe(0);
      return output;
    },
    async rolloutId() {
      return /^(\S+) started: /m.exec(await readFile(join(dir, ".canary/start.log"), "utf8"))?.[1] ?? "";
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The mesh sandbox on a Kubernetes sandbox's kubeconfig: `/services/reviews/` stands in for REVIEWS_URL. */
async function meshOn(kubeconfigPath: string): Promise<MeshSandbox> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return startMeshSandbox({ kubeConfig, namespace: "default", services: ["reviews"], autoAdvance: false });
}

/**
 * Issue 10 item 5: the two pipelines of docs/pipelines.md, their shell run as written, stage after stage, in
 * the shell each agent runs them in, against the Kubernetes sandbox, real Redis, a worker and the mesh sandbox (which
 * answers the integration test's request by the live route). A person's Approve is `canarybot approve --as bob`.
 */
describe.each([
  ["the Jenkinsfile", jenkinsPipeline],
  ["the GitHub Actions job", githubPipeline],
])("%s in docs/pipelines.md", (_name, read) => {
  let h: EngineHarness;
  let mesh: MeshSandbox;
  let pipeline: Pipeline;
  let ci: Agent;

  beforeEach(async () => {
    pipeline = read(await readFile(join(ROOT, "docs/pipelines.md"), "utf8"));
    h = await engineHarness("pipelines");
    await h.worker();
    mesh = await meshOn(h.kubeconfigPath);
    ci = await agent(
      pipeline,
      { ...h.env, REVIEWS_URL: `${mesh.url}/services/reviews`, SLACK_CHANNEL: "C0PIPELINE" },
      CONFIG,
    );
  }, 60_000);
  afterEach(async () => {
    await mesh?.close();
    await h?.cleanup();
    await ci?.cleanup();
  });

  const stage = (index: number): Promise<string> => ci.stage(index);
  const bash = (script: string): Bash => ci.run(script);
  const rolloutId = (): Promise<string> => ci.rolloutId();
  const phase = async (id: string): Promise<string> =>
    (JSON.parse((await h.cli("status", id, "--json")).stdout) as { phase: string }).phase;
  const atGate = (id: string) =>
    waitFor(`${id} at its approval gate`, async () =>
      (await phase(id)) === "awaiting-approval" ? true : undefined,
    );

  it("releases v2: header-routed test, 10% until a person approves, 100%, v1 deleted", async () => {
    expect(pipeline.stages.map((s) => s.name)).toHaveLength(4);
    const before = h.kube.get("Deployment", "default", "reviews-v1");
    expect(before).toBeDefined();
    await stage(0);
    const tested = await stage(1);
    expect(tested).toMatch(/header-stage 0% .*waits for a person's approval \(not cli:ci\)/);
    const id = await rolloutId();
    // Its message, with the Approve button, goes to the job's channel.
    expect((await h.runtime().store.get(id))?.report).toEqual({ channel: "C0PIPELINE" });
    const waiting = bash(pipeline.stages[2]?.script ?? "");
    await atGate(id);
    expect((await h.cli("approve", id, "--as", "bob")).code).toBe(0);
    const waited = await waiting.exited;
    expect(waited.code, waited.output).toBe(0);
    expect(waited.output).toMatch(new RegExp(`^${id} promoted 100% · step 2/2`, "m"));
    await stage(3);
    expect(h.kube.get("Deployment", "default", "reviews-v1")).toBeUndefined();
    const route = h.kube.get("VirtualService", "default", "reviews") as unknown as {
      spec: { http: { route: { destination: { subset: string }; weight?: number }[] }[] };
    };
    expect(route.spec.http.map((http) => http.route.map((r) => r.destination.subset))).toEqual([["v2"]]);
    const audit = JSON.parse((await h.cli("history", id, "--json")).stdout) as {
      actor: string;
      action: string;
    }[];
    expect(audit).toContainEqual(
      expect.objectContaining({ actor: "cli:ci-integration-tests", action: "approve" }),
    );
    expect(audit).toContainEqual(expect.objectContaining({ actor: "cli:bob", action: "approve" }));
  }, 120_000);

  it("goes back to stable when aborted while it waits for the approval", async () => {
    const original = structuredClone(h.kube.get("VirtualService", "default", "reviews"));
    expect(original).toBeDefined();
    await stage(0);
    await stage(1);
    const id = await rolloutId();
    const waiting = bash(pipeline.stages[2]?.script ?? "");
    await atGate(id);
    waiting.kill();
    expect((await waiting.exited).code).not.toBe(0);
    const handled = await bash(pipeline.onFailure).exited;
    expect(handled.code, handled.output).toBe(0);
    expect(await phase(id)).toBe("rolled-back");
    // The route exactly as before the rollout: what a rollback promises.
    expect(h.kube.get("VirtualService", "default", "reviews")?.spec).toEqual(original?.spec);
    expect(h.kube.get("Deployment", "default", "reviews-v1")).toBeDefined();
  }, 120_000);
});

/**
 * The same job with the bot as it runs for real (`serve` on the Slack sandbox, its worker stepping the rollout): the
 * rollout message appears in the job's channel and Bob, an approver, clicks its Approve button.
 */
describe("the GitHub Actions job, approved in Slack", () => {
  let bot: BotHarness;
  let mesh: MeshSandbox;
  let ci: Agent;
  const config = `${CONFIG}    channels: [${DEPLOYS.id}]\n    approvers: [${SRE}]\n`;

  beforeEach(async () => {
    bot = await botHarness("pipelines-slack", { config });
    mesh = await meshOn(bot.kubeconfigPath);
    ci = await agent(
      githubPipeline(await readFile(join(ROOT, "docs/pipelines.md"), "utf8")),
      {
        REDIS_URL,
        CANARYBOT_PREFIX: bot.prefix,
        KUBECONFIG: bot.kubeconfigPath,
        LOG_LEVEL: "silent",
        CANARYBOT_MIN_INTERVAL_MS: "50",
        REVIEWS_URL: `${mesh.url}/services/reviews`,
        SLACK_CHANNEL: DEPLOYS.id,
      },
      config,
    );
  }, 60_000);
  afterEach(async () => {
    await mesh?.close();
    await bot?.cleanup();
    await ci?.cleanup();
  });

  it("promotes once Bob clicks Approve on the rollout message in #deploys", async () => {
    await ci.stage(0);
    await ci.stage(1);
    const id = await ci.rolloutId();
    const waiting = ci.run(
      githubPipeline(await readFile(join(ROOT, "docs/pipelines.md"), "utf8")).stages[2]?.script ?? "",
    );
    const gate = await bot.waitForMessage(id, "the approval gate at 10%", (message) =>
      JSON.stringify(message.blocks).includes("awaiting approval"),
    );
    expect(await bot.click(BOB, gate, ActionId.Approve)).toBe(200);
    const waited = await waiting.exited;
    expect(waited.code, waited.output).toBe(0);
    expect(waited.output).toMatch(new RegExp(`^${id} promoted 100% · step 2/2`, "m"));
    await ci.stage(3);
    const audit = await bot.audit(id);
    expect(audit).toContainEqual(expect.objectContaining({ actor: BOB.id, action: "approve" }));
    await bot.waitForMessage(id, "the promotion", (message) =>
      JSON.stringify(message.blocks).includes("*Promoted*"),
    );
  }, 120_000);
});
