// dist/node for Node users: declarations from tsc (tsconfig.build.json emits declarations only), JavaScript from
// scripts/build-node.mjs (esbuild, one file per module).
import { spawnSync } from 'node:child_process';

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
}

/** Builds dist/node: type declarations, then the ESM modules. */
export function buildNode() {
  run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json']);
  run(process.execPath, ['scripts/build-node.mjs']);
}
