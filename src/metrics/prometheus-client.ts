import http from "node:http";
import https from "node:https";
import axios, { type AxiosInstance } from "axios";
import { CanaryError, ErrorCode, errorMessage } from "../errors.ts";
import { basicAuthSecrets, redact } from "../redact.ts";
import { exponentialDelay, retry, wait, withJitter } from "../retry.ts";

/**
 * A small Prometheus HTTP API client: instant and range queries over POST forms (queries get long), bounded
 * retries with exponential backoff, and errors translated into CanaryErrors at this boundary.
 *
 * | answer                                                         | code                    | retried here | retryable |
 * |----------------------------------------------------------------|-------------------------|--------------|-----------|
 * | `bad_data` (HTTP 400), any other 400                           | `metrics_query_invalid` | no           | no        |
 * | `execution` (HTTP 422: the expression cannot be executed)      | `metrics_unavailable`   | no           | yes       |
 * | `timeout` / `canceled` (HTTP 503 / 499), any 5xx, HTTP 429     | `metrics_unavailable`   | yes          | yes       |
 * | network error (refused, reset, DNS), client timeout            | `metrics_unavailable`   | yes          | yes       |
 * | HTTP 401 / 403 / 404 / other 4xx, TLS certificate errors       | `metrics_unavailable`   | no           | no        |
 * | 2xx that is not a Prometheus answer (HTML login page, garbage) | `metrics_unavailable`   | no           | no        |
 *
 * Why: Prometheus documents 400 for "parameters missing or incorrect" (a parse error in our PromQL, a bad
 * window): retrying cannot help and the configuration must change. 422 is "the expression can't be executed":
 * in practice data-dependent (duplicate series after relabelling, too many samples), so it is not our static
 * config being wrong; a tick later may succeed, but retrying within the same second will not. 503 is "the query
 * timed out or was aborted". A wrong URL, credentials or CA is a deployment problem a retry won't fix; it
 * still reads as "Prometheus unavailable" so the rollout holds (inconclusive) and says why instead of crashing.
 */

export type Labels = Record<string, string>;

/** One float sample. `value` may be NaN or ±Infinity; it is never silently 0. Timestamps are Unix seconds. */
export type SamplePoint = { timestamp: number; value: number };

export type HistogramBucket = {
  /** 0: open left, 1: open right, 2: open both, 3: closed both. */
  boundaryRule: number;
  lower: number;
  upper: number;
  count: number;
};

/** A native histogram sample. */
export type HistogramPoint = { timestamp: number; count: number; sum: number; buckets: HistogramBucket[] };

/** One element of an instant vector: a float `value` or a native `histogram`. */
export type VectorSample = { metric: Labels; timestamp: number; value?: number; histogram?: HistogramPoint };

/** One series of a range matrix (float points, native histogram points, or both). */
export type MatrixSeries = { metric: Labels; values: SamplePoint[]; histograms: HistogramPoint[] };

export type QueryData =
  | { resultType: "vector"; result: VectorSample[] }
  | { resultType: "matrix"; result: MatrixSeries[] }
  | { resultType: "scalar"; result: SamplePoint }
  | { resultType: "string"; result: { timestamp: number; value: string } };

export type QueryResponse = { data: QueryData; warnings: string[]; infos: string[] };

export type PrometheusAuth =
  { type: "bearer"; token: string } | { type: "basic"; username: string; password: string };

export type PrometheusClientOptions = {
  /**
   * Base URL, path prefix included: `http://prometheus:9090`, `https://mimir.example.com/prometheus`,
   * `https://thanos-query.example.com`. `/api/v1/...` is appended.
   */
  url: string;
  /** Per-attempt timeout; also sent to Prometheus as the query `timeout`. Default 10 s. */
  timeoutMs?: number;
  /** Extra attempts after the first, for retryable failures. Default 2. */
  retries?: number;
  /** First backoff delay; doubles per attempt with jitter, capped by `maxBackoffMs`. Default 250 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
  auth?: PrometheusAuth;
  /** Extra headers, e.g. `X-Scope-OrgID` for Mimir/Cortex tenants. */
  headers?: Record<string, string>;
  /** PEM CA certificate(s) to trust for https (replaces the default trust store for this client). */
  ca?: string | Buffer;
  /** Concurrent connections per client (1,000 rollouts share one). Default 32. */
  maxSockets?: number;
  /** Injected for tests; defaults to setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Injected for tests; defaults to Math.random. */
  random?: () => number;
};

export type RangeQuery = {
  /** Unix ms. */
  start: number;
  end: number;
  stepSeconds: number;
};

/** Parses a Prometheus sample value string. `"NaN"`, `"+Inf"`, `"-Inf"` are kept as such; garbage throws. */
export function parseSampleValue(raw: unknown): number {
  if (typeof raw === "number") return raw;
  if (typeof raw !== "string") throw malformed(`sample value ${JSON.stringify(raw)} is not a string`);
  switch (raw) {
    case "NaN":
      return Number.NaN;
    case "+Inf":
    case "Inf":
      return Number.POSITIVE_INFINITY;
    case "-Inf":
      return Number.NEGATIVE_INFINITY;
    default:
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) {
        throw malformed(`sample value ${JSON.stringify(raw)} is not a number`);
      }
      return Number(raw);
  }
}

function malformed(message: string): CanaryError {
  return new CanaryError(ErrorCode.MetricsUnavailable, `unexpected Prometheus answer: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseTimestamp(raw: unknown): number {
  if (typeof raw !== "number" || !Number.isFinite(raw)) throw malformed(`timestamp ${JSON.stringify(raw)}`);
  return raw;
}

function parseLabels(raw: unknown): Labels {
  if (!isRecord(raw)) throw malformed("metric is not a label set");
  const labels: Labels = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== "string") throw malformed(`label ${name} is not a string`);
    labels[name] = value;
  }
  return labels;
}

function parsePoint(raw: unknown): SamplePoint {
  if (!Array.isArray(raw) || raw.length !== 2) throw malformed("sample is not [timestamp, value]");
  return { timestamp: parseTimestamp(raw[0]), value: parseSampleValue(raw[1]) };
}

function parseHistogramPoint(raw: unknown): HistogramPoint {
  if (!Array.isArray(raw) || raw.length !== 2 || !isRecord(raw[1])) {
    throw malformed("histogram sample is not [timestamp, histogram]");
  }
  const h = raw[1];
  const buckets = h["buckets"] ?? [];
  if (!Array.isArray(buckets)) throw malformed("histogram buckets is not a list");
  return {
    timestamp: parseTimestamp(raw[0]),
    count: parseSampleValue(h["count"]),
    sum: parseSampleValue(h["sum"]),
    buckets: buckets.map((b: unknown) => {
      if (!Array.isArray(b) || b.length !== 4 || typeof b[0] !== "number") {
        throw malformed("histogram bucket is not [rule, lower, upper, count]");
      }
      return {
        boundaryRule: b[0],
        lower: parseSampleValue(b[1]),
        upper: parseSampleValue(b[2]),
        count: parseSampleValue(b[3]),
      };
    }),
  };
}

/** Parses the `data` of a successful `/api/v1/query` or `/api/v1/query_range` answer. */
export function parseQueryData(raw: unknown): QueryData {
  if (!isRecord(raw)) throw malformed("data is not an object");
  const { resultType, result } = raw;
  switch (resultType) {
    case "vector": {
      if (!Array.isArray(result)) throw malformed("vector result is not a list");
      return {
        resultType,
        result: result.map((item: unknown): VectorSample => {
          if (!isRecord(item)) throw malformed("vector element is not an object");
          const metric = parseLabels(item["metric"]);
          if (item["histogram"] !== undefined) {
            const histogram = parseHistogramPoint(item["histogram"]);
            return { metric, timestamp: histogram.timestamp, histogram };
          }
          const point = parsePoint(item["value"]);
          return { metric, timestamp: point.timestamp, value: point.value };
        }),
      };
    }
    case "matrix": {
      if (!Array.isArray(result)) throw malformed("matrix result is not a list");
      return {
        resultType,
        result: result.map((item: unknown): MatrixSeries => {
          if (!isRecord(item)) throw malformed("matrix element is not an object");
          const values = item["values"] ?? [];
          const histograms = item["histograms"] ?? [];
          if (!Array.isArray(values) || !Array.isArray(histograms))
            throw malformed("series points are not lists");
          return {
            metric: parseLabels(item["metric"]),
            values: values.map(parsePoint),
            histograms: histograms.map(parseHistogramPoint),
          };
        }),
      };
    }
    case "scalar":
      return { resultType, result: parsePoint(result) };
    case "string": {
      if (!Array.isArray(result) || result.length !== 2 || typeof result[1] !== "string") {
        throw malformed("string result is not [timestamp, string]");
      }
      return { resultType, result: { timestamp: parseTimestamp(result[0]), value: result[1] } };
    }
    default:
      throw malformed(`unknown resultType ${JSON.stringify(resultType)}`);
  }
}

function stringList(raw: unknown): string[] {
  return Array.isArray(raw) ? raw.filter((w): w is string => typeof w === "string") : [];
}

type Envelope = { data: unknown; warnings: string[]; infos: string[] };

/**
 * Turns one HTTP answer into the envelope's `data`, or a classified CanaryError (see the table above).
 * Exported for tests; `endpoint` names the call in messages. Prometheus's words reach the audit trail, the
 * channel and the logs, so they are redacted (`secrets`: the client's own credentials) and capped.
 */
export function interpretResponse(
  status: number,
  body: string,
  endpoint: string,
  secrets: readonly string[] = [],
): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const envelope = isRecord(parsed) ? parsed : undefined;

  if (envelope?.["status"] === "error" || status < 200 || status >= 300) {
    const errorType = typeof envelope?.["errorType"] === "string" ? envelope["errorType"] : undefined;
    const text = redact(typeof envelope?.["error"] === "string" ? envelope["error"] : body, secrets);
    const what = `Prometheus ${endpoint}: ${errorType ?? `HTTP ${status}`}${text === "" ? "" : `: ${text}`}`;
    throw classify(status, errorType, what);
  }
  if (envelope?.["status"] !== "success" || !("data" in envelope)) {
    throw new CanaryError(
      ErrorCode.MetricsUnavailable,
      `Prometheus ${endpoint}: HTTP ${status} is not a Prometheus API answer (wrong URL or path prefix?): ${redact(body, secrets, 120)}`,
    );
  }
  return {
    data: envelope["data"],
    warnings: stringList(envelope["warnings"]),
    infos: stringList(envelope["infos"]),
  };
}

function classify(status: number, errorType: string | undefined, message: string): CanaryError {
  if (errorType === "bad_data" || status === 400) {
    return new CanaryError(ErrorCode.MetricsQueryInvalid, message);
  }
  if (errorType === "execution" || status === 422) {
    return new CanaryError(ErrorCode.MetricsUnavailable, message, { retryable: true });
  }
  if (
    errorType === "timeout" ||
    errorType === "canceled" ||
    errorType === "internal" ||
    errorType === "unavailable" ||
    status >= 500 ||
    status === 429 ||
    status === 499
  ) {
    return new CanaryError(ErrorCode.MetricsUnavailable, message, { retryable: true });
  }
  // 401/403 (credentials), 404 (wrong URL or prefix), 406, other 4xx: retrying will not help.
  return new CanaryError(ErrorCode.MetricsUnavailable, message);
}

/** Whether the client retries this failure itself (a subset of `retryable`: not 422, which won't change in ms). */
function shouldRetryNow(error: CanaryError, status: number | undefined): boolean {
  return error.retryable && status !== 422;
}

const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

function networkError(
  error: unknown,
  endpoint: string,
  timeoutMs: number,
  secrets: readonly string[],
): CanaryError {
  const code = axios.isAxiosError(error) ? error.code : undefined;
  const text = redact(errorMessage(error), secrets);
  // No `cause`: an axios error carries the request's config, credentials included, into any log that dumps it.
  if (code !== undefined && TLS_CODES.has(code)) {
    return new CanaryError(
      ErrorCode.MetricsUnavailable,
      `Prometheus ${endpoint}: TLS certificate not trusted (${code}); configure the CA`,
    );
  }
  const timedOut = code === "ECONNABORTED" || code === "ETIMEDOUT" || code === "ERR_CANCELED";
  return new CanaryError(
    ErrorCode.MetricsUnavailable,
    timedOut
      ? `Prometheus ${endpoint}: no answer within ${timeoutMs} ms`
      : `Prometheus ${endpoint}: ${code ?? "network error"}: ${text}`,
    { retryable: true },
  );
}

export class PrometheusClient {
  readonly url: string;
  readonly #http: AxiosInstance;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  /** Our own credentials, kept out of every error text. */
  readonly #secrets: string[];

  constructor(options: PrometheusClientOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#retries = Math.max(0, options.retries ?? 2);
    this.#backoffMs = options.backoffMs ?? 250;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5_000;
    this.#sleep = options.sleep ?? wait;
    this.#random = options.random ?? Math.random;
    const maxSockets = options.maxSockets ?? 32;
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    this.#secrets = [
      ...(options.auth?.type === "bearer" ? [options.auth.token] : []),
      ...(options.auth?.type === "basic"
        ? basicAuthSecrets(options.auth.username, options.auth.password)
        : []),
      ...Object.entries(options.headers ?? {})
        .filter(([name]) => /auth|key|token|secret|pass|cookie/i.test(name))
        .map(([, value]) => value),
    ];
    if (options.auth?.type === "bearer") headers["Authorization"] = `Bearer ${options.auth.token}`;
    this.#http = axios.create({
      baseURL: this.url,
      timeout: this.#timeoutMs,
      headers,
      auth:
        options.auth?.type === "basic"
          ? { username: options.auth.username, password: options.auth.password }
          : undefined,
      httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
      httpsAgent: new https.Agent({
        keepAlive: true,
        maxSockets,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      }),
      // We read every status and body ourselves: Prometheus errors carry JSON on 4xx/5xx.
      validateStatus: () => true,
      responseType: "text",
      transformResponse: [(data: unknown) => data],
      maxRedirects: 0,
    });
  }

  /** Instant query at `time` (Unix ms; default: Prometheus' now). */
  async query(promql: string, time?: number): Promise<QueryResponse> {
    const form: Record<string, string> = { query: promql, timeout: this.#serverTimeout() };
    if (time !== undefined) form["time"] = (time / 1000).toFixed(3);
    const envelope = await this.#post("/api/v1/query", form);
    return { data: parseQueryData(envelope.data), warnings: envelope.warnings, infos: envelope.infos };
  }

  /** Range query from `start` to `end` (Unix ms) every `stepSeconds`. */
  async queryRange(promql: string, range: RangeQuery): Promise<QueryResponse> {
    if (!(range.stepSeconds > 0)) {
      throw new CanaryError(ErrorCode.MetricsQueryInvalid, `range query step must be positive`);
    }
    const envelope = await this.#post("/api/v1/query_range", {
      query: promql,
      start: (range.start / 1000).toFixed(3),
      end: (range.end / 1000).toFixed(3),
      step: String(range.stepSeconds),
      timeout: this.#serverTimeout(),
    });
    return { data: parseQueryData(envelope.data), warnings: envelope.warnings, infos: envelope.infos };
  }

  /**
   * Prometheus' own formatting of a query (`/api/v1/format_query`, Prometheus ≥ 2.38): parses without running,
   * so config checks can reject a broken custom query at start-up with `metrics_query_invalid`.
   */
  async formatQuery(promql: string): Promise<string> {
    const envelope = await this.#post("/api/v1/format_query", { query: promql });
    if (typeof envelope.data !== "string") throw malformed("format_query data is not a string");
    return envelope.data;
  }

  /** Whether Prometheus answers a trivial query (after retries). Never throws. */
  async isOnline(): Promise<boolean> {
    try {
      const response = await this.query("vector(1)");
      return response.data.resultType === "vector" && response.data.result[0]?.value === 1;
    } catch {
      return false;
    }
  }

  #serverTimeout(): string {
    // Let Prometheus give up a little before we do, so a slow query ends as a `timeout` answer, not a reset.
    return `${Math.max(1, Math.floor((this.#timeoutMs * 0.9) / 1000))}s`;
  }

  async #post(endpoint: string, form: Record<string, string>): Promise<Envelope> {
    let status: number | undefined;
    return retry(
      async () => {
        status = undefined;
        try {
          const response = await this.#http.post<string>(endpoint, new URLSearchParams(form));
          status = response.status;
          return interpretResponse(response.status, String(response.data ?? ""), endpoint, this.#secrets);
        } catch (error) {
          throw error instanceof CanaryError
            ? error
            : networkError(error, endpoint, this.#timeoutMs, this.#secrets);
        }
      },
      (outcome, attempts) => {
        if (outcome.ok) return undefined;
        const failure = outcome.error as CanaryError;
        if (attempts > this.#retries || !shouldRetryNow(failure, status)) {
          if (attempts > 1) failure.message = `${failure.message} (after ${attempts} attempts)`;
          return undefined;
        }
        return Math.round(
          withJitter(exponentialDelay(attempts, this.#backoffMs, this.#maxBackoffMs), this.#random),
        );
      },
      this.#sleep,
    );
  }
}
