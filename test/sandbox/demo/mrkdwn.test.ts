import { describe, expect, it } from "vitest";
import { formatSlackDate, renderMrkdwn, unescapeSlack } from "../../../sandbox/demo/page/mrkdwn.ts";

const directory = {
  users: { U0ALICE01: "alice" },
  groups: { S0ONCALL1: "oncall" },
  channels: { C0DEPLOYS: "deploys" },
};
const render = (text: string) => renderMrkdwn(text, directory, Date.UTC(2026, 0, 2, 12));

describe("mrkdwn as Slack shows it", () => {
  it("unescapes exactly Slack's three entities, and shows the result as text", () => {
    expect(unescapeSlack("a &lt;b&gt; &amp;lt;")).toBe("a <b> &lt;");
    expect(render("5 &lt; 7 &amp;&amp; 9 &gt; 8")).toBe("5 &lt; 7 &amp;&amp; 9 &gt; 8");
    expect(render("<script>")).not.toContain("<script>");
  });

  it.each([
    ["*bold* text", "<strong>bold</strong> text"],
    ["an _italic_ word", "an <em>italic</em> word"],
    ["~gone~", "<s>gone</s>"],
    ["run `kubectl get vs`", "run <code>kubectl get vs</code>"],
    ["```a *not bold*\nb```", '<pre class="code-block">a *not bold*\nb</pre>'],
    ["snake_case_name stays", "snake_case_name stays"],
    ["2 * 3 * 4", "2 * 3 * 4"],
    ["&gt; quoted\n&gt; twice\nafter", "<blockquote>quoted<br>twice</blockquote>after"],
    ["line one\nline two", "line one<br>line two"],
    [":white_check_mark: *Promoted*", "✅ <strong>Promoted</strong>"],
    [":not_an_emoji:", ":not_an_emoji:"],
  ])("%j", (text, html) => {
    expect(render(text)).toBe(html);
  });

  it("parses mentions, links and special mentions", () => {
    expect(render("by <@U0ALICE01>")).toBe('by <span class="mention">@alice</span>');
    expect(render("<@U0NOBODY>")).toContain("@U0NOBODY");
    expect(render("cc <!subteam^S0ONCALL1>")).toBe('cc <span class="mention">@oncall</span>');
    expect(render("in <#C0DEPLOYS>")).toBe('in <span class="mention">#deploys</span>');
    expect(render("<!here>")).toBe('<span class="mention">@here</span>');
    expect(render("<https://example.com/a?b=1&amp;c=2|the *docs*>")).toBe(
      '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">the *docs*</a>',
    );
    expect(render("*<@U0ALICE01>*")).toBe('<strong><span class="mention">@alice</span></strong>');
    expect(render("<javascript:alert(1)|x>")).not.toContain("href");
  });

  it("shows <!date^…> in the reader's zone with Slack's tokens, and the fallback as its title", () => {
    const seconds = Math.floor(new Date(2026, 0, 2, 9, 5, 7).getTime() / 1000);
    const now = new Date(2026, 0, 2, 9, 6, 0).getTime();
    expect(formatSlackDate(seconds, "{date_num} {time_secs}", now)).toBe("2026-01-02 9:05:07 AM");
    expect(formatSlackDate(seconds, "{date_short_pretty} at {time}", now)).toBe("today at 9:05 AM");
    expect(formatSlackDate(seconds, "{date_long}", now)).toBe("Friday, January 2nd, 2026");
    expect(formatSlackDate(seconds, "{ago}", now)).toBe("53 seconds ago");
    const html = renderMrkdwn(`<!date^${seconds}^{time_secs}|09:05:07 UTC>`, directory, now);
    expect(html).toBe('<span class="date" title="09:05:07 UTC">9:05:07 AM</span>');
  });
});
