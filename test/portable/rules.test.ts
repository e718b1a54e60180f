import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { portablePlugin, portableRules } from '../../lint/portable-rules.js';

const fixtures = resolve('test/fixtures/portable-violations');

async function lint(file: string): Promise<string[]> {
  const eslint = new ESLint({
    overrideConfigFile: true,
    overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser as never }, plugins: { portable: portablePlugin as never }, rules: portableRules as never }],
  });
  const [result] = await eslint.lintFiles([join(fixtures, file)]);
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

function typecheckPortable(file: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ota-portable-'));
  const config = join(dir, 'tsconfig.json');
  writeFileSync(config, JSON.stringify({
    compilerOptions: { lib: ['ES5', 'ES2015.Promise'], types: [], strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', skipLibCheck: true, typeRoots: [] },
    files: [join(fixtures, file)],
  }));
  try {
    execFileSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', config], { encoding: 'utf8' });
    return '';
  } catch (error) {
    return String((error as { stdout?: string }).stdout);
  }
}

describe('the portable-subset rules bite', () => {
  it('reject async/await', async () => {
    const messages = await lint('async.ts');
    expect(messages.some((m) => m.includes('async functions'))).toBe(true);
    expect(messages.some((m) => m.includes('await'))).toBe(true);
  });

  it('reject destructuring', async () => {
    expect((await lint('destructuring.ts')).some((m) => m.includes('destructuring'))).toBe(true);
  });

  it('reject node: imports', async () => {
    expect((await lint('node-import.ts')).some((m) => m.startsWith('no-restricted-imports'))).toBe(true);
  });

  it('reject Map and Array.from in lint and in the narrow-lib type-check', async () => {
    const messages = await lint('collections.ts');
    expect(messages.some((m) => m.includes('Map is not in the portable subset'))).toBe(true);
    expect(messages.some((m) => m.includes('Array.from'))).toBe(true);
    const tsc = typecheckPortable('collections.ts');
    expect(tsc).toMatch(/Cannot find name 'Map'/);
    expect(tsc).toMatch(/Property 'from' does not exist/);
  });

  it('reject node: imports in the narrow-lib type-check (no Node types)', () => {
    expect(typecheckPortable('node-import.ts')).toMatch(/node:crypto/);
  });

  it('reject regexes Espruino cannot run, and accept the ones it can', async () => {
    const messages = (await lint('regex.ts')).filter((m) => m.startsWith('portable/espruino-regex'));
    expect(messages.map((m) => m.replace(/^.*cannot run (.*); test.*$/, '$1'))).toEqual([
      'a "{n,m}" quantifier', 'the "?" quantifier', 'a "(?" group', 'a quantified group', 'an unescaped "/" inside a character class',
      'a "\\u" escape (use \\xHH, or test char codes)',
      'a "^" in the first of several alternatives (it anchors them all; use .trim(), or put the group after ^)',
    ]);
  });

  it('accept plain portable code', async () => {
    expect(await lint('clean.ts')).toEqual([]);
    expect(typecheckPortable('clean.ts')).toBe('');
  });
});
