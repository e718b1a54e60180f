import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runner } from './served-cli.js';

// Key files as a CI pipeline handles them: a secret passed where a path belongs must not be echoed into the log, a
// key readable by other users is pointed out, and `ota keys generate -o NAME` does what the name suggests.

let dir: string;
let ota: ReturnType<typeof runner>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ota-key-files-'));
  ota = runner(dir);
  writeFileSync(join(dir, 'main.bin'), Buffer.alloc(900, 7));
  expect((await ota('keys', 'generate', '-o', 'sign')).code).toBe(0);
  expect((await ota('keys', 'generate', '--type', 'hmac', '-o', 'dev.hmac')).code).toBe(0);
  expect((await ota('bundle', 'create', '-o', 'ok.otab', '--part', 'main-fw=main.bin@1.0.0', '--hardware-version', 'evt', '--sign-key', 'sign.pem',
    '--sequence', '1')).code).toBe(0);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const create = ['bundle', 'create', '-o', 'x.otab', '--part', 'main-fw=main.bin@1.0.0', '--hardware-version', 'evt', '--sequence', '2'];

describe('a key given where its file path belongs', () => {
  it('is never echoed: an HMAC key or a private PEM passed as the value of --hmac-key, --sign-key or --key', async () => {
    const hmac = readFileSync(join(dir, 'dev.hmac'), 'utf8').trim();
    const pem = readFileSync(join(dir, 'sign.pem'), 'utf8');
    const secretLines = pem.split('\n').filter((line) => line.length > 0 && !line.startsWith('-----'));
    const runs = [
      await ota(...create, '--hmac-key', hmac),
      await ota(...create, '--hmac-key', hmac.toUpperCase()),
      await ota(...create, '--sign-key', pem),
      await ota('bundle', 'verify', 'ok.otab', '--key', hmac),
      await ota('bundle', 'verify', 'ok.otab', '--key', pem),
    ];
    for (const result of runs) {
      expect(result.code, result.err).toBe(2);
      expect(result.err).toContain('looks like a key itself');
      expect(result.err.toLowerCase()).not.toContain(hmac.slice(8, 40));
      for (const line of secretLines) expect(result.err).not.toContain(line);
    }
    expect(existsSync(join(dir, 'x.otab'))).toBe(false);
  });
});

describe('key files that are not regular files', () => {
  it('refuses an endless key file (/dev/zero) at once instead of reading it for ever', async () => {
    const sign = await ota(...create, '--sign-key', '/dev/zero');
    expect(sign.code, sign.err).toBe(2);
    expect(sign.err).toContain('--sign-key /dev/zero');
    expect(sign.err).toContain('larger than');
    const verify = await ota('bundle', 'verify', 'ok.otab', '--key', '/dev/zero');
    expect(verify.code, verify.err).toBe(2);
    expect(existsSync(join(dir, 'x.otab'))).toBe(false);
  }, 15_000);

  it('still reads a key from a pipe (--hmac-key <(vault read ...) in a CI script)', async () => {
    const fifo = join(dir, 'key.fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `cat '${join(dir, 'dev.hmac')}' > '${fifo}'`]);
    const exited = new Promise((done) => writer.on('exit', done));
    const result = await ota(...create, '-o', 'piped.otab', '--hmac-key', 'key.fifo');
    expect(result.code, result.err).toBe(0);
    expect(result.err).toBe('');
    await exited;
    rmSync(fifo);
  }, 15_000);
});

describe('a PEM key of another algorithm', () => {
  it('names the algorithm it holds (an EC or Ed448 key given to --sign-key)', async () => {
    for (const [type, options] of [['ec', { namedCurve: 'P-256' }], ['ed448', {}]] as const) {
      const pair = generateKeyPairSync(type as 'ec', options as { namedCurve: string });
      writeFileSync(join(dir, `${type}.pem`), pair.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
      const result = await ota(...create, '--sign-key', `${type}.pem`);
      expect(result.code, result.err).toBe(2);
      expect(result.err).toContain(`holds an ${type} private key`);
    }
  });
});

describe('key file permissions', () => {
  it('warns (on stderr, without the key) when a signing or HMAC key is readable by other users, and still signs', async () => {
    writeFileSync(join(dir, 'loose.pem'), readFileSync(join(dir, 'sign.pem')));
    chmodSync(join(dir, 'loose.pem'), 0o644);
    const loose = await ota(...create, '-o', 'loose.otab', '--sign-key', 'loose.pem');
    expect(loose.code, loose.err).toBe(0);
    expect(loose.err).toContain(`warning: --sign-key ${join(dir, 'loose.pem')} is readable by other users (mode 0644)`);
    expect(loose.err).toContain('chmod 600');
    writeFileSync(join(dir, 'loose.hmac'), readFileSync(join(dir, 'dev.hmac')));
    chmodSync(join(dir, 'loose.hmac'), 0o640);
    const looseHmac = await ota(...create, '-o', 'loose-mac.otab', '--hmac-key', 'loose.hmac');
    expect(looseHmac.code, looseHmac.err).toBe(0);
    expect(looseHmac.err).toContain('(mode 0640)');
    const tight = await ota(...create, '-o', 'tight.otab', '--sign-key', 'sign.pem');
    expect(tight.code, tight.err).toBe(0);
    expect(tight.err).toBe('');
  });
});

describe('ota keys generate -o NAME', () => {
  it('takes NAME.pem as the private key file name instead of writing NAME.pem.pem', async () => {
    const result = await ota('keys', 'generate', '-o', 'release.pem');
    expect(result.code, result.err).toBe(0);
    expect(existsSync(join(dir, 'release.pem'))).toBe(true);
    expect(existsSync(join(dir, 'release.pub.pem'))).toBe(true);
    expect(existsSync(join(dir, 'release.pem.pem'))).toBe(false);
  });

  it('refuses a NAME ending in .pub.pem (the private key would be named like a public one) and a directory NAME/', async () => {
    const pub = await ota('keys', 'generate', '-o', 'release2.pub.pem');
    expect(pub.code).toBe(2);
    expect(pub.err).toContain('.pub.pem');
    expect(existsSync(join(dir, 'release2.pub.pem'))).toBe(false);
    mkdirSync(join(dir, 'keys'));
    const slash = await ota('keys', 'generate', '-o', 'keys/');
    expect(slash.code).toBe(2);
    expect(slash.err).toContain('keys/signing');
    expect(existsSync(join(dir, 'keys.pem'))).toBe(false);
  });

  it('refuses -o - instead of writing a file named "-" (and never prints a secret key to stdout)', async () => {
    for (const type of ['ed25519', 'hmac']) {
      const result = await ota('keys', 'generate', '--type', type, '-o', '-');
      expect(result.code, result.err).toBe(2);
      expect(result.err).toContain('-o -');
      expect(result.out).toBe('');
      expect(existsSync(join(dir, '-'))).toBe(false);
      expect(existsSync(join(dir, '-.pem'))).toBe(false);
    }
  });
});
