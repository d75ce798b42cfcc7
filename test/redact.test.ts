import { describe, expect, it } from "vitest";
import { MAX_UPSTREAM_TEXT, REDACTED, basicAuthSecrets, redact, secretValues } from "../src/redact.ts";

const basic = Buffer.from("prom:s3cret-pass").toString("base64");

describe("redact", () => {
  it.each([
    ["an echoed basic-auth header", `unauthorized: Authorization: Basic ${basic}`, basic],
    ["a header map in JSON", `{"headers":{"Authorization":["Basic ${basic}"],"Accept":["*/*"]}}`, basic],
    [
      "Go's map dump",
      `map[Accept:[application/json] Authorization:[Bearer abc.DEF-123_ghi]]`,
      "abc.DEF-123_ghi",
    ],
    ["a bearer token in prose", "token Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl was refused", "eyJhbGciOi"],
    ["a URL with userinfo", "GET https://alice:pa55w0rd@prom.example.com/api/v1/query failed", "pa55w0rd"],
    ["a query-string token", "redirected to /login?next=%2F&access_token=abcdef123456", "abcdef123456"],
    ["a JSON password", `{"user":"prom","password":"hunter2hunter2"}`, "hunter2hunter2"],
    ["a Slack token", "invalid_auth for xoxb-1234-5678-abcdefgh", "xoxb-1234-5678-abcdefgh"],
    ["a cookie", "Cookie: session=0123456789abcdef; theme=dark", "0123456789abcdef"],
    ["an X-Api-Key header", "X-Api-Key: k-123456789", "k-123456789"],
  ])("removes %s", (_, text, secret) => {
    const clean = redact(text);
    expect(clean).not.toContain(secret);
    expect(clean).toContain(REDACTED);
  });

  it("removes known secret values in every form they travel in, wherever they appear", () => {
    const secrets = basicAuthSecrets("prom", "s3cret-pass");
    const text = `echo: ${basic} raw s3cret-pass encoded ${encodeURIComponent("s3cret-pass")} pair prom:s3cret-pass`;
    const clean = redact(text, secrets);
    expect(clean).not.toMatch(/s3cret|cHJvbTpzM2NyZXQtcGFzcw/);
    expect(clean).toBe(`echo: ${REDACTED} raw ${REDACTED} encoded ${REDACTED} pair ${REDACTED}`);
  });

  it("leaves ordinary error text alone", () => {
    const text = 'bad_data: 1:15: parse error: unexpected "}" in label matching, expected string';
    expect(redact(text)).toBe(text);
    expect(redact("Basic authentication required")).toBe("Basic authentication required");
    expect(redact('virtualservices.networking.istio.io "reviews" not found')).toBe(
      'virtualservices.networking.istio.io "reviews" not found',
    );
  });

  it("folds an upstream page to one line and caps its length after redacting", () => {
    const page = `<html>\n<body>\n${"x".repeat(1000)}\nAuthorization: Bearer tok-1234567890</body></html>`;
    const clean = redact(page, ["tok-1234567890"]);
    expect(clean).not.toContain("\n");
    expect(clean.length).toBeLessThan(MAX_UPSTREAM_TEXT + 40);
    expect(clean).toMatch(/… \(\d+ more characters\)$/);
    // A secret that straddles the cut is redacted before the cut, so no fragment of it survives either.
    const straddling = `${"y".repeat(MAX_UPSTREAM_TEXT - 5)} tok-1234567890`;
    expect(redact(straddling, ["tok-1234567890"])).not.toContain("tok-1");
  });

  it("knows the secrets canarybot is configured with", () => {
    const values = secretValues({
      PROMETHEUS_USERNAME: "prom",
      PROMETHEUS_PASSWORD: "s3cret-pass",
      SLACK_BOT_TOKEN: "xoxb-1",
      PROMETHEUS_HEADER: "X-Api-Key: key-42",
      REDIS_URL: "redis://:r3dis-pw@redis:6379",
      HOME: "/root",
    });
    expect(values).toEqual(
      expect.arrayContaining(["s3cret-pass", "prom:s3cret-pass", "xoxb-1", "key-42", "r3dis-pw"]),
    );
    expect(values).not.toContain("/root");
    expect(secretValues({ PROMETHEUS_HEADER: "X-Scope-OrgID: team-a" })).toEqual([]);
  });
});
