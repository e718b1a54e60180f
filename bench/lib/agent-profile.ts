// Profiling aid for the agent benchmark: starts the mock backend with one release, then runs bench/lib/agent-child.ts
// under extra node flags (e.g. --cpu-prof --cpu-prof-dir=DIR, --trace-gc) and prints its JSON line.
//   npx tsx bench/lib/agent-profile.ts [--size-mib N] [--flash sim|file] -- <node flags...>
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend } from '../../src/backend/index.js';
import { buildFirmwareImage } from '../../hal/sim/firmware-image.js';

const argv = process.argv.slice(2);
const split = argv.indexOf('--');
const own = split >= 0 ? argv.slice(0, split) : argv;
const nodeFlags = split >= 0 ? argv.slice(split + 1) : [];
const option = (name: string, fallback: string): string => {
  const at = own.indexOf(`--${name}`);
  return at >= 0 ? own[at + 1] : fallback;
};
const MIB = 1024 * 1024;
const SIZE = Number(option('size-mib', '64')) * MIB;
const SECTOR = 64 * 1024;
const flash = option('flash', 'sim');

const dataDir = mkdtempSync(join(tmpdir(), 'ota-agent-profile-'));
const backend = await startBackend({ dataDir: join(dataDir, 'backend') });
try {
  await backend.admin.uploadPayload(buildFirmwareImage({ version: '2.0.0', size: SIZE }), { hardwareVersion: 'hw-p', softwareType: 'main-fw', softwareVersion: '2.0.0' });
  backend.admin.deploy({ releaseVersion: '2.0.0', cohort: 'default', rolloutPercent: 100 });
  const args = { baseUrl: backend.baseUrl, projectKey: backend.projectKey, caPath: backend.caPath, hardwareVersion: 'hw-p', serial: 'profile',
    flash, dir: dataDir, slotBytes: SIZE + SECTOR, sectorBytes: SECTOR, retries: 5 };
  await new Promise<void>((resolve) => {
    const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', join(import.meta.dirname, 'agent-child.ts'), JSON.stringify(args)],
      { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', () => resolve());
  });
} finally {
  await backend.close();
  rmSync(dataDir, { recursive: true, force: true });
}
