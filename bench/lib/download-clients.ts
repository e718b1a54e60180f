// The clients `npm run bench:download` compares, in the order each round runs them. To add one (e.g. the mbedTLS
// wasm transport): give it a runner (in RUNNERS of download-runners.ts, or in mbedtlsRunners() of
// download-mbedtls.ts, which download-child.ts loads on demand) and an entry here; its median MiB/s and handshake
// time then appear in the table, and download.ts adds `<jsonKey>OverNodeTls` / `<jsonKey>HandshakeMs` to the JSON
// line for entries with `jsonKey`, e.g. { name: 'mbedtls', label: '…', maxRuns: 3, jsonKey: 'mbedtls' }.

/** One client of the benchmark. */
export interface ClientSpec {
  /** Runner name in RUNNERS, or "curl". */
  name: string;
  /** What the table shows. */
  label: string;
  /** Payload path; throughput is bytes/time, so a slow client may use the small one. Default /64m. */
  path?: '/64m' | '/1m';
  /** Runs per benchmark at most (default: every round). */
  maxRuns?: number;
  /**
   * When set, the JSON line gets `<jsonKey>OverNodeTls` (median MiB/s over the `baseline` client's) and
   * `<jsonKey>HandshakeMs` (median connect + handshake).
   */
  jsonKey?: string;
  /** Client whose throughput `<jsonKey>OverNodeTls` divides by; default "ours" (same HTTP path and sink on node:tls). */
  baseline?: string;
  /** Shown for context only (not part of the headline ratios). */
  informational?: boolean;
}

/** Every client, in run order within a round. */
export const CLIENTS: ClientSpec[] = [
  { name: 'curl', label: 'curl (--cacert, -o /dev/null)' },
  { name: 'raw', label: 'raw node:tls reader, \'data\' events (discards)' },
  { name: 'raw-onread', label: 'raw node:tls reader, onread into one reused buffer (discards)' },
  { name: 'ours', label: 'ours: HttpClient + NodeTlsTransport -> CRC-32 sink (native)' },
  { name: 'ours-js-crc', label: 'ours -> CRC-32 sink (portable JS crc32Update)', informational: true },
  { name: 'ours-no-sink', label: 'ours -> no-op sink', informational: true },
  // mbedTLS in wasm through the same HttpClient and sink, once on the server's suite (AES-256-GCM under TLS 1.3, the
  // same as `ours`) and once offering only ChaCha20-Poly1305, against node:tls forced onto that suite too.
  { name: 'ours-chacha', label: 'ours, node:tls offering only ChaCha20-Poly1305 (baseline of mbedTLS ChaCha)', informational: true },
  { name: 'mbedtls', label: 'ours over MbedTlsTransport (mbedTLS 3.6 wasm), server suite AES-256-GCM', maxRuns: 3, jsonKey: 'mbedtls' },
  { name: 'mbedtls-chacha', label: 'ours over MbedTlsTransport offering only ChaCha20-Poly1305', maxRuns: 3, jsonKey: 'mbedtlsChacha', baseline: 'ours-chacha' },
];
