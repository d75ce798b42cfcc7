#!/usr/bin/env node
// `npm run demo`: the same Node check as the command line, then the demo.
import { requireRecentNode } from "./node-check.js";

requireRecentNode();
await import("../sandbox/demo/main.ts");
