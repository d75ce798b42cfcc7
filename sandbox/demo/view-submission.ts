import { VERIFICATION_TOKEN } from "../slack/interaction-payloads.ts";
import type { InteractionEndpoints } from "../slack/interaction-payloads.ts";

/** What the page's form holds: per block id, the element's action id and what was typed or picked. */
export type FormValues = Record<string, { actionId: string; type: string; value: string }>;

type Option = { text?: { type?: string; text?: string }; value?: string };

/** A view's state.values as Slack sends it: text inputs as `value` (null when empty), menus as `selected_option`. */
export function stateValues(
  view: Record<string, unknown>,
  form: FormValues,
): Record<string, Record<string, unknown>> {
  const values: Record<string, Record<string, unknown>> = {};
  const blocks = (view.blocks ?? []) as {
    type?: string;
    block_id?: string;
    element?: { options?: Option[] };
  }[];
  for (const block of blocks) {
    if (block.type !== "input" || block.block_id === undefined) continue;
    const input = form[block.block_id];
    if (input === undefined) continue;
    if (input.type === "static_select") {
      const option = block.element?.options?.find((candidate) => candidate.value === input.value);
      values[block.block_id] = {
        [input.actionId]: {
          type: "static_select",
          selected_option:
            option === undefined
              ? null
              : {
                  text: { type: "plain_text", text: option.text?.text ?? "", emoji: true },
                  value: option.value,
                },
        },
      };
    } else {
      values[block.block_id] = {
        [input.actionId]: { type: input.type, value: input.value === "" ? null : input.value },
      };
    }
  }
  return values;
}

/** The `view_submission` payload Slack sends when someone presses a modal's submit button. */
export function viewSubmissionPayload(
  slack: InteractionEndpoints,
  input: { viewId: string; userId: string; view: Record<string, unknown>; form: FormValues },
): Record<string, unknown> {
  const team = { id: slack.identity.teamId, domain: slack.identity.teamDomain };
  const name = slack.user(input.userId)?.name ?? input.userId;
  return {
    type: "view_submission",
    team,
    user: { id: input.userId, username: name, name, team_id: team.id },
    api_app_id: slack.identity.appId,
    token: VERIFICATION_TOKEN,
    trigger_id: slack.createTriggerId(input.userId),
    view: {
      id: input.viewId,
      team_id: team.id,
      type: "modal",
      private_metadata: "",
      callback_id: "",
      external_id: "",
      hash: `${Math.floor(Date.now() / 1000)}.${input.viewId}`,
      clear_on_close: false,
      notify_on_close: false,
      root_view_id: input.viewId,
      previous_view_id: null,
      app_id: slack.identity.appId,
      app_installed_team_id: team.id,
      bot_id: slack.identity.botId,
      ...input.view,
      state: { values: stateValues(input.view, input.form) },
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}
