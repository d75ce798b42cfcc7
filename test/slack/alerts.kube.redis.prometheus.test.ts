import { createServer } from "node:net";
import { loadImage } from "@napi-rs/canvas";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MeshSandbox } from "../../sandbox/mesh/mesh-sandbox.ts";
import { startPrometheus, waitForIstioRates } from "../support/prometheus.ts";
import type { TestPrometheus } from "../support/prometheus.ts";
import { ALICE, DEPLOYS, ONCALL, botHarness, waitFor } from "../support/bot-harness.ts";
import type { BotHarness } from "../support/bot-harness.ts";
import { meshOn } from "../support/kube-sandbox.ts";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  const address = server.address();
  await new Promise((closed) => server.close(closed));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/**
 * What the team sees when the metrics go bad: every judged step's snapshot in the rollout's thread (a table and
 * the chart), and an automatic rollback's alert naming the people and the failing metrics with their values.
 * The bot in HTTP mode against the Slack sandbox, the Kubernetes and mesh sandboxes, a real Prometheus, Redis.
 */
describe("snapshots and alerts in the channel, judged by a real Prometheus", () => {
  let h: BotHarness;
  let mesh: MeshSandbox;
  let prometheus: TestPrometheus;

  beforeAll(async () => {
    // Prometheus first, scraping the port the mesh will take: the bot needs its URL when it starts.
    const meshPort = await freePort();
    prometheus = await startPrometheus({ targets: [`127.0.0.1:${meshPort}`], scrapeIntervalSeconds: 1 });
    h = await botHarness("slack-alerts", {
      env: { PROMETHEUS_URL: prometheus.url, PROMETHEUS_SCRAPE_INTERVAL_SECONDS: "1" },
    });
    mesh = await meshOn(h.kube, {
      namespace: "default",
      services: ["reviews"],
      port: meshPort,
      rps: 200,
      pollMs: 100,
      subsets: {
        "*": { errorRate: 0, latencyMs: { p50: 20, p99: 30 } },
        "reviews/v2": { errorRate: 0.05 },
      },
    });
    // Prometheus takes a few seconds to scrape for the first time; judge nothing before it has rates.
    await waitForIstioRates(prometheus);
  }, 90_000);
  afterAll(async () => {
    await mesh?.close();
    await prometheus?.stop();
    await h?.cleanup();
  });

  it("threads each judged step's snapshot with its chart, and alerts on the automatic rollback with the failing values", async () => {
    expect(await h.command(ALICE, "start reviews --canary v2 --steps 20,50,100 --interval 2s")).toBe(200);
    const message = await h.waitForMessage("reviews-1", "the automatic rollback", (m) =>
      m.text.includes(", rolled-back,"),
    );

    // Each judged tick left a reply in the rollout's thread, the chart uploaded beside it.
    const replies = h.slack.replies(DEPLOYS.id, message.ts);
    expect(replies.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(replies[0]?.blocks)).toMatch(/success-rate/);
    const charts = await waitFor("the chart upload", () => {
      const done = h.slack.files().filter((file) => file.completed && file.threadTs === message.ts);
      return done.length > 0 ? done : undefined;
    });
    const image = await loadImage(charts[0]?.bytes ?? Buffer.alloc(0));
    expect([image.width, image.height]).toEqual([800, 400]);

    // The alert: top level, the starter and the on-call mentioned, each failing check with value and threshold.
    const alert = await waitFor("the rollback alert", () =>
      h.slack
        .messages(DEPLOYS.id)
        .find(
          (m) => m.threadTs === undefined && m.ts !== message.ts && /rolling back automatically/.test(m.text),
        ),
    );
    const shown = JSON.stringify(alert.blocks);
    expect(alert.text).toContain(`<@${ALICE.id}>`);
    expect(alert.text).toContain(ONCALL);
    expect(shown).toMatch(/success-rate/);
    expect(shown).toMatch(/99%/);
    expect(shown).toMatch(/0\.9\d|9\d(\.\d+)?%/);
    expect(shown).toContain(message.ts.replace(".", ""));
  }, 90_000);
});
