import { uniformGeometry } from './hal/flash.js';
import { SimFlash } from './hal/sim/sim-flash.js';
import { buildFirmwareImage } from './hal/sim/firmware-image.js';
import { startBackend } from './src/backend/index.js';
import { SimDevice } from './src/node/sim-device.js';
const SIZE = 16 * 1024 * 1024;
const b = await startBackend({ http: true });
await b.admin.uploadPayload(buildFirmwareImage({ version: '2.0.0', size: SIZE }), { hardwareVersion: 'evt', softwareType: 'main-fw', softwareVersion: '2.0.0' });
b.admin.deploy({ releaseVersion: '2.0.0', cohort: 'default', rolloutPercent: 100 });
let n = 0;
for (const rc of [1024, 16384, 1024, 16384]) {
  const flash = new SimFlash(uniformGeometry(65536, 4 + 2 * 258, 8, 0xff));
  const marks: Record<string, number> = {};
  const d = new SimDevice({ serial: 'p' + (n++), hardwareVersion: 'evt', wifi: false, mainFlash: flash, api: { baseUrl: b.baseUrl, projectKey: b.projectKey }, bufferSize: 65536, readChunk: rc,
    policy: { progressIntervalMs: 1e9 }, onEvent: (e) => { marks[e.type] ??= performance.now(); } });
  await d.provision(buildFirmwareImage({ version: '0.0.1', size: 8192 }), '0.0.1');
  await d.boot();
  const r = await d.runOnce();
  console.log(rc, r.outcome, 'MiB/s', (16 / ((marks.verified - marks['download-started']) / 1000)).toFixed(1));
  d.close();
}
await b.close();
