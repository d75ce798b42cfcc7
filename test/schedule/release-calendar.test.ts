import { describe, expect, it } from "vitest";
import {
  cronReleaseCalendar,
  isCronExpression,
  isTimeZone,
  WINDOW_LOOKAHEAD_MS,
} from "../../src/schedule/release-calendar.ts";

const OFFICE_HOURS_BERLIN = { cron: "* 9-16 * * 1-5", timezone: "Europe/Berlin" };

describe("cronReleaseCalendar", () => {
  it("is open inside a window (Wednesday 10:30 in Berlin is 09:30 UTC in winter)", () => {
    expect(
      cronReleaseCalendar.nextOpening([OFFICE_HOURS_BERLIN], Date.UTC(2026, 11, 2, 9, 30, 15)),
    ).toBeUndefined();
  });

  it("names the next opening when outside: Friday evening waits for Monday 09:00 Berlin", () => {
    const fridayEvening = Date.UTC(2026, 11, 25, 18, 0);
    expect(cronReleaseCalendar.nextOpening([OFFICE_HOURS_BERLIN], fridayEvening)).toBe(
      Date.UTC(2026, 11, 28, 8, 0),
    );
  });

  it("follows daylight saving: in July 09:00 Berlin is 07:00 UTC", () => {
    const mondayDawn = Date.UTC(2026, 6, 6, 5, 0);
    expect(cronReleaseCalendar.nextOpening([OFFICE_HOURS_BERLIN], mondayDawn)).toBe(
      Date.UTC(2026, 6, 6, 7, 0),
    );
  });

  it("takes the earliest of several windows, and is always open without windows", () => {
    const night = { cron: "* 22-23 * * *", timezone: "UTC" };
    const fridayEvening = Date.UTC(2026, 11, 25, 18, 0);
    expect(cronReleaseCalendar.nextOpening([OFFICE_HOURS_BERLIN, night], fridayEvening)).toBe(
      Date.UTC(2026, 11, 25, 22, 0),
    );
    expect(cronReleaseCalendar.nextOpening([], fridayEvening)).toBeUndefined();
  });

  it("looks no further than its look-ahead for a window that opens once a year", () => {
    const now = Date.UTC(2026, 1, 1);
    expect(cronReleaseCalendar.nextOpening([{ cron: "0 9 1 1 *", timezone: "UTC" }], now)).toBe(
      now + WINDOW_LOOKAHEAD_MS,
    );
  });
});

describe("window syntax", () => {
  it.each([
    ["* 9-16 * * 1-5", true],
    ["0 9 * * *", true],
    ["0 0 9 * * *", false],
    ["every day", false],
    ["* 25 * * *", false],
  ])("%s is a five-field cron expression: %s", (expression, valid) => {
    expect(isCronExpression(expression)).toBe(valid);
  });

  it("knows IANA zones and refuses others", () => {
    expect(isTimeZone("Europe/Berlin")).toBe(true);
    expect(isTimeZone("UTC")).toBe(true);
    expect(isTimeZone("Mars/Olympus")).toBe(false);
  });
});
