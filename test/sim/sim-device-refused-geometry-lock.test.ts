import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SimDevice, mainGeometryFor } from '../../src/node/sim-device.js';
import type { SimDeviceOptions } from '../../src/node/sim-device.js';
import { uniformGeometry } from '../../hal/flash.js';

// A SimDevice whose main geometry has no room for the A/B slots is refused after its flash files were opened and DIR/lock
// taken. The refusal must leave nothing held: the next SimDevice on that directory (a fixed geometry) opens it, instead of
// being told "another simulated device (this process) is using DIR" for the rest of the process.

const root = mkdtempSync(join(tmpdir(), 'ota-refused-geometry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function options(dir: string, extra: Partial<SimDeviceOptions> = {}): SimDeviceOptions {
  return { dir, serial: 'SN-GEO', hardwareVersion: 'evt', api: { baseUrl: 'http://127.0.0.1:9', projectKey: 'unused' }, ...extra };
}

describe('a SimDevice refused for its geometry', () => {
  for (const [name, geometry] of [['no slots', mainGeometryFor(0)], ['3 sectors', uniformGeometry(4096, 3, 8, 0xff)]] as const) {
    it(`releases DIR/lock and its flash files (${name})`, () => {
      const dir = join(root, name.replace(/ /g, '-'));
      expect(() => new SimDevice(options(dir, { mainGeometry: geometry, wifi: false }))).toThrow(/slot-a/);
      // The file made with the refused geometry goes (its size is that geometry's); the directory must not stay locked.
      rmSync(join(dir, 'main.flash'), { force: true });
      rmSync(join(dir, 'main.flash.wear'), { force: true });
      const again = new SimDevice(options(dir, { wifi: false, mainGeometry: mainGeometryFor(4096 * 4) }));
      again.close();
    });
  }
});
