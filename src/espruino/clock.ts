import type { Clock } from '../util/clock.js';
import type { EspruinoRuntime } from './runtime.js';
import { deviceRuntime } from './runtime.js';

declare const Date: { now(): number };

/**
 * Wall-clock time, sleeps and cancellable timers through the firmware's setTimeout. The timers matter on a board: an
 * HTTP timeout left pending (as `sleep` would leave it) keeps its closures and their scopes alive until it fires.
 */
export function espruinoClock(runtime?: EspruinoRuntime): Clock {
  const firmware = runtime || deviceRuntime();
  return {
    now: function (): number {
      return Date.now();
    },
    sleep: function (ms: number): Promise<void> {
      return new Promise(function (resolve) {
        firmware.setTimeout(resolve, ms);
      });
    },
    timer: function (ms: number, fire: () => void): () => void {
      const handle = firmware.setTimeout(fire, ms);
      return function (): void {
        firmware.clearTimeout(handle);
      };
    },
  };
}
