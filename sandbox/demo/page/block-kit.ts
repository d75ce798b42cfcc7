// Block Kit blocks to HTML, shaped like the Slack client's rendering. Pure (browser and Node); buttons and inputs
// carry data- attributes the page's script turns into block_actions and view_submission requests.
import { EMPTY_DIRECTORY, escapeHtml, renderMrkdwn, renderPlainText } from "./mrkdwn.ts";
import type { Directory } from "./mrkdwn.ts";

type TextObject = { type?: string; text?: string; emoji?: boolean };
type Element = {
  type?: string;
  text?: TextObject | string;
  action_id?: string;
  value?: string;
  style?: string;
  url?: string;
  confirm?: unknown;
  image_url?: string;
  alt_text?: string;
  placeholder?: TextObject;
  initial_value?: string;
  multiline?: boolean;
  options?: { text?: TextObject; value?: string }[];
  elements?: Element[];
};
type Block = Element & {
  block_id?: string;
  fields?: TextObject[];
  accessory?: Element;
  title?: TextObject;
  label?: TextObject;
  hint?: TextObject;
  optional?: boolean;
  element?: Element;
};

export type RenderContext = { directory?: Directory; now?: number };

/** A text object: mrkdwn or plain_text. */
export function renderText(text: TextObject | undefined, context: RenderContext = {}): string {
  if (text?.text === undefined) return "";
  return text.type === "mrkdwn"
    ? renderMrkdwn(text.text, context.directory ?? EMPTY_DIRECTORY, context.now)
    : renderPlainText(text.text, text.emoji !== false);
}

function attribute(name: string, value: string | undefined): string {
  return value === undefined ? "" : ` ${name}="${escapeHtml(value)}"`;
}

function renderButton(element: Element, blockId: string, context: RenderContext): string {
  const label = typeof element.text === "string" ? element.text : renderText(element.text, context);
  const style = element.style === "primary" || element.style === "danger" ? ` ${element.style}` : "";
  return (
    `<button type="button" class="bk-button${style}"` +
    attribute("data-action-id", element.action_id) +
    attribute("data-block-id", blockId) +
    attribute("data-value", element.value) +
    attribute("data-url", element.url) +
    attribute("data-confirm", element.confirm === undefined ? undefined : JSON.stringify(element.confirm)) +
    `>${label}</button>`
  );
}

function renderImage(element: Element, className: string): string {
  return `<img class="${className}"${attribute("src", element.image_url)}${attribute("alt", element.alt_text ?? "")}>`;
}

function renderElement(element: Element | undefined, blockId: string, context: RenderContext): string {
  switch (element?.type) {
    case "button":
      return renderButton(element, blockId, context);
    case "image":
      return renderImage(element, "bk-accessory-image");
    case "plain_text_input":
      return element.multiline === true
        ? `<textarea class="bk-input" name="${escapeHtml(blockId)}"${attribute("data-action-id", element.action_id)}${attribute("placeholder", element.placeholder?.text)}>${escapeHtml(element.initial_value ?? "")}</textarea>`
        : `<input class="bk-input" type="text" name="${escapeHtml(blockId)}"${attribute("data-action-id", element.action_id)}${attribute("placeholder", element.placeholder?.text)}${attribute("value", element.initial_value)}>`;
    case "static_select":
      return (
        `<select class="bk-input" name="${escapeHtml(blockId)}"${attribute("data-action-id", element.action_id)} data-select="1">` +
        `<option value="">${escapeHtml(element.placeholder?.text ?? "Select an item")}</option>` +
        (element.options ?? [])
          .map(
            (option) =>
              `<option${attribute("value", option.value)}>${escapeHtml(option.text?.text ?? "")}</option>`,
          )
          .join("") +
        "</select>"
      );
    case undefined:
      return "";
    default:
      return `<span class="bk-unsupported">[${escapeHtml(element?.type ?? "element")}]</span>`;
  }
}

function renderBlock(block: Block, context: RenderContext): string {
  const id = block.block_id ?? "";
  const open = (kind: string) =>
    `<div class="bk-block bk-${kind}"${attribute("data-block-id", block.block_id)}>`;
  switch (block.type) {
    case "header":
      return `${open("header")}${renderText(block.text as TextObject, context)}</div>`;
    case "divider":
      return `${open("divider")}<hr></div>`;
    case "section": {
      const text =
        block.text === undefined
          ? ""
          : `<div class="bk-text">${renderText(block.text as TextObject, context)}</div>`;
      const fields =
        block.fields === undefined
          ? ""
          : `<div class="bk-fields">${block.fields.map((field) => `<div class="bk-field">${renderText(field, context)}</div>`).join("")}</div>`;
      const accessory =
        block.accessory === undefined
          ? ""
          : `<div class="bk-accessory">${renderElement(block.accessory, id, context)}</div>`;
      return `${open("section")}<div class="bk-section-body">${text}${fields}</div>${accessory}</div>`;
    }
    case "context":
      return `${open("context")}${(block.elements ?? [])
        .map((element) =>
          element.type === "image"
            ? renderImage(element, "bk-context-image")
            : `<span class="bk-context-text">${renderText(element as TextObject, context)}</span>`,
        )
        .join("")}</div>`;
    case "actions":
      return `${open("actions")}${(block.elements ?? []).map((element) => renderElement(element, id, context)).join("")}</div>`;
    case "image":
      return (
        `${open("image")}` +
        (block.title === undefined
          ? ""
          : `<div class="bk-image-title">${renderText(block.title, context)}</div>`) +
        `${renderImage(block, "bk-image-full")}</div>`
      );
    case "input":
      return (
        `${open("input-block")}<label class="bk-label">${renderText(block.label, context)}` +
        `${block.optional === true ? ' <span class="bk-optional">(optional)</span>' : ""}</label>` +
        renderElement(block.element, id, context) +
        (block.hint === undefined ? "" : `<div class="bk-hint">${renderText(block.hint, context)}</div>`) +
        `<div class="bk-error" data-error-for="${escapeHtml(id)}"></div></div>`
      );
    case undefined:
    default:
      return `${open("unsupported")}[${escapeHtml(block.type ?? "block")}]</div>`;
  }
}

/** The blocks of a message or a view, in order. */
export function renderBlocks(blocks: readonly unknown[] | undefined, context: RenderContext = {}): string {
  return (blocks ?? []).map((block) => renderBlock(block as Block, context)).join("");
}
