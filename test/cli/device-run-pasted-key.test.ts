import { mkdtempSync, rmSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/command.js';

// `ota device run --key "$KEY"`: the key itself where its file's path belongs (an HMAC key is a shared secret). The
// usage error must not repeat it into the (CI) log, as `bundle create` and `bundle verify` already refuse to.

const base = mkdtempSync(join(tmpdir(), 'ota-devrun-key-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function capture(): CliIo & { all(): string } {
  const lines: string[] = [];
  return { out: (t) => { lines.push(t); }, err: (t) => { lines.push(t); }, env: {}, cwd: base, isTty: false, all: () => lines.join('') };
}

const hmacKey = randomBytes(32).toString('hex');
const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('ota device run --key given the key itself', () => {
  for (const [name, value, secret] of [['an HMAC key', hmacKey, hmacKey], ['a private key PEM', pem, pem.split('\n')[1]]] as const) {
    it(`${name}: a usage error that does not show it`, async () => {
      const io = capture();
      const code = await main(['device', 'run', '--dir', join(base, 'dev'), '--serial', 'S', '--hardware-version', 'evt', '--software-type', 'main-fw',
        '--url', 'http://127.0.0.1:9', '--project-key', 'pk', '--key', value], io);
      expect(code).toBe(2);
      expect(io.all()).toMatch(/--key takes the path of a key file/);
      expect(io.all()).not.toContain(secret);
    });
  }
});
