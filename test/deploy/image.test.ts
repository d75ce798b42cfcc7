import { spawnSync } from "node:child_process";
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const DOCKERFILE = join(ROOT, "deploy/Dockerfile");

/** What the Dockerfile deletes from the image unless built with SANDBOXES=true. */
async function removedFromImage(): Promise<string[]> {
  const text = await readFile(DOCKERFILE, "utf8");
  const line = text
    .split("\n")
    .find((candidate) => candidate.includes('"$SANDBOXES" != "true"') && candidate.includes("rm -rf"));
  const paths = /rm -rf ([^;]+);/
    .exec(line ?? "")?.[1]
    ?.trim()
    .split(/\s+/);
  if (!paths) throw new Error(`${DOCKERFILE} has no "rm -rf …" guarded by SANDBOXES`);
  return paths;
}

describe("deploy/Dockerfile", () => {
  let app = "";
  beforeAll(async () => {
    // The image's /app, laid out as the Dockerfile does, with the repository's installed packages.
    app = await mkdtemp(join(tmpdir(), "canarybot-image-"));
    for (const entry of ["package.json", "bin", "src", "sandbox", "manifest.yml"])
      await cp(join(ROOT, entry), join(app, entry), { recursive: true });
    await symlink(join(ROOT, "node_modules"), join(app, "node_modules"));
    for (const path of await removedFromImage()) await rm(join(app, path), { recursive: true });
  });
  afterAll(async () => {
    await rm(app, { recursive: true, force: true });
  });

  const canarybot = (...args: string[]) =>
    spawnSync(process.execPath, [join(app, "bin/canarybot.js"), ...args], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
    });

  it("is Node 24 slim, installs with npm ci --omit=dev and runs as the non-root node user", async () => {
    const text = await readFile(DOCKERFILE, "utf8");
    expect(text).toMatch(/^FROM node:24-slim$/m);
    expect(text).toMatch(/^ {2}&& npm ci --omit=dev\b/m);
    // Unless asked for, the sandbox workspace's packages are not installed: package.json names no workspace.
    expect(text).toMatch(/^RUN if \[ "\$SANDBOXES" != "true" \]; then npm pkg delete workspaces; fi/m);
    expect(text).toMatch(/^USER node$/m);
    expect(await removedFromImage()).toContain("sandbox");
  });

  it("runs every production command without the sandboxes, which have no command in the product", async () => {
    const config = join(app, "config.yaml");
    await writeFile(config, "services:\n  reviews: {}\n");
    const check = canarybot("config", "check", config);
    expect(check.stderr).toBe("");
    expect(check.status).toBe(0);
    expect(canarybot("serve", "--help").status).toBe(0);
    const sandbox = canarybot("sandbox", "kube", "--kubeconfig-out", join(app, "kubeconfig"));
    expect([sandbox.status, sandbox.stderr]).toEqual([1, "unknown command 'sandbox'\n"]);
  });
});
