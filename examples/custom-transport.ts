// Plugging your own Transport into the agent.
//
// The agent speaks HTTP/1.1 through src/http's HttpClient, and the client moves bytes through a `Transport`: one
// method, `connect(options) -> Promise<Connection>`, where a Connection is `write`, `read` (null = end of stream),
// `close` and an optional `info`. TLS lives inside the transport. So a cellular modem's socket AT commands, a
// serial link to a WiFi co-processor, mbedTLS in wasm or node:tls are all the same thing to the core: it never
// learns which implementation it holds.
//
// This example writes two transports that wrap another one (they compose like middleware):
//   - CountingTransport logs every connection and counts the bytes each way (metering, data-plan accounting);
//   - FlakyLinkTransport drops the link once after N bytes from one port, like a modem losing its carrier, so you
//     can watch the agent resume the download with `Range` from the exact byte it had;
// and wires them into `createAgent` by hand (no SimDevice), over a simulated MCU on in-memory NOR flash:
//
//   createAgent({ transport: networkOverHttp(new HttpClient({ transport: yours, clock, ca })), ... })
//
// Run:  npx tsx examples/custom-transport.ts [--drop-after BYTES]   (0 = no drop; default 40000)
//
// In your own project the imports below are the package entry points: 'ota-agent' (the portable core),
// 'ota-agent/hal', 'ota-agent/node', 'ota-agent/sim', 'ota-agent/backend' and 'ota-agent/tools'.
import { pathToFileURL } from 'node:url';
import {
  HttpClient, Journal, TRANSPORT_ERRORS, bundleFormat, createAgent, networkOverHttp, otaError,
} from '../src/index.js';
import type { Agent, AgentEvent, ConnectOptions, Connection, ConnectionInfo, CycleResult, Transport } from '../src/index.js';
import { uniformGeometry } from '../hal/index.js';
import { NodeTlsTransport, ed25519Verifier, nodeHashes, systemClock } from '../src/node/index.js';
import { SimMcu, SimFlash, buildFirmwareImage, defaultLayoutSpec } from '../hal/sim/index.js';
import { startBackend } from '../src/backend/index.js';
import { createBundle, ed25519Signer, generateEd25519 } from '../src/tools/index.js';

/** Traffic of one connection, as CountingTransport saw it. */
export interface ConnectionStats {
  host: string;
  port: number;
  /** TLS version the inner transport negotiated, when it says. */
  protocol: string | undefined;
  bytesIn: number;
  bytesOut: number;
}

/** A Connection that counts what passes through it. It passes chunks on untouched and never keeps them. */
class CountingConnection implements Connection {
  /** Only offered when the inner connection has the fast path too (the HTTP client checks for it). */
  readNow?: () => Uint8Array | undefined;

  constructor(private readonly inner: Connection, private readonly stats: ConnectionStats, private readonly log: (line: string) => void) {
    const readNow = inner.readNow;
    if (readNow !== undefined) {
      this.readNow = () => {
        const chunk = readNow.call(inner);
        if (chunk !== undefined) stats.bytesIn += chunk.length;
        return chunk;
      };
    }
  }

  /** The inner connection's facts (TLS version, cipher, SNI sent). */
  get info(): ConnectionInfo | undefined {
    return this.inner.info;
  }

  /** Counts, then writes. */
  write(data: Uint8Array): Promise<void> {
    this.stats.bytesOut += data.length;
    return this.inner.write(data);
  }

  /**
   * Counts what the inner connection read. A chunk is only valid until the next read() or close() (transports
   * recycle their buffers), which is fine here: it is handed straight on. A wrapper that kept chunks would copy them.
   */
  read(): Promise<Uint8Array | null> {
    return this.inner.read().then((chunk) => {
      if (chunk !== null) this.stats.bytesIn += chunk.length;
      return chunk;
    });
  }

  /** Logs the connection's totals and closes it. */
  close(): void {
    this.log(`[transport] close ${this.stats.host}:${this.stats.port}: ${this.stats.bytesIn} bytes in, ${this.stats.bytesOut} out`);
    this.inner.close();
  }
}

/** Wraps any Transport: logs each connection and keeps its byte counts. */
export class CountingTransport implements Transport {
  /** Every connection opened so far. */
  readonly connections: ConnectionStats[] = [];

  /** `inner` does the real work; `log` receives one line per connect and close. */
  constructor(private readonly inner: Transport, private readonly log: (line: string) => void) {}

  /** Opens a connection through the inner transport and wraps it. Failures (TLS errors included) pass through as they are. */
  connect(options: ConnectOptions): Promise<Connection> {
    return this.inner.connect(options).then((connection) => {
      const stats: ConnectionStats = { host: options.host, port: options.port, protocol: connection.info?.protocol, bytesIn: 0, bytesOut: 0 };
      this.connections.push(stats);
      this.log(`[transport] connect ${options.host}:${options.port} (${options.tls ? `${stats.protocol ?? 'TLS'}, SNI ${connection.info?.servername ?? 'none: an IP address'}` : 'plain'})`);
      return new CountingConnection(connection, stats, this.log);
    });
  }

  /** Bytes read over all connections. */
  totalIn(): number {
    return this.connections.reduce((sum, c) => sum + c.bytesIn, 0);
  }
}

/** Wraps any Transport: the first connection to `port` fails after `dropAfter` bytes, as a lost carrier would. */
export class FlakyLinkTransport implements Transport {
  private dropped = false;

  /** `dropAfter` 0 never drops. */
  constructor(private readonly inner: Transport, private readonly port: number, private readonly dropAfter: number) {}

  /** Opens a connection; the doomed one reports a reset in place of the bytes past the limit. */
  connect(options: ConnectOptions): Promise<Connection> {
    return this.inner.connect(options).then((connection) => {
      if (this.dropped || this.dropAfter <= 0 || options.port !== this.port) return connection;
      this.dropped = true;
      let left = this.dropAfter;
      // Report the drop the way every transport does: an OtaError with a shared, retryable code, so the agent
      // classifies it the same whichever transport it came from.
      const reset = () => {
        connection.close();
        return Promise.reject(otaError(TRANSPORT_ERRORS.connectionReset, `Simulated carrier loss on ${options.host}:${options.port} ` +
          `after ${this.dropAfter} bytes.`, true, { host: options.host, port: options.port }));
      };
      return {
        write: (data) => connection.write(data),
        // No readNow: the client falls back to read(), which keeps the byte budget in one place.
        read: () => left <= 0 ? reset() : connection.read().then((chunk) => {
          if (chunk === null || chunk.length <= left) {
            if (chunk !== null) left -= chunk.length;
            return chunk;
          }
          const part = chunk.subarray(0, left);   // deliver up to the limit; the next read fails
          left = 0;
          return part;
        }),
        close: () => connection.close(),
        info: connection.info,
      };
    });
  }
}

/** What the example did. */
export interface CustomTransportResult {
  /** Outcome of the cycle that downloaded and activated ('rebooting'), then of the one after the reboot ('confirmed'). */
  outcomes: string[];
  /** The version the simulated MCU boots at the end. */
  running: string;
  /** Payload size and where the download resumed (null when it never dropped). */
  payloadBytes: number;
  resumedAt: number | null;
  /** What CountingTransport recorded. */
  connections: ConnectionStats[];
  totalIn: number;
}

/** Options of the example. */
export interface CustomTransportOptions {
  /** Drop the first CDN connection after this many bytes (default 40 000; 0 = never). */
  dropAfter?: number;
}

/** Runs the example; `print` receives every line it would write to the console. */
export async function main(options: CustomTransportOptions = {}, print: (line: string) => void = console.log): Promise<CustomTransportResult> {
  const backend = await startBackend();   // HTTPS on 127.0.0.1 with its own test roots
  try {
    // A signed release for the simulated MCU.
    const keys = generateEd25519();
    const firmware = buildFirmwareImage({ version: '2.0.0', size: 96 * 1024 });
    const payload = createBundle({ sequence: 1, releaseVersion: '2.0.0', hardwareVersions: ['evt'],
      parts: [{ softwareType: 'main-fw', version: '2.0.0', data: firmware }] }, ed25519Signer(keys.privatePem));
    await backend.admin.uploadPayload(payload, { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '2.0.0' });
    backend.admin.deploy({ releaseVersion: '2.0.0', cohort: 'default', rolloutPercent: 100 });

    // The hardware: one MCU on 4 KiB-sector NOR flash laid out as boot records (2 sectors), slots A and B, and the
    // agent's journal (the last 2 sectors). Factory image 1.0.0 in slot A.
    const flash = new SimFlash(uniformGeometry(4096, 2 + 2 * 32 + 2, 8, 0xff));
    const mcu = new SimMcu({ flash, softwareType: 'main-fw', hashes: nodeHashes, layout: defaultLayoutSpec(flash, 2) });
    await mcu.provision(buildFirmwareImage({ version: '1.0.0', size: 64 * 1024 }), '1.0.0');
    const journalArea = mcu.layout.journal;
    if (journalArea === undefined) throw new Error('the layout reserves no journal sectors');

    // The transport stack: node:tls at the bottom (it verifies the server against the roots it is given, and
    // sends SNI), a flaky link above it, the byte counter on top. Swap any layer; nothing else changes.
    const cdnPort = Number(new URL(backend.cdnBaseUrl).port);
    const transport = new CountingTransport(new FlakyLinkTransport(new NodeTlsTransport(), cdnPort, options.dropAfter ?? 40_000), print);
    const client = new HttpClient({ transport, clock: systemClock, ca: backend.trustedRootsDer });

    let resumedAt: number | null = null;
    const onEvent = (event: AgentEvent): void => {
      if (event.type === 'download-resumed') resumedAt = event.offset;
      if (event.type === 'state' || event.type === 'download-progress') return;
      const version = 'version' in event && event.version ? ` ${event.version}` : '';
      const offset = event.type === 'download-resumed' ? ` at byte ${event.offset}` : '';
      print(`[agent] ${event.type}${version}${offset}${event.type === 'error' ? ` ${event.code}` : ''}`);
    };
    // A fresh agent per boot, as on a device: nothing survives a reboot but flash (the journal and the slots).
    const bootAgent = (): Agent => createAgent({
      api: { baseUrl: backend.baseUrl, projectKey: backend.projectKey },
      device: { serial: 'custom-transport-1', hardwareVersion: 'evt' },
      softwareType: 'main-fw',
      transport: networkOverHttp(client),          // <- the only place the transport enters
      targets: [mcu.target()],
      journal: new Journal(journalArea),
      clock: systemClock,
      random: Math.random,
      formats: [bundleFormat({ trust: { verifiers: [ed25519Verifier(keys.publicPem)], allowUnsigned: false },
        hashes: nodeHashes, hardwareVersion: 'evt', installedSequence: () => 0 })],
      selfTest: () => Promise.resolve(true),        // your application's health check after a trial boot
      policy: { healthDeadlineMs: 5000 },
      onEvent,
    });

    const outcomes: string[] = [];
    let boot = await mcu.boot();
    print(`MCU boots ${boot.version}`);
    // Without a `reboot` callback the cycle stops at 'rebooting' once the new image is activated; the
    // application restarts the MCU when it suits it.
    const first: CycleResult = await bootAgent().runOnce();
    outcomes.push(first.outcome);
    boot = await mcu.boot();                        // the bootloader starts the new image as a trial
    print(`MCU reboots into ${boot.version}${boot.trial ? ' (trial)' : ''}`);
    const second = await bootAgent().runOnce();     // continues from the journal: self-test, confirm
    outcomes.push(second.outcome);
    client.close();
    boot = await mcu.boot();
    print(`after confirmation the MCU boots ${boot.version}${boot.trial ? ' (trial)' : ''}; ` +
      `the transport read ${transport.totalIn()} bytes over ${transport.connections.length} connections`);
    return { outcomes, running: boot.version, payloadBytes: payload.length, resumedAt, connections: transport.connections, totalIn: transport.totalIn() };
  } finally {
    await backend.close();
  }
}

function dropAfterArg(argv: string[]): number | undefined {
  const i = argv.indexOf('--drop-after');
  return i >= 0 ? Number(argv[i + 1]) : undefined;
}

// Run when executed directly (npx tsx examples/custom-transport.ts), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main({ dropAfter: dropAfterArg(process.argv) }).then((result) => {
    // Nothing is left pending (the confirmation cancelled the trial's health deadline, the client and backend are
    // closed), so the process ends on its own with this status.
    process.exitCode = result.outcomes[result.outcomes.length - 1] === 'confirmed' ? 0 : 1;
  }, (error: unknown) => {
    // A bad argument or a failed run: its message (and code) is the whole story; a stack trace would bury it.
    const failure = error as { message?: string; code?: string };
    console.error(`custom-transport: ${failure.message ?? String(error)}${failure.code ? ` [${failure.code}]` : ''}`);
    process.exit(1);
  });
}
