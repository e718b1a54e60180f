import { describe, expect, it } from 'vitest';
import { checkRequirements, createBundle, type BundlePartInput } from '../../src/tools/bundle.js';
import { ed25519Signer, generateEd25519, formatHmacKey, generateHmacKey } from '../../src/tools/keys.js';

const part = (softwareType: string, version: string, requires: [string, string][] = []): BundlePartInput =>
  ({ softwareType, version, data: new Uint8Array([1, 2, 3]), requires: requires.map(([t, v]) => ({ softwareType: t, minVersion: v })) });

describe('checkRequirements', () => {
  it('refuses a requirement on a bundled part whose version is below it, in Memfault\'s version order', () => {
    expect(() => checkRequirements([part('main-fw', '1.0', [['wifi-fw', '1.4.0']]), part('wifi-fw', '1.0')]))
      .toThrow(expect.objectContaining({ code: 'bundle-input-invalid', message: expect.stringContaining('this bundle\'s "wifi-fw" part is 1.0') }));
    expect(() => checkRequirements([part('main-fw', '1.0', [['wifi-fw', '1.4.0']]), part('wifi-fw', '1.4.0-rc1')])).toThrow(/requires-unmet/);
    expect(() => checkRequirements([part('main-fw', '1.0', [['wifi-fw', '1.4.0']]), part('wifi-fw', '1.4.0')])).not.toThrow();
    expect(() => checkRequirements([part('main-fw', '1.0', [['wifi-fw', '1.4.0']]), part('wifi-fw', '1.10.0')])).not.toThrow();
    // A part outside the bundle may be met by what the device runs.
    expect(() => checkRequirements([part('main-fw', '1.0', [['wifi-fw', '9.0']])])).not.toThrow();
  });

  it('says a part cannot require itself, here and in the packer (not "form a cycle")', () => {
    expect(() => checkRequirements([part('main-fw', '1.0', [['main-fw', '1.0']])])).toThrow(/part "main-fw" cannot require itself/);
    expect(() => createBundle({ sequence: 1, releaseVersion: '1.0', hardwareVersions: ['evt'], parts: [part('main-fw', '1.0', [['main-fw', '1.0']])] }, null))
      .toThrow(/part "main-fw" cannot require itself/);
    expect(() => createBundle({ sequence: 1, releaseVersion: '1.0', hardwareVersions: ['evt'], parts: [part('a', '1', [['b', '1']]), part('b', '1', [['a', '1']])] }, null))
      .toThrow(/form a cycle/);
  });
});

describe('ed25519Signer from text', () => {
  it('says what the text is instead of a DECODER error, never echoing it', () => {
    const hmac = formatHmacKey(generateHmacKey());
    const pair = generateEd25519();
    const cases: [string, RegExp][] = [
      [hmac, /This is an HMAC key \(hex digits\)/],
      [pair.publicPem, /This is a public key; signing needs the private key/],
      ['-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', /PEM but not a readable private key/],
      ['hello', /must be an Ed25519 private key in PEM/],
    ];
    for (const [text, message] of cases) {
      let error: unknown = null;
      try { ed25519Signer(text); } catch (e) { error = e; }
      expect(error).toMatchObject({ code: 'key-invalid', message: expect.stringMatching(message) });
      expect((error as Error).message).not.toContain(text.trim().slice(0, 20));
    }
    expect(ed25519Signer(pair.privatePem).structure).toBe('Signature1');
  });
});
