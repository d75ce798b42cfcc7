#!/usr/bin/env node
// `npm run demo`: the same Node check as the command line, then the demo.
import { requireRecentNode } from "../../bin/node-check.js";

requireRecentNode();
await import("../demo/main.ts");
