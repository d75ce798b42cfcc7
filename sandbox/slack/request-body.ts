import type { IncomingMessage } from "node:http";

export type ApiArguments = Record<string, unknown>;

export type ParsedApiBody =
  | { ok: true; args: ApiArguments; isJson: boolean; missingCharset: boolean }
  | { ok: false; error: "invalid_post_type" | "invalid_json" | "json_not_object" | "invalid_form_data" };

export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

async function multipartEntries(contentType: string, raw: Buffer): Promise<FormData> {
  // undici's multipart parser, so the sandbox reads exactly what fetch-based clients write.
  return new Request("http://sandbox.invalid/", {
    method: "POST",
    headers: { "content-type": contentType },
    body: new Uint8Array(raw),
  }).formData();
}

/**
 * Web API arguments from any body Slack accepts (form, JSON, multipart) plus the query string, answering
 * Slack's documented request-level errors for the rest.
 */
export async function parseApiBody(
  contentType: string | undefined,
  raw: Buffer,
  query: URLSearchParams,
): Promise<ParsedApiBody> {
  const args: ApiArguments = Object.fromEntries(query);
  const type = mediaType(contentType);
  if (raw.length === 0) return { ok: true, args, isJson: false, missingCharset: false };
  if (type === "application/x-www-form-urlencoded") {
    Object.assign(args, Object.fromEntries(new URLSearchParams(raw.toString("utf8"))));
    return { ok: true, args, isJson: false, missingCharset: false };
  }
  if (type === "application/json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString("utf8"));
    } catch {
      return { ok: false, error: "invalid_json" };
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return { ok: false, error: "json_not_object" };
    }
    Object.assign(args, parsed);
    return { ok: true, args, isJson: true, missingCharset: !/charset=/i.test(contentType ?? "") };
  }
  if (type === "multipart/form-data") {
    try {
      for (const [key, value] of await multipartEntries(contentType!, raw)) {
        if (typeof value === "string") args[key] = value;
      }
    } catch {
      return { ok: false, error: "invalid_form_data" };
    }
    return { ok: true, args, isJson: false, missingCharset: false };
  }
  return { ok: false, error: "invalid_post_type" };
}

/** The bytes of an upload: the first file part of a multipart body, else the raw body (Slack takes both). */
export async function uploadedBytes(contentType: string | undefined, raw: Buffer): Promise<Buffer> {
  if (mediaType(contentType) !== "multipart/form-data") return raw;
  for (const [, value] of await multipartEntries(contentType!, raw)) {
    if (typeof value !== "string") return Buffer.from(await value.arrayBuffer());
  }
  return Buffer.alloc(0);
}

/**
 * A structured argument: form bodies carry it JSON-encoded (WebClient stringifies arrays and objects), JSON bodies
 * carry it as is. `undefined` when absent, `null` when it is not valid JSON.
 */
export function structuredArgument(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return null;
  }
}

export function booleanArgument(value: unknown): boolean {
  return value === true || value === "true" || value === "1" || value === 1;
}

export function stringArgument(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}
