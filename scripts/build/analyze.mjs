// Where the Espruino file's bytes come from: the same chain as the build (esbuild -> Babel -> terser), with source
// maps carried through every step, so each byte of the final ES5 text is charged to the source file it came from.
// Usage: node scripts/build/analyze.mjs [--entry src/entries/espruino.ts] [--top N]
import { build } from 'esbuild';
import { transformAsync } from '@babel/core';
import { minify } from 'terser';
import { TraceMap, eachMapping } from '@jridgewell/trace-mapping';
import { ESPRUINO_MODULES, substitutePlugin } from './esbuild-step.mjs';
import { BABEL_OPTIONS, ESPRUINO_ENTRY, SECOND_PASS_PLUGINS, espruinoSubstitutes, messagesFromEnv, terserOptions } from './espruino.mjs';
import { stripErrorMessages } from './strip-messages.mjs';

/**
 * Bytes of the minified ES5 file per source file (plus "(unmapped)" for wrapper and helper text).
 * @param {{ entry?: string }} [options]
 * @returns {Promise<{ total: number, files: { file: string, bytes: number }[] }>}
 */
export async function analyzeEspruino(options) {
  const entry = options?.entry ?? ESPRUINO_ENTRY;
  const bundled = await build({
    entryPoints: [entry], bundle: true, write: false, format: 'cjs', platform: 'neutral', mainFields: ['module', 'main'],
    target: 'es2020', charset: 'ascii', legalComments: 'none', external: ESPRUINO_MODULES, logLevel: 'silent',
    define: { OTA_MODULE: 'module' }, sourcemap: 'external', outfile: 'bundle.js', plugins: [substitutePlugin(espruinoSubstitutes())],
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false, verbatimModuleSyntax: false } },
  });
  const map = JSON.parse(bundled.outputFiles.find((f) => f.path.endsWith('.map')).text);
  const code = bundled.outputFiles.find((f) => f.path.endsWith('.js')).text.replace(/\/\/# sourceMappingURL=.*\n?$/, '');
  const strip = messagesFromEnv() === 'codes';
  const first = await transformAsync(code, { ...BABEL_OPTIONS, plugins: strip ? [stripErrorMessages, ...BABEL_OPTIONS.plugins] : BABEL_OPTIONS.plugins,
    sourceMaps: true, inputSourceMap: map, filename: 'bundle.js' });
  const second = await transformAsync(first.code, { babelrc: false, configFile: false, sourceType: 'script', compact: false,
    plugins: SECOND_PASS_PLUGINS, sourceMaps: true, inputSourceMap: first.map, filename: 'bundle.js' });
  // The wrapper adds one line before the code: shift the map by one line.
  const shifted = { ...second.map, mappings: ';' + second.map.mappings };
  const wrapped = '(function(){\n' + second.code + '\n})();';
  const result = await minify(wrapped, { ...terserOptions(), sourceMap: { content: shifted } });
  const out = result.code;
  const trace = new TraceMap(result.map);
  const lines = out.split('\n');
  const bySource = new Map();
  /** @type {{ line: number, column: number, source: string | null }[]} */
  const segments = [];
  eachMapping(trace, (m) => segments.push({ line: m.generatedLine, column: m.generatedColumn, source: m.source }));
  segments.sort((a, b) => a.line - b.line || a.column - b.column);
  let charged = 0;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    const next = segments[i + 1];
    const end = next !== undefined && next.line === s.line ? next.column : lines[s.line - 1].length;
    const name = s.source === null ? '(unmapped)' : s.source.replace(/^.*?(src|hal)\//, '$1/');
    bySource.set(name, (bySource.get(name) ?? 0) + (end - s.column));
    charged += end - s.column;
  }
  const total = Buffer.byteLength(out + '\n');
  bySource.set('(unmapped)', (bySource.get('(unmapped)') ?? 0) + total - charged);
  const files = [...bySource.entries()].map(([file, bytes]) => ({ file, bytes })).sort((a, b) => b.bytes - a.bytes);
  return { total, files };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf('--entry');
  const top = process.argv.indexOf('--top');
  const report = await analyzeEspruino({ entry: at >= 0 ? process.argv[at + 1] : undefined });
  const limit = top >= 0 ? Number(process.argv[top + 1]) : Infinity;
  const folders = new Map();
  for (const f of report.files) {
    const folder = f.file.includes('/') ? f.file.slice(0, f.file.lastIndexOf('/')) : f.file;
    folders.set(folder, (folders.get(folder) ?? 0) + f.bytes);
  }
  console.log(`total ${report.total} B`);
  for (const [folder, bytes] of [...folders.entries()].sort((a, b) => b[1] - a[1])) {
    console.log(`${String(bytes).padStart(7)}  ${(100 * bytes / report.total).toFixed(1).padStart(5)} %  ${folder}/`);
  }
  console.log('');
  for (const f of report.files.slice(0, limit)) {
    console.log(`${String(f.bytes).padStart(7)}  ${(100 * f.bytes / report.total).toFixed(1).padStart(5)} %  ${f.file}`);
  }
}
