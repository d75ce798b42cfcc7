/**
 * Slack's documented Block Kit limits, checked the way Slack checks them: every problem is reported, each as
 * Slack words it ("must be less than 3001 characters [json-pointer:/blocks/0/text/text]", as seen in real
 * `invalid_blocks` answers). Reference pages are under https://docs.slack.dev/reference/block-kit/.
 */
export const BlockKitLimit = {
  /** blocks: "You can include up to 50 blocks in each message, and 100 blocks in modals or Home tabs." */
  messageBlocks: 50,
  viewBlocks: 100,
  /** blocks/section-block: text "maximum length is 3000"; fields "Maximum number of items is 10 ... each item is 2000". */
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  /** blocks/header-block: "Maximum length for the text in this field is 150 characters." */
  headerText: 150,
  /** every block page: block_id "Maximum length for this field is 255 characters." */
  blockId: 255,
  /** blocks/actions-block: "There is a maximum of 25 elements in each action block." */
  actionsElements: 25,
  /** blocks/context-block: elements "Maximum number of items is 10." */
  contextElements: 10,
  /** blocks/input-block: label "Maximum length for the text in this field is 2000 characters." */
  inputLabel: 2000,
  /** block-elements/button-element: text 75, action_id 255, url 3000, value 2000, accessibility_label 75. */
  buttonText: 75,
  actionId: 255,
  buttonUrl: 3000,
  buttonValue: 2000,
  buttonAccessibilityLabel: 75,
  /** composition-objects/confirmation-dialog-object: title 100, text 300, confirm 30, deny 30 (all four required). */
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** reference/views/modal-views: title, submit, close 24; private_metadata 3000; callback_id 255. */
  modalTitle: 24,
  modalButton: 24,
  privateMetadata: 3000,
  callbackId: 255,
} as const;

/** Block types listed on the Blocks reference page; any other `type` is answered "unsupported type". */
const BLOCK_TYPES = new Set([
  "actions",
  "alert",
  "card",
  "carousel",
  "container",
  "context",
  "context_actions",
  "data_table",
  "divider",
  "file",
  "header",
  "image",
  "input",
  "markdown",
  "rich_text",
  "section",
  "table",
  "video",
]);

/** Interactive and display elements from the Block elements reference. */
const ELEMENT_TYPES = new Set([
  "button",
  "channels_select",
  "checkboxes",
  "conversations_select",
  "datepicker",
  "datetimepicker",
  "email_text_input",
  "external_select",
  "feedback_buttons",
  "file_input",
  "icon_button",
  "image",
  "multi_channels_select",
  "multi_conversations_select",
  "multi_external_select",
  "multi_static_select",
  "multi_users_select",
  "number_input",
  "overflow",
  "plain_text_input",
  "radio_buttons",
  "rich_text_input",
  "static_select",
  "timepicker",
  "url_text_input",
  "users_select",
  "workflow_button",
]);

const TEXT_TYPES = new Set(["plain_text", "mrkdwn"]);

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const at = (pointer: string): string => `[json-pointer:${pointer}]`;
const tooLong = (max: number, pointer: string): string =>
  `must be less than ${max + 1} characters ${at(pointer)}`;
const tooMany = (max: number, pointer: string): string => `no more than ${max} items allowed ${at(pointer)}`;
const missing = (field: string, pointer: string): string => `missing required field: ${field} ${at(pointer)}`;
const unsupported = (type: string, pointer: string): string =>
  `unsupported type: ${type} ${at(`${pointer}/type`)}`;
const noSchemaMatch = (pointer: string): string => `failed to match all allowed schemas ${at(pointer)}`;

function checkString(value: unknown, max: number, pointer: string, problems: string[]): void {
  if (value === undefined) return;
  if (typeof value !== "string") problems.push(noSchemaMatch(pointer));
  else if (value.length > max) problems.push(tooLong(max, pointer));
}

/** A text object; `plainOnly` for the fields Slack documents as plain_text only. */
function checkText(
  value: unknown,
  max: number | undefined,
  pointer: string,
  problems: string[],
  plainOnly = false,
): void {
  if (!isObject(value) || typeof value.text !== "string") {
    problems.push(noSchemaMatch(pointer));
    return;
  }
  const typeOk = plainOnly ? value.type === "plain_text" : TEXT_TYPES.has(String(value.type));
  if (!typeOk) {
    problems.push(noSchemaMatch(pointer));
    return;
  }
  if (max !== undefined && value.text.length > max) {
    // Fields that accept either text type fail the union first, as Slack reports it.
    if (!plainOnly) problems.push(noSchemaMatch(pointer));
    problems.push(tooLong(max, `${pointer}/text`));
  }
}

function checkRequiredText(
  parent: JsonObject,
  field: string,
  max: number,
  pointer: string,
  problems: string[],
  plainOnly: boolean,
): void {
  if (parent[field] === undefined) problems.push(missing(field, pointer));
  else checkText(parent[field], max, `${pointer}/${field}`, problems, plainOnly);
}

function checkConfirm(confirm: unknown, pointer: string, problems: string[]): void {
  if (!isObject(confirm)) {
    problems.push(noSchemaMatch(pointer));
    return;
  }
  checkRequiredText(confirm, "title", BlockKitLimit.confirmTitle, pointer, problems, true);
  checkRequiredText(confirm, "text", BlockKitLimit.confirmText, pointer, problems, false);
  checkRequiredText(confirm, "confirm", BlockKitLimit.confirmButton, pointer, problems, true);
  checkRequiredText(confirm, "deny", BlockKitLimit.confirmButton, pointer, problems, true);
}

function checkElement(element: unknown, pointer: string, problems: string[]): void {
  if (!isObject(element)) {
    problems.push(noSchemaMatch(pointer));
    return;
  }
  if (typeof element.type !== "string") {
    problems.push(missing("type", pointer));
    return;
  }
  if (!ELEMENT_TYPES.has(element.type)) {
    problems.push(unsupported(element.type, pointer));
    return;
  }
  checkString(element.action_id, BlockKitLimit.actionId, `${pointer}/action_id`, problems);
  if (element.confirm !== undefined) checkConfirm(element.confirm, `${pointer}/confirm`, problems);
  if (element.type === "button") {
    checkRequiredText(element, "text", BlockKitLimit.buttonText, pointer, problems, true);
    checkString(element.value, BlockKitLimit.buttonValue, `${pointer}/value`, problems);
    checkString(element.url, BlockKitLimit.buttonUrl, `${pointer}/url`, problems);
    checkString(
      element.accessibility_label,
      BlockKitLimit.buttonAccessibilityLabel,
      `${pointer}/accessibility_label`,
      problems,
    );
  }
}

function checkElementList(
  elements: unknown,
  max: number,
  pointer: string,
  problems: string[],
  check: (element: unknown, pointer: string) => void,
): void {
  if (!Array.isArray(elements)) {
    problems.push(missing("elements", pointer));
    return;
  }
  if (elements.length > max) problems.push(tooMany(max, `${pointer}/elements`));
  elements.forEach((element, index) => check(element, `${pointer}/elements/${index}`));
}

function checkContextElement(element: unknown, pointer: string, problems: string[]): void {
  if (isObject(element) && element.type === "image") return;
  if (isObject(element) && typeof element.type === "string" && !TEXT_TYPES.has(element.type)) {
    problems.push(unsupported(element.type, pointer));
    return;
  }
  checkText(element, undefined, pointer, problems);
}

function checkSection(block: JsonObject, pointer: string, problems: string[]): void {
  if (block.text === undefined && block.fields === undefined) {
    problems.push(`must define either \`text\` or \`fields\` ${at(`${pointer}/type`)}`);
  }
  if (block.text !== undefined) checkText(block.text, BlockKitLimit.sectionText, `${pointer}/text`, problems);
  if (block.fields !== undefined) {
    if (!Array.isArray(block.fields)) {
      problems.push(noSchemaMatch(`${pointer}/fields`));
    } else {
      if (block.fields.length > BlockKitLimit.sectionFields) {
        problems.push(tooMany(BlockKitLimit.sectionFields, `${pointer}/fields`));
      }
      block.fields.forEach((field, index) =>
        checkText(field, BlockKitLimit.sectionFieldText, `${pointer}/fields/${index}`, problems),
      );
    }
  }
  if (block.accessory !== undefined) checkElement(block.accessory, `${pointer}/accessory`, problems);
}

function checkBlock(block: unknown, pointer: string, problems: string[]): void {
  if (!isObject(block)) {
    problems.push(noSchemaMatch(pointer));
    return;
  }
  if (typeof block.type !== "string") {
    problems.push(missing("type", pointer));
    return;
  }
  if (!BLOCK_TYPES.has(block.type)) {
    problems.push(unsupported(block.type, pointer));
    return;
  }
  checkString(block.block_id, BlockKitLimit.blockId, `${pointer}/block_id`, problems);
  switch (block.type) {
    case "section":
      checkSection(block, pointer, problems);
      break;
    case "header":
      checkRequiredText(block, "text", BlockKitLimit.headerText, pointer, problems, true);
      break;
    case "actions":
      checkElementList(block.elements, BlockKitLimit.actionsElements, pointer, problems, (element, p) =>
        checkElement(element, p, problems),
      );
      break;
    case "context":
      checkElementList(block.elements, BlockKitLimit.contextElements, pointer, problems, (element, p) =>
        checkContextElement(element, p, problems),
      );
      break;
    case "input":
      checkRequiredText(block, "label", BlockKitLimit.inputLabel, pointer, problems, true);
      if (block.element === undefined) problems.push(missing("element", pointer));
      else checkElement(block.element, `${pointer}/element`, problems);
      break;
    default:
      // The remaining types carry no limit canarybot could run into; Slack's own checks on them are not modelled.
      break;
  }
}

function checkBlocks(blocks: readonly unknown[], max: number, pointer: string): string[] {
  const problems: string[] = [];
  if (blocks.length > max) problems.push(tooMany(max, pointer));
  blocks.forEach((block, index) => checkBlock(block, `${pointer}/${index}`, problems));
  return problems;
}

/** Problems with a message's `blocks` (chat.postMessage, chat.update, chat.postEphemeral, response_url). */
export function messageBlockProblems(blocks: readonly unknown[]): string[] {
  return checkBlocks(blocks, BlockKitLimit.messageBlocks, "/blocks");
}

/** Problems with a modal `view` (views.open), pointed at as Slack does: `/view/...`. */
export function modalViewProblems(view: unknown): string[] {
  if (!isObject(view)) return [noSchemaMatch("/view")];
  const problems: string[] = [];
  if (view.type !== "modal") problems.push(noSchemaMatch("/view/type"));
  checkRequiredText(view, "title", BlockKitLimit.modalTitle, "/view", problems, true);
  for (const button of ["submit", "close"] as const) {
    if (view[button] !== undefined) {
      checkText(view[button], BlockKitLimit.modalButton, `/view/${button}`, problems, true);
    }
  }
  checkString(view.private_metadata, BlockKitLimit.privateMetadata, "/view/private_metadata", problems);
  checkString(view.callback_id, BlockKitLimit.callbackId, "/view/callback_id", problems);
  if (!Array.isArray(view.blocks)) {
    problems.push(missing("blocks", "/view"));
    return problems;
  }
  problems.push(...checkBlocks(view.blocks, BlockKitLimit.viewBlocks, "/view/blocks"));
  view.blocks.forEach((block, index) => {
    if (isObject(block) && block.type === "input" && view.submit === undefined) {
      problems.push(
        `must define \`submit\` to use an \`input\` block in modals ${at(`/view/blocks/${index}/input`)}`,
      );
    }
  });
  return problems;
}
