import { describe, expect, it } from 'vitest';
import { decodeState, encodeState, initialState } from '../../src/agent/state.js';

describe('agent state encoding', () => {
  it('journals the state as ASCII JSON and decodes it back, escaping any non-ASCII text', () => {
    const state = initialState();
    state.release = { id: '/payloads/a.bin', version: 'v2 \u2013 \u00fcber \ud83d\ude80', url: 'https://cdn.example/a.bin', urlExpiresAt: 0,
      size: 1024, md5: null, validator: '"etag"', attempts: 1, restarts: 0 };
    const bytes = encodeState(state);
    expect(Array.from(bytes).every((b) => b < 0x80)).toBe(true);
    expect(decodeState(bytes)).toEqual(state);
    // The plain-ASCII fast path gives exactly the JSON text.
    state.release.version = '2.0.0';
    expect(Buffer.from(encodeState(state)).toString('latin1')).toBe(JSON.stringify(state));
  });

  it('refuses payloads that are not a state of this version', () => {
    expect(decodeState(Buffer.from('{"v":2,"phase":"idle"}'))).toBeNull();
    expect(decodeState(Buffer.from('not json'))).toBeNull();
  });
});
