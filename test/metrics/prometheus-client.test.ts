import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import forge from "node-forge";
import { parse as parseYaml } from "yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CanaryError } from "../../src/errors.ts";
import {
  interpretResponse,
  parseSampleValue,
  PrometheusClient,
  type PrometheusClientOptions,
  type QueryData,
} from "../../src/metrics/prometheus-client.ts";
import { fixturePath } from "../support/fixtures.ts";
import { rejection } from "../support/errors.ts";

const FIXTURES = fixturePath("prometheus");

type IndexEntry = { file: string; http_status?: number };
const INDEX = JSON.parse(readFileSync(`${FIXTURES}/index.json`, "utf8")) as IndexEntry[];
const RESPONSES = INDEX.filter((e): e is Required<IndexEntry> => e.http_status !== undefined);

// ---------------------------------------------------------------------------------------------------------------
// A tiny Prometheus stand-in: answers with the fixture the form's `query` names, under a path prefix.

type Recorded = { method: string; path: string; headers: IncomingMessage["headers"]; form: URLSearchParams };
type Answer = { status: number; body: string; delayMs?: number; contentType?: string };
type Handler = (request: Recorded) => Answer;

const PREFIX = "/prometheus";

let server: Server;
let baseUrl: string;
let requests: Recorded[] = [];
let handler: Handler = () => ({ status: 500, body: "no handler" });

async function listen(s: Server): Promise<number> {
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return (s.address() as AddressInfo).port;
}

function serve(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const recorded: Recorded = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      form: new URLSearchParams(Buffer.concat(chunks).toString()),
    };
    requests.push(recorded);
    const answer = handler(recorded);
    const send = (): void => {
      if (res.destroyed) return;
      res.writeHead(answer.status, { "Content-Type": answer.contentType ?? "application/json" });
      res.end(answer.body);
    };
    if (answer.delayMs === undefined) send();
    else setTimeout(send, answer.delayMs);
  });
}

/** Serves fixture files: POST <prefix>/api/v1/<endpoint> with query=<file name>. */
const fixtureHandler: Handler = (request) => {
  const file = request.form.get("query") ?? "";
  const entry = RESPONSES.find((e) => e.file === file);
  if (entry === undefined) return { status: 404, body: `no fixture ${file}`, contentType: "text/plain" };
  return { status: entry.http_status, body: readFileSync(`${FIXTURES}/${file}`, "utf8") };
};

beforeAll(async () => {
  server = createHttpServer(serve);
  baseUrl = `http://127.0.0.1:${await listen(server)}${PREFIX}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  requests = [];
  handler = fixtureHandler;
});

function client(options: Partial<PrometheusClientOptions> = {}): PrometheusClient {
  return new PrometheusClient({
    url: baseUrl,
    timeoutMs: 2_000,
    retries: 2,
    backoffMs: 1,
    maxBackoffMs: 5,
    ...options,
  });
}

/** A sleep that returns at once and records how long it was asked to wait. */
function recordSleep(delays: number[]): (ms: number) => Promise<void> {
  return (ms) => {
    delays.push(ms);
    return Promise.resolve();
  };
}

// ---------------------------------------------------------------------------------------------------------------

type Call = "query" | "queryRange" | "formatQuery";
type Expectation =
  | { call: Call; data: (data: QueryData) => void }
  | { call: "formatQuery"; formatted: string }
  | {
      call: Call;
      error: "metrics_query_invalid" | "metrics_unavailable";
      retryable: boolean;
      attempts: number;
    };

const values = (data: QueryData): number[] =>
  data.resultType === "vector"
    ? data.result.map((s) => s.value ?? -1)
    : data.resultType === "matrix"
      ? data.result.flatMap((s) => s.values.map((p) => p.value))
      : data.resultType === "scalar"
        ? [data.result.value]
        : [];

/** What every fixture in index.json must parse to. A new fixture fails the coverage test until it is listed. */
const EXPECTED: Record<string, Expectation> = {
  "api-docs.instant-vector.up.json": {
    call: "query",
    data: (d) => {
      expect(d.resultType).toBe("vector");
      expect(values(d)).toEqual([1, 0]);
      if (d.resultType === "vector") {
        expect(d.result[0]).toEqual({
          metric: { __name__: "up", job: "prometheus", instance: "localhost:9090" },
          timestamp: 1435781451.781,
          value: 1,
        });
      }
    },
  },
  "api-docs.range-matrix.up.json": {
    call: "queryRange",
    data: (d) => {
      expect(d.resultType).toBe("matrix");
      expect(values(d)).toEqual([1, 1, 1, 0, 0, 1]);
      if (d.resultType === "matrix")
        expect(d.result[1]?.values[2]).toEqual({ timestamp: 1435781460.781, value: 1 });
    },
  },
  "api-docs.format-query.json": { call: "formatQuery", formatted: "foo / bar" },
  "openapi-example-query.vectorResult.json": {
    call: "query",
    data: (d) => {
      expect(d.resultType).toBe("vector");
      expect(values(d)).toEqual([1, 1]);
    },
  },
  "openapi-example-query.scalarResult.json": {
    call: "query",
    data: (d) => expect(d).toEqual({ resultType: "scalar", result: { timestamp: 1767436620, value: 42 } }),
  },
  "openapi-example-query.matrixResult.json": {
    call: "query",
    data: (d) => {
      expect(d.resultType).toBe("matrix");
      expect(values(d)).toEqual([1, 1]);
    },
  },
  "openapi-example-query.histogramResult.json": {
    call: "query",
    data: (d) => {
      expect(d.resultType).toBe("vector");
      if (d.resultType !== "vector") return;
      expect(d.result[0]?.value).toBeUndefined();
      expect(d.result[0]?.histogram).toEqual({
        timestamp: 1767436620,
        count: 12.5,
        sum: 42.1,
        buckets: [
          { boundaryRule: 0, lower: 0.7071067811865475, upper: 1, count: 5 },
          { boundaryRule: 0, lower: 1, upper: 1.414213562373095, count: 7.5 },
        ],
      });
    },
  },
  "openapi-example-query.error.tsdbNotReady.json": {
    call: "query",
    error: "metrics_unavailable",
    retryable: true,
    attempts: 3,
  },
  "openapi-example-query_range.matrixResult.json": {
    call: "queryRange",
    data: (d) => {
      expect(d.resultType).toBe("matrix");
      expect(values(d)).toEqual([1, 1, 1]);
    },
  },
  "openapi-example-query_range.histogramResult.json": {
    call: "queryRange",
    data: (d) => {
      expect(d.resultType).toBe("matrix");
      if (d.resultType !== "matrix") return;
      expect(d.result[0]?.values).toEqual([]);
      expect(d.result[0]?.histograms[0]?.count).toBe(12.5);
    },
  },
  "openapi-example-query_range.error.tsdbNotReady.json": {
    call: "queryRange",
    error: "metrics_unavailable",
    retryable: true,
    attempts: 3,
  },
  "error.timeout-with-data.api_test.json": {
    call: "query",
    error: "metrics_unavailable",
    retryable: true,
    attempts: 3,
  },
  "error.bad_data.missing-start.prometheus-issue-4811.json": {
    call: "queryRange",
    error: "metrics_query_invalid",
    retryable: false,
    attempts: 1,
  },
  "error.bad_data.istio-zero-duration.iter8-analytics-issue-114.json": {
    call: "query",
    error: "metrics_query_invalid",
    retryable: false,
    attempts: 1,
  },
  "error.bad_data.cortex-unknown-function.grafana-issue-17435.json": {
    call: "query",
    error: "metrics_query_invalid",
    retryable: false,
    attempts: 1,
  },
  "flagger.aggregate-vector-empty-metric.json": {
    call: "query",
    data: (d) =>
      expect(d).toEqual({
        resultType: "vector",
        result: [{ metric: {}, timestamp: 1545905245.458, value: 100 }],
      }),
  },
  "flagger.empty-vector.json": {
    call: "query",
    data: (d) => expect(d).toEqual({ resultType: "vector", result: [] }),
  },
  "flagger.nan-vector.json": {
    call: "query",
    data: (d) => {
      expect(values(d)).toHaveLength(1);
      expect(values(d)[0]).toBeNaN(); // never 0
    },
  },
  "flagger.matrix-nan-values.json": {
    call: "query",
    data: (d) => {
      expect(d.resultType).toBe("matrix");
      expect(values(d)).toHaveLength(8);
      for (const v of values(d)) expect(v).toBeNaN();
    },
  },
};

function invoke(c: PrometheusClient, call: Call, query: string): Promise<unknown> {
  switch (call) {
    case "query":
      return c.query(query, 1_700_000_000_000);
    case "queryRange":
      return c.queryRange(query, { start: 1_700_000_000_000, end: 1_700_000_060_000, stepSeconds: 15 });
    case "formatQuery":
      return c.formatQuery(query);
  }
}

describe("PrometheusClient against every fixture (served over HTTP with its status)", () => {
  it("the table covers exactly the fixtures that index.json gives a status", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(RESPONSES.map((e) => e.file).sort());
  });

  it.each(RESPONSES.map((e) => [e.file, e.http_status] as const))("%s (HTTP %i)", async (file) => {
    handler = fixtureHandler;
    const expected = EXPECTED[file];
    if (expected === undefined) throw new Error(`no expectation for ${file}`);
    const c = client();
    if ("error" in expected) {
      const error = await rejection(invoke(c, expected.call, file));
      expect(error.code).toBe(expected.error);
      expect(error.retryable).toBe(expected.retryable);
      expect(requests).toHaveLength(expected.attempts);
      const body = JSON.parse(readFileSync(`${FIXTURES}/${file}`, "utf8")) as {
        error: string;
        errorType: string;
      };
      expect(error.message).toContain(body.error);
      expect(error.message).toContain(body.errorType);
    } else if ("formatted" in expected) {
      expect(await c.formatQuery(file)).toBe(expected.formatted);
    } else {
      const response = (await invoke(c, expected.call, file)) as { data: QueryData; warnings: string[] };
      expected.data(response.data);
      expect(response.warnings).toEqual([]);
      expect(requests).toHaveLength(1);
    }
  });
});

describe("PrometheusClient against every response example in Prometheus' OpenAPI golden file", () => {
  type Example = { value: unknown };
  type Responses = Record<
    string,
    { content?: { "application/json"?: { examples?: Record<string, Example> } } }
  >;
  const spec = parseYaml(readFileSync(`${FIXTURES}/openapi_3.1_golden.yaml`, "utf8")) as {
    paths: Record<string, Record<string, { responses: Responses }>>;
  };
  const cases: [string, string, string, number, unknown][] = [];
  for (const [path, call] of [
    ["/query", "query"],
    ["/query_range", "queryRange"],
    ["/format_query", "formatQuery"],
  ] as const) {
    for (const [method, operation] of Object.entries(spec.paths[path] ?? {})) {
      for (const [status, response] of Object.entries(operation.responses)) {
        for (const [name, example] of Object.entries(
          response.content?.["application/json"]?.examples ?? {},
        )) {
          // "default" responses are errors; their status follows the errorType (internal → 500).
          cases.push([
            `${method.toUpperCase()} ${path} ${status} ${name}`,
            call,
            path,
            status === "default" ? 500 : Number(status),
            example.value,
          ]);
        }
      }
    }
  }

  it("found the examples", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)("%s", async (_name, call, _path, status, body) => {
    handler = () => ({ status, body: JSON.stringify(body) });
    const c = client({ retries: 0 });
    if (status === 200) {
      await expect(invoke(c, call as Call, "q")).resolves.toBeDefined();
    } else {
      const error = await rejection(invoke(c, call as Call, "q"));
      expect(error.code).toBe("metrics_unavailable");
      expect(error.retryable).toBe(true);
    }
  });
});

describe("sample values", () => {
  it.each([
    ["1", 1],
    ["0", 0],
    ["-2.5", -2.5],
    ["1e-3", 0.001],
    ["+Inf", Number.POSITIVE_INFINITY],
    ["-Inf", Number.NEGATIVE_INFINITY],
    ["0.30000000000000004", 0.30000000000000004],
  ])("%s → %d", (raw, value) => {
    expect(parseSampleValue(raw)).toBe(value);
  });

  it("NaN stays NaN", () => {
    expect(parseSampleValue("NaN")).toBeNaN();
  });

  it.each(["", " ", "abc", "1,5", "0x10", null, true])("%j is refused, not read as 0", (raw) => {
    expect(() => parseSampleValue(raw)).toThrow(/unexpected Prometheus answer/);
  });

  it("a served vector with NaN/±Inf/exponent values parses all of them", async () => {
    const result = ["NaN", "+Inf", "-Inf", "1.5e+2"].map((v, i) => ({
      metric: { i: String(i) },
      value: [1, v],
    }));
    handler = () => ({
      status: 200,
      body: JSON.stringify({
        status: "success",
        data: { resultType: "vector", result },
        warnings: ["w1"],
        infos: ["i1"],
      }),
    });
    const response = await client().query("x");
    expect(values(response.data)).toEqual([
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      150,
    ]);
    expect(response.warnings).toEqual(["w1"]);
    expect(response.infos).toEqual(["i1"]);
  });
});

describe("requests", () => {
  const ok = (): Answer => ({
    status: 200,
    body: '{"status":"success","data":{"resultType":"vector","result":[]}}',
  });

  it("POSTs a form under the path prefix with query, time and a server-side timeout", async () => {
    handler = ok;
    const long = `sum(${Array.from({ length: 2_000 }, (_, i) => `up{job="job-${i}"}`).join(" + ")})`;
    await client({ url: `${baseUrl}/` }).query(long, 1_700_000_000_123);
    expect(requests).toHaveLength(1);
    const [r] = requests;
    expect(r?.method).toBe("POST");
    expect(r?.path).toBe(`${PREFIX}/api/v1/query`);
    expect(r?.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    expect(r?.form.get("query")).toBe(long);
    expect(r?.form.get("time")).toBe("1700000000.123");
    expect(r?.form.get("timeout")).toBe("1s");
  });

  it("range queries send start, end and step", async () => {
    handler = () => ({
      status: 200,
      body: '{"status":"success","data":{"resultType":"matrix","result":[]}}',
    });
    await client().queryRange("up", { start: 1_700_000_000_000, end: 1_700_000_600_000, stepSeconds: 30 });
    expect(requests[0]?.path).toBe(`${PREFIX}/api/v1/query_range`);
    expect(Object.fromEntries(requests[0]?.form ?? [])).toMatchObject({
      query: "up",
      start: "1700000000.000",
      end: "1700000600.000",
      step: "30",
    });
  });

  it("sends a bearer token and extra headers", async () => {
    handler = ok;
    await client({ auth: { type: "bearer", token: "s3cret" }, headers: { "X-Scope-OrgID": "team-a" } }).query(
      "up",
    );
    expect(requests[0]?.headers["authorization"]).toBe("Bearer s3cret");
    expect(requests[0]?.headers["x-scope-orgid"]).toBe("team-a");
  });

  it("sends basic auth", async () => {
    handler = ok;
    await client({ auth: { type: "basic", username: "ops", password: "p:w" } }).query("up");
    expect(requests[0]?.headers["authorization"]).toBe(`Basic ${Buffer.from("ops:p:w").toString("base64")}`);
  });

  it("isOnline answers true for a live server and false for a dead one", async () => {
    handler = () => ({
      status: 200,
      body: '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}',
    });
    expect(await client().isOnline()).toBe(true);
    expect(await client({ url: "http://127.0.0.1:1", retries: 0 }).isOnline()).toBe(false);
  });
});

describe("retries and error classification", () => {
  const success = '{"status":"success","data":{"resultType":"scalar","result":[1,"7"]}}';

  it("retries 5xx with exponential backoff and succeeds", async () => {
    let n = 0;
    handler = () =>
      ++n < 3
        ? { status: 502, body: "<html>bad gateway</html>", contentType: "text/html" }
        : { status: 200, body: success };
    const delays: number[] = [];
    const c = client({
      backoffMs: 100,
      maxBackoffMs: 1_000,
      random: () => 1,
      sleep: recordSleep(delays),
    });
    const response = await c.query("up");
    expect(values(response.data)).toEqual([7]);
    expect(requests).toHaveLength(3);
    expect(delays).toEqual([100, 200]);
  });

  it("backoff is bounded by maxBackoffMs and jittered within [ceiling/2, ceiling]", async () => {
    handler = () => ({
      status: 503,
      body: '{"status":"error","errorType":"unavailable","error":"overloaded"}',
    });
    const delays: number[] = [];
    const c = client({
      retries: 5,
      backoffMs: 100,
      maxBackoffMs: 300,
      random: () => 0,
      sleep: recordSleep(delays),
    });
    const error = await rejection(c.query("up"));
    expect(error).toMatchObject({ code: "metrics_unavailable", retryable: true });
    expect(error.message).toMatch(/after 6 attempts/);
    expect(requests).toHaveLength(6);
    expect(delays).toEqual([50, 100, 150, 150, 150]);
  });

  it("retries 429", async () => {
    let n = 0;
    handler = () =>
      ++n === 1
        ? { status: 429, body: "slow down", contentType: "text/plain" }
        : { status: 200, body: success };
    await client().query("up");
    expect(requests).toHaveLength(2);
  });

  it("422 execution is unavailable (retryable by the caller) but not retried at once", async () => {
    handler = () => ({
      status: 422,
      body: '{"status":"error","errorType":"execution","error":"found duplicate series for the match group"}',
    });
    const error = await rejection(client().query("up"));
    expect(error).toMatchObject({ code: "metrics_unavailable", retryable: true });
    expect(error.message).toContain("found duplicate series");
    expect(requests).toHaveLength(1);
  });

  it.each([
    [401, "Unauthorized"],
    [403, "Forbidden"],
    [404, "404 page not found"],
  ])(
    "HTTP %i is unavailable and not retried (a retry won't fix credentials or a URL)",
    async (status, body) => {
      handler = () => ({ status, body, contentType: "text/plain" });
      const error = await rejection(client().query("up"));
      expect(error).toMatchObject({ code: "metrics_unavailable", retryable: false });
      expect(error.message).toContain(`HTTP ${status}`);
      expect(requests).toHaveLength(1);
    },
  );

  it("a 400 without a JSON body is still an invalid query", async () => {
    handler = () => ({ status: 400, body: "bad request", contentType: "text/plain" });
    expect(await rejection(client().query("up"))).toMatchObject({
      code: "metrics_query_invalid",
      retryable: false,
    });
  });

  it("a 200 that is not a Prometheus answer (a login page) says so", async () => {
    handler = () => ({ status: 200, body: "<html>Sign in</html>", contentType: "text/html" });
    const error = await rejection(client().query("up"));
    expect(error).toMatchObject({ code: "metrics_unavailable", retryable: false });
    expect(error.message).toMatch(/not a Prometheus API answer/);
  });

  it("a malformed success is refused instead of read as zeros", async () => {
    handler = () => ({
      status: 200,
      body: '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,""]}]}}',
    });
    expect(await rejection(client().query("up"))).toMatchObject({ code: "metrics_unavailable" });
  });

  it("a client-side timeout is unavailable and retried", async () => {
    handler = () => ({ status: 200, body: success, delayMs: 500 });
    const error = await rejection(client({ timeoutMs: 100, retries: 1 }).query("up"));
    expect(error).toMatchObject({ code: "metrics_unavailable", retryable: true });
    expect(error.message).toMatch(/no answer within 100 ms/);
    expect(requests).toHaveLength(2);
  });

  it("connection refused is unavailable and retried", async () => {
    const delays: number[] = [];
    const c = client({
      url: "http://127.0.0.1:1/prometheus",
      retries: 2,
      sleep: recordSleep(delays),
    });
    const error = await rejection(c.query("up"));
    expect(error).toMatchObject({ code: "metrics_unavailable", retryable: true });
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(delays).toHaveLength(2);
  });

  it("interpretResponse classifies by errorType first, then by status", () => {
    const classify = (status: number, body: unknown): [string, boolean] => {
      try {
        interpretResponse(status, JSON.stringify(body), "/api/v1/query");
      } catch (error) {
        const e = error as CanaryError;
        return [e.code, e.retryable];
      }
      return ["ok", false];
    };
    const err = (errorType: string) => ({ status: "error", errorType, error: "x" });
    expect(classify(400, err("bad_data"))).toEqual(["metrics_query_invalid", false]);
    expect(classify(422, err("execution"))).toEqual(["metrics_unavailable", true]);
    expect(classify(503, err("timeout"))).toEqual(["metrics_unavailable", true]);
    expect(classify(503, err("canceled"))).toEqual(["metrics_unavailable", true]);
    expect(classify(499, err("canceled"))).toEqual(["metrics_unavailable", true]);
    expect(classify(500, err("internal"))).toEqual(["metrics_unavailable", true]);
    expect(classify(404, err("not_found"))).toEqual(["metrics_unavailable", false]);
    expect(classify(406, err("not_acceptable"))).toEqual(["metrics_unavailable", false]);
    // A proxy that answers 200 with an error envelope is still an error.
    expect(classify(200, err("bad_data"))).toEqual(["metrics_query_invalid", false]);
  });
});

describe("https with a custom CA", () => {
  let httpsServer: Server;
  let httpsUrl: string;
  let caPem: string;

  beforeAll(async () => {
    const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const privateKey = forge.pki.privateKeyFromPem(
      keys.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    );
    const publicKey = forge.pki.publicKeyFromPem(
      keys.publicKey.export({ type: "spki", format: "pem" }).toString(),
    );
    const cert = forge.pki.createCertificate();
    cert.publicKey = publicKey;
    cert.serialNumber = "01";
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 3_600_000);
    const subject = [{ name: "commonName", value: "canarybot test prometheus" }];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: "basicConstraints", cA: true },
      { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] },
    ]);
    cert.sign(privateKey, forge.md.sha256.create());
    caPem = forge.pki.certificateToPem(cert);
    httpsServer = createHttpsServer({ key: forge.pki.privateKeyToPem(privateKey), cert: caPem }, serve);
    httpsUrl = `https://127.0.0.1:${await listen(httpsServer)}${PREFIX}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => httpsServer.close(resolve));
  });

  it("trusts the configured CA", async () => {
    handler = () => ({
      status: 200,
      body: '{"status":"success","data":{"resultType":"vector","result":[]}}',
    });
    const response = await client({ url: httpsUrl, ca: caPem }).query("up");
    expect(response.data).toEqual({ resultType: "vector", result: [] });
  });

  it("without it, says the certificate is not trusted and does not retry", async () => {
    handler = () => ({ status: 200, body: "{}" });
    const error = await rejection(client({ url: httpsUrl }).query("up"));
    expect(error).toMatchObject({ code: "metrics_unavailable", retryable: false });
    expect(error.message).toMatch(/TLS certificate not trusted.*configure the CA/);
    expect(requests).toHaveLength(0);
  });
});
