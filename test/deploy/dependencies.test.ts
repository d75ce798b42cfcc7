import { readFile, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && /\.(ts|js)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The packages `files` import (static, dynamic and type-only imports alike), by package name. */
async function importedPackages(files: string[]): Promise<string[]> {
  const names = new Set<string>();
  for (const file of files) {
    for (const { fileName } of ts.preProcessFile(await readFile(file, "utf8"), true, true).importedFiles) {
      if (fileName.startsWith(".") || fileName.startsWith("node:")) continue;
      names.add(
        fileName
          .split("/")
          .slice(0, fileName.startsWith("@") ? 2 : 1)
          .join("/"),
      );
    }
  }
  return [...names].sort();
}

async function declared(manifest: string): Promise<string[]> {
  const json = JSON.parse(await readFile(join(ROOT, manifest), "utf8")) as { dependencies: object };
  return Object.keys(json.dependencies).sort();
}

describe("declared dependencies", () => {
  it("the product declares exactly what src/ and bin/ import, and none of the sandbox workspace's", async () => {
    const product = await importedPackages([...(await sources("src")), ...(await sources("bin"))]);
    expect(product).toEqual(await declared("package.json"));
    expect(product).not.toContain("canarybot-sandbox");
  });

  it("the sandbox workspace declares exactly what sandbox/ imports", async () => {
    expect(await importedPackages(await sources("sandbox"))).toEqual(await declared("sandbox/package.json"));
  });
});
