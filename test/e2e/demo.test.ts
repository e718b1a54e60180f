import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';

describe('ota demo (npm start)', () => {
  it('tells the whole story and exits 0 only when every step ended as expected', async () => {
    const out: string[] = [];
    const io: CliIo = { out: (t) => { out.push(t); }, err: (t) => { out.push(t); }, env: {}, cwd: process.cwd(), isTty: false };
    const code = await main(['demo'], io);
    const text = out.join('');
    expect(code, text).toBe(0);
    for (const step of ['connection drop', 'power cut', 'resume after power loss', 'install both MCUs', 'abort rollout', 'rollback']) {
      expect(text, step).toMatch(new RegExp(`✔ ${step}:`));
    }
    expect(text).toMatch(/All \d+ steps ended as expected/);
    expect(text).toMatch(/download resumed at byte [1-9]\d* \(Range \+ If-Range\)/);
  }, 60_000);
});
