// The core inside QuickJS: both built bundles (the Espruino ES5 file, its adapters bridged to the host, and the
// ES2020 file) load into memory-limited VMs, and the HTTP-parser and bundle-unpacker properties run inside them,
// compared outcome for outcome with the same driver over the TypeScript modules in Node.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseParser, EVENT_BODY, EVENT_DONE, EVENT_HEAD, EVENT_NEED_MORE } from '../../src/http/response-parser.js';
import { BundleUnpacker } from '../../src/bundle/unpacker.js';
import { crc32Update } from '../../src/integrity/crc32.js';
import { hmacVerifier } from '../../src/integrity/hmac.js';
import { portableHashes } from '../../src/integrity/sha256.js';
import { otaError } from '../../src/util/errors.js';
import { createBundle } from '../../src/tools/bundle.js';
import type { BundleInput } from '../../src/tools/bundle.js';
import { hmacKeyId, hmacSigner } from '../../src/tools/keys.js';
import { GuestVm } from './quickjs/guest-vm.js';
import { GUEST_PORTS } from './quickjs/guest-ports.js';
import { GUEST_DRIVERS } from './quickjs/guest-drivers.js';
import { ES2020_GUEST_RUNTIME, ESPRUINO_GUEST_RUNTIME, sha256Op } from './quickjs/espruino-bridge.js';
import { es2020Bundle, espruinoBundle } from './bundles.js';

const MEMORY_LIMIT = 16 * 1024 * 1024;
const HMAC_KEY = new Uint8Array(32).fill(0x5a);

/** The drivers over the TypeScript modules, in Node. */
function nodeGuest(): { parseResponse(input: unknown): unknown; unpackBundle(input: unknown): Promise<unknown> } {
  const OtaAgent = { ResponseParser, EVENT_BODY, EVENT_DONE, EVENT_HEAD, EVENT_NEED_MORE, BundleUnpacker, crc32Update, hmacVerifier, otaError };
  return new Function('OtaAgent', 'guestHashes', GUEST_PORTS + GUEST_DRIVERS + '; return guest;')(OtaAgent, () => portableHashes);
}

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface Generated {
  wire: Uint8Array;
  status: number;
  body: Uint8Array;
}

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,11}$/).filter((n) => !/^(content-length|transfer-encoding|connection)$/i.test(n));
const headerValue = fc.stringMatching(/^[ -~]{0,30}$/).map((v) => v.trim());

const response = fc.record({
  status: fc.constantFrom(200, 206, 301, 404, 500, 204),
  headers: fc.array(fc.tuple(token, headerValue), { maxLength: 5 }),
  body: fc.uint8Array({ maxLength: 1500 }),
  framing: fc.constantFrom('length', 'chunked', 'close'),
  chunkSizes: fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 6 }),
  trailer: fc.boolean(),
}).map((r): Generated => {
  const body = r.status === 204 ? new Uint8Array(0) : r.body;
  let head = `HTTP/1.1 ${r.status} X\r\n` + r.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('');
  const parts: Buffer[] = [];
  if (r.status === 204) head += '\r\n';
  else if (r.framing === 'length') {
    head += `Content-Length: ${body.length}\r\n\r\n`;
    parts.push(Buffer.from(body));
  } else if (r.framing === 'close') {
    head += 'Connection: close\r\n\r\n';
    parts.push(Buffer.from(body));
  } else {
    head += 'Transfer-Encoding: chunked\r\n\r\n';
    let at = 0;
    for (let i = 0; at < body.length; i++) {
      const size = Math.min(r.chunkSizes[i % r.chunkSizes.length], body.length - at);
      parts.push(Buffer.from(`${size.toString(16)}\r\n`), Buffer.from(body.subarray(at, at + size)), Buffer.from('\r\n'));
      at += size;
    }
    parts.push(Buffer.from(r.trailer ? '0\r\nX-Sum: 1\r\n\r\n' : '0\r\n\r\n'));
  }
  return { wire: new Uint8Array(Buffer.concat([Buffer.from(head, 'latin1'), ...parts])), status: r.status, body };
});

function split(wire: Uint8Array, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let at = 0;
  for (const p of [...points, wire.length]) {
    if (p > at) chunks.push(toHex(wire.subarray(at, p)));
    at = Math.max(at, p);
  }
  return chunks;
}

function twoParts(seed: number, sequence: number): { input: BundleInput; bytes: Uint8Array } {
  const data = (n: number, s: number) => new Uint8Array(n).map((_, i) => (i * 131 + s * 7 + (i >> 5)) & 0xff);
  const input: BundleInput = {
    sequence,
    releaseVersion: '2.0.0',
    hardwareVersions: ['evt'],
    parts: [
      { softwareType: 'main-fw', version: '2.0.0', data: data(900 + (seed % 300), seed), requires: [{ softwareType: 'wifi-fw', minVersion: '1.4.0' }] },
      { softwareType: 'wifi-fw', version: '1.4.0', data: data(400 + (seed % 97), seed + 1) },
    ],
  };
  return { input, bytes: createBundle(input, hmacSigner(HMAC_KEY)) };
}

const variants = [
  { name: 'Espruino ES5 file', bundle: espruinoBundle, runtime: ESPRUINO_GUEST_RUNTIME, file: 'ota-agent.espruino.js' },
  { name: 'ES2020 file', bundle: es2020Bundle, runtime: ES2020_GUEST_RUNTIME, file: 'ota-agent.es2020.js' },
];

describe.each(variants)('the core in QuickJS: $name', (variant) => {
  let vm: GuestVm;
  const node = nodeGuest();

  beforeAll(async () => {
    vm = await GuestVm.create({
      bundle: await variant.bundle(),
      name: variant.file,
      glue: GUEST_PORTS + variant.runtime + GUEST_DRIVERS,
      memoryLimit: MEMORY_LIMIT,
      ops: { sha256: sha256Op },
    });
  });

  afterAll(() => vm?.dispose());

  it('parses any split of a valid response exactly as Node does (property, seed 1010)', async () => {
    await fc.assert(fc.asyncProperty(response, fc.array(fc.nat(), { maxLength: 8 }), async (generated, cuts) => {
      const input = { chunks: split(generated.wire, cuts), eof: true, maxHeadBytes: 16384, maxHeaders: 100 };
      const inVm = await vm.call('parseResponse', input);
      expect(inVm).toEqual(node.parseResponse(input));
      expect(inVm.error).toBeNull();
      expect(inVm.status).toBe(generated.status);
      expect(inVm.body).toBe(toHex(generated.body));
      expect(inVm.done).toBe(true);
    }), { seed: 1010, numRuns: 120 });
  });

  it('ends random and malformed input in the same error code as Node (property, seed 2020)', async () => {
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array([...Buffer.from('HTTP/1.1 200 OK\r\n'), ...b])),
      fc.uint8Array({ maxLength: 200 }).map((b) => new Uint8Array([...Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), ...b])),
    );
    await fc.assert(fc.asyncProperty(junk, fc.array(fc.nat(), { maxLength: 5 }), fc.integer({ min: 64, max: 512 }), async (wire, cuts, maxHeadBytes) => {
      const input = { chunks: split(wire, cuts), eof: true, maxHeadBytes, maxHeaders: 8 };
      const inVm = await vm.call('parseResponse', input);
      expect(inVm).toEqual(node.parseResponse(input));
      if (!inVm.done) expect(inVm.error).toMatch(/^http-/);
    }), { seed: 2020, numRuns: 150 });
  });

  it('unpacks any split of a signed two-part bundle exactly as Node does (property, seed 3030)', async () => {
    await fc.assert(fc.asyncProperty(fc.nat(1000), fc.array(fc.nat(), { maxLength: 10 }), async (seed, cuts) => {
      const { input, bytes } = twoParts(seed, 100);
      const request = {
        chunks: split(bytes, cuts), hmacKey: toHex(HMAC_KEY), keyId: toHex(hmacKeyId(HMAC_KEY)), hardwareVersion: 'evt', installedSequence: 10,
        targets: [{ softwareType: 'main-fw', capacity: 4096 }, { softwareType: 'wifi-fw', capacity: 2048 }],
      };
      const inVm = await vm.call('unpackBundle', request);
      expect(inVm).toEqual(await node.unpackBundle(request));
      expect(inVm.error).toBeNull();
      expect(inVm.parts.map((p: { bytes: string }) => p.bytes).sort()).toEqual(input.parts.map((p) => toHex(p.data)).sort());
    }), { seed: 3030, numRuns: 25 });
  });

  it('refuses a tampered, an unsigned-looking and a replayed bundle with the same codes as Node', async () => {
    const { bytes } = twoParts(7, 100);
    const base = { hmacKey: toHex(HMAC_KEY), keyId: toHex(hmacKeyId(HMAC_KEY)), hardwareVersion: 'evt', installedSequence: 10,
      targets: [{ softwareType: 'main-fw', capacity: 4096 }, { softwareType: 'wifi-fw', capacity: 2048 }] };
    const tampered = new Uint8Array(bytes);
    tampered[tampered.length - 10] ^= 1;
    const cases = [
      { ...base, chunks: [toHex(tampered)] },
      { ...base, chunks: [toHex(bytes)], hmacKey: toHex(new Uint8Array(32).fill(1)), keyId: null },
      { ...base, chunks: [toHex(bytes)], installedSequence: 100 },
      { ...base, chunks: [toHex(bytes)], hardwareVersion: 'pvt' },
    ];
    for (const request of cases) {
      const inVm = await vm.call('unpackBundle', request);
      expect(inVm.error).not.toBeNull();
      expect(inVm).toEqual(await node.unpackBundle(request));
    }
  });

  it('stays within its memory limit', () => {
    expect(vm.memoryUsed()).toBeLessThan(MEMORY_LIMIT);
    expect(vm.jobFailures()).toEqual([]);
  });
});
