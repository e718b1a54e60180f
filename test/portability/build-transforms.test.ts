// The size transforms of the Espruino chain keep behaviour: Promise.resolve/reject shorthands, `this` read once into
// a local, the never-passed `undefined` parameter, and property mangling limited to names proven class-private.
import { describe, expect, it } from 'vitest';
import { rawImageFormat as rawImageOmitted } from '../../src/espruino/raw-image-omitted.js';
import { rawImageFormat } from '../../src/agent/sinks/raw-image.js';
import { lowerToEs5 } from '../../scripts/build/espruino.mjs';
import { privateNames } from '../../scripts/build/private-names.mjs';
import { espruinoBundle } from './bundles.js';
import { FakeCrypto, FakeNet, FakeStorage, fakeRuntime } from './fakes/espruino-fakes.js';

const SOURCE = `
class Counter {
  constructor(start) { this.count = start; this.step = 1; this.log = []; }
  add(n) { this.count += n * this.step; this.log.push(this.count); return this.count; }
  later() { var self = this; return Promise.resolve(2).then(function (n) { return self.add(n) + (this === undefined ? 0 : 0); }); }
  fail(code) { return code === '' ? Promise.reject() : Promise.reject({ code: code }); }
  empty() { return Promise.resolve(); }
}
function pick(a, b) { return a === undefined ? b : a; }
module.exports = { Counter: Counter, pick: pick };
`;

function load(code: string): { Counter: new (start: number) => any; pick(a: unknown, b: unknown): unknown } {
  const module = { exports: {} as any };
  new Function('module', code)(module);
  return module.exports;
}

describe('the Espruino size transforms', () => {
  it('keep what Promise.resolve/reject, `this` and `undefined` do', async () => {
    const code = await lowerToEs5(SOURCE, { messages: 'codes' });
    // One real call of each: the shorthand itself.
    expect(code.split('Promise.resolve(').length).toBe(2);
    expect(code.split('Promise.reject(').length).toBe(2);
    const { Counter, pick } = load(code);
    const c = new Counter(10);
    expect(c.add(3)).toBe(13);
    expect(await c.later()).toBe(15);
    expect(c.log).toEqual([13, 15]);
    await expect(c.fail('x')).rejects.toEqual({ code: 'x' });
    await expect(c.fail('')).rejects.toBeUndefined();
    expect(await c.empty()).toBeUndefined();
    expect(pick(undefined, 2)).toBe(2);
    expect(pick(null, 2)).toBeNull();
  });

  it('mangles only names declared private and used nowhere else, in the project and in the guests that drive the file', async () => {
    const names = privateNames();
    // The Watchdog's and the response parser's private state: internal.
    expect(names).toContain('pendingReject');
    expect(names).toContain('chunkDigits');
    // Names that are also options, JSON fields, interface members or used by the test guests stay.
    for (const kept of ['softwareType', 'verified', 'status', 'limit', 'runtime', 'storage', 'options']) expect(names).not.toContain(kept);
    const bundle = await espruinoBundle();
    expect(bundle).not.toContain('.pendingReject');
    expect(bundle).toContain('.softwareType');
  });

  it('leaves MD5 out of the Espruino file, and its createEspruinoAgent refuses releases/latest (which needs MD5) up front', async () => {
    const bundle = await espruinoBundle();
    // The MD5 round constants and shift table are gone; the stand-in says what to do.
    expect(bundle).not.toContain('1732584193');
    expect(bundle).not.toContain('7,12,17,22');
    expect(bundle).not.toContain('file_size');
    const module = { exports: {} as any };
    new Function('module', bundle)(module);
    const ota = module.exports;
    const runtime = fakeRuntime({ net: new FakeNet('net', () => undefined), crypto: new FakeCrypto(true), Storage: new FakeStorage() });
    const options = (policy: object) => ({
      api: { baseUrl: 'http://127.0.0.1:1', projectKey: 'k' }, device: { serial: 's', hardwareVersion: 'evt' }, softwareType: 'app',
      targets: [{ softwareType: 'app' }], journal: { load: () => Promise.resolve(null), append: () => Promise.resolve() },
      hmacKey: new Uint8Array(32).fill(1), policy, runtime, clock: { now: () => 0, sleep: () => Promise.resolve() },
    });
    expect(() => ota.createEspruinoAgent(options({ useLatestJson: true }))).toThrow(expect.objectContaining({ code: 'espruino-md5-omitted' }));
    expect(typeof ota.createEspruinoAgent(options({})).runOnce).toBe('function');
    // Checkpoints every 4 KiB by default (a Storage app is KBs; the core's 64 KiB would never checkpoint it); a policy says otherwise.
    expect(ota.createEspruinoAgent(options({})).policy().checkpointBytes).toBe(4096);
    expect(ota.createEspruinoAgent(options({ checkpointBytes: 0, intervalJitter: 0 })).policy()).toMatchObject({ checkpointBytes: 0, intervalJitter: 0 });
  });
  it('leaves the raw-image sink out of the Espruino file: a raw payload is refused whatever allowUnsigned says', async () => {
    const bundle = await espruinoBundle();
    expect(bundle).toContain('raw-image-omitted');
    const refused = rawImageOmitted.open({ size: 10, version: null, softwareType: 'app', targets: [], head: new Uint8Array(0), resumeAt: 0,
      resumeState: null });
    await expect(refused).rejects.toMatchObject({ code: 'raw-image-omitted', retryable: false, details: { discard: true } });
    // The node build keeps it.
    expect(rawImageFormat.name).toBe('raw');
    await expect(rawImageFormat.open({ size: 10, version: null, softwareType: 'app', targets: [], head: new Uint8Array(0), resumeAt: 0,
      resumeState: null })).rejects.toMatchObject({ code: 'no-target' });
  });
});
