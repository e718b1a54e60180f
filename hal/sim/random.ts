import type { Random } from '../../src/util/clock.js';

// No Math.imul: SimFlash stays runnable on the portable targets (Espruino lacks it).
function mul32(a: number, b: number): number {
  return ((((a >>> 16) * b) & 0xffff) * 65536 + (a & 0xffff) * b) | 0;
}

/** A seeded PRNG (mulberry32): every random choice of the simulator replays from its seed. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return function next(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = mul32(t ^ (t >>> 15), t | 1);
    t ^= t + mul32(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random() * n);
}
