#!/usr/bin/env node
// `canarybot-sandbox`: the same Node check as the product's command line, then the sandboxes' own.
import module from "node:module";
import { requireRecentNode } from "../../bin/node-check.js";

requireRecentNode();
module.enableCompileCache?.();

const { main } = await import("../cli.ts");
await main();
