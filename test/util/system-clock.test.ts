import { afterEach, describe, expect, it, vi } from 'vitest';
import { SystemClock } from '../../src/node/clock.js';

describe('SystemClock', () => {
  afterEach(() => { vi.useRealTimers(); });

  // A Retry-After of years or a far-future notBefore must wait, not fire at once as setTimeout does past 2^31 - 1 ms.
  it('waits out timers and sleeps longer than setTimeout can hold, and cancels them part-way', async () => {
    vi.useFakeTimers();
    const clock = new SystemClock();
    const long = 3 * 0x7fffffff + 5;
    let fired = 0;
    clock.timer(long, () => { fired++; });
    let slept = false;
    void clock.sleep(long).then(() => { slept = true; });
    let cancelledFired = false;
    const cancel = clock.timer(long, () => { cancelledFired = true; });
    await vi.advanceTimersByTimeAsync(10);
    expect(fired).toBe(0);
    await vi.advanceTimersByTimeAsync(2 * 0x7fffffff);
    expect(fired).toBe(0);
    cancel();
    await vi.advanceTimersByTimeAsync(0x7fffffff - 20);
    expect(fired).toBe(0);
    expect(slept).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(fired).toBe(1);
    expect(slept).toBe(true);
    expect(cancelledFired).toBe(false);
  });
});
