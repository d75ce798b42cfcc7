import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const BIN = resolve(import.meta.dirname, "../../bin/canarybot.js");
const DEMO = resolve(import.meta.dirname, "../../sandbox/bin/demo.js");
const ROOT = resolve(import.meta.dirname, "../..");

type Run = { code: number; stdout: string; stderr: string };

async function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, { cwd: ROOT, env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

// This Node, made to report an old version.
const OLD_NODE = "20.11.1";
const pretendOld = [
  "--import",
  `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"${OLD_NODE}"})`,
];

describe("bin/canarybot.js", () => {
  it.each([
    ["canarybot", [BIN, "status"]],
    ["npm run demo", [DEMO]],
  ])(
    "%s, on a Node too old for the sources, says in one line which Node it needs and found",
    async (_, args) => {
      const result = await run(process.execPath, [...pretendOld, ...args]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe(
        `canarybot needs Node.js 22.19 or newer (24 LTS recommended), found ${OLD_NODE} at ${process.execPath}: ` +
          "README.md, section Requirements, says how to get Node 24.\n",
      );
    },
  );

  it("parses and refuses on a real Node 20 (the system's, or OLD_NODE_BIN)", async () => {
    const oldNode = process.env.OLD_NODE_BIN ?? "/usr/bin/node";
    const version = await run(oldNode, ["--version"]);
    expect(version.stdout, `${oldNode} should be a Node older than 22 (set OLD_NODE_BIN to one)`).toMatch(
      /^v(1\d|2[01])\./,
    );
    const result = await run(oldNode, [BIN, "status"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `canarybot needs Node.js 22.19 or newer (24 LTS recommended), found ${version.stdout.trim().slice(1)} ` +
        `at ${oldNode}: README.md, section Requirements, says how to get Node 24.\n`,
    );
  });

  it("without a command prints the usage and exits 1, with nothing else", async () => {
    const result = await run(process.execPath, [BIN]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Usage: canarybot \[options\] \[command\]/);
    expect(result.stderr).not.toContain("(outputHelp)");
    expect(result.stderr.trimEnd().split("\n").at(-1)).toMatch(/^\s+help \[command\]/);
  });

  it("npm run canarybot runs it with the project's own dependencies", async () => {
    const result = await run("npm", ["run", "--silent", "canarybot", "--", "list", "--help"]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^Usage: canarybot list \[options\]/);
    expect(result.code).toBe(0);
  });
});
