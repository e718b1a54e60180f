// The host side of the bridges: transport over the project's node:tls / node:net transports (verifying the mock
// backend's certificates against its roots), flash over SimFlash, the real clock, and the sha256 bridge.
import { NodeTlsTransport } from '../../../src/node/transports/tls.js';
import { TcpTransport } from '../../../src/node/transports/tcp.js';
import type { Connection } from '../../../src/http/transport.js';
import { SimFlash } from '../../../hal/sim/sim-flash.js';
import { uniformGeometry } from '../../../hal/flash.js';
import { HostBytes } from './guest-vm.js';
import type { HostOps } from './guest-vm.js';
import { sha256Op } from './espruino-bridge.js';

/** A device's host-side hardware: flash parts by name, open connections, and counters. */
export interface HostDevice {
  flashes: { [name: string]: SimFlash };
  connections: Map<number, Connection>;
  bytesRead: number;
  connects: number;
}

/** SimFlash parts for the update rig: the journal (2 x 2 KiB, 4-byte writes) and the main part (2 x 8 x 1 KiB A/B, byte writes). */
export function hostDevice(): HostDevice {
  return {
    flashes: {
      journal: new SimFlash(uniformGeometry(2048, 2, 4, 0xff)),
      main: new SimFlash(uniformGeometry(1024, 16, 1, 0xff)),
    },
    connections: new Map(),
    bytesRead: 0,
    connects: 0,
  };
}

/** Host operations over `device`, trusting `ca` (DER roots) for TLS. */
export function hostOps(device: HostDevice, ca: Uint8Array[]): HostOps {
  const tls = new NodeTlsTransport();
  const tcp = new TcpTransport();
  let nextId = 1;
  const connection = (id: number): Connection => {
    const found = device.connections.get(id);
    if (found === undefined) throw { code: 'bridge-no-connection', message: 'no connection ' + id, retryable: false };
    return found;
  };
  return {
    sha256: sha256Op,
    now: () => Date.now(),
    sleep: (args: { ms: number }) => new Promise((resolve) => setTimeout(resolve, args.ms)),
    connect: async (args: { host: string; port: number; tls: boolean; servername?: string; timeoutMs: number }) => {
      const opened = await (args.tls ? tls : tcp).connect({ host: args.host, port: args.port, tls: args.tls, servername: args.servername, ca, timeoutMs: args.timeoutMs });
      const id = nextId++;
      device.connects++;
      device.connections.set(id, opened);
      return id;
    },
    write: async (args: { id: number }, bytes: Uint8Array | null) => {
      await connection(args.id).write(bytes ?? new Uint8Array(0));
      return null;
    },
    read: async (args: { id: number }) => {
      const chunk = await connection(args.id).read();
      if (chunk === null) return null;
      device.bytesRead += chunk.length;
      return new HostBytes(chunk);
    },
    close: (args: { id: number }) => {
      device.connections.get(args.id)?.close();
      device.connections.delete(args.id);
      return null;
    },
    flashGeometry: (args: { name: string }) => device.flashes[args.name].geometry,
    flashRead: async (args: { name: string; offset: number; length: number }) => new HostBytes(await device.flashes[args.name].read(args.offset, args.length)),
    flashWrite: async (args: { name: string; offset: number }, bytes: Uint8Array | null) => {
      await device.flashes[args.name].write(args.offset, bytes ?? new Uint8Array(0));
      return null;
    },
    flashErase: async (args: { name: string; offset: number; length: number }) => {
      await device.flashes[args.name].erase(args.offset, args.length);
      return null;
    },
  };
}

/**
 * Runs guest code in Node (no VM) over the same ops: __host and __hostSync call them directly, bytes cross as
 * ArrayBuffers as they do through the VM bridge. Returns the `guest` object the code defines.
 */
export function nodeGuest(code: string, ops: HostOps, OtaAgent: unknown): { [name: string]: (input: unknown) => Promise<any> } {
  const host = (op: string, json: string, bytes?: ArrayBuffer): Promise<unknown> =>
    Promise.resolve()
      .then(() => ops[op](JSON.parse(json), bytes === undefined ? null : new Uint8Array(bytes.slice(0))))
      // A copy of exactly the view: a transport chunk is a view into a recycled 16 KiB receive buffer, and Buffer#slice
      // shares memory, so `.slice().buffer` would hand the guest the whole buffer (stale bytes past the chunk's end).
      .then((value) => value instanceof HostBytes ? new Uint8Array(value.bytes).buffer : JSON.stringify(value === undefined ? null : value),
        (error: unknown) => {
          const e = error as { code?: unknown; message?: unknown; retryable?: unknown; details?: unknown };
          throw JSON.stringify(typeof e?.code === 'string' ? { code: e.code, message: String(e.message), retryable: e.retryable === true, details: e.details }
            : { code: 'host-error', message: String((error as Error)?.message ?? error), retryable: true });
        });
  const hostSync = (op: string, json: string): string => JSON.stringify(ops[op](JSON.parse(json), null) ?? null);
  return new Function('OtaAgent', '__host', '__hostSync', code + '; return guest;')(OtaAgent, host, hostSync);
}
