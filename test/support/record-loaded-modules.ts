// Preloaded with `node --import` by tests: appends the URL of every module the process loads (import and require)
// to the file named by CANARYBOT_MODULE_LOG, so a test can tell what a command pulled in.
import { appendFileSync } from "node:fs";
import { registerHooks } from "node:module";

const log = process.env.CANARYBOT_MODULE_LOG;
if (log) {
  registerHooks({
    load(url, context, nextLoad) {
      appendFileSync(log, `${url}\n`);
      return nextLoad(url, context);
    },
  });
}
