export type LabelRequirement =
  | { readonly key: string; readonly op: "=" | "!="; readonly value: string }
  | { readonly key: string; readonly op: "exists" | "!exists" };

const TERM = /^(!?)([A-Za-z0-9][-A-Za-z0-9_./]*)(?:\s*(==|=|!=)\s*([-A-Za-z0-9_.]*))?$/;

/**
 * Parses the equality-based part of the label selector grammar (`a=b,c==d,e!=f,g,!h`). Set-based terms
 * (`in`, `notin`) are refused with an Error rather than silently matching everything.
 */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  if (selector.trim() === "") return [];
  return selector.split(",").map((raw) => {
    const term = raw.trim();
    const match = TERM.exec(term);
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
    switch (requirement.op) {
      case "=":
        return present && labels[requirement.key] === requirement.value;
      case "!=":
        return !present || labels[requirement.key] !== requirement.value;
      case "exists":
        return present;
      case "!exists":
        return !present;
    }
  });
}
