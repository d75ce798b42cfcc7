import cron from "node-cron";
import { describe, expect, it } from "vitest";
import { ConfigFile } from "../../src/config/file.ts";
import { digestCron, digestPlans, previousDay } from "../../src/schedule/daily-digest.ts";

const config = (input: unknown) => ConfigFile.parse(input);

describe("digestPlans", () => {
  it("takes the file's digest for every service, with each service's changes, and none for `digest: false`", () => {
    const { plans, unrouted } = digestPlans(
      config({
        digest: { at: "08:30", timezone: "Europe/Berlin" },
        services: {
          reviews: { channels: ["C0REVIEWS", "C0OTHER"] },
          ratings: { channels: ["C0RATINGS"], digest: { at: "10:00", channel: "C0DIGEST" } },
          details: { channels: ["C0DETAILS"], digest: false },
          orphan: {},
        },
      }),
    );
    expect(plans).toEqual([
      { service: "reviews", channel: "C0REVIEWS", at: "08:30", timezone: "Europe/Berlin" },
      { service: "ratings", channel: "C0DIGEST", at: "10:00", timezone: "Europe/Berlin" },
    ]);
    expect(unrouted).toEqual(["orphan"]);
  });

  it("gives only the services that ask a digest when the file has none, at 09:00 UTC unless they say", () => {
    const { plans } = digestPlans(
      config({
        services: { reviews: { channels: ["C0REVIEWS"], digest: {} }, ratings: { channels: ["C0R"] } },
      }),
    );
    expect(plans).toEqual([{ service: "reviews", channel: "C0REVIEWS", at: "09:00", timezone: "UTC" }]);
    expect(digestPlans(undefined).plans).toEqual([]);
  });

  it("refuses a time, zone or channel that cannot be meant, naming the path", () => {
    const result = ConfigFile.safeParse({
      digest: { at: "9am", timezone: "Mars/Olympus" },
      services: { reviews: { digest: { channel: "#deploys" } } },
    });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((issue) => issue.path.join(".")).sort();
    expect(paths).toEqual(["digest.at", "digest.timezone", "services.reviews.digest.channel"]);
  });
});

describe("digestCron", () => {
  it("fires once a day at the digest's time, on the wall clock of its zone (node-cron's matcher)", () => {
    const task = cron.createTask(digestCron({ at: "09:05" }), () => undefined, { timezone: "Europe/Berlin" });
    try {
      // 09:05 in Berlin is 08:05 UTC in winter and 07:05 UTC in summer.
      expect(task.match(new Date("2026-12-06T08:05:00Z"))).toBe(true);
      expect(task.match(new Date("2026-07-06T07:05:00Z"))).toBe(true);
      expect(task.match(new Date("2026-12-06T09:05:00Z"))).toBe(false);
      expect(task.match(new Date("2026-12-06T08:06:00Z"))).toBe(false);
    } finally {
      void task.destroy();
    }
  });
});

describe("previousDay", () => {
  it("is yesterday as the zone's clocks count it, from midnight to midnight", () => {
    // 00:30 on 6 December in Berlin is still 5 December in UTC.
    const now = Date.parse("2026-12-05T23:30:00Z");
    expect(previousDay(now, "Europe/Berlin")).toEqual({
      date: "2026-12-05",
      from: Date.parse("2026-12-04T23:00:00Z"),
      to: Date.parse("2026-12-05T23:00:00Z"),
    });
    expect(previousDay(now, "UTC").date).toBe("2026-12-04");
  });

  it("is 23 hours long on the day the clocks go forward, and crosses month and year ends", () => {
    const spring = previousDay(Date.parse("2026-03-30T07:00:00Z"), "Europe/Berlin");
    expect(spring.date).toBe("2026-03-29");
    expect(spring.to - spring.from).toBe(23 * 3600_000);
    expect(previousDay(Date.parse("2027-01-01T10:00:00Z"), "America/New_York").date).toBe("2026-12-31");
  });
});
