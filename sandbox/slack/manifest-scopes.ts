import { readFileSync } from "node:fs";
import { parse } from "yaml";

const MANIFEST = new URL("../../manifest.yml", import.meta.url);

/**
 * The bot scopes the app's manifest.yml asks for: what a workspace grants a token when the app is installed from
 * it. Read from the manifest rather than from the product's code, so a scope the code needs and the manifest lacks
 * shows up as Slack's `missing_scope` here first.
 */
export function manifestBotScopes(): string[] {
  const manifest = parse(readFileSync(MANIFEST, "utf8")) as { oauth_config?: { scopes?: { bot?: unknown } } };
  const scopes = manifest.oauth_config?.scopes?.bot;
  if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === "string")) {
    throw new Error(`${MANIFEST.pathname} has no oauth_config.scopes.bot list`);
  }
  return scopes;
}
