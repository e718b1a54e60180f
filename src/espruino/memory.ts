import type { EspruinoRuntime } from './runtime.js';
import { deviceRuntime } from './runtime.js';

/** Free and total variable blocks (process.memory()), so an application can decline an update when memory is short. */
export function memoryReport(runtime?: EspruinoRuntime): { free: number; total: number } {
  const memory = (runtime || deviceRuntime()).memory();
  return { free: memory.free, total: memory.total };
}
