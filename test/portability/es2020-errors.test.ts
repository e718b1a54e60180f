// Mistakes an integrator of the ES2020 file makes in the bridges it writes, and what the agent says about them. Each
// error must name the mistake: before, a transport handing over ArrayBuffers (what QuickJS's newArrayBuffer, XS's
// and JerryScript's native bindings produce) ended 30 s later in a read-timeout that blamed the network, and an
// HttpClient made without its clock failed at the first request with "cannot read property 'now' of undefined".
import { afterEach, describe, expect, it } from 'vitest';
import { Es2020Rig, firmware } from './es2020-rig.js';

let rig: Es2020Rig | null = null;
afterEach(async () => {
  if (rig !== null) await rig.close();
  rig = null;
});

/** Guest code: the doc example's transport with read() resolving with the host's ArrayBuffer, unwrapped. */
const ARRAY_BUFFER_TRANSPORT = `({
  connect: function (options) {
    return transport.connect(options).then(function (c) {
      return { write: c.write, close: c.close, read: function () { return c.read().then(function (b) { return b === null ? null : b.buffer; }); } };
    });
  }
})`;

describe('ES2020 file: integration mistakes get errors that name them', () => {
  it('a transport whose read() resolves with an ArrayBuffer is transport-bad-chunk at once, not a read-timeout', async () => {
    rig = await Es2020Rig.create();
    await rig.publishBundle('2.0.0', 1, [{ softwareType: 'main-fw', version: '2.0.0', data: firmware('2.0.0', 16 * 1024) }]);
    const g = await rig.boot();
    // idleTimeoutMs keeps the old behaviour (a read-timeout) short enough to observe.
    const url = rig.backend.baseUrl + '/api/v0/releases/latest/url?device_serial=x&hardware_version=evt&software_type=main-fw&current_version=1.0.0';
    const result = await g.call(`new A.HttpClient({ transport: ${ARRAY_BUFFER_TRANSPORT}, clock: clock, idleTimeoutMs: 3000 })
      .request({ url: ${JSON.stringify(url)}, headers: [{ name: 'Memfault-Project-Key', value: ${JSON.stringify(rig.backend.projectKey)} }] })
      .then(function (r) { return { status: r.status }; }, function (e) { return { code: e.code, message: e.message, retryable: e.retryable }; })`);
    expect(result.code).toBe('transport-bad-chunk');
    expect(result.message).toMatch(/Connection\.read\(\) resolved with object \[object ArrayBuffer\], not a Uint8Array or null/);
    expect(result.retryable).toBe(false);
    // The connection was closed, not left open.
    expect(g.sockets.size).toBe(0);
  });

  it('the agent run over such a transport fails its cycle with transport-bad-chunk', async () => {
    rig = await Es2020Rig.create();
    await rig.publishBundle('2.0.0', 1, [{ softwareType: 'main-fw', version: '2.0.0', data: firmware('2.0.0', 16 * 1024) }]);
    const g = await rig.boot();
    const result = await g.call(`(function () {
      var agent = A.createAgent({ api: { baseUrl: ${JSON.stringify(rig.backend.baseUrl)}, projectKey: ${JSON.stringify(rig.backend.projectKey)} },
        device: { serial: 'bad-chunk', hardwareVersion: 'evt' }, softwareType: 'main-fw',
        transport: A.networkOverHttp(new A.HttpClient({ transport: ${ARRAY_BUFFER_TRANSPORT}, clock: clock, idleTimeoutMs: 3000 })),
        targets: ota.targets, journal: ota.journal, clock: clock, random: Math.random });
      return agent.runOnce();
    })()`.replace('targets: ota.targets, journal: ota.journal,', `targets: [new A.SlotTarget({ softwareType: 'main-fw',
        slots: new A.Slots(new A.FlashArea(deviceFlash(host.flash[0]), ${rig.main.layout.records.offset}, ${rig.main.layout.records.size}, 'r')),
        images: [new A.FlashArea(deviceFlash(host.flash[0]), ${rig.main.layout.slots[0].offset}, ${rig.main.layout.slots[0].size}, 'a'),
          new A.FlashArea(deviceFlash(host.flash[0]), ${rig.main.layout.slots[1].offset}, ${rig.main.layout.slots[1].size}, 'b')],
        hashes: A.portableHashes, runningSlot: 0 })],
        journal: new A.Journal(new A.FlashArea(deviceFlash(host.flash[0]), ${rig.main.layout.journal!.offset}, ${rig.main.layout.journal!.size}, 'j')),`));
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatchObject({ code: 'transport-bad-chunk' });
  });

  it('a transport whose connect() throws fails the request as a rejection and leaves no connect timer armed', async () => {
    rig = await Es2020Rig.create();
    const g = await rig.boot();
    const throwing = '{ connect: function () { throw new Error("socket table full"); } }';
    // request() is documented to return a promise: it must not throw, whatever the transport does.
    const outcome = await g.call(`(function () {
      var client = new A.HttpClient({ transport: ${throwing}, clock: clock });
      var pending;
      try { pending = client.request({ url: ${JSON.stringify(rig.backend.baseUrl + '/api/v0/x')} }); } catch (e) { return { threw: String(e.message) }; }
      return pending.then(function () { return { resolved: true }; }, function (e) { return { code: e.code, message: e.message, retryable: e.retryable }; });
    })()`);
    expect(outcome).toEqual({ code: 'http-failed', message: 'socket table full', retryable: true });
    expect(g.timers.size, 'the connect timeout was left armed').toBe(0);
    // Through the agent: the cycle fails and, once it ended, no timer of it is pending.
    const result = await g.call(`(function () {
      var agent = A.createAgent({ api: { baseUrl: ${JSON.stringify(rig.backend.baseUrl)}, projectKey: 'k' },
        device: { serial: 'throwing', hardwareVersion: 'evt' }, softwareType: 'main-fw',
        transport: A.networkOverHttp(new A.HttpClient({ transport: ${throwing}, clock: clock })),
        targets: [new A.SlotTarget({ softwareType: 'main-fw', hashes: A.portableHashes, runningSlot: 0,
          slots: new A.Slots(new A.FlashArea(deviceFlash(host.flash[0]), ${rig.main.layout.records.offset}, ${rig.main.layout.records.size}, 'r')),
          images: [new A.FlashArea(deviceFlash(host.flash[0]), ${rig.main.layout.slots[0].offset}, ${rig.main.layout.slots[0].size}, 'a'),
            new A.FlashArea(deviceFlash(host.flash[0]), ${rig.main.layout.slots[1].offset}, ${rig.main.layout.slots[1].size}, 'b')] })],
        journal: new A.Journal(new A.FlashArea(deviceFlash(host.flash[0]), ${rig.main.layout.journal!.offset}, ${rig.main.layout.journal!.size}, 'j')),
        clock: clock, random: Math.random });
      return agent.runOnce();
    })()`);
    expect(result).toMatchObject({ outcome: 'failed', error: { message: 'socket table full', retryable: true } });
    expect(g.timers.size).toBe(0);
  });

  it('a policy read from a JSON file with a quoted number or a misspelt field gets a message that shows the mistake', async () => {
    rig = await Es2020Rig.create();
    const g = await rig.boot();
    const layout = rig.main.layout;
    const baseUrl = rig.backend.baseUrl;
    const attempt = (policy: string): { code: string; message: string; details: Record<string, unknown> } => g.evaluate(`(function () {
      try {
        startOta({ baseUrl: ${JSON.stringify(baseUrl)}, projectKey: 'k', serial: 's', hardwareVersion: 'evt', hmacKeyHex: '00',
          flash: host.flash, journal: [${layout.journal!.offset}, ${layout.journal!.size}],
          targets: [{ softwareType: 'main-fw', flash: 0, records: [${layout.records.offset}, ${layout.records.size}],
            slots: [[${layout.slots[0].offset}, ${layout.slots[0].size}], [${layout.slots[1].offset}, ${layout.slots[1].size}]], runningSlot: 0 }],
          policy: JSON.parse(${JSON.stringify(policy)}) });
        return { code: 'none', message: '', details: {} };
      } catch (e) { return { code: e.code, message: e.message, details: e.details }; }
    })()`, 'policy.js') as { code: string; message: string; details: Record<string, unknown> };
    const quoted = attempt('{ "healthDeadlineMs": "5000" }');
    expect(quoted.code).toBe('policy-invalid');
    expect(quoted.message).toMatch(/^Policy field healthDeadlineMs is "5000" \(a string\); expected a whole number from 1 to 1000000000/);
    expect(quoted.details).toEqual({ field: 'healthDeadlineMs', found: '5000' });
    const misspelt = attempt('{ "healthDeadline": 5000 }');
    expect(misspelt.code).toBe('policy-invalid');
    expect(misspelt.message).toMatch(/^Policy field healthDeadline is 5000; there is no such field; the fields are [a-zA-Z, ]*healthDeadlineMs/);
    expect(attempt('{ "healthDeadlineMs": 5000 }').code).toBe('none');
  });

  it('an HttpClient without its clock or transport throws http-bad-option when made, naming what is missing', async () => {
    rig = await Es2020Rig.create();
    const g = await rig.boot();
    const attempt = (options: string): { code: string; message: string } => g.evaluate(`(function () {
      try { new A.HttpClient(${options}); return { code: 'none', message: '' }; } catch (e) { return { code: e.code, message: e.message }; }
    })()`, 'client.js') as { code: string; message: string };
    const noClock = attempt('{ transport: transport }');
    expect(noClock.code).toBe('http-bad-option');
    expect(noClock.message).toMatch(/options\.clock/);
    expect(noClock.message).toMatch(/found no clock, bufferSize 16384/);
    const noTransport = attempt('{ clock: clock }');
    expect(noTransport).toMatchObject({ code: 'http-bad-option' });
    expect(noTransport.message).toMatch(/found no transport, bufferSize 16384/);
    expect(attempt('{ transport: transport, clock: clock, bufferSize: 10 }')).toMatchObject({ code: 'http-bad-option' });
    expect(attempt('{ transport: transport, clock: clock }')).toMatchObject({ code: 'none' });
  });
});
