import type { Clock } from '../util/clock.js';
import type { EspruinoRuntime } from './runtime.js';
import { deviceRuntime } from './runtime.js';

declare const Date: { now(): number };

/** Wall-clock time and sleeps through the firmware's setTimeout. */
export function espruinoClock(runtime?: EspruinoRuntime): Clock {
  const firmware = runtime !== undefined ? runtime : deviceRuntime();
  return {
    now: function (): number {
      return Date.now();
    },
    sleep: function (ms: number): Promise<void> {
      return new Promise(function (resolve) {
        firmware.setTimeout(resolve, ms);
      });
    },
  };
}
