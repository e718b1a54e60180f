import type { ImageTarget } from '../../hal/image-target.js';
import { drive } from '../../hal/sim/wifi/drive.js';
import type { TwoMcuBoot } from '../../hal/sim/wifi/two-mcu-device.js';
import { BundleUnpacker } from '../../src/bundle/unpacker.js';
import type { StagedPart, UnpackState } from '../../src/bundle/unpacker.js';
import { activateRelease, confirmRelease } from '../../src/bundle/activation.js';
import { readPreamble } from '../../src/bundle/framing.js';
import { inspectHeader } from '../../src/bundle/header.js';
import type { Manifest } from '../../src/bundle/manifest.js';
import { compareVersions } from '../../src/util/version.js';
import { nodeHashes } from '../../src/node/crypto.js';
import { isOtaError, otaError } from '../../src/util/errors.js';
import { VirtualClock } from '../../src/util/virtual-clock.js';
import type { SweepCase, SweepSubject } from '../sweep/engine.js';
import { ed25519Trust } from '../bundle/helpers.js';
import { provisionedDevice, releaseBundle } from './fixtures.js';
import type { DeviceSpec } from './fixtures.js';

// The two-MCU subject for the power-cut sweep engine: a main MCU and a WiFi co-processor on one supply, and a small
// agent that installs a two-part bundle power cycle after power cycle, from a journal it keeps (as the real agent
// keeps its journal in flash; here the journal is written at the same points and survives every cut). At every
// boot the pair of running versions must be the old pair, the new pair, or a pair the manifest declares compatible,
// and both MCUs must boot a verified image.

type Phase = 'download' | 'activate' | 'trial' | 'done' | 'failed';

interface Journal {
  phase: Phase;
  state: UnpackState | null;
  installedSequence: number;
}

/** What a two-MCU sweep case varies. */
export interface TwoMcuSpec extends DeviceSpec {
  /** Bytes per push into the unpacker. */
  chunk: number;
}

/** Versions running on (main, wifi) that the invariant allows, given the release manifest. */
export function pairAllowed(manifest: Manifest, main: string, wifi: string): boolean {
  if (main === '1.0.0' && wifi === '1.0.0') return true;
  const running: { [type: string]: string } = { 'main-fw': main, 'wifi-fw': wifi };
  // Every part of the release that runs must have its requirements met by what runs beside it.
  for (const part of manifest.parts) {
    if (running[part.softwareType] !== part.version) continue;
    for (const need of part.requires) {
      const have = running[need.softwareType];
      if (have === undefined || compareVersions(have, need.minVersion) < 0) return false;
    }
  }
  const known = (type: string, version: string): boolean => version === '1.0.0' || manifest.parts.some((p) => p.softwareType === type && p.version === version);
  return known('main-fw', main) && known('wifi-fw', wifi);
}

/** The sweep case for a two-part bundle across both MCUs. */
export function twoMcuCase(spec: TwoMcuSpec): SweepCase {
  const bytes = releaseBundle(spec.sizes);
  const pre = readPreamble(bytes);
  const manifest = inspectHeader(bytes.subarray(0, 12), bytes.subarray(12, 12 + pre.headerLength)).manifest;
  return {
    name: 'two-mcu-bundle',
    config: `main ${spec.sizes.main} B + wifi ${spec.sizes.wifi} B, ${spec.sectorsPerSlot ?? 2}x4K slots, chunk ${spec.chunk}, ` +
      `${spec.baud ?? 115200} baud${spec.linkFaults ? ` faults ${JSON.stringify(spec.linkFaults)}` : ''}`,
    async make(seed: number): Promise<SweepSubject> {
      const { device, mainFlash, wifiFlash } = await provisionedDevice({ ...spec, linkSeed: seed, flashSeed: seed });
      const journal: Journal = { phase: 'download', state: null, installedSequence: 10 };
      const violations: string[] = [];
      let boots = 0;
      const trust = ed25519Trust();

      const stagedParts = (targets: ImageTarget[]): StagedPart[] => manifest.parts.map((p) => ({
        softwareType: p.softwareType, version: p.version, order: p.order, requires: p.requires,
        target: targets.find((t) => t.softwareType === p.softwareType) as ImageTarget,
      }));

      const checkBoot = (boot: TwoMcuBoot): void => {
        boots++;
        if (boot.wifi === null) {
          violations.push(`boot ${boots}: the WiFi MCU has no bootable image (${String((device.wifi.bootError as { code?: string })?.code)})`);
          return;
        }
        if (!pairAllowed(manifest, boot.main.version, boot.wifi.version)) {
          violations.push(`boot ${boots}: runs main ${boot.main.version} with wifi ${boot.wifi.version}, a pair the release forbids`);
        }
      };

      const download = async (targets: ImageTarget[]): Promise<void> => {
        const resume = journal.state ?? undefined;
        const unpacker = new BundleUnpacker({
          device: { hardwareVersion: 'evt', targets, installedSequence: journal.installedSequence },
          trust, hashes: nodeHashes, totalLength: bytes.length, resume,
        });
        let at = 0;
        if (resume !== undefined) {
          const headerEnd = 12 + resume.headerLength;
          await unpacker.push(bytes.subarray(0, headerEnd));
          at = unpacker.nextOffset();
        }
        while (at < bytes.length) {
          const chunk = bytes.subarray(at, Math.min(bytes.length, at + spec.chunk));
          await unpacker.push(chunk);
          at += chunk.length;
          if (unpacker.nextOffset() !== at) at = unpacker.nextOffset();
          journal.state = unpacker.state();
        }
        await unpacker.end();
        journal.state = unpacker.state();
        journal.phase = 'activate';
      };

      const cycle = async (): Promise<boolean> => {
        const clock = new VirtualClock(0);
        const abort = (): unknown => (device.isDead() ? otaError('power-cut', 'Simulated power cut (co-processor side).', false) : null);
        const body = async (): Promise<boolean> => {
          let boot: TwoMcuBoot;
          try {
            boot = await device.powerOn(clock);
          } catch (error) {
            if (isOtaError(error) && error.code === 'no-bootable-image') {
              violations.push(`boot ${boots + 1}: the main MCU has no bootable image`);
              return true;
            }
            throw error;
          }
          checkBoot(boot);
          if (violations.length > 0) return true;
          if (journal.phase === 'download') await download(boot.targets);
          if (journal.phase === 'activate') {
            try {
              await activateRelease({ parts: stagedParts(boot.targets) });
            } catch (error) {
              if (isOtaError(error) && error.code === 'activation-failed' && !device.isDead()) {
                journal.phase = 'failed';
                return true;
              }
              throw error;
            }
            journal.phase = 'trial';
            return false; // the device reboots into the trial
          }
          if (journal.phase === 'trial') {
            try {
              await confirmRelease({ parts: stagedParts(boot.targets) });
            } catch (error) {
              // A trial reverted (its attempts spent by repeated cuts): the release failed, what runs stays.
              if (isOtaError(error) && error.code === 'confirm-failed' && (error.cause as { code?: string } | undefined)?.code === 'release-not-running') {
                journal.phase = 'failed';
                return true;
              }
              throw error;
            }
            journal.installedSequence = manifest.sequence;
            journal.phase = 'done';
          }
          return true;
        };
        return drive(clock, body().catch((error: unknown) => {
          // Whatever surfaced first, a dead flash means the supply failed: report the cut, as the engine expects.
          if (device.isDead()) throw otaError('power-cut', 'Simulated power cut.', false, undefined, error);
          throw error;
        }), abort);
      };

      const finish = async (cuts: number): Promise<string[]> => {
        const out: string[] = [];
        // Two more power cycles: what was confirmed stays, and both MCUs still boot.
        for (let i = 0; i < 2; i++) {
          const clock = new VirtualClock(0);
          const boot = await drive(clock, device.powerOn(clock));
          checkBoot(boot);
          const pair = `${boot.main.version}/${boot.wifi?.version}`;
          if (journal.phase === 'done' && pair !== '2.0.0/1.4.0') out.push(`confirmed release not running after boot ${i + 1}: ${pair}`);
          if (journal.phase === 'done' && (boot.main.trial || boot.wifi?.trial)) out.push(`an unconfirmed trial is still running at the end: ${pair}`);
        }
        if (cuts <= 1 && journal.phase !== 'done') out.push(`one power cut made the update fail (phase ${journal.phase})`);
        return [...violations, ...out];
      };

      return { flashes: [mainFlash, wifiFlash], cycle, finish, violations };
    },
  };
}
