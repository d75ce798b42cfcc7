import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../../../sandbox/demo/browser.ts";
import type { Browser } from "../../../sandbox/demo/browser.ts";
import { openChannelPage } from "../../../sandbox/demo/channel-page.ts";
import type { ChannelPage } from "../../../sandbox/demo/channel-page.ts";
import { startDemo } from "../../../sandbox/demo/start-demo.ts";
import type { Demo } from "../../../sandbox/demo/start-demo.ts";
import { PROMETHEUS_BIN } from "../../support/prometheus.ts";
import { connectRedis } from "../../support/redis.ts";

const ARTIFACTS = "test-artifacts/browser";
/** Two loaded cores: a rollout step takes seconds, a whole rollout with analysis tens of them. */
const LONG = 90_000;

/**
 * The demo as a person uses it: the channel page in a real chromium over `npm run demo`'s pieces (Slack, Kubernetes
 * and mesh sandboxes, a real Prometheus, Redis, `canarybot serve`). Typing, clicking and the traffic panel only.
 */
describe("the demo channel page in a browser", () => {
  let demo: Demo;
  let browser: Browser;
  let page: Page;

  let channel: ChannelPage;
  const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}/${name}.png` });
  const as = (name: string) => channel.as(name);
  const type = (text: string) => channel.type(text);
  const rolloutMessage = (id: string): Locator => channel.rolloutMessage(id);
  const weight = (subset: string): Locator => channel.weight(subset);
  /** Waits (polling, no fixed sleep) until the elements' text matches. */
  const shows = (locator: Locator, pattern: RegExp | string, timeout = LONG) =>
    expect
      .poll(async () => (await locator.allTextContents()).join(" "), { timeout, interval: 250 })
      .toMatch(pattern);
  const counts = (locator: Locator, count: number) =>
    expect.poll(() => locator.count(), { timeout: LONG, interval: 250 }).toBe(count);
  const bar = async (id: string): Promise<number> =>
    ((await rolloutMessage(id).textContent()) ?? "").split("█").length - 1;

  beforeAll(async () => {
    (await connectRedis()).disconnect(); // fails with how to start Redis
    if (!existsSync(PROMETHEUS_BIN)) {
      throw new Error(
        `no Prometheus at ${PROMETHEUS_BIN}: apt-get install -y prometheus, or set PROMETHEUS_BIN`,
      );
    }
    await mkdir(ARTIFACTS, { recursive: true });
    demo = await startDemo({
      port: 0,
      env: { ...process.env, PROMETHEUS_BIN, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent" },
      print: () => undefined,
    });
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.setDefaultTimeout(LONG);
    channel = await openChannelPage(page, demo.url);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  it("starts, refuses the starter's own approval, takes a second person's, and promotes to 0/100", async () => {
    await shows(page.locator("#analysis-note"), /Prometheus .* judges every step/);
    await as("Alice Adams");
    await type("/canary start reviews --canary v2 --interval 3s --approve-at 50");

    // Alice's own reply, then the rollout message, its progress bar filling as the weights move.
    await page.locator(".message.ephemeral", { hasText: "Only visible to you" }).first().waitFor();
    await rolloutMessage("reviews-1").waitFor();
    await shows(rolloutMessage("reviews-1").locator(".bk-header"), "reviews");
    await expect.poll(() => bar("reviews-1"), { timeout: LONG }).toBeGreaterThan(0);
    const first = await bar("reviews-1");
    await expect.poll(() => bar("reviews-1"), { timeout: LONG }).toBeGreaterThan(first);
    await shot("1-progressing");

    // The gate at 50%: Alice may not approve her own rollout; Bob (SRE) may.
    const approve = rolloutMessage("reviews-1").locator('button[data-action-id="canary_approve"]');
    await approve.waitFor({ timeout: LONG });
    await shows(weight("v2"), /^v2 50%$/);
    // Promote asks first, in the confirm dialog its button carries; Cancel closes it.
    await rolloutMessage("reviews-1").locator('button[data-action-id="canary_promote"]').click();
    const dialog = page.locator('[role="alertdialog"]');
    await shows(dialog, /Promote reviews-1\?.*All traffic goes to v2 now/);
    await dialog.locator('[data-answer="no"]').click();
    await counts(dialog, 0);
    await approve.click();
    await shows(page.locator(".message.ephemeral", { hasText: "two-person rule" }), /./);
    await shot("2-own-approval-refused");
    await as("Bob Brown");
    await counts(page.locator(".message.ephemeral", { hasText: "two-person rule" }), 0);
    await rolloutMessage("reviews-1").locator('button[data-action-id="canary_approve"]').click();

    await shows(rolloutMessage("reviews-1"), "Promoted");
    await shows(weight("v1"), /^v1 0%$/);
    await shows(weight("v2"), /^v2 100%$/);
    await counts(rolloutMessage("reviews-1").locator("button.bk-button"), 0);
    await shot("3-promoted");
  }, 240_000);

  it("rolls v3 back when the mesh fails 10% of its requests, alerts with the values, and threads the chart", async () => {
    await as("Alice Adams");
    await type("/canary start reviews --canary v3 --interval 3s");
    // The route the promotion left must be one the next start accepts: a refusal fails here, saying why.
    const answer = page.locator(".message.ephemeral", { hasText: /Started reviews-2|Not started/ });
    await answer.waitFor();
    expect(await answer.textContent()).toContain("Started reviews-2");
    await rolloutMessage("reviews-2").waitFor();

    // The traffic panel's controls: 10% errors on v3.
    await page.selectOption("#fault-subset", "v3");
    await page.fill("#fault-errors", "10");
    await page.click("#fault-apply");
    await shows(page.locator("#mesh-settings"), "v3: 10% errors");

    const alert = page.locator("#messages .message", { hasText: "rolling back automatically" });
    await alert.waitFor({ timeout: LONG * 2 });
    await shows(alert, "success-rate");
    await shows(alert, /9\d(\.\d+)?%/);
    await shows(alert.locator(".mention").first(), "@");
    await shows(rolloutMessage("reviews-2"), "Rolled back");
    await shows(weight("v2"), /^v2 100%$/);
    await shows(page.locator("#vs-default-reviews .weights"), /^(?!.*v3 [1-9]).*$/);
    await shot("4-rolled-back");

    // The thread: each judged step's snapshot, with the chart as uploaded.
    await rolloutMessage("reviews-2").locator("button.replies").click();
    const chart = page.locator("#thread-body .file img").first();
    await chart.waitFor();
    await expect
      .poll(() => chart.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth))
      .toBe(800);
    await shot("5-thread-with-chart");
  }, 300_000);

  it("opens the start form for /canary start, shows its errors under their fields, and Cancel closes it", async () => {
    await as("Bob Brown");
    await type("/canary start");
    const form = page.locator("#modal-form");
    await form.waitFor();
    await shows(form.locator(".modal-title"), "Start a canary");
    await form.locator('select[name="service"]').selectOption("reviews");
    await form.locator('input[name="canary"]').fill("v2");
    await form.locator('input[name="interval"]').fill("soon");
    await form.locator('button[type="submit"]').click();
    await shows(form.locator('[data-error-for="interval"]'), /./);
    await shot("6-start-form-error");
    await form.locator("button[data-modal-close]").first().click();
    await counts(page.locator("#modal-form"), 0);
    await counts(rolloutMessage("reviews-3"), 0);
  }, 120_000);
});
