import type { types } from "@slack/bolt";
import type { StartDefaults, StartOptions } from "../rollout/start-request.ts";
import { problemText } from "../rollout/plan.ts";
import type { Problem } from "../rollout/types.ts";

/** `callback_id` of the start form. */
export const START_VIEW_ID = "canary_start";

/** Block ids of the form's inputs; each input's action id is `value`. */
export const StartField = {
  Service: "service",
  Canary: "canary",
  Steps: "steps",
  Interval: "interval",
  ApproveAt: "approve_at",
} as const;
export type StartField = (typeof StartField)[keyof typeof StartField];

const VALUE = "value";

type InputBlock = types.InputBlock;

function input(
  field: StartField,
  label: string,
  element: InputBlock["element"],
  options: { optional?: boolean; hint?: string } = {},
): InputBlock {
  return {
    type: "input",
    block_id: field,
    label: { type: "plain_text", text: label },
    element,
    ...(options.optional ? { optional: true } : {}),
    ...(options.hint ? { hint: { type: "plain_text", text: options.hint } } : {}),
  };
}

function textInput(placeholder: string, initial?: string): types.PlainTextInput {
  return {
    type: "plain_text_input",
    action_id: VALUE,
    placeholder: { type: "plain_text", text: placeholder },
    ...(initial ? { initial_value: initial } : {}),
  };
}

/**
 * The form `/canary start` opens: service (a menu of the configured services, else a name), canary subset, steps,
 * interval and approval gate. The channel it was opened from rides along in `private_metadata`.
 */
export function renderStartModal(options: {
  services: readonly string[];
  defaults: StartDefaults;
  channel: string;
}): types.ModalView {
  const { services, defaults } = options;
  const service: InputBlock["element"] =
    services.length > 0
      ? {
          type: "static_select",
          action_id: VALUE,
          placeholder: { type: "plain_text", text: "Pick a service" },
          options: services.slice(0, 100).map((name) => ({
            text: { type: "plain_text", text: name.slice(0, 75) },
            value: name,
          })),
        }
      : textInput("reviews");
  return {
    type: "modal",
    callback_id: START_VIEW_ID,
    title: { type: "plain_text", text: "Start a canary" },
    submit: { type: "plain_text", text: "Start" },
    close: { type: "plain_text", text: "Cancel" },
    private_metadata: JSON.stringify({ channel: options.channel }),
    blocks: [
      input(
        StartField.Service,
        "Service",
        service,
        services.length > 0 ? {} : { hint: "Its VirtualService has the same name." },
      ),
      input(StartField.Canary, "Canary subset", textInput("v2"), {
        hint: "The DestinationRule subset of the new version.",
      }),
      input(StartField.Steps, "Steps (canary %)", textInput("5,10,25,50,100", defaults.steps.join(",")), {
        optional: true,
      }),
      input(StartField.Interval, "Interval", textInput("60s", `${Math.round(defaults.intervalMs / 1000)}s`), {
        optional: true,
        hint: "Time between steps: 30s, 2m, 1h.",
      }),
      input(
        StartField.ApproveAt,
        "Wait for approval at (%)",
        textInput("50", defaults.approvalGates.length > 0 ? defaults.approvalGates.join(",") : undefined),
        { optional: true, hint: "Someone other than you approves there before traffic moves on." },
      ),
    ],
  };
}

type StateValues = Record<
  string,
  Record<string, { value?: string | null; selected_option?: { value?: string } | null }>
>;

/** What the form holds, as `start` options, and the channel it was opened from. */
export function readStartModal(view: { state: { values: StateValues }; private_metadata?: string }): {
  options: StartOptions;
  channel?: string;
} {
  const read = (field: StartField): string | undefined => {
    const state = view.state.values[field]?.[VALUE];
    const value = state?.selected_option?.value ?? state?.value ?? undefined;
    return value === null || value === undefined || value.trim() === "" ? undefined : value.trim();
  };
  let channel: string | undefined;
  try {
    const metadata = JSON.parse(view.private_metadata ?? "{}") as { channel?: unknown };
    if (typeof metadata.channel === "string") channel = metadata.channel;
  } catch {
    channel = undefined;
  }
  const steps = read(StartField.Steps);
  const interval = read(StartField.Interval);
  const approveAt = read(StartField.ApproveAt);
  const canary = read(StartField.Canary);
  return {
    options: {
      service: (read(StartField.Service) ?? "").toLowerCase(),
      ...(canary ? { canary } : {}),
      ...(steps ? { steps } : {}),
      ...(interval ? { interval } : {}),
      ...(approveAt ? { approveAt } : {}),
    },
    ...(channel ? { channel } : {}),
  };
}

const FIELD_OF_PROBLEM: Readonly<Record<string, StartField>> = {
  service: StartField.Service,
  canary: StartField.Canary,
  steps: StartField.Steps,
  interval: StartField.Interval,
  "approve-at": StartField.ApproveAt,
};

/** A start's problems as the form's inline errors, by block id. */
export function formErrors(problems: readonly Problem[]): Partial<Record<StartField, string>> {
  const errors: Partial<Record<StartField, string>> = {};
  for (const problem of problems) {
    const field = FIELD_OF_PROBLEM[problem.field];
    // Under its own field a problem needs no field name; anything else shows under the service.
    const [where, text] = field ? [field, problem.message] : [StartField.Service, problemText(problem)];
    errors[where] = errors[where] ? `${errors[where]}; ${text}` : text;
  }
  return errors;
}
