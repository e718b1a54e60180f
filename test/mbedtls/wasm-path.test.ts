import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MBEDTLS_WASM_FILE, projectRoot } from '../../src/node/mbedtls/wasm.js';

// Where the transport looks for its wasm: a checkout has the build script, an installed package only the module.

describe('projectRoot (where mbedtls/build/ota-mbedtls.wasm is looked for)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ota-wasm-path-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds an installed package by the module it ships, from deep inside its dist/', () => {
    const pkg = join(dir, 'app', 'node_modules', 'ota-agent');
    const code = join(pkg, 'dist', 'node', 'node', 'mbedtls');
    mkdirSync(code, { recursive: true });
    mkdirSync(join(pkg, 'mbedtls', 'build'), { recursive: true });
    writeFileSync(join(pkg, 'mbedtls', 'build', MBEDTLS_WASM_FILE), 'wasm');
    expect(projectRoot(code)).toBe(pkg);
  });

  it('finds a checkout by its build script, before anything is built', () => {
    const checkout = join(dir, 'checkout');
    mkdirSync(join(checkout, 'src', 'node', 'mbedtls'), { recursive: true });
    mkdirSync(join(checkout, 'mbedtls'), { recursive: true });
    writeFileSync(join(checkout, 'mbedtls', 'build.sh'), '#!/bin/sh\n');
    expect(projectRoot(join(checkout, 'src', 'node', 'mbedtls'))).toBe(checkout);
  });
});
