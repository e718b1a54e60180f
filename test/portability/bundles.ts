// Builds the portable bundles in memory, once per test worker, through the same functions `npm run build` uses,
// so the portability tests work on a clean checkout without a dist/ directory.
import { buildEs2020 } from '../../scripts/build/es2020.mjs';
import { buildEspruino } from '../../scripts/build/espruino.mjs';

let es2020: Promise<string> | null = null;
let espruino: Promise<string> | null = null;

/** dist/ota-agent.es2020.js as `npm run build` makes it. */
export function es2020Bundle(): Promise<string> {
  if (es2020 === null) es2020 = buildEs2020();
  return es2020;
}

/** dist/ota-agent.espruino.js as `npm run build` makes it (messages as OTA_ESPRUINO_MESSAGES says, default codes). */
export function espruinoBundle(): Promise<string> {
  if (espruino === null) espruino = buildEspruino();
  return espruino;
}
