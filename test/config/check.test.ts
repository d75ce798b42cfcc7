import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runCli } from "../../src/cli/program.ts";
import { configJsonSchema } from "../../src/config/schema.ts";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "canarybot-config-check-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: {},
    stopSignal: () => new Promise(() => undefined),
  });
  return { code, stdout, stderr };
}

const GOOD = `# yaml-language-server: $schema=./canarybot.schema.json
services:
  reviews:
    namespace: bookinfo
    defaults: { steps: [10, 50, 100], interval: 2m, approveAt: 50 }
    analysis: { minSuccess: 99.5, maxP99: 300ms }
    approvers: [S0SRE001]
  ratings: {}
`;

const THREE_MISTAKES = `services:
  reviews:
    analysis:
      minSuccess: 150
    approvers: [bob]
    defualts: {}
`;

describe("canarybot config check", () => {
  it("names every mistake with its line and path and exits 1", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(file, THREE_MISTAKES);
    const result = await cli("config", "check", file);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toEqual([
      `${file}:4: services.reviews.analysis.minSuccess: "150" is not a percentage between 0 and 100`,
      `${file}:5: services.reviews.approvers[0]: must be a Slack user id (U…/W…) or user group id (S…), not a name`,
      `${file}:3: services.reviews: unknown key "defualts"`,
    ]);
  });

  it("reports broken YAML with its line, and a missing file in one line", async () => {
    const file = join(dir, "broken.yaml");
    await writeFile(file, "services:\n  reviews: [\n");
    const broken = await cli("config", "check", file);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(new RegExp(`^${file}:\\d+: not valid YAML: `));
    const missing = await cli("config", "check", join(dir, "nope.yaml"));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain("cannot be read");
  });

  it("passes a sound file, naming its services, and takes the file from --config", async () => {
    const file = join(dir, "good.yaml");
    await writeFile(file, GOOD);
    const result = await cli("--config", file, "config", "check");
    expect(result).toEqual({ code: 0, stdout: `${file}: ok, 2 services (reviews, ratings)\n`, stderr: "" });
  });
});

describe("canarybot config schema", () => {
  it("prints a JSON Schema that accepts a sound file and flags a misspelt key and a wrong type", async () => {
    const result = await cli("config", "schema");
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout) as Record<string, unknown>;
    const validate = new Ajv2020({ strict: false }).compile(schema);
    expect(validate(parse(GOOD)), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(parse(THREE_MISTAKES.replace("approvers: [bob]", "")))).toBe(false);
    expect(validate.errors?.some((error) => error.params.additionalProperty === "defualts")).toBe(true);
    expect(validate({ services: { reviews: { analysis: { failureLimit: "two" } } } })).toBe(false);
  });
});

describe("docs/config.schema.json", () => {
  it("is what `canarybot config schema` prints today (regenerate: canarybot config schema > docs/config.schema.json)", async () => {
    const committed: unknown = JSON.parse(
      await readFile(resolve(import.meta.dirname, "../../docs/config.schema.json"), "utf8"),
    );
    expect(committed).toEqual(configJsonSchema());
  });
});
