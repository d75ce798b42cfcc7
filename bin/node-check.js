// Node runs the TypeScript sources directly (type stripping): there is no build step to forget. An older Node cannot
// load them, so the entry points stay plain JavaScript that any Node parses, and check the version first.
import { readFileSync } from "node:fs";
import process from "node:process";
import { URL } from "node:url";

/** Exit 1 with one line when this Node is older than package.json's `engines` asks. */
export function requireRecentNode() {
  const { engines } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  const needed = /(\d+)\.(\d+)/.exec(engines.node).slice(1).map(Number);
  const found = process.versions.node.split(".").map(Number);
  if (found[0] < needed[0] || (found[0] === needed[0] && found[1] < needed[1])) {
    process.stderr.write(
      `canarybot needs Node.js ${needed.join(".")} or newer (24 LTS recommended), found ${process.versions.node} ` +
        `at ${process.execPath}: README.md, section Requirements, says how to get Node 24.\n`,
    );
    process.exit(1);
  }
}
