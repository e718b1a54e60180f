import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/util/virtual-clock.js';

describe('VirtualClock', () => {
  it('wakes sleepers and timers in time order as time advances', async () => {
    const clock = new VirtualClock(1000);
    const order: string[] = [];
    clock.sleep(30).then(() => order.push('sleep30'));
    clock.timer(10, () => order.push('timer10'));
    clock.sleep(20).then(() => order.push('sleep20'));
    expect(clock.nextWake()).toBe(1010);
    clock.advance(25);
    await Promise.resolve();
    expect(order).toEqual(['timer10', 'sleep20']);
    expect(clock.pending()).toBe(1);
    clock.advance(5);
    await Promise.resolve();
    expect(order).toEqual(['timer10', 'sleep20', 'sleep30']);
    expect(clock.now()).toBe(1030);
  });

  it('forgets a cancelled timer, so nothing stays pending', () => {
    const clock = new VirtualClock(0);
    let fired = false;
    const cancel = clock.timer(50, () => { fired = true; });
    expect(clock.pending()).toBe(1);
    cancel();
    expect(clock.pending()).toBe(0);
    clock.advance(100);
    expect(fired).toBe(false);
  });
});
