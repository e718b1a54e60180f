// The Espruino chain replaces written-out otaError messages with their codes, keeps passed-through ones, and leaves
// no "use strict" directives behind.
import { describe, expect, it } from 'vitest';
import { lowerToEs5 } from '../../scripts/build/espruino.mjs';

const SOURCE = `
function otaError(code, message, retryable) { return { code: code, message: message, retryable: retryable }; }
class Box { constructor(n) { this.n = n; } size() { return this.n; } }
var a = otaError('http-bad-url', 'Cannot use URL "' + url + '": it has no host.', false);
var b = otaError('image-too-large', \`Image of \${n} bytes does not fit.\`, false);
var c = otaError('agent-failed', text, true);
module.exports = { a: a, b: b, c: c, box: new Box(2) };
`;

describe('the Espruino chain', () => {
  it('keeps codes but drops written-out messages unless asked to keep them', async () => {
    const codes = await lowerToEs5(SOURCE, { messages: 'codes' });
    expect(codes).not.toContain('does not fit');
    expect(codes).not.toContain('Cannot use URL');
    // Each code is written once: the call goes through a companion that passes the code as the message too.
    expect(codes.split('"image-too-large"').length).toBe(2);
    const module = { exports: {} as { a: { code: string; message: string; retryable: boolean }; b: { message: string } } };
    new Function('module', 'url', 'n', 'text', codes)(module, 'x', 1, 'passed through');
    expect(module.exports.a).toEqual({ code: 'http-bad-url', message: 'http-bad-url', retryable: false });
    expect(module.exports.b.message).toBe('image-too-large');
    expect(codes).not.toContain('use strict');
    const full = await lowerToEs5(SOURCE, { messages: 'full' });
    expect(full).toContain('does not fit');
    expect(full.length).toBeGreaterThan(codes.length);
  });

  it('strips the messages of wrappers that only forward (code, message) to otaError, and keeps their other arguments', async () => {
    const source = `
function otaError(code, message, retryable, details) { return { code: code, message: message, retryable: retryable, details: details }; }
function parseError(code, message, details) { return otaError(code, message, false, details); }
function notAWrapper(code, message) { return otaError('fixed', 'Fixed text', true, { m: message }); }
module.exports = { p: parseError('http-bad-chunk', 'A chunk size has ' + n + ' digits.', { n: n }), q: notAWrapper('x', 'Kept text') };
`;
    const codes = await lowerToEs5(source, { messages: 'codes' });
    expect(codes).not.toContain('A chunk size');
    expect(codes).not.toContain('Fixed text');
    expect(codes).toContain('Kept text');
    const module = { exports: {} as { p: unknown; q: unknown } };
    new Function('module', 'n', codes)(module, 13);
    expect(module.exports.p).toEqual({ code: 'http-bad-chunk', message: 'http-bad-chunk', retryable: false, details: { n: 13 } });
    expect(module.exports.q).toEqual({ code: 'fixed', message: 'fixed', retryable: true, details: { m: 'Kept text' } });
  });

  it('keeps a message passed through from elsewhere (the only record of an unexpected error)', async () => {
    const module = { exports: {} as { c: { message: string }; box: { size(): number } } };
    const code = await lowerToEs5(SOURCE, { messages: 'codes' });
    new Function('module', 'url', 'n', 'text', code)(module, 'x', 1, 'Can\'t read property of undefined');
    expect(module.exports.c.message).toBe('Can\'t read property of undefined');
    expect(module.exports.box.size()).toBe(2);
  });
});
