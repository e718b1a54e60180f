// The Espruino adapters and the bundle entries end up in the Espruino bundle, so they follow the portable subset
// too: the lint rules of lint/portable-rules.js run on them here (the project's eslint config applies them to the
// core folders only). Entries may import the adapters, and the ES2020 entry may publish through globalThis.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { portablePlugin, portableRules } from '../../lint/portable-rules.js';

async function lint(patterns: string[], rules: Record<string, unknown>): Promise<string[]> {
  const eslint = new ESLint({ overrideConfig: [{ files: ['src/espruino/**/*.ts', 'src/entries/**/*.ts'], plugins: { portable: portablePlugin as never }, rules: rules as never }] });
  const results = await eslint.lintFiles(patterns);
  return results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line} ${m.ruleId}: ${m.message}`));
}

describe('the portable subset on the Espruino adapters and entries', () => {
  it('src/espruino passes every portable rule', async () => {
    expect(await lint(['src/espruino'], portableRules)).toEqual([]);
  });

  it('src/entries passes the portable syntax and built-in rules', async () => {
    const rules = { ...portableRules, 'no-restricted-imports': 'off', 'no-restricted-globals': 'off' };
    expect(await lint(['src/entries'], rules)).toEqual([]);
  });
});
