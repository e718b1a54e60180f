import { describe, expect, it } from 'vitest';
import { intOption, parseArgs, UsageError } from '../../src/cli/args.js';
import type { Command } from '../../src/cli/command.js';

// Integer flags take decimal digits only: Number() alone would read 0x10 as 16, 1e2 as 100 and an empty value as 0,
// so `--rollout-percent 0x10` staged a 16 % rollout and exited 0.

const command = {
  name: 'probe', summary: 'probe', usage: '--n N',
  options: { n: { kind: 'string', description: 'a number', valueName: 'N' } },
  run: () => Promise.resolve(0),
} as unknown as Command;

function read(value: string): number | undefined {
  return intOption(parseArgs(command, ['--n', value], {}), 'n', -5, 1000);
}

describe('intOption', () => {
  it('takes decimal integers within the bounds, negative ones included', () => {
    expect(read('0')).toBe(0);
    expect(read('100')).toBe(100);
    expect(read('-5')).toBe(-5);
    expect(read('007')).toBe(7);
  });

  it.each(['0x10', '1e2', '', ' 5', '5 ', '1.0', '+5', '0b11', 'Infinity', '1001', '-6'])('refuses %j with a usage error naming the bounds', (value) => {
    let thrown: unknown = null;
    try {
      read(value);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).message).toBe(`--n must be an integer from -5 to 1000, got "${value}"`);
  });
});
