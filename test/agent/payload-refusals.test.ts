import { describe, expect, it } from 'vitest';
import { buildFirmwareImage, FIRMWARE_HEADER_LENGTH, parseFirmwareHeader } from '../../hal/sim/firmware-image.js';
import { rawImage } from '../../src/agent/sinks/raw-image.js';
import { payloadOf, text } from './fakes.js';
import { linkOf, offering, Rig } from './rig.js';

// Payloads refused for what they are, before anything is written, and given up (the next check answers
// release-rejected-before without fetching): an empty payload, and a raw image whose version cannot be told or
// disagrees with the release (installed, it would be offered again after every check).

const headerReader = rawImage((head) => parseFirmwareHeader(head)?.version ?? null, FIRMWARE_HEADER_LENGTH);

function latest(version: string, size: number, md5 = '0'.repeat(32)): (url: string) => ReturnType<typeof text> {
  const json = JSON.stringify({ version, artifacts: [{ url: linkOf('fw-1'), file_size: size, md5 }] });
  return (url) => url.includes('current_version=0.0.1') ? text(200, json) : text(204, '', { 'memfault-reason': 'latest' });
}

async function expectGivenUp(r: Rig, code: string): Promise<void> {
  const state = await r.agent.state();
  expect(state.release).toBeNull();
  expect(state.download).toBeNull();
  expect(state.givenUp.length).toBe(1);
  const requests = r.cdn.urls.length;
  expect((await r.agent.runOnce()).outcome).toBe('up-to-date');
  expect(r.cdn.urls.length).toBe(requests);
  expect(r.events.some((e) => e.type === 'up-to-date' && e.reason === 'release-rejected-before')).toBe(true);
  expect(r.events.filter((e) => e.type === 'error' && e.code === code).length).toBe(1);
}

describe('an empty payload', () => {
  it('0 bytes from the CDN (Content-Length 0) is refused at once: payload-empty, nothing written, given up', async () => {
    const r = new Rig({ 'fw-1': new Uint8Array(0) }, offering(() => linkOf('fw-1')));
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('failed');
    expect(result.error).toMatchObject({ code: 'payload-empty', retryable: false });
    expect(result.error!.message).toContain('0 bytes');
    expect(r.of('download-started').length).toBeLessThanOrEqual(1);
    expect(r.target.writes).toBe(0);
    expect(r.target.stagedState).toBe('empty');
    await expectGivenUp(r, 'payload-empty');
    expect(r.events.some((e) => e.type === 'error' && e.code === 'release-attempts-exhausted')).toBe(false);
  });

  it('file_size 0 from /releases/latest is refused before anything is fetched', async () => {
    const r = new Rig({ 'fw-1': new Uint8Array(0) }, latest('3.0.0', 0), { policy: { useLatestJson: true }, rawFormat: null });
    const result = await r.agent.runOnce();
    expect(result.error).toMatchObject({ code: 'payload-empty', retryable: false });
    expect(r.cdn.urls.length).toBe(0);
    expect(r.of('download-started').length).toBeLessThanOrEqual(1);
    await expectGivenUp(r, 'payload-empty');
  });
});

describe('the version of a raw image', () => {
  it('random bytes with no version header are refused (image-version-unknown), not installed as version ""', async () => {
    const r = new Rig({ 'fw-1': payloadOf(2000) }, offering(() => linkOf('fw-1')), { rawFormat: headerReader });
    const result = await r.agent.runOnce();
    expect(result.error).toMatchObject({ code: 'image-version-unknown', retryable: false });
    expect(r.target.writes).toBe(0);
    expect(r.reboots).toBe(0);
    expect(r.target.running!.version).toBe('0.0.1');
    await expectGivenUp(r, 'image-version-unknown');
  });

  it('a header that says 8.0.0 in a release 10.0.0 from /latest is refused (image-version-mismatch) before any write', async () => {
    const image = buildFirmwareImage({ version: '8.0.0', size: 2000 });
    const r = new Rig({ 'fw-1': image }, latest('10.0.0', image.length), { policy: { useLatestJson: true }, rawFormat: headerReader });
    const result = await r.agent.runOnce();
    expect(result.error).toMatchObject({ code: 'image-version-mismatch', retryable: false, details: { found: '8.0.0', release: '10.0.0' } });
    expect(result.error!.message).toContain('8.0.0');
    expect(result.error!.message).toContain('10.0.0');
    expect(r.target.writes).toBe(0);
    await expectGivenUp(r, 'image-version-mismatch');
  });

  it('through /latest/url (no release version) an 8.0.0 image offered while 8.0.0 runs is refused (image-already-running)', async () => {
    const image = buildFirmwareImage({ version: '8.0.0', size: 2000 });
    // The server lists it as 10.0.0, so it offers it to anything not running 10.0.0.
    const r = new Rig({ 'fw-1': image }, (url) => url.includes('current_version=10.0.0') ? text(204, '') : text(200, linkOf('fw-1')),
      { rawFormat: headerReader });
    r.target.running = { version: '8.0.0', bytes: image };
    const result = await r.agent.runOnce();
    expect(result.error).toMatchObject({ code: 'image-already-running', retryable: false });
    expect(result.error!.message).toContain('8.0.0');
    expect(r.target.writes).toBe(0);
    expect(r.reboots).toBe(0);
    await expectGivenUp(r, 'image-already-running');
  });

  it('an 8.0.0 image listed as 10.0.0 is installed once, then not reinstalled on every check', async () => {
    const image = buildFirmwareImage({ version: '8.0.0', size: 2000 });
    const r = new Rig({ 'fw-1': image }, (url) => url.includes('current_version=10.0.0') ? text(204, '') : text(200, linkOf('fw-1')),
      { rawFormat: headerReader });
    r.target.expected = image;
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect((await r.agent.runOnce()).outcome).toBe('confirmed');
    expect(r.target.running!.version).toBe('8.0.0');
    const writes = r.target.writes;
    for (let i = 0; i < 3; i++) await r.agent.runOnce();
    expect(r.target.writes).toBe(writes);
    expect(r.reboots).toBe(1);
    // The fallback slot still holds the image that ran before.
    expect(r.target.previous!.version).toBe('0.0.1');
  });

  // The agent's configuration is at fault (it would install the image as version ""), not the release: polling stops
  // with the error, nothing is given up, and once the agent reads the image header the same release installs.
  it('without a header reader and without a release version, a raw image halts polling and is not given up', async () => {
    const payload = payloadOf(1000);
    const r = new Rig({ 'fw-1': payload }, offering(() => linkOf('fw-1')), { rawFormat: null });
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('halted');
    expect(result.error).toMatchObject({ code: 'image-version-unknown', retryable: false });
    expect(r.target.writes).toBe(0);
    expect((await r.agent.state()).givenUp).toEqual([]);
    r.options.rawFormat = undefined;
    r.remake();
    r.target.expected = payload;
    let outcome = '';
    for (let i = 0; i < 3 && outcome !== 'confirmed'; i++) outcome = (await r.agent.runOnce()).outcome;
    expect(outcome).toBe('confirmed');
  });

  it('with the version from /latest and no header reader, the release version is the one installed and reported', async () => {
    const payload = payloadOf(1000);
    const { createHash } = await import('node:crypto');
    const r = new Rig({ 'fw-1': payload }, latest('9.0.0', 1000, createHash('md5').update(payload).digest('hex')),
      { policy: { useLatestJson: true }, rawFormat: null });
    r.target.expected = payload;
    expect((await r.agent.runOnce()).outcome).toBe('rebooting');
    expect(r.of('verified')[0].version).toBe('9.0.0');
    expect((await r.agent.runOnce()).outcome).toBe('confirmed');
    expect(r.target.running!.version).toBe('9.0.0');
    expect(r.of('confirmed')[0].version).toBe('9.0.0');
  });
});
