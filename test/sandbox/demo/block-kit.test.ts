import { describe, expect, it } from "vitest";
import { renderRolloutMessage } from "../../../src/slack/render-rollout-message.ts";
import { renderBlocks } from "../../../sandbox/demo/page/block-kit.ts";
import { renderStartModal } from "../../../src/slack/start-modal.ts";
import { BUILTIN_DEFAULTS } from "../../../src/rollout/start-request.ts";
import { Phase } from "../../../src/rollout/types.ts";
import { FIXTURE_NOW, makeRollout } from "../../support/rollouts.ts";

describe("Block Kit to HTML", () => {
  it("renders each block type the bot sends", () => {
    const html = renderBlocks([
      { type: "header", text: { type: "plain_text", text: "reviews: v1 → v2" } },
      {
        type: "section",
        block_id: "s1",
        text: { type: "mrkdwn", text: "*Phase:* progressing" },
        fields: [
          { type: "mrkdwn", text: "*canary*" },
          { type: "plain_text", text: "stable" },
        ],
      },
      { type: "context", elements: [{ type: "mrkdwn", text: "`reviews-1`" }] },
      { type: "divider" },
      { type: "image", image_url: "https://example.com/chart.png", alt_text: "chart" },
    ]);
    expect(html).toContain('<div class="bk-block bk-header">reviews: v1 → v2</div>');
    expect(html).toContain("<strong>Phase:</strong> progressing");
    expect(html).toContain(
      '<div class="bk-field"><strong>canary</strong></div><div class="bk-field">stable</div>',
    );
    expect(html).toContain("<code>reviews-1</code>");
    expect(html).toContain("<hr>");
    expect(html).toContain('src="https://example.com/chart.png" alt="chart"');
  });

  it("gives buttons what a click needs: action id, block id, style and the confirm dialog", () => {
    const rollout = makeRollout({ phase: Phase.Progressing });
    const { blocks } = renderRolloutMessage(rollout, FIXTURE_NOW);
    const html = renderBlocks(blocks);
    expect(html).toMatch(
      /<button type="button" class="bk-button danger" data-action-id="canary_rollback" data-block-id="rollout_actions" data-value="reviews-1@1"/,
    );
    const confirm = /data-action-id="canary_rollback"[^>]*data-confirm="([^"]+)"/.exec(html)?.[1] ?? "";
    const parsed = JSON.parse(confirm.replace(/&quot;/g, '"').replace(/&amp;/g, "&")) as {
      title: { text: string };
    };
    expect(parsed.title.text).toMatch(/^Roll back /);
  });

  it("renders the start modal's inputs as named form fields with their hints", () => {
    const view = renderStartModal({
      services: ["reviews", "ratings"],
      defaults: { ...BUILTIN_DEFAULTS, steps: [5, 50, 100] },
      channel: "C0DEPLOYS",
    });
    const html = renderBlocks(view.blocks);
    expect(html).toContain('<select class="bk-input" name="service" data-action-id="value" data-select="1">');
    expect(html).toContain('<option value="ratings">ratings</option>');
    expect(html).toContain(
      'name="steps" data-action-id="value" placeholder="5,10,25,50,100" value="5,50,100"',
    );
    expect(html).toContain('<div class="bk-error" data-error-for="canary"></div>');
  });
});
