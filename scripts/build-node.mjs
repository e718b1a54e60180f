// Transpiles src/ and hal/ to dist/node (ESM, one file per module) with esbuild. scripts/build/node.mjs runs it after
// tsc has written the declarations, both on install (`prepare`) and in `npm run build`.
import { build } from 'esbuild';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

const entryPoints = [...walk('src'), ...walk('hal')];
await build({ entryPoints, outdir: 'dist/node', outbase: '.', format: 'esm', platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning' });
console.log(`dist/node: ${entryPoints.length} modules`);
