// npm run build: dist/node (ESM + declarations), dist/ota-agent.es2020.js (the portable core as one script) and
// dist/ota-agent.espruino.js (core + Espruino adapters as ES5), each portable bundle checked by the static gate.
// Usage: node scripts/build.mjs [--only node,es2020,espruino] [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildNode } from './build/node.mjs';
import { buildEs2020 } from './build/es2020.mjs';
import { buildEspruino, isDefaultEspruinoBuild, messagesFromEnv } from './build/espruino.mjs';
import { checkEs2020Code, checkEspruinoCode, formatViolations } from './build/gate.mjs';
import { ESPRUINO_BUDGET, ESPRUINO_CEILING, sizeLine, sizeOf } from './build/size-report.mjs';

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const only = option('--only', 'node,es2020,espruino').split(',');
const out = option('--out', 'dist');
const started = Date.now();
let failed = false;
mkdirSync(out, { recursive: true });

if (only.includes('node')) {
  buildNode();
}
if (only.includes('es2020')) {
  const code = await buildEs2020();
  const violations = checkEs2020Code(code);
  writeFileSync(join(out, 'ota-agent.es2020.js'), code);
  console.log(sizeLine('ota-agent.es2020.js', code, false));
  if (violations.length > 0) {
    failed = true;
    console.error('ota-agent.es2020.js fails the portability gate:\n' + formatViolations(violations));
  }
}
if (only.includes('espruino')) {
  const code = await buildEspruino();
  const violations = checkEspruinoCode(code);
  writeFileSync(join(out, 'ota-agent.espruino.js'), code);
  console.log(sizeLine('ota-agent.espruino.js', code, true) + ` [otaError messages: ${messagesFromEnv()}]`);
  if (violations.length > 0) {
    failed = true;
    console.error('ota-agent.espruino.js fails the Espruino gate:\n' + formatViolations(violations));
  }
  const bytes = sizeOf(code).bytes;
  if (bytes > ESPRUINO_CEILING && !isDefaultEspruinoBuild()) {
    // The ceiling holds the default file; a build option (full messages, MD5) adds code on purpose.
    console.error(`warning: ota-agent.espruino.js is ${bytes} B with the build options asked for, over the default file's ` +
      `${ESPRUINO_CEILING}-byte ceiling.`);
  } else if (bytes > ESPRUINO_CEILING) {
    failed = true;
    console.error(`ota-agent.espruino.js is ${bytes} B, over its ${ESPRUINO_CEILING}-byte ceiling: it may shrink towards the ` +
      `${ESPRUINO_BUDGET}-byte budget but never grow; every KB costs about 100 variable blocks on the device.`);
  } else if (bytes > ESPRUINO_BUDGET) {
    console.error(`warning: ota-agent.espruino.js is ${bytes} B, over its ${ESPRUINO_BUDGET}-byte budget; it does not fit the ` +
      'Storage of a Pico or an Espruino WiFi (see docs/running-on-an-mcu.md).');
  }
}
console.log(`build: ${only.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
if (failed) process.exit(1);
