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
  /** composition-objects/text-object as a `placeholder` of any input element: "Maximum length ... is 150 characters." */
  placeholder: 150,
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

/**
 * The control sequences Slack parses in mrkdwn (reference/surfaces/formatting): user, channel and user group
 * mentions, the special mentions, dates (with their required fallback) and links. Kept apart from canarybot's own
 * builder on purpose: this is the check, not the thing checked.
 */
const CONTROL_SEQUENCE = new RegExp(
  [
    String.raw`^@[UW][A-Z0-9]+(\|[^<>]*)?$`,
    String.raw`^#C[A-Z0-9]+(\|[^<>]*)?$`,
    String.raw`^!(here|channel|everyone)(\|[^<>]*)?$`,
    String.raw`^!subteam\^S[A-Z0-9]+(\|[^<>]*)?$`,
    String.raw`^!date\^-?\d+\^[^^|<>]+(\^[^|<>]+)?\|[^<>]+$`,
    String.raw`^(https?://|mailto:)[^|<>\s]+(\|[^<>]*)?$`,
  ].join("|"),
);
const ENTITY = /^&(amp|lt|gt);/;

/** Positions of `&` that start no entity, and of `>` that are not a line's blockquote marker, in plain text. */
function strayCharacters(text: string, offset: number, found: [string, number][]): void {
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (char === "&" && !ENTITY.test(text.slice(index)))
      found.push(["unescaped '&' (not &amp; &lt; &gt;)", offset + index]);
    const lineStart = offset + index === 0 || text[index - 1] === "\n";
    if (char === ">" && !lineStart) found.push(["unescaped '>' outside a control sequence", offset + index]);
  }
}

/**
 * Where Slack would read a control character the author did not mean: a `<` that opens no control sequence, a `>`
 * that closes none, or an `&` that starts no `&amp;` / `&lt;` / `&gt;`. Slack accepts such text and shows it wrong
 * (a line cut at `<service>`), so the sandbox refuses it where Slack would not: the tests see what a person would.
 */
export function unescapedProblems(text: string, pointer: string): string[] {
  const found: [string, number][] = [];
  let from = 0;
  while (from < text.length) {
    const open = text.indexOf("<", from);
    const plainEnd = open < 0 ? text.length : open;
    strayCharacters(text.slice(from, plainEnd), from, found);
    if (open < 0) break;
    const close = text.indexOf(">", open + 1);
    const inner = close < 0 ? undefined : text.slice(open + 1, close);
    if (inner === undefined || inner.includes("<") || !CONTROL_SEQUENCE.test(inner)) {
      found.push(["unescaped '<' outside a control sequence", open]);
      from = open + 1;
      continue;
    }
    // The label of a link or mention is text: its `&` must be an entity too.
    const bar = inner.indexOf("|");
    if (bar >= 0) strayCharacters(inner.slice(bar + 1), open + 2 + bar, found);
    from = close + 1;
  }
  return found.map(([what, index]) => `${what} at character ${index} ${at(pointer)}`);
}

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
  // plain_text is shown as written; only mrkdwn is parsed for control sequences.
  if (value.type === "mrkdwn") {
    problems.push(...unescapedProblems(value.text, `${pointer}/text`));
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
  if (element.placeholder !== undefined) {
    checkText(element.placeholder, BlockKitLimit.placeholder, `${pointer}/placeholder`, problems, true);
  }
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

/** The interactive elements of a block, with their pointers. */
function elementsOf(block: unknown, pointer: string): [JsonObject, string][] {
  if (!isObject(block)) return [];
  const found: [JsonObject, string][] = [];
  if (isObject(block.accessory)) found.push([block.accessory, `${pointer}/accessory`]);
  if (isObject(block.element)) found.push([block.element, `${pointer}/element`]);
  if (Array.isArray(block.elements)) {
    block.elements.forEach((element, index) => {
      if (isObject(element)) found.push([element, `${pointer}/elements/${index}`]);
    });
  }
  return found;
}

/** The second and later uses of one id, as Slack refuses them. */
function duplicates(ids: [unknown, string][], field: string, problems: string[]): void {
  const seen = new Set<unknown>();
  for (const [id, pointer] of ids) {
    if (typeof id !== "string") continue;
    if (seen.has(id)) problems.push(`duplicate ${field} ${JSON.stringify(id)} ${at(pointer)}`);
    seen.add(id);
  }
}

/**
 * `block_id`s are unique in a message or view; `action_id`s in a message (canarybot routes a click by it alone) and,
 * in a view, within each block (the view's state is keyed by block, then action).
 */
function checkIds(blocks: readonly unknown[], pointer: string, actionScope: "message" | "block"): string[] {
  const problems: string[] = [];
  duplicates(
    blocks.map((block, index) => [
      isObject(block) ? block.block_id : undefined,
      `${pointer}/${index}/block_id`,
    ]),
    "block_id",
    problems,
  );
  const actionIds = blocks.map((block, index) =>
    elementsOf(block, `${pointer}/${index}`).map(([element, at]): [unknown, string] => [
      element.action_id,
      `${at}/action_id`,
    ]),
  );
  if (actionScope === "message") duplicates(actionIds.flat(), "action_id", problems);
  else for (const ids of actionIds) duplicates(ids, "action_id", problems);
  return problems;
}

function checkBlocks(
  blocks: readonly unknown[],
  max: number,
  pointer: string,
  actionScope: "message" | "block",
): string[] {
  const problems: string[] = [];
  if (blocks.length > max) problems.push(tooMany(max, pointer));
  blocks.forEach((block, index) => checkBlock(block, `${pointer}/${index}`, problems));
  problems.push(...checkIds(blocks, pointer, actionScope));
  return problems;
}

/** Problems with a message's `blocks` (chat.postMessage, chat.update, chat.postEphemeral, response_url). */
export function messageBlockProblems(blocks: readonly unknown[]): string[] {
  return checkBlocks(blocks, BlockKitLimit.messageBlocks, "/blocks", "message");
}

/** Problems with a message's top-level `text`, which Slack parses as mrkdwn unless `mrkdwn: false`. */
export function messageTextProblems(text: unknown, mrkdwn: unknown = true): string[] {
  if (typeof text !== "string" || mrkdwn === false || mrkdwn === "false") return [];
  return unescapedProblems(text, "/text");
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
  problems.push(...checkBlocks(view.blocks, BlockKitLimit.viewBlocks, "/view/blocks", "block"));
  view.blocks.forEach((block, index) => {
    if (isObject(block) && block.type === "input" && view.submit === undefined) {
      problems.push(
        `must define \`submit\` to use an \`input\` block in modals ${at(`/view/blocks/${index}/input`)}`,
      );
    }
  });
  return problems;
}
