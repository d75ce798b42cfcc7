#!/usr/bin/env node
// Node 24 runs the TypeScript sources directly (type stripping), so there is no build step to forget.
// Compiled, type-stripped modules are cached on disk (keyed by content), so a command starts several times faster.
import module from "node:module";
module.enableCompileCache?.();
const { main } = await import("../src/cli.ts");
await main();
