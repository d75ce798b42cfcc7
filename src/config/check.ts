import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import { ConfigFile, describeConfigIssue } from "./file.ts";
import { errorMessage } from "../errors.ts";

/** What `canarybot config check` found: every problem, each as `FILE:LINE: path: what is wrong`. */
export type ConfigCheck = { ok: true; services: string[] } | { ok: false; problems: string[] };

/**
 * Check a config file without connecting to anything. Unlike loading it, this keeps going after the first
 * kind of problem so one run lists them all, each with the line it is on (editors jump to `file:line:`).
 */
export async function checkConfigFile(path: string): Promise<ConfigCheck> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const reason = errorMessage(error);
    return { ok: false, problems: [`${path}: cannot be read: ${reason}`] };
  }
  return checkConfigText(text, path);
}

export function checkConfigText(text: string, source: string): ConfigCheck {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number | undefined): string =>
    offset === undefined ? source : `${source}:${lines.linePos(offset).line}`;
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map(
        (error) => `${at(error.pos[0])}: not valid YAML: ${error.message.split("\n")[0] ?? error.message}`,
      ),
    };
  }
  const parsed = ConfigFile.safeParse(document.toJS() ?? {});
  if (parsed.success) return { ok: true, services: Object.keys(parsed.data.services) };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => {
      // The nearest node that exists: a missing key is reported on the object that lacks it.
      let path = issue.path;
      while (path.length > 0 && !document.hasIn(path)) path = path.slice(0, -1);
      const node: unknown = document.getIn(path, true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      return `${at(range?.[0] ?? (path.length === 0 ? 0 : undefined))}: ${describeConfigIssue(issue)}`;
    }),
  };
}
