export type RequestRecord = {
  readonly method: string;
  /** Path and query, as sent. */
  readonly path: string;
  /** The request's Content-Type header ("" when absent). */
  readonly contentType: string;
  readonly status: number;
  /** The request body as sent ("" when none), e.g. to check which patch a client built. */
  readonly body: string;
  /** True when an injected fault answered instead of the API. */
  readonly faulted: boolean;
  /** When the API answered (its change, if any, made), in ms since the epoch with sub-ms precision. */
  readonly at: number;
};

export class RequestLog {
  readonly #records: RequestRecord[] = [];

  record(entry: Omit<RequestRecord, "at">): void {
    this.#records.push({ ...entry, at: performance.timeOrigin + performance.now() });
  }

  all(): RequestRecord[] {
    return [...this.#records];
  }

  clear(): void {
    this.#records.length = 0;
  }
}
