#!/usr/bin/env node
import module from "node:module";
import { requireRecentNode } from "./node-check.js";

requireRecentNode();
// Compiled, type-stripped modules are cached on disk (keyed by content), so a command starts several times faster.
module.enableCompileCache?.();

const { main } = await import("../src/cli/program.ts");
await main();
