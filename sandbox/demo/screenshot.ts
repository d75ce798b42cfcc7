// `npm run screenshot`: the README's picture of the channel page mid-rollout, taken from the real demo (Slack,
// Kubernetes and mesh sandboxes, Prometheus when installed, canarybot serve) in Debian's chromium.
import { fileURLToPath } from "node:url";
import { launchChromium } from "./browser.ts";
import { openChannelPage } from "./channel-page.ts";
import { startDemo } from "./start-demo.ts";

const OUT = fileURLToPath(new URL("../../docs/demo-channel.png", import.meta.url));
const WAIT_MS = 120_000;

const demo = await startDemo({
  port: 0,
  env: { ...process.env, LOG_LEVEL: "silent" },
  print: () => undefined,
});
const browser = await launchChromium({ width: 1440, height: 900 });
try {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const channel = await openChannelPage(page, demo.url);
  await channel.as("Alice Adams");
  await channel.type("/canary start reviews --canary v2 --interval 3s --approve-at 50");
  // Mid-rollout: held at the 50% gate, Alice's own approval refused, Bob's still to come.
  await channel.rolloutMessage("reviews-1").locator('button[data-action-id="canary_approve"]').click();
  await page.locator(".message.ephemeral", { hasText: "two-person rule" }).waitFor();
  await channel.weight("v2").filter({ hasText: "v2 50%" }).waitFor();
  await page.screenshot({ path: OUT });
  process.stdout.write(`wrote ${OUT}\n`);
} finally {
  await browser.close();
  await demo.close();
}
