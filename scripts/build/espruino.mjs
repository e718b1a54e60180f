// The Espruino bundle: esbuild (ES2020) -> Babel preset-env (loose, array-only assumptions) -> terser (ES5,
// hoist_funs), the chain /work/shared/reference/embedded-js.md section 5 tested on Espruino 2v29.
import { transformAsync } from '@babel/core';
import { minify } from 'terser';
import { bundleEntry, ESPRUINO_MODULES } from './esbuild-step.mjs';
import { stripErrorMessages } from './strip-messages.mjs';
import { dropDirectives } from './drop-directives.mjs';
import { promiseShorthands } from './promise-shorthands.mjs';
import { thisAlias } from './this-alias.mjs';
import { privateNames } from './private-names.mjs';

/** Entry file of the Espruino bundle. */
export const ESPRUINO_ENTRY = 'src/entries/espruino.ts';

/** Babel options: every transform forced, loose, and the assumptions that keep helpers out (no Symbol, no Reflect). */
export const BABEL_OPTIONS = {
  babelrc: false,
  configFile: false,
  sourceType: 'script',
  compact: false,
  comments: false,
  assumptions: {
    iterableIsArray: true,
    setSpreadProperties: true,
    objectRestNoSymbols: true,
    setClassMethods: true,
    superIsCallableConstructor: true,
    constantSuper: true,
    noClassCalls: true,
    setPublicClassFields: true,
    pureGetters: true,
  },
  presets: [['@babel/preset-env', {
    forceAllTransforms: true,
    loose: true,
    modules: false,
    ignoreBrowserslistConfig: true,
    // typeof-symbol adds a Symbol helper; regenerator and async-to-generator need runtimes Espruino cannot run
    // (the lint keeps async/generators out of the core anyway); for-of is re-added below with assumeArray.
    exclude: ['transform-typeof-symbol', 'transform-regenerator', 'transform-async-to-generator', 'transform-for-of'],
  }]],
  plugins: [['@babel/plugin-transform-for-of', { assumeArray: true }]],
};

/** The second Babel pass (after preset-env): drop its directives, shorten Promise.resolve/reject calls and `this`. */
export const SECOND_PASS_PLUGINS = [dropDirectives, promiseShorthands, thisAlias];

/**
 * Terser options: ES5 output, arrows kept as functions, function declarations hoisted (Espruino hoists nothing).
 * - inline 1: Espruino does not hoist `var` either. Inlining a function with parameters or variables (inline 2 and
 *   3) leaves `var x` after the code that assigns x (`return (x = a, f(x)); var x`): valid JS, but on Espruino the
 *   assignment lands in the enclosing scope and overwrote a function there (found on the 2v29 Linux build:
 *   "Expecting function, got Array" mid-update). The gate's var-hoisting rule keeps it out. (hoist_vars does not
 *   remove it and costs ~50 more variable blocks at load, measured.)
 * - unsafe_undefined with the wrapper's never-passed `undefined` parameter: `void 0` (6 bytes) becomes one letter.
 * - pure_getters: the portable core defines no getters (Babel's pureGetters assumption says the same).
 */
export const TERSER_OPTIONS = {
  ecma: 5,
  toplevel: true,
  compress: { ecma: 5, arrows: false, hoist_funs: true, passes: 2, pure_getters: true, unsafe_undefined: true, inline: 1 },
  mangle: { toplevel: true },
  format: { ecma: 5, ascii_only: true, comments: false },
};

let mangled = null;

/**
 * TERSER_OPTIONS plus property mangling of the class-private names scripts/build/private-names.mjs proves internal
 * (computed once per process). Quoted keys are never touched.
 * @returns {Record<string, unknown>}
 */
export function terserOptions() {
  if (mangled === null) {
    const names = privateNames();
    mangled = { ...TERSER_OPTIONS, mangle: { ...TERSER_OPTIONS.mangle, properties: { regex: new RegExp('^(' + names.join('|') + ')$'), keep_quoted: true } } };
  }
  return mangled;
}

/**
 * Builds dist/ota-agent.espruino.js's text: one ES5 script that assigns module.exports, for require("ota-agent")
 * after upload to Storage. Everything sits inside one function so the file defines no global.
 * @param {{ entry?: string, messages?: 'codes' | 'full' }} [options] another entry (tests build fixtures through the
 *   same chain); messages "full" keeps otaError messages (default from OTA_ESPRUINO_MESSAGES)
 * @returns {Promise<string>}
 */
export async function buildEspruino(options) {
  const entry = options?.entry ?? ESPRUINO_ENTRY;
  const es2020 = await bundleEntry({ entry, external: ESPRUINO_MODULES, substitutes: espruinoSubstitutes() });
  return lowerToEs5(es2020, { messages: options?.messages ?? messagesFromEnv() });
}

/**
 * Modules the Espruino build replaces: MD5 and the releases/latest JSON that lists an MD5 (the agent's default,
 * releases/latest/url, needs neither; see src/espruino/md5-omitted.ts), unless OTA_ESPRUINO_MD5=1 asks for them; and the
 * raw-image sink (signed bundles only; src/espruino/raw-image-omitted.ts), unless OTA_ESPRUINO_RAW=1.
 * @returns {{ [from: string]: string }}
 */
export function espruinoSubstitutes() {
  const md5 = process.env.OTA_ESPRUINO_MD5 === '1' ? {}
    : { 'src/integrity/md5': 'src/espruino/md5-omitted.ts', 'src/api/latest-json': 'src/espruino/latest-json-omitted.ts' };
  const raw = process.env.OTA_ESPRUINO_RAW === '1' ? {} : { 'src/agent/sinks/raw-image': 'src/espruino/raw-image-omitted.ts' };
  return { ...md5, ...raw };
}

/** True when the environment asks for no build option (the ceiling of size-report.mjs holds that file). */
export function isDefaultEspruinoBuild() {
  return messagesFromEnv() === 'codes' && process.env.OTA_ESPRUINO_MD5 !== '1' && process.env.OTA_ESPRUINO_RAW !== '1';
}

/** "codes" unless OTA_ESPRUINO_MESSAGES=full. */
export function messagesFromEnv() {
  return process.env.OTA_ESPRUINO_MESSAGES === 'full' ? 'full' : 'codes';
}

/**
 * Lowers an ES2020 script to minified ES5 with the Babel and terser steps; Babel's helpers land inside the wrapper.
 * With messages "codes" (the default), otaError messages are replaced by their codes.
 * @param {string} code
 * @param {{ messages?: 'codes' | 'full' }} [options]
 * @returns {Promise<string>}
 */
export async function lowerToEs5(code, options) {
  const strip = (options?.messages ?? 'codes') === 'codes';
  const babelOptions = strip ? { ...BABEL_OPTIONS, plugins: [stripErrorMessages, ...BABEL_OPTIONS.plugins] } : BABEL_OPTIONS;
  const babel = await transformAsync(code, babelOptions);
  if (babel === null || typeof babel.code !== 'string') throw new Error('Babel produced no output for the Espruino bundle');
  // A second pass: the class transform emits its "use strict" directives after the first pass's visitors ran.
  const plain = await transformAsync(babel.code, { babelrc: false, configFile: false, sourceType: 'script', compact: false, plugins: SECOND_PASS_PLUGINS });
  if (plain === null || typeof plain.code !== 'string') throw new Error('Babel produced no output for the Espruino bundle');
  const wrapped = '(function(undefined){\n' + plain.code + '\n})();';
  const result = await minify(wrapped, terserOptions());
  if (typeof result.code !== 'string') throw new Error('terser produced no output for the Espruino bundle');
  return result.code + '\n';
}
