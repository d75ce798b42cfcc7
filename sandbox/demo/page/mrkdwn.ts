// Slack's mrkdwn as the Slack client shows it, to HTML. Runs in the browser (served with its types stripped) and
// in Node for the tests, so it imports nothing.

/** Names for the ids a message mentions: users (`U…`), user groups (`S…`, by handle) and channels (`C…`). */
export type Directory = {
  readonly users: Readonly<Record<string, string>>;
  readonly groups: Readonly<Record<string, string>>;
  readonly channels: Readonly<Record<string, string>>;
};

export const EMPTY_DIRECTORY: Directory = { users: {}, groups: {}, channels: {} };

/** The shortcodes canarybot's messages use, and a few common ones; any other stays as typed, as Slack shows it. */
const EMOJI: Readonly<Record<string, string>> = {
  mag: "🔍",
  test_tube: "🧪",
  arrow_forward: "▶️",
  double_vertical_bar: "⏸️",
  raised_hand: "✋",
  white_check_mark: "✅",
  rewind: "⏪",
  leftwards_arrow_with_hook: "↩️",
  x: "❌",
  warning: "⚠️",
  rotating_light: "🚨",
  heavy_check_mark: "✔️",
  heavy_minus_sign: "➖",
  hourglass: "⌛",
  hourglass_flowing_sand: "⏳",
  bar_chart: "📊",
  chart_with_upwards_trend: "📈",
  lock: "🔒",
  no_entry: "⛔",
  no_entry_sign: "🚫",
  question: "❓",
  grey_question: "❔",
  information_source: "ℹ️",
  bird: "🐦",
  tada: "🎉",
  stopwatch: "⏱️",
  clock1: "🕐",
  large_green_circle: "🟢",
  large_yellow_circle: "🟡",
  red_circle: "🔴",
  white_circle: "⚪",
  eyes: "👀",
  point_right: "👉",
  arrows_counterclockwise: "🔄",
  thumbsup: "👍",
  "+1": "👍",
};

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Slack escapes exactly these three in message text; everything else arrives as typed. */
export function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export function emojify(text: string): string {
  return text.replace(/:([a-z0-9_+-]+):/g, (whole, name: string) => EMOJI[name] ?? whole);
}

/** Plain text (a `plain_text` object): no formatting, emoji shortcodes shown. */
export function renderPlainText(text: string, emoji = true): string {
  const html = escapeHtml(text).replace(/\n/g, "<br>");
  return emoji ? emojify(html) : html;
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function ordinal(day: number): string {
  const tens = day % 100;
  if (tens >= 11 && tens <= 13) return `${day}th`;
  return `${day}${["th", "st", "nd", "rd"][day % 10] ?? "th"}`;
}

function twelveHour(date: Date, seconds: boolean): string {
  const hours = date.getHours() % 12 === 0 ? 12 : date.getHours() % 12;
  const pad = (n: number) => String(n).padStart(2, "0");
  const time = `${hours}:${pad(date.getMinutes())}${seconds ? `:${pad(date.getSeconds())}` : ""}`;
  return `${time} ${date.getHours() < 12 ? "AM" : "PM"}`;
}

function ago(then: number, now: number): string {
  const seconds = Math.round((now - then) / 1000);
  const future = seconds < 0;
  const abs = Math.abs(seconds);
  const [count, unit] =
    abs < 60
      ? [abs, "second"]
      : abs < 3600
        ? [Math.round(abs / 60), "minute"]
        : abs < 86_400
          ? [Math.round(abs / 3600), "hour"]
          : [Math.round(abs / 86_400), "day"];
  if (abs < 5) return "just now";
  const span = `${count} ${unit}${count === 1 ? "" : "s"}`;
  return future ? `in ${span}` : `${span} ago`;
}

/**
 * `<!date^1392734382^{date_short} at {time}|fallback>` in the reader's own time zone, token by token as
 * Slack's "Formatting text" reference lists them.
 */
export function formatSlackDate(epochSeconds: number, template: string, now: number = Date.now()): string {
  const date = new Date(epochSeconds * 1000);
  const day = ordinal(date.getDate());
  const month = MONTHS[date.getMonth()] ?? "";
  const year = date.getFullYear();
  const dateText = `${month} ${day}, ${year}`;
  const short = `${month.slice(0, 3)} ${date.getDate()}, ${year}`;
  const long = `${DAYS[date.getDay()] ?? ""}, ${dateText}`;
  const dayDelta = Math.round(
    (new Date(date).setHours(0, 0, 0, 0) - new Date(now).setHours(0, 0, 0, 0)) / 86_400_000,
  );
  const pretty = (fallback: string) =>
    dayDelta === 0 ? "today" : dayDelta === -1 ? "yesterday" : dayDelta === 1 ? "tomorrow" : fallback;
  const tokens: Readonly<Record<string, string>> = {
    date_num: `${year}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`,
    date: dateText,
    date_short: short,
    date_long: long,
    date_pretty: pretty(dateText),
    date_short_pretty: pretty(short),
    date_long_pretty: pretty(long),
    time: twelveHour(date, false),
    time_secs: twelveHour(date, true),
    ago: ago(date.getTime(), now),
  };
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => tokens[name] ?? whole);
}

/** One `<…>` control sequence: a mention, a special mention, a date or a link. */
function renderEntity(body: string, directory: Directory, now: number): string {
  const bar = body.indexOf("|");
  const target = bar < 0 ? body : body.slice(0, bar);
  const label = bar < 0 ? undefined : unescapeSlack(body.slice(bar + 1));
  const mention = (text: string) => `<span class="mention">${escapeHtml(text)}</span>`;
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return mention(`@${directory.users[id] ?? label ?? id}`);
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    return mention(`#${directory.channels[id] ?? label ?? id}`);
  }
  if (target.startsWith("!subteam^")) {
    const id = target.slice("!subteam^".length);
    return mention(`@${directory.groups[id] ?? label ?? id}`);
  }
  if (target.startsWith("!date^")) {
    const [, seconds = "", template = "", link] = target.split("^");
    const text = /^\d+$/.test(seconds) ? formatSlackDate(Number(seconds), template, now) : (label ?? target);
    const span = `<span class="date" title="${escapeHtml(label ?? "")}">${escapeHtml(text)}</span>`;
    return link === undefined ? span : `<a href="${escapeHtml(unescapeSlack(link))}">${span}</a>`;
  }
  if (target.startsWith("!")) {
    const name = target.slice(1);
    return mention(`@${label ?? name}`);
  }
  const url = unescapeSlack(target);
  if (!/^(https?|mailto):/i.test(url)) return escapeHtml(`<${unescapeSlack(body)}>`);
  const href = url.startsWith("mailto:") || /^https?:/i.test(url) ? url : "#";
  return `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">${escapeHtml(label ?? url)}</a>`;
}

// Placeholders for pieces already rendered (entities, code): private-use characters no message contains.
const OPEN = "\uE000";
const CLOSE = "\uE001";

/** Applies `*bold*`, `_italic_` and `~strike~` where Slack does: the markers hug the text and sit at word edges. */
function inlineStyles(html: string): string {
  const style = (marker: string, tag: string, text: string) =>
    text.replace(
      new RegExp(
        `(^|[\\s(${OPEN}${CLOSE}>])\\${marker}(?!\\s)([^${marker}\\n]*?[^\\s${marker}])\\${marker}(?=$|[\\s.,;:!?)${OPEN}${CLOSE}<'"])`,
        "g",
      ),
      (_whole, before: string, inner: string) => `${before}<${tag}>${inner}</${tag}>`,
    );
  return style("~", "s", style("_", "em", style("*", "strong", html)));
}

/** mrkdwn (Slack's escaped text) to HTML. */
export function renderMrkdwn(text: string, directory: Directory = EMPTY_DIRECTORY, now = Date.now()): string {
  const pieces: string[] = [];
  const hold = (html: string) => `${OPEN}${pieces.push(html) - 1}${CLOSE}`;
  // Code first: nothing inside it is formatted. Then the control sequences, whose bodies are not text.
  let work = text
    .replace(/```([\s\S]*?)```/g, (_w, code: string) =>
      hold(`<pre class="code-block">${escapeHtml(unescapeSlack(code.replace(/^\n/, "")))}</pre>`),
    )
    .replace(/`([^`\n]+)`/g, (_w, code: string) => hold(`<code>${escapeHtml(unescapeSlack(code))}</code>`))
    .replace(/<([^<>\n]+)>/g, (_w, body: string) => hold(renderEntity(body, directory, now)));
  work = escapeHtml(unescapeSlack(work));
  const lines = work.split("\n").map((line) => {
    const quote = /^&gt;\s?(.*)$/.exec(line);
    return quote ? { quote: true, html: quote[1] ?? "" } : { quote: false, html: line };
  });
  const blocks: string[] = [];
  for (const line of lines) {
    const html = emojify(inlineStyles(line.html));
    const previous = blocks.at(-1);
    if (line.quote && previous?.startsWith("<blockquote>") === true) {
      blocks[blocks.length - 1] = previous.replace(/<\/blockquote>$/, `<br>${html}</blockquote>`);
    } else blocks.push(line.quote ? `<blockquote>${html}</blockquote>` : html);
  }
  const joined = blocks.reduce(
    (out, block, i) =>
      i === 0 || block.startsWith("<blockquote>") || blocks[i - 1]!.endsWith("</blockquote>")
        ? out + block
        : `${out}<br>${block}`,
    "",
  );
  return joined.replace(
    new RegExp(`${OPEN}(\\d+)${CLOSE}`, "g"),
    (_w, index: string) => pieces[Number(index)] ?? "",
  );
}
