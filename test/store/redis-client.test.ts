import { describe, expect, it } from "vitest";
import { throttleRepeats } from "../../src/store/redis-client.ts";

describe("throttleRepeats", () => {
  it("passes a failure on once while it repeats, and a different one at once", () => {
    const heard: string[] = [];
    const onError = throttleRepeats((error) => heard.push(error.message));
    for (let reconnect = 0; reconnect < 5; reconnect += 1) onError(new Error("connect ECONNREFUSED"));
    onError(new Error("WRONGPASS invalid password"));
    onError(new Error("connect ECONNREFUSED"));
    expect(heard).toEqual(["connect ECONNREFUSED", "WRONGPASS invalid password", "connect ECONNREFUSED"]);
  });

  it("repeats it after the quiet period", () => {
    const heard: string[] = [];
    const onError = throttleRepeats((error) => heard.push(error.message), 0);
    onError(new Error("down"));
    onError(new Error("down"));
    expect(heard).toEqual(["down", "down"]);
  });
});
