import { describe, expect, it } from 'vitest';
import { drive } from '../../hal/sim/wifi/drive.js';
import { Cmd } from '../../hal/sim/wifi/protocol.js';
import { BundleUnpacker } from '../../src/bundle/unpacker.js';
import { activateRelease } from '../../src/bundle/activation.js';
import { nodeHashes } from '../../src/node/crypto.js';
import { isOtaError } from '../../src/util/errors.js';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import { ed25519Trust } from '../bundle/helpers.js';
import { provisionedDevice, releaseBundle } from './fixtures.js';

// A co-processor that is slow to answer because it is working (a SPI NOR sector erase takes 45 ms typically and up to
// hundreds of ms; a large internal-flash sector, seconds), not because the link is bad. The requester's timeout is
// derived from the baud rate; before the fix its nine tries (about 360 ms at SimDevice's 2 Mbaud) ran out while the
// co-processor was still erasing, every cycle failed with "did not answer ... check the serial link", and the WiFi
// part could never be installed on such a part. Now a co-processor that receives a retransmission of the request it is
// still executing answers BUSY: the requester waits on without spending its tries, up to a bound.

const SIZES = { main: 5000, wifi: 9000 };

async function install(serviceMs: number, busyLimitMs?: number): Promise<{ result: string; busy: number; elapsed: number }> {
  const made = await provisionedDevice({ sizes: SIZES, sectorsPerSlot: 4, baud: 2_000_000, chunkSize: 960 });
  // Every BEGIN and WRITE keeps the co-processor busy (an erase) for serviceMs before it answers.
  made.device.wifi.serviceTime = (kind) => (kind === Cmd.BEGIN || kind === Cmd.WRITE ? serviceMs : 0);
  const clock = new VirtualClock(0);
  const boot = await drive(clock, made.device.powerOn(clock));
  if (busyLimitMs !== undefined) boot.wifiTarget!.client.busyLimitMs = busyLimitMs;
  const bytes = releaseBundle(SIZES);
  const unpacker = new BundleUnpacker({ device: { hardwareVersion: 'evt', targets: boot.targets, installedSequence: 10 }, trust: ed25519Trust(),
    hashes: nodeHashes, totalLength: bytes.length });
  const start = clock.now();
  const result = await drive(clock, (async () => {
    for (let at = 0; at < bytes.length; at += 900) await unpacker.push(bytes.subarray(at, at + 900));
    await activateRelease(await unpacker.end());
    return 'ok';
  })()).catch((error: unknown) => (isOtaError(error) ? `${error.code}: ${error.message}` : String(error)));
  return { result, busy: boot.wifiTarget!.client.stats.busy, elapsed: clock.now() - start };
}

describe('a co-processor that is slow to answer (busy erasing), over a good link', () => {
  for (const ms of [400, 1500]) {
    it(`${ms} ms per BEGIN and WRITE: the WiFi part installs; the requester waits on BUSY answers`, async () => {
      const outcome = await install(ms);
      expect(outcome.result).toBe('ok');
      expect(outcome.busy).toBeGreaterThan(0);
    });
  }

  it('a co-processor busy beyond the bound fails with a code that says it is alive but busy, not that the link is bad', async () => {
    const outcome = await install(120_000, 5_000);
    expect(outcome.result).toMatch(/^wifi-busy: .*WiFi co-processor.*busy/);
    expect(outcome.result).not.toMatch(/check the serial link/);
    expect(outcome.elapsed).toBeLessThan(10_000);
  });
});
