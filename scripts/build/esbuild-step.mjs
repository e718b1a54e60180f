// Step 1 of the portable bundles: esbuild bundles one entry into a single ES2020 script.
// Format "cjs" with no ESM exports in the entry emits no interop helpers (the iife/esm formats add __toCommonJS
// and a Proxy-based __require, both fatal on Espruino); the entry assigns module.exports itself.
import { build } from 'esbuild';

/** Modules the Espruino firmware provides; left as require("name") calls for the device to resolve. */
export const ESPRUINO_MODULES = ['net', 'tls', 'Storage', 'Flash', 'crypto'];

/**
 * Bundles `entry` to one ES2020 script string. `external` names modules left as require() calls; anything else that
 * does not resolve inside the project (a Node built-in, a package) fails the build.
 * @param {{ entry: string, external?: string[], minify?: boolean }} options
 * @returns {Promise<string>}
 */
export async function bundleEntry(options) {
  const result = await build({
    entryPoints: [options.entry],
    bundle: true,
    write: false,
    format: 'cjs',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    target: 'es2020',
    charset: 'ascii',
    minify: options.minify === true,
    legalComments: 'none',
    external: options.external ?? [],
    logLevel: 'silent',
    // The entries publish through OTA_MODULE, the CommonJS `module` (see src/entries/*.ts).
    define: { OTA_MODULE: 'module' },
    // Class fields as constructor assignments, not __publicField/defineProperty helpers: smaller, and ES5-safe.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false, verbatimModuleSyntax: false } },
  });
  return result.outputFiles[0].text;
}
