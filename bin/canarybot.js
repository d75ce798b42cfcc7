#!/usr/bin/env node
// Node 24 runs the TypeScript sources directly (type stripping), so there is no build step to forget.
const { main } = await import("../src/cli.ts");
await main();
