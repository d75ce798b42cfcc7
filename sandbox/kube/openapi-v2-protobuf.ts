import { stringify } from "yaml";

// OpenAPI v2 in protobuf, the only form client-go reads /openapi/v2 in (kubectl validates against it when the
// server does not say it validates fields itself, e.g. kubectl 1.20). Field numbers from gnostic's
// openapiv2/OpenAPIv2.proto (package openapi.v2, Apache-2.0); only the messages a Kubernetes schema uses.

type Json = Record<string, unknown>;

/** Protocol buffer wire format: varints, length-delimited fields and doubles. */
class Writer {
  readonly #chunks: Buffer[] = [];

  #varint(value: number | bigint): void {
    let n = BigInt(value);
    if (n < 0n) n += 1n << 64n;
    const bytes: number[] = [];
    do {
      let byte = Number(n & 0x7fn);
      n >>= 7n;
      if (n > 0n) byte |= 0x80;
      bytes.push(byte);
    } while (n > 0n);
    this.#chunks.push(Buffer.from(bytes));
  }

  #tag(field: number, wireType: number): void {
    this.#varint((field << 3) | wireType);
  }

  bytes(field: number, value: Buffer): this {
    this.#tag(field, 2);
    this.#varint(value.length);
    this.#chunks.push(value);
    return this;
  }

  string(field: number, value: unknown): this {
    return typeof value === "string" && value !== "" ? this.bytes(field, Buffer.from(value, "utf8")) : this;
  }

  strings(field: number, values: unknown): this {
    for (const value of Array.isArray(values) ? values : []) this.string(field, value);
    return this;
  }

  message(field: number, write: ((writer: Writer) => void) | undefined): this {
    if (write === undefined) return this;
    const inner = new Writer();
    write(inner);
    return this.bytes(field, inner.finish());
  }

  integer(field: number, value: unknown): this {
    if (typeof value !== "number" && typeof value !== "boolean") return this;
    const n = typeof value === "boolean" ? (value ? 1 : 0) : Math.trunc(value);
    if (n === 0) return this;
    this.#tag(field, 0);
    this.#varint(n);
    return this;
  }

  double(field: number, value: unknown): this {
    if (typeof value !== "number") return this;
    this.#tag(field, 1);
    const buffer = Buffer.alloc(8);
    buffer.writeDoubleLE(value);
    this.#chunks.push(buffer);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

/** `Any {yaml = 2}`: gnostic carries free-form values (enum members, defaults, extensions) as YAML text. */
const anyYaml = (value: unknown) => (writer: Writer) => writer.string(2, stringify(value).trimEnd());

const namedAny = (name: string, value: unknown) => (writer: Writer) =>
  writer.string(1, name).message(2, anyYaml(value));

function schema(node: Json): (writer: Writer) => void {
  return (w) => {
    w.string(1, node.$ref)
      .string(2, node.format)
      .string(3, node.title)
      .string(4, node.description)
      .message(5, node.default === undefined ? undefined : anyYaml(node.default))
      .double(6, node.multipleOf)
      .double(7, node.maximum)
      .integer(8, node.exclusiveMaximum)
      .double(9, node.minimum)
      .integer(10, node.exclusiveMinimum)
      .integer(11, node.maxLength)
      .integer(12, node.minLength)
      .string(13, node.pattern)
      .integer(14, node.maxItems)
      .integer(15, node.minItems)
      .integer(16, node.uniqueItems)
      .integer(17, node.maxProperties)
      .integer(18, node.minProperties)
      .strings(19, node.required);
    for (const value of Array.isArray(node.enum) ? node.enum : []) w.message(20, anyYaml(value));
    const additional = node.additionalProperties;
    if (typeof additional === "boolean") w.message(21, (a) => a.integer(2, additional));
    else if (typeof additional === "object" && additional !== null)
      w.message(21, (a) => a.message(1, schema(additional as Json)));
    if (typeof node.type === "string") w.message(22, (t) => t.string(1, node.type));
    if (typeof node.items === "object" && node.items !== null)
      w.message(23, (i) => i.message(1, schema(node.items as Json)));
    for (const part of Array.isArray(node.allOf) ? (node.allOf as Json[]) : []) w.message(24, schema(part));
    if (typeof node.properties === "object" && node.properties !== null) {
      w.message(25, (p) => {
        for (const [name, value] of Object.entries(node.properties as Record<string, Json>)) {
          p.message(1, (named) => named.string(1, name).message(2, schema(value)));
        }
      });
    }
    for (const [name, value] of Object.entries(node))
      if (name.startsWith("x-")) w.message(31, namedAny(name, value));
  };
}

/** A JSON OpenAPI v2 document (info and definitions; paths are left out) as gnostic's `openapi.v2.Document`. */
export function encodeOpenApiV2(document: Json): Buffer {
  const info = (document.info ?? {}) as Json;
  const definitions = (document.definitions ?? {}) as Record<string, Json>;
  return new Writer()
    .string(1, document.swagger)
    .message(2, (i) => i.string(1, info.title).string(2, info.version))
    .message(9, (d) => {
      for (const [name, value] of Object.entries(definitions))
        d.message(1, (named) => named.string(1, name).message(2, schema(value)));
    })
    .finish();
}
