export type LabelRequirement =
  | { readonly key: string; readonly op: "=" | "!="; readonly value: string }
  | { readonly key: string; readonly op: "in" | "notin"; readonly values: readonly string[] }
  | { readonly key: string; readonly op: "exists" | "!exists" };

const KEY = "[A-Za-z0-9][-A-Za-z0-9_./]*";
const VALUE = "[-A-Za-z0-9_.]*";
const EQUALITY = new RegExp(`^(!?)(${KEY})(?:\\s*(==|=|!=)\\s*(${VALUE}))?$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s+\\(\\s*(${VALUE}(?:\\s*,\\s*${VALUE})*)\\s*\\)$`);

/** Splits at the commas between terms, not those inside a set's parentheses. */
function terms(selector: string): string[] {
  const found: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i += 1) {
    const c = selector[i];
    if (c === "(") depth += 1;
    else if (c === ")") depth -= 1;
    else if (c === "," && depth === 0) {
      found.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  found.push(selector.slice(start));
  return found.map((term) => term.trim());
}

/**
 * Parses the label selector grammar: equality-based (`a=b,c==d,e!=f,g,!h`) and set-based
 * (`version in (v1,v2)`, `tier notin (front)`) terms. Anything else is an Error rather than a silent match-all.
 */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  if (selector.trim() === "") return [];
  return terms(selector).map((term) => {
    const set = SET.exec(term);
    if (set !== null) {
      const [, key = "", op, list = ""] = set;
      return { key, op: op === "in" ? "in" : "notin", values: list.split(",").map((value) => value.trim()) };
    }
    const match = EQUALITY.exec(term);
    if (match === null) throw new Error(`unable to parse requirement: ${JSON.stringify(term)}`);
    const [, negated, key = "", op, value = ""] = match;
    if (op === undefined) return { key, op: negated === "!" ? "!exists" : "exists" };
    if (negated === "!") throw new Error(`unable to parse requirement: ${JSON.stringify(term)}`);
    return { key, op: op === "!=" ? "!=" : "=", value };
  });
}

export function matchesLabels(
  requirements: readonly LabelRequirement[],
  labels: Readonly<Record<string, string>>,
): boolean {
  return requirements.every((requirement) => {
    const present = Object.hasOwn(labels, requirement.key);
    const value = labels[requirement.key] ?? "";
    switch (requirement.op) {
      case "=":
        return present && value === requirement.value;
      case "!=":
        return !present || value !== requirement.value;
      case "in":
        return present && requirement.values.includes(value);
      case "notin":
        return !present || !requirement.values.includes(value);
      case "exists":
        return present;
      case "!exists":
        return !present;
    }
  });
}
