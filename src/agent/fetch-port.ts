// The payload download as the agent needs it: one ranged GET streamed into callbacks, one request in flight.
// src/agent/http-adapter.ts implements it over src/http; tests use fakes.

/** What the server answered, before the body. */
export interface FetchStart {
  /** Payload offset of the first body byte: the requested offset for a 206, 0 when the server sent it all. */
  offset: number;
  /** True for a 206 (the Range was honoured). */
  partial: boolean;
  /** Total payload size, or -1 when the server did not say. */
  total: number;
  /** ETag, else Last-Modified; null when neither was sent. */
  validator: string | null;
}

/** One ranged GET. */
export interface FetchRequest {
  url: string;
  /** First byte wanted (sends `Range: bytes=offset-` when above 0). */
  offset: number;
  /** One past the last byte wanted, or -1 for the rest of the payload. */
  end: number;
  /** The validator of the bytes already held, sent as If-Range with the Range. */
  validator: string | null;
  timeoutMs: number;
  /** Called once with the answer's framing; body bytes follow through `data`. */
  start(info: FetchStart): Promise<void>;
  /** Called for each body chunk, in order; the next read waits for the returned promise (back-pressure). */
  data(chunk: Uint8Array): Promise<void>;
  /** Checked between chunks: true ends the transfer early, leaving what was written. */
  cancelled(): boolean;
}

/**
 * Downloads one payload. Resolves when the body ended (or was cancelled); rejects with an OtaError whose
 * `details.status` carries the HTTP status when the server refused (a 4xx for an expired link, 416 for a range).
 */
export interface PayloadFetcher {
  fetch(request: FetchRequest): Promise<void>;
}
