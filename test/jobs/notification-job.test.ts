import { describe, expect, it } from "vitest";
import {
  digestJobId,
  isNotificationJobData,
  messageDeduplicationId,
  notificationJobId,
} from "../../src/jobs/notification-job.ts";

describe("notification jobs", () => {
  it("name one message per rollout and one job per alert or snapshot, with dots (BullMQ refuses `:`)", () => {
    expect(messageDeduplicationId("reviews-12")).toBe("rollout.reviews-12.message");
    expect(notificationJobId("reviews-12", "alert", "u1")).toBe("rollout.reviews-12.alert.u1");
    expect(() => messageDeduplicationId("a:b")).toThrow(/cannot name a notification job/);
    expect(() => notificationJobId("", "snapshot", "u1")).toThrow(/cannot name a notification job/);
    expect(digestJobId("reviews.2026-12-05")).toBe("digest.reviews.2026-12-05");
  });

  it.each([
    [{ kind: "message", rolloutId: "reviews-1" }, true],
    [{ kind: "alert", rolloutId: "reviews-1", text: "drift" }, true],
    [{ kind: "snapshot", rolloutId: "reviews-1", text: "t", at: 1 }, true],
    [{ kind: "snapshot", rolloutId: "reviews-1", text: "t" }, false],
    [{ kind: "alert", rolloutId: "reviews-1" }, false],
    [{ kind: "message", rolloutId: "" }, false],
    [{ kind: "tick", rolloutId: "reviews-1" }, false],
    [{ kind: "digest", digest: "reviews.2026-12-05", channel: "C1", text: "t", blocks: [] }, true],
    [{ kind: "digest", digest: "reviews.2026-12-05", channel: "C1", text: "t" }, false],
    [null, false],
  ])("tells a notification job's data from anything else: %j → %s", (data, expected) => {
    expect(isNotificationJobData(data)).toBe(expected);
  });
});
