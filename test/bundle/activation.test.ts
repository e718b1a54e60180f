import { describe, expect, it } from 'vitest';
import { activateRelease, confirmRelease, inActivationOrder } from '../../src/bundle/activation.js';
import type { StagedPart } from '../../src/bundle/unpacker.js';
import type { ImageTarget, ImageWriter, TargetStatus } from '../../hal/image-target.js';
import { otaError } from '../../src/util/errors.js';
import { rejection } from './helpers.js';

/** A scripted target that logs every call; `switchable` adds the ImmediateSwitch capability. */
function scripted(type: string, log: string[], options: { switchable?: boolean; failActivate?: boolean; running?: string } = {}): ImageTarget & { running: string; trial: boolean } {
  const target = {
    softwareType: type,
    running: options.running ?? '1.0.0',
    trial: false,
    pending: null as string | null,
    capacity: () => 1000,
    status: (): Promise<TargetStatus> => Promise.resolve({ softwareType: type, runningVersion: target.running, trial: target.trial }),
    begin: (): Promise<ImageWriter> => Promise.reject(otaError('unused', 'unused', false)),
    activate: (): Promise<void> => {
      log.push(`activate ${type}`);
      if (options.failActivate) return Promise.reject(otaError('nothing-staged', 'no image', false));
      target.pending = 'new';
      return Promise.resolve();
    },
    confirm: (): Promise<void> => {
      log.push(`confirm ${type}`);
      target.trial = false;
      return Promise.resolve();
    },
    switchNow: options.switchable ? (version: string): Promise<void> => {
      log.push(`switch ${type} ${version}`);
      target.running = version;
      target.trial = true;
      return target.confirm();
    } : undefined,
  };
  return target;
}

function part(target: ImageTarget, version: string, order: number, requires: string[] = []): StagedPart {
  return { softwareType: target.softwareType, version, order, target, requires: requires.map((t) => ({ softwareType: t, minVersion: '0' })) };
}

describe('release activation', () => {
  it('activates in manifest order, switching and confirming a required co-processor before its dependent', async () => {
    const log: string[] = [];
    const main = scripted('main-fw', log);
    const wifi = scripted('wifi-fw', log, { switchable: true });
    await activateRelease({ parts: [part(main, '2.0.0', 2, ['wifi-fw']), part(wifi, '1.4.0', 1)] });
    expect(log).toEqual(['activate wifi-fw', 'switch wifi-fw 1.4.0', 'confirm wifi-fw', 'activate main-fw']);
  });

  it('only marks pending the parts nothing depends on (all or nothing at the next reboot)', async () => {
    const log: string[] = [];
    const a = scripted('a', log, { switchable: true });
    const b = scripted('b', log, { switchable: true });
    await activateRelease({ parts: [part(b, '2', 5), part(a, '2', 3)] });
    expect(log).toEqual(['activate a', 'activate b']);
    expect(inActivationOrder([part(b, '2', 5), part(a, '2', 3)]).map((p) => p.softwareType)).toEqual(['a', 'b']);
  });

  it('is safe to call again after an interruption: a part already running its version is not activated twice', async () => {
    const log: string[] = [];
    const main = scripted('main-fw', log);
    const wifi = scripted('wifi-fw', log, { switchable: true, running: '1.4.0' });
    wifi.trial = true; // rebooted into the trial by a power cut before it was confirmed
    await activateRelease({ parts: [part(main, '2.0.0', 2, ['wifi-fw']), part(wifi, '1.4.0', 1)] });
    expect(log).toEqual(['confirm wifi-fw', 'activate main-fw']);
  });

  it('stops at the first failure and names what was done before it', async () => {
    const log: string[] = [];
    const main = scripted('main-fw', log, { failActivate: true });
    const ble = scripted('ble-fw', log);
    const error = await rejection(activateRelease({ parts: [part(main, '2.0.0', 1), part(ble, '3', 2)] }));
    expect(error.code).toBe('activation-failed');
    expect(error.details).toMatchObject({ softwareType: 'main-fw', done: [] });
    expect(log).toEqual(['activate main-fw']);
  });

  it('confirms only a release that runs, dependencies first', async () => {
    const log: string[] = [];
    const main = scripted('main-fw', log, { running: '2.0.0' });
    const wifi = scripted('wifi-fw', log, { running: '1.4.0' });
    await confirmRelease({ parts: [part(main, '2.0.0', 2), part(wifi, '1.4.0', 1)] });
    expect(log).toEqual(['confirm wifi-fw', 'confirm main-fw']);
    const reverted = scripted('main-fw', log, { running: '1.0.0' });
    const error = await rejection(confirmRelease({ parts: [part(reverted, '2.0.0', 1)] }));
    expect(error.code).toBe('confirm-failed');
    expect((error.cause as { code: string }).code).toBe('release-not-running');
  });
});
