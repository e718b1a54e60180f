// The ES2020 bundle: the portable core as one minified script for QuickJS, Moddable XS and JerryScript.
import { bundleEntry } from './esbuild-step.mjs';

/** Entry file of the ES2020 bundle. */
export const ES2020_ENTRY = 'src/entries/es2020.ts';

/**
 * Builds dist/ota-agent.es2020.js's text. It assigns module.exports when a CommonJS `module` exists, else the
 * global `OtaAgent`; it imports nothing (no Node built-ins: the build fails on one).
 * @returns {Promise<string>}
 */
export async function buildEs2020() {
  const code = await bundleEntry({ entry: ES2020_ENTRY, minify: true });
  return '(function(){' + code + '})();\n';
}
