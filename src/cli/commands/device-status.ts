import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SimDevice, mainGeometryFor, slotBytesOfFlashFile, wifiGeometryFor } from '../../node/sim-device.js';
import type { DeviceStatus, FlashContents } from '../../node/sim-device.js';
import { requireOption } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';
import { formatBytes } from '../progress.js';
import { deviceLockHolder } from '../device-lock.js';
import type { DeviceLockHolder } from '../device-lock.js';

// `ota device status`: what a simulated device's flash holds, read without booting it: both MCUs' slots, the
// running versions and trial flags, and the agent's journal.

/**
 * The release the newest journal record gave up on its way to this backoff, when that is what happened: the agent
 * drops a refused release (its size, sequence, hardware) at once and lists it as given up, but still books the
 * refusal as a failure with a backoff. Its version comes from the record before.
 */
function refusedRelease(status: DeviceStatus): string | null {
  const agent = status.agent;
  if (agent === null || agent.phase !== 'backoff' || agent.release !== null || agent.lastError === null) return null;
  // The journal lists its two banks in turn: order by sequence number to find the record before the newest.
  const records = status.journal.slice().sort((a, b) => a.seq - b.seq);
  const before = records.length >= 2 ? records[records.length - 2].state : null;
  if (before === null || before.release === null || !agent.givenUp.includes(before.release.id)) return null;
  return before.release.version ?? before.release.id;
}

/** What one flash file holds, in words. */
function describeContents(file: string, contents: FlashContents | null): string {
  if (contents === null) return `no ${file}`;
  if (contents === 'unrecognized') return `${file} holding data but no valid boot record (its boot-record sectors are corrupt, or it is not this simulator's flash)`;
  return `${file} ${contents}`;
}

/**
 * Why DIR's flash is no device `ota device run` would run (the same cases it refuses to provision over), or null: an
 * MCU whose flash holds data without a valid boot record, or a blank main flash beside a provisioned WiFi one.
 */
function unrecognized(dir: string, contents: { main: FlashContents; wifi: FlashContents | null }, records: number): string | null {
  const half = contents.main === 'blank' && contents.wifi === 'provisioned';
  if (contents.main !== 'unrecognized' && contents.wifi !== 'unrecognized' && !half) return null;
  const found = [describeContents('main.flash', contents.main), describeContents('wifi.flash', contents.wifi),
    `${records} valid journal records`].join(', ');
  return `${dir} does not hold a recognised device: expected the flash of a device provisioned by "ota device run" (or blank flash), ` +
    `found ${found}${half ? ' (half a device: the main MCU is blank)' : ''}. Its slots and running versions cannot be told. To start over, ` +
    `run "ota device run --dir ${dir} --reprovision …" (erases main, WiFi and journal together); to keep it, restore the flash files from a copy.`;
}

/**
 * Whether anything runs the device now, in words: a live holder of DIR/lock means the status is a snapshot of a device
 * that is mid-cycle; a lock left by a process that is gone means that run was cut off (kill -9, a crash) where the
 * journal says. Without this line a killed download and a running one read the same.
 */
function runnerLine(dir: string, holder: DeviceLockHolder | null, downloading: boolean): string {
  if (holder === null) return 'device: not running (no process holds DIR/lock)';
  if (holder.running) {
    return `device: running in pid ${holder.pid} (it holds ${dir}/lock); this is a snapshot, the agent goes on` +
      (downloading ? ' downloading' : '');
  }
  const who = holder.pid > 0 ? `pid ${holder.pid}` : 'a process';
  return `device: not running; ${who} left ${dir}/lock without stopping cleanly (killed, crashed or its host lost power)` +
    (downloading ? ': its download was cut off, and the next run resumes from the journal as below' : '') +
    '; the next run takes the lock over';
}

/** `ota device status`. */
export const deviceStatusCommand: Command = {
  name: 'device status',
  summary: 'Show a simulated device\'s slots, versions, states and agent journal (reads DIR, does not boot)',
  usage: '--dir DIR [--json]',
  options: {
    dir: { kind: 'string', description: 'Directory holding the device flash', valueName: 'DIR' },
    json: { kind: 'boolean', description: 'Print JSON' },
  },
  run: async (args, io) => {
    const dir = resolve(io.cwd, requireOption(args, 'dir'));
    if (!existsSync(join(dir, 'main.flash'))) {
      io.err(`ota device status: ${dir} holds no device flash (main.flash); create one with "ota device run --dir ${dir} …"\n`);
      return EXIT_FAILURE;
    }
    // The slot sizes are those the flash files were made with (`device run --slot-size`).
    const mainSlot = slotBytesOfFlashFile(statSync(join(dir, 'main.flash')).size, 'main');
    const wifiPath = join(dir, 'wifi.flash');
    const wifiSlot = existsSync(wifiPath) ? slotBytesOfFlashFile(statSync(wifiPath).size, 'wifi') : null;
    if (mainSlot === null || (existsSync(wifiPath) && wifiSlot === null)) {
      io.err(`ota device status: ${dir} holds flash files of a size this simulator never makes; it is not a device directory\n`);
      return EXIT_FAILURE;
    }
    // Read only, and meant to work while `ota device run` holds DIR/lock: the lock is not taken.
    const device = new SimDevice({ dir, lock: false, serial: 'status', hardwareVersion: 'status', wifi: existsSync(wifiPath),
      mainGeometry: mainGeometryFor(mainSlot), wifiGeometry: wifiSlot !== null ? wifiGeometryFor(wifiSlot) : undefined,
      api: { baseUrl: 'http://127.0.0.1', projectKey: 'unused' } });
    try {
      const contents = await device.contents();
      const status = await device.status();
      const problem = unrecognized(dir, contents, status.journal.length);
      if (problem !== null) {
        if (args.options.json === true) {
          const details = { dir, main: contents.main, wifi: contents.wifi, journalRecords: status.journal.length };
          io.out(JSON.stringify({ error: { code: 'device-flash-unrecognized', message: problem, details } }, null, 2) + '\n');
        } else {
          io.err(`ota device status: ${problem} [device-flash-unrecognized]\n`);
        }
        return EXIT_FAILURE;
      }
      const holder = deviceLockHolder(dir);
      const downloading = status.agent !== null && status.agent.phase === 'downloading';
      if (args.options.json === true) {
        // A journaled payload URL is a signed link, a credential for hours: its query (the token) is not printed.
        const runner = holder === null ? { running: false, pid: null, stale: false } : { running: holder.running, pid: holder.pid, stale: !holder.running };
        io.out(JSON.stringify({ ...status, runner }, (key, value: unknown) => key === 'url' && typeof value === 'string' ? value.split('?')[0] : value, 2) + '\n');
        return EXIT_OK;
      }
      io.out(runnerLine(dir, holder, downloading) + '\n');
      for (const mcu of [status.main, status.wifi]) {
        if (mcu === null) continue;
        io.out(`${mcu.softwareType}: running ${mcu.running ?? 'nothing'}${mcu.trial ? ' (unconfirmed trial)' : ''}\n`);
        for (const slot of mcu.slots) {
          io.out(`  slot ${'AB'[slot.slot]}: ${slot.state.padEnd(9)} ${slot.version || '-'} ${slot.size > 0 ? formatBytes(slot.size) : ''}` +
            `${slot.attempts > 0 && slot.state !== 'confirmed' ? `, ${slot.attempts} boot attempts left` : ''}\n`);
        }
      }
      const agent = status.agent;
      io.out(`journal: ${status.journal.length} valid records${status.journal.length > 0 ? `, newest seq ${Math.max(...status.journal.map((r) => r.seq))}` : ''}\n`);
      if (agent !== null) {
        const refused = refusedRelease(status);
        if (refused !== null) {
          io.out(`agent: ${agent.phase}, release ${refused} refused (${agent.lastError}); it will not be retried until a different release is offered\n`);
        } else {
          io.out(`agent: ${agent.phase}${agent.lastError ? `, last error ${agent.lastError}` : ''}${agent.failures > 0 ? `, ${agent.failures} failures in a row` : ''}\n`);
        }
        if (agent.release !== null) {
          // `attempts` counts cycles that made no progress (maxAttemptsPerRelease), reset whenever one does: not "attempt 0".
          const attempts = agent.release.attempts;
          io.out(`  release ${agent.release.version ?? agent.release.id}, ${agent.release.size >= 0 ? formatBytes(agent.release.size) : 'size unknown'}` +
            `${attempts > 0 ? `, ${attempts} attempt${attempts === 1 ? '' : 's'} without progress` : ''}\n`);
        }
        if (agent.download !== null) {
          io.out(`  download: ${formatBytes(agent.download.offset)} durable${agent.release && agent.release.size > 0 ? ` of ${formatBytes(agent.release.size)}` : ''}` +
            ` (${agent.download.format ?? 'format unknown'}), resumes from byte ${agent.download.hashOffset}\n`);
        }
        if (agent.notBefore > 0) io.out(`  next check not before ${new Date(agent.notBefore).toISOString()}\n`);
        if (agent.notBefore < 0) io.out('  polling stopped by a configuration error\n');
      }
      return EXIT_OK;
    } finally {
      device.close();
    }
  },
};
