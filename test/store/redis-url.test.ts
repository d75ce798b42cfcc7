import { describe, expect, it } from "vitest";
import { EnvConfig } from "../../src/config/env.ts";
import { resolveSecretFiles } from "../../src/config/secrets.ts";
import { redact, secretValues } from "../../src/redact.ts";
import { clusterOptions, sentinelOptions } from "../../src/store/redis-client.ts";
import { parseRedisUrl, redisUrlSecrets, withRedisPassword } from "../../src/store/redis-url.ts";

const PASSWORD = "p@ss/w:rd";
const SENTINEL_PASSWORD = "s3ntinel&pass";

describe("parseRedisUrl", () => {
  it("leaves a one-node URL to ioredis", () => {
    expect(parseRedisUrl("rediss://:pw@redis.example:6380/2")).toEqual({
      kind: "node",
      url: "rediss://:pw@redis.example:6380/2",
    });
  });

  it("reads Sentinels, the primary's name, its database and both passwords", () => {
    const url = `redis+sentinel://:${encodeURIComponent(PASSWORD)}@s1,s2:26380,[::1]:26381/mymaster/3?sentinelPassword=${encodeURIComponent(SENTINEL_PASSWORD)}`;
    expect(parseRedisUrl(url)).toEqual({
      kind: "sentinel",
      sentinels: [
        { host: "s1", port: 26379 },
        { host: "s2", port: 26380 },
        { host: "::1", port: 26381 },
      ],
      name: "mymaster",
      db: 3,
      tls: false,
      password: PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
    });
    expect(parseRedisUrl("rediss+sentinel://s1/main")).toMatchObject({ kind: "sentinel", tls: true, db: 0 });
  });

  it("reads a Cluster's seed nodes and ACL user", () => {
    expect(parseRedisUrl("redis+cluster://canarybot:pw@n1:7000,n2")).toEqual({
      kind: "cluster",
      nodes: [
        { host: "n1", port: 7000 },
        { host: "n2", port: 6379 },
      ],
      tls: false,
      username: "canarybot",
      password: "pw",
    });
  });

  it.each([
    ["http://redis:6379", /must be a redis:\/\/ or rediss:\/\/ URL, redis\+sentinel/],
    ["redis+sentinel://s1:26379", /ends in \/master-name/],
    ["redis+sentinel://s1/main/x", /ends in \/master-name/],
    ["redis+sentinel://s1/main?password=x", /unknown parameter "password"/],
    ["redis+cluster://n1:7000/2", /takes no path/],
    ["redis+cluster://n1:99999", /"n1:99999" is not a host\[:port\]/],
  ])("refuses %s in one line that does not repeat the URL", (url, message) => {
    const parsed = parseRedisUrl(url);
    expect(parsed).toEqual({ error: expect.stringMatching(message) as unknown });
  });
});

describe("REDIS_URL in the environment", () => {
  it("accepts every form, and a Cluster only with a hash-tag prefix", () => {
    expect(EnvConfig.safeParse({ REDIS_URL: "redis+sentinel://s1/main" }).success).toBe(true);
    const cluster = EnvConfig.safeParse({ REDIS_URL: "redis+cluster://n1:7000" });
    expect(cluster.error?.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`)).toEqual([
      "CANARYBOT_PREFIX: with Redis Cluster it must be a hash tag in braces, e.g. {canarybot}",
    ]);
    const tagged = EnvConfig.safeParse({ REDIS_URL: "redis+cluster://n1:7000", CANARYBOT_PREFIX: "{cb}" });
    expect(tagged.success).toBe(true);
    expect(EnvConfig.safeParse({ REDIS_URL: "mysql://db" }).error?.issues[0]?.path).toEqual(["REDIS_URL"]);
  });

  it("takes REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD into a Sentinel URL, and keeps both out of every line", () => {
    const env = resolveSecretFiles({
      REDIS_URL: "redis+sentinel://s1:26379,s2:26379/mymaster/1",
      REDIS_PASSWORD: PASSWORD,
      REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
    });
    expect(parseRedisUrl(env.REDIS_URL ?? "")).toMatchObject({
      kind: "sentinel",
      db: 1,
      password: PASSWORD,
      sentinelPassword: SENTINEL_PASSWORD,
    });
    const values = secretValues({ REDIS_URL: env.REDIS_URL });
    expect(values).toEqual(expect.arrayContaining([PASSWORD, SENTINEL_PASSWORD]));
    expect(redact(`auth failed: ${PASSWORD} / ${SENTINEL_PASSWORD}`, values)).not.toMatch(/p@ss|s3ntinel/);
  });

  it("replaces a Cluster URL's password and keeps its user", () => {
    const url = withRedisPassword("redis+cluster://canarybot:old@n1:7000,n2:7001", PASSWORD);
    expect(parseRedisUrl(url)).toMatchObject({ username: "canarybot", password: PASSWORD, nodes: [{}, {}] });
    expect(redisUrlSecrets(url)).toEqual([PASSWORD]);
    expect(withRedisPassword("redis+cluster://n1", "x", "sentinel")).toBe("redis+cluster://n1");
  });
});

describe("ioredis options", () => {
  it("gives a Sentinel client the Sentinels, and TLS to both for rediss+sentinel", () => {
    const target = parseRedisUrl("rediss+sentinel://:pw@s1/main/2");
    if (!("kind" in target) || target.kind !== "sentinel") throw new Error("not a sentinel target");
    const options = sentinelOptions(target, { connectTimeout: 5 });
    expect(
      options.reconnectOnError?.(new Error("READONLY You can't write against a read only replica.")),
    ).toBe(2);
    expect(options.reconnectOnError?.(new Error("WRONGTYPE"))).toBe(false);
    expect(options).toEqual({
      reconnectOnError: expect.any(Function) as unknown,
      failoverDetector: true,
      connectTimeout: 5,
      sentinels: [{ host: "s1", port: 26379 }],
      name: "main",
      db: 2,
      password: "pw",
      tls: {},
      sentinelTLS: {},
      enableTLSForSentinelMode: true,
    });
  });

  it("gives a Cluster the retry strategy and offline queue, and each node the rest", () => {
    const target = parseRedisUrl("redis+cluster://:pw@n1:7000");
    if (!("kind" in target) || target.kind !== "cluster") throw new Error("not a cluster target");
    const retryStrategy = (): null => null;
    expect(
      clusterOptions(target, {
        commandTimeout: 5,
        retryStrategy,
        enableOfflineQueue: false,
        lazyConnect: true,
      }),
    ).toEqual({
      clusterRetryStrategy: retryStrategy,
      enableOfflineQueue: false,
      lazyConnect: true,
      redisOptions: { commandTimeout: 5, password: "pw" },
    });
  });
});
