#!/usr/bin/env node
// Pretest hook: makes sure mbedtls/build/ota-mbedtls.wasm exists and was built from the current glue, config,
// Makefile and build script; otherwise runs mbedtls/build.sh. A missing toolchain makes build.sh print the Debian
// packages to install and exit 3; this script passes that exit code on, so `npm test` stops with the message.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'mbedtls');
const wasm = join(dir, 'build', 'ota-mbedtls.wasm');
const info = join(dir, 'build', 'build-info.json');

/** The same fingerprint build.sh writes into build-info.json's "inputs". */
function inputsHash() {
  const hash = createHash('sha256');
  for (const name of ['glue.c', 'mbedtls_config.h', 'Makefile', 'build.sh']) hash.update(readFileSync(join(dir, name)));
  return hash.digest('hex');
}

function upToDate() {
  if (!existsSync(wasm) || !existsSync(info)) return false;
  try {
    return JSON.parse(readFileSync(info, 'utf8')).inputs === inputsHash();
  } catch {
    return false;
  }
}

if (!upToDate()) {
  const result = spawnSync('bash', [join(dir, 'build.sh')], { stdio: 'inherit' });
  if (result.error) {
    console.error(`ensure-mbedtls: could not run bash mbedtls/build.sh (${result.error.message}). Install bash and the toolchain: ` +
      'apt-get install -y dpkg-dev clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 make');
    process.exit(3);
  }
  if (result.status !== 0) process.exit(result.status ?? 1);
  if (!upToDate()) {
    console.error('ensure-mbedtls: mbedtls/build.sh finished but the module or its build-info.json is missing.');
    process.exit(1);
  }
}
