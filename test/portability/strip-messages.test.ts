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
    expect(codes).toContain('"image-too-large","image-too-large"');
    expect(codes).not.toContain('use strict');
    const full = await lowerToEs5(SOURCE, { messages: 'full' });
    expect(full).toContain('does not fit');
    expect(full.length).toBeGreaterThan(codes.length);
  });

  it('keeps a message passed through from elsewhere (the only record of an unexpected error)', async () => {
    const module = { exports: {} as { c: { message: string }; box: { size(): number } } };
    const code = await lowerToEs5(SOURCE, { messages: 'codes' });
    new Function('module', 'url', 'n', 'text', code)(module, 'x', 1, 'Can\'t read property of undefined');
    expect(module.exports.c.message).toBe('Can\'t read property of undefined');
    expect(module.exports.box.size()).toBe(2);
  });
});
