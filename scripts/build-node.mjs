// Transpiles src/ and hal/ to dist/node (ESM, one file per module) with esbuild: fast, and it never fails an
// install over a type error (types are checked by `npm run typecheck`; declarations come from `npm run build`).
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
