import { describe, expect, it } from "vitest";
import { stateValues } from "../../../sandbox/demo/view-submission.ts";
import { readStartModal, renderStartModal } from "../../../src/slack/start-modal.ts";
import { BUILTIN_DEFAULTS } from "../../../src/rollout/start-request.ts";

describe("the start form, submitted from the page", () => {
  const view = renderStartModal({ services: ["reviews"], defaults: BUILTIN_DEFAULTS, channel: "C0DEPLOYS" });

  it("carries state.values as Slack does: a menu's selected_option, a text's value, an empty text as null", () => {
    const values = stateValues(view as unknown as Record<string, unknown>, {
      service: { actionId: "value", type: "static_select", value: "reviews" },
      canary: { actionId: "value", type: "plain_text_input", value: "v2" },
      steps: { actionId: "value", type: "plain_text_input", value: "" },
    });
    expect(values).toEqual({
      service: {
        value: {
          type: "static_select",
          selected_option: { text: { type: "plain_text", text: "reviews", emoji: true }, value: "reviews" },
        },
      },
      canary: { value: { type: "plain_text_input", value: "v2" } },
      steps: { value: { type: "plain_text_input", value: null } },
    });
  });

  it("reads back, by the bot's own form reader, as what was typed", () => {
    const values = stateValues(view as unknown as Record<string, unknown>, {
      service: { actionId: "value", type: "static_select", value: "reviews" },
      canary: { actionId: "value", type: "plain_text_input", value: "v3" },
      interval: { actionId: "value", type: "plain_text_input", value: "3s" },
    });
    const read = readStartModal({
      state: { values: values as Parameters<typeof readStartModal>[0]["state"]["values"] },
      private_metadata: view.private_metadata ?? "",
    });
    expect(read).toEqual({
      options: { service: "reviews", canary: "v3", interval: "3s" },
      channel: "C0DEPLOYS",
    });
  });
});
