import type { BundleConfig } from '../agent/sinks/bundle.js';
import { bundleFormat } from '../agent/sinks/bundle.js';
import type { PayloadSink, SinkFormat, SinkOpen } from '../agent/sinks/sink.js';
import type { ReleasePlan } from '../agent/state.js';

// Anti-rollback anchored in the boot records rather than in the agent's journal. A verified bundle's sequence is
// recorded with each staged image (the MCU's own record, or the co-processor's over its link) inside finish(), before
// the agent journals the release as verified: activation never runs on an untagged image, and a power cut in that
// record write is replayed (after a reboot the agent verifies again). Confirming a tagged image raises that MCU's
// floor in the same record write (hal/slots.ts). The device's floor is the highest of its MCUs' floors.
//
// Which images are tagged: the primary MCU's (the one running the agent) when the release changes it, else the
// co-processors'. A co-processor part that the main part requires is switched to and confirmed during activation,
// before the release is confirmed (bundle/activation.ts); had it raised its floor then, a cut before the main image
// confirmed would leave the device refusing the very release it is halfway through (equal sequence, new download).
// The primary image is only confirmed with the release, so the floor rises with the release.

/** An MCU that keeps an anti-rollback floor in its boot record: SimMcu for its own flash, WifiTarget over its link. */
export interface FloorKeeper {
  softwareType: string;
  /** The floor its boot record holds (synchronous: the value read at boot or since). */
  installedSequence(): number;
  /** Records a verified release's sequence with its staged image of the release's part; false when it changes nothing here. */
  recordSequence(release: ReleasePlan): Promise<boolean>;
}

function isKeeper(value: unknown): value is FloorKeeper {
  const candidate = value as { installedSequence?: unknown; recordSequence?: unknown } | null;
  return candidate !== null && typeof candidate === 'object' && typeof candidate.installedSequence === 'function' &&
    typeof candidate.recordSequence === 'function' && typeof (candidate as { softwareType?: unknown }).softwareType === 'string';
}

/** Tags the primary's staged image when the release changes the primary, else every co-processor's (see above). */
async function anchor(plan: ReleasePlan, primary: FloorKeeper, others: FloorKeeper[]): Promise<void> {
  if (await primary.recordSequence(plan)) return;
  for (const keeper of others) await keeper.recordSequence(plan);
}

function recording(sink: PayloadSink, primary: FloorKeeper, others: FloorKeeper[]): PayloadSink {
  return {
    write: (chunk) => sink.write(chunk),
    durableOffset: () => sink.durableOffset(),
    resumeState: () => sink.resumeState(),
    replayPrefix: () => sink.replayPrefix(),
    finish: async () => {
      await sink.finish();
      const plan = sink.plan();
      if (plan === null) return;
      await anchor(plan, primary, others);
    },
    activate: () => sink.activate(),
    softwareTypes: () => sink.softwareTypes(),
    version: () => sink.version(),
    plan: () => sink.plan(),
  };
}

/**
 * The bundle format with its floor read from the boot records of `primary` and of the `others()` that keep one (asked at
 * every sink open, so a reboot's fresh targets count), and each verified bundle's sequence recorded with the staged
 * images that anchor it.
 */
export function anchoredBundleFormat(config: Omit<BundleConfig, 'installedSequence'>, primary: FloorKeeper, others: () => unknown[]): SinkFormat {
  const keepers = (): FloorKeeper[] => others().filter(isKeeper);
  const installedSequence = (): number => keepers().reduce((floor, keeper) => Math.max(floor, keeper.installedSequence()),
    primary.installedSequence());
  const format = bundleFormat({ ...config, installedSequence });
  return {
    name: format.name,
    headBytes: format.headBytes,
    recognizes: (head) => format.recognizes(head),
    open: async (options: SinkOpen) => {
      const sink = await format.open(options);
      return recording(sink, primary, keepers());
    },
  };
}
