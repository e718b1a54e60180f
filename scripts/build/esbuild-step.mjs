// Step 1 of the portable bundles: esbuild bundles one entry into a single ES2020 script.
// Format "cjs" with no ESM exports in the entry emits no interop helpers (the iife/esm formats add __toCommonJS
// and a Proxy-based __require, both fatal on Espruino); the entry assigns module.exports itself.
import { build } from 'esbuild';
import { resolve as resolvePath } from 'node:path';

/** Modules the Espruino firmware provides; left as require("name") calls for the device to resolve. */
export const ESPRUINO_MODULES = ['net', 'tls', 'Storage', 'Flash', 'crypto'];

/**
 * An esbuild plugin that bundles another module in place of some: `substitutes` maps a module's project path without
 * extension (as imports name it, "src/integrity/md5") to the project path of the file to bundle instead.
 * @param {{ [from: string]: string }} substitutes
 * @returns {import('esbuild').Plugin}
 */
export function substitutePlugin(substitutes) {
  const targets = new Map(Object.keys(substitutes).map((from) => [resolvePath(from), resolvePath(substitutes[from])]));
  return {
    name: 'ota-substitute',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^\.\.?\// }, (args) => {
        const target = targets.get(resolvePath(args.resolveDir, args.path).replace(/\.(js|ts)$/, ''));
        return target === undefined ? undefined : { path: target };
      });
    },
  };
}

/**
 * Bundles `entry` to one ES2020 script string. `external` names modules left as require() calls; anything else that
 * does not resolve inside the project (a Node built-in, a package) fails the build.
 * @param {{ entry: string, external?: string[], minify?: boolean, substitutes?: { [from: string]: string } }} options
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
    plugins: options.substitutes !== undefined ? [substitutePlugin(options.substitutes)] : [],
    // The entries publish through OTA_MODULE, the CommonJS `module` (see src/entries/*.ts).
    define: { OTA_MODULE: 'module' },
    // Class fields as constructor assignments, not __publicField/defineProperty helpers: smaller, and ES5-safe.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false, verbatimModuleSyntax: false } },
  });
  return result.outputFiles[0].text;
}
