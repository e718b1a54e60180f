import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EVENT_BODY, EVENT_DONE, EVENT_HEAD, ResponseParser, type ParserLimits } from '../../src/http/response-parser.js';
import { isOtaError } from '../../src/util/errors.js';

const SEED = 20261123;

interface Parsed {
  status: number;
  reason: string;
  headers: [string, string][];
  body: string;
  trailers: [string, string][];
  framing: string;
}

/** Feeds `chunks` in order; returns what was parsed, or the OtaError code that ended it. Throws on a non-OtaError or no progress. */
function parse(chunks: Uint8Array[], limits: ParserLimits = { maxHeadBytes: 16384, maxHeaders: 100 }): Parsed | { error: string } {
  const parser = new ResponseParser(limits, false);
  const body: number[] = [];
  let done = false;
  try {
    for (const chunk of chunks) {
      let pos = 0;
      // Each execute either consumes a byte or reports an event, so this bound is generous.
      for (let steps = 0; steps < 4 * chunk.length + 16; steps++) {
        const before = pos;
        pos = parser.execute(chunk, pos, chunk.length);
        if (parser.event === EVENT_BODY) for (let i = parser.bodyStart; i < parser.bodyEnd; i++) body.push(chunk[i]);
        if (parser.event === EVENT_DONE) {
          done = true;
          break;
        }
        if (parser.event !== EVENT_HEAD && parser.event !== EVENT_BODY && pos === before && pos < chunk.length) throw new Error('parser made no progress');
        if (pos >= chunk.length && parser.event !== EVENT_HEAD) break;
      }
      expect((parser as unknown as { buf: Uint8Array }).buf.length).toBeLessThanOrEqual(limits.maxHeadBytes);
      if (done) break;
    }
    if (!done) {
      parser.finish();
      if (parser.head === null) throw new Error('finish() accepted a message without a head');
    }
  } catch (error) {
    if (!isOtaError(error)) throw error;
    return { error: error.code };
  }
  const head = parser.head as NonNullable<typeof parser.head>;
  return {
    status: head.status,
    reason: head.reason,
    headers: head.headers.map((h) => [h.name, h.value]),
    body: Buffer.from(body).toString('latin1'),
    trailers: parser.trailers.map((h) => [h.name, h.value]),
    framing: parser.framing,
  };
}

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out;
}

const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&\'*+.^`|~'.split('')), minLength: 1, maxLength: 20 })
  .filter((name) => !['content-length', 'transfer-encoding', 'connection'].includes(name.toLowerCase()));
const fieldValue = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const headerList = fc.array(fc.tuple(token, fieldValue), { maxLength: 12 });
const bodyBytes = fc.uint8Array({ maxLength: 3000 });

const validResponse = fc.record({
  status: fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
  reason: fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 20 }).map((r) => r.trim()),
  headers: headerList,
  body: bodyBytes,
  framing: fc.constantFrom('length', 'chunked', 'close'),
  chunkCuts: fc.array(fc.nat(), { maxLength: 8 }),
  ext: fc.boolean(),
  trailers: fc.array(fc.tuple(token, fieldValue), { maxLength: 3 }),
});

type ValidResponse = typeof validResponse extends fc.Arbitrary<infer T> ? T : never;

function serialize(r: ValidResponse): Uint8Array {
  let head = `HTTP/1.1 ${r.status}${r.reason ? ' ' + r.reason : ''}\r\n`;
  for (const [name, value] of r.headers) head += `${name}: ${value}\r\n`;
  const body = Buffer.from(r.body);
  if (r.framing === 'length') return Buffer.concat([Buffer.from(`${head}Content-Length: ${body.length}\r\n\r\n`, 'latin1'), body]);
  if (r.framing === 'close') return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]);
  const parts: Buffer[] = [Buffer.from(`${head}Transfer-Encoding: chunked\r\n\r\n`, 'latin1')];
  for (const piece of split(body, r.chunkCuts)) {
    if (piece.length === 0) continue;
    parts.push(Buffer.from(`${piece.length.toString(16)}${r.ext ? ';name=value' : ''}\r\n`, 'latin1'), Buffer.from(piece), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n' + r.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n', 'latin1'));
  return Buffer.concat(parts);
}

describe('response parser properties', () => {
  it('parses any split of a valid response exactly like the whole', () => {
    fc.assert(fc.property(validResponse, fc.array(fc.nat(), { maxLength: 20 }), (response, cuts) => {
      const bytes = serialize(response);
      const whole = parse([bytes]);
      const pieces = parse(split(bytes, cuts));
      expect(whole).not.toHaveProperty('error');
      expect(pieces).toEqual(whole);
      const parsed = whole as Parsed;
      expect(parsed.status).toBe(response.status);
      expect(parsed.body).toBe(Buffer.from(response.body).toString('latin1'));
      expect(parsed.framing).toBe(response.framing);
      if (response.framing === 'chunked') expect(parsed.trailers).toEqual(response.trailers);
      // Byte-at-a-time is the hardest split of all.
      expect(parse([...bytes].map((b) => new Uint8Array([b])))).toEqual(whole);
    }), { seed: SEED, numRuns: 300 });
  });

  it('ends random bytes in a result or an OtaError, never a hang or a foreign exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
      parse(split(bytes, cuts), { maxHeadBytes: 1024, maxHeaders: 10 });
    }), { seed: SEED, numRuns: 500 });
  });

  it('ends mutated valid responses in a result or an OtaError, within the limits', () => {
    const mutation = fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), kind: fc.constantFrom('replace', 'insert', 'delete', 'truncate') });
    fc.assert(fc.property(validResponse, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (response, mutations, cuts) => {
      let bytes = Buffer.from(serialize(response));
      for (const m of mutations) {
        const at = m.at % (bytes.length + 1);
        if (m.kind === 'replace' && at < bytes.length) bytes[at] = m.byte;
        else if (m.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([m.byte]), bytes.subarray(at)]);
        else if (m.kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
        else bytes = bytes.subarray(0, at);
      }
      const result = parse(split(bytes, cuts), { maxHeadBytes: 2048, maxHeaders: 16 });
      if ('error' in result) expect(result.error).toMatch(/^http-[a-z-]+$/);
    }), { seed: SEED, numRuns: 500 });
  });

  it('rejects heads past the limits with clear errors, however they are split', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.nat(), { maxLength: 10 }), (extra, cuts) => {
      const many = Buffer.from(`HTTP/1.1 200 OK\r\n${'A: b\r\n'.repeat(10 + extra)}\r\n`);
      expect(parse(split(many, cuts), { maxHeadBytes: 16384, maxHeaders: 10 })).toEqual({ error: 'http-too-many-headers' });
      const big = Buffer.from(`HTTP/1.1 200 OK\r\nA: ${'x'.repeat(1000 + extra * 50)}\r\n\r\n`);
      expect(parse(split(big, cuts), { maxHeadBytes: 1024, maxHeaders: 100 })).toEqual({ error: 'http-head-too-large' });
    }), { seed: SEED, numRuns: 100 });
  });

  it('names the specific problem in typical malformed responses', () => {
    const cases: [string, string][] = [
      ['HTTP/2 200 OK\r\n\r\n', 'http-bad-status-line'],
      ['HTTP/1.1 20 OK\r\n\r\n', 'http-bad-status-line'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n', 'http-bad-content-length'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 'http-bad-content-length'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'http-unsupported-transfer-coding'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'http-bad-chunk'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n', 'http-bad-chunk'],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n', 'http-bad-chunk'],
      ['HTTP/1.1 200 OK\r\n folded: x\r\n\r\n', 'http-bad-header'],
      ['HTTP/1.1 200 OK\r\nno colon\r\n\r\n', 'http-bad-header'],
      ['HTTP/1.1 101 Switching\r\n\r\n', 'http-unexpected-upgrade'],
      ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', 'http-truncated-body'],
      ['HTTP/1.1 200 OK\r\nContent-Le', 'http-truncated-head'],
      ['', 'http-no-response'],
    ];
    for (const [text, code] of cases) expect(parse([Buffer.from(text, 'latin1')]), text).toEqual({ error: code });
  });
});
