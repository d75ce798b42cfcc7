/** One `host:port` of a Sentinel or Cluster URL. */
export type RedisHost = { host: string; port: number };

/**
 * Where Redis is, read from `REDIS_URL`:
 * - `redis://[user:password@]host[:6379][/db]`, `rediss://…` (TLS): one node, read by ioredis itself;
 * - `redis+sentinel://[user:password@]host[:26379][,host2[:26379]…]/master-name[/db]` (`rediss+sentinel://` with
 *   TLS): ask the Sentinels for the primary of `master-name`, and again after a failover. The password is the
 *   primary's; the Sentinels' own, when they have one, comes as `?sentinelPassword=` (from
 *   `REDIS_SENTINEL_PASSWORD`);
 * - `redis+cluster://[user:password@]host[:6379][,host2[:6379]…]` (`rediss+cluster://`): a Redis Cluster, found
 *   from any of its nodes.
 */
export type RedisTarget =
  | { kind: "node"; url: string }
  | {
      kind: "sentinel";
      sentinels: RedisHost[];
      name: string;
      db: number;
      tls: boolean;
      username?: string;
      password?: string;
      sentinelPassword?: string;
    }
  | { kind: "cluster"; nodes: RedisHost[]; tls: boolean; username?: string; password?: string };

const MULTI_HOST =
  /^(rediss?)\+(sentinel|cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)(\/[^?#]*)?(\?[^#]*)?$/;
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

/** The target a `REDIS_URL` names, or a one-line reason it names none (without the URL: it may hold a password). */
export function parseRedisUrl(text: string): RedisTarget | { error: string } {
  if (/^rediss?:\/\//.test(text)) {
    try {
      new URL(text);
      return { kind: "node", url: text };
    } catch {
      return { error: "not a valid redis:// URL" };
    }
  }
  const match = MULTI_HOST.exec(text);
  if (!match) {
    return {
      error:
        "must be a redis:// or rediss:// URL, redis+sentinel://host:26379,…/master-name or redis+cluster://host:6379,…",
    };
  }
  const [, scheme, kind, user, password, hostList = "", path = "", query = ""] = match;
  const defaultPort = kind === "sentinel" ? 26379 : 6379;
  const hosts: RedisHost[] = [];
  for (const part of hostList.split(",")) {
    const host = HOST_PORT.exec(part);
    const port = host?.[2] === undefined ? defaultPort : Number(host[2]);
    if (!host?.[1] || port < 1 || port > 65535) return { error: `"${part}" is not a host[:port]` };
    hosts.push({ host: host[1].replace(/^\[|\]$/g, ""), port });
  }
  const credentials = {
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
  };
  const tls = scheme === "rediss";
  const segments = path.split("/").filter((segment) => segment !== "");
  if (kind === "cluster") {
    if (segments.length > 0 || query !== "")
      return { error: "a Redis Cluster URL takes no path (database 0 only)" };
    return { kind: "cluster", nodes: hosts, tls, ...credentials };
  }
  const [name, db = "0", ...rest] = segments;
  if (!name || rest.length > 0 || !/^\d+$/.test(db)) {
    return { error: "a Sentinel URL ends in /master-name, optionally /db (a number)" };
  }
  const params = new URLSearchParams(query);
  const unknown = [...params.keys()].filter((key) => key !== "sentinelPassword");
  if (unknown.length > 0) return { error: `unknown parameter "${unknown[0]}" (only sentinelPassword)` };
  const sentinelPassword = params.get("sentinelPassword");
  return {
    kind: "sentinel",
    sentinels: hosts,
    name: decodeURIComponent(name),
    db: Number(db),
    tls,
    ...credentials,
    ...(sentinelPassword ? { sentinelPassword } : {}),
  };
}

/**
 * `url` with `password` as its password (replacing one it has): how `REDIS_PASSWORD` joins `REDIS_URL`. With
 * `sentinel`, the Sentinels' password instead (`REDIS_SENTINEL_PASSWORD`). A URL that is not a Redis URL is
 * returned as it is, for the environment check to name.
 */
export function withRedisPassword(
  url: string,
  password: string,
  which: "redis" | "sentinel" = "redis",
): string {
  const target = parseRedisUrl(url);
  if ("error" in target) return url;
  if (which === "sentinel") {
    if (target.kind !== "sentinel") return url;
    const [base = url, query = ""] = url.split("?", 2);
    const params = new URLSearchParams(query);
    params.set("sentinelPassword", password);
    return `${base}?${params.toString()}`;
  }
  if (target.kind === "node") {
    const parsed = new URL(url);
    parsed.password = encodeURIComponent(password);
    return parsed.toString();
  }
  // The user info cannot hold an unencoded `/` or `@` (parseRedisUrl refuses it), so this finds exactly it.
  const user = target.username ? encodeURIComponent(target.username) : "";
  return url.replace(
    /^([a-z+]+:\/\/)(?:[^@/]*@)?/,
    (_, scheme: string) => `${scheme}${user}:${encodeURIComponent(password)}@`,
  );
}

/** The secrets a `REDIS_URL` holds (its password, the Sentinels' password), to keep them out of every line. */
export function redisUrlSecrets(url: string | undefined): string[] {
  if (!url) return [];
  const target = parseRedisUrl(url);
  if ("error" in target) return [];
  if (target.kind === "node") {
    const password = new URL(url).password;
    return password === "" ? [] : [decodeURIComponent(password)];
  }
  const sentinel = target.kind === "sentinel" ? target.sentinelPassword : undefined;
  return [target.password, sentinel].filter((value): value is string => value !== undefined && value !== "");
}
