import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Ajv } from "ajv";
import type { AnySchemaObject } from "ajv";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { BOT_SCOPES } from "../../src/slack/scopes.ts";
import { fixturePath } from "../support/fixtures.ts";

const SCHEMA_DIR = fixturePath("slack/manifest-schema");
/** The remote URLs manifest.schema.json refers to; the local copies are registered under them. */
const VERSIONED_SCHEMAS = {
  "manifest.schema.1.0.0.json":
    "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.1.0.0.json",
  "manifest.schema.2.0.0.json":
    "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/manifest.schema.2.0.0.json",
};

const readJson = async (path: string): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;

async function manifestValidator() {
  // Slack's schemas carry annotations (`_note`) and untyped `properties`; the JSON Schema spec ignores unknown
  // keywords and allows both, as upstream's Python validator does, so Ajv's stricter extras are switched off.
  const ajv = new Ajv({ allErrors: true, strictSchema: false, strictTypes: false });
  // Slack's schemas spell a pattern `regex` on background_color; upstream's Python validator ignores the unknown
  // keyword, we enforce it as the pattern it is meant to be.
  ajv.addKeyword({
    keyword: "regex",
    type: "string",
    schemaType: "string",
    validate: (pattern: string, data: string) => new RegExp(pattern, "u").test(data),
  });
  ajv.addFormat("uri", (value: string) => URL.canParse(value));
  for (const [file, url] of Object.entries(VERSIONED_SCHEMAS)) {
    ajv.addSchema(await readJson(join(SCHEMA_DIR, "schemas", file)), url);
  }
  return ajv.compile((await readJson(join(SCHEMA_DIR, "manifest.schema.json"))) as AnySchemaObject);
}

const validate = await manifestValidator();
const manifest = parse(await readFile(new URL("../../manifest.yml", import.meta.url), "utf8")) as {
  display_information: { name: string };
  features: { slash_commands: { command: string; url: string }[]; bot_user: { display_name: string } };
  oauth_config: { scopes: { bot: string[] } };
  settings: { interactivity: { request_url: string }; socket_mode_enabled: boolean };
};

describe("manifest.yml", () => {
  it("validates against Slack's official manifest schema", () => {
    const valid = validate(manifest);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it("asks for exactly the scopes the code needs", () => {
    const scopes = manifest.oauth_config.scopes.bot;
    expect(new Set(scopes).size).toBe(scopes.length);
    expect([...scopes].sort()).toEqual([...BOT_SCOPES].sort());
  });

  it("declares /canary and sends commands and clicks to the same Bolt endpoint", () => {
    const [command, ...others] = manifest.features.slash_commands;
    expect(others).toEqual([]);
    expect(command).toMatchObject({ command: "/canary", url: "https://canarybot.example.com/slack/events" });
    expect(manifest.settings.interactivity.request_url).toBe(command!.url);
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(manifest.features.bot_user.display_name).toBe(manifest.display_information.name);
  });
});

describe("the schema validator itself", () => {
  it.each(["v1", "v2"])(
    "accepts upstream's valid %s example and rejects the invalid one",
    async (version) => {
      const examples = join(SCHEMA_DIR, "examples");
      expect(validate(await readJson(join(examples, `${version}.manifest.valid.json`)))).toBe(true);
      expect(validate(await readJson(join(examples, `${version}.manifest.invalid.json`)))).toBe(false);
    },
  );

  it("rejects the valid v2 example once its _metadata is gone, as upstream asserts", async () => {
    const example = await readJson(join(SCHEMA_DIR, "examples", "v2.manifest.valid.json"));
    delete example._metadata;
    expect(validate(example)).toBe(false);
  });

  it("rejects a manifest with a misspelled setting or an overlong command", () => {
    expect(validate({ ...manifest, settings: { ...manifest.settings, socket_mode: true } })).toBe(false);
    const longCommand = { command: `/${"c".repeat(32)}`, description: "too long" };
    expect(validate({ ...manifest, features: { ...manifest.features, slash_commands: [longCommand] } })).toBe(
      false,
    );
    expect(
      validate({
        ...manifest,
        display_information: { ...manifest.display_information, background_color: "#12345g" },
      }),
    ).toBe(false);
  });
});
