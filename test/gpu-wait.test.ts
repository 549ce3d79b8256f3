import { afterEach, describe, expect, it } from 'vitest';
import { gpuWait, setWaitMode } from '../src/gpu/wait.js';

/** What dawn.node does while a promise is pending: re-queue a device tick through the global setImmediate until the work is done (at doneMs). */
function pendingLikeDawn(doneMs: number): { promise: Promise<number>; ticks: () => number } {
  let ticks = 0;
  const start = performance.now();
  const promise = new Promise<number>((resolve) => {
    const tick = () => {
      ticks++;
      if (performance.now() - start >= doneMs) resolve(performance.now() - start);
      else setImmediate(tick);
    };
    setImmediate(tick);
  });
  return { promise, ticks: () => ticks };
}

describe('waiting for the GPU', () => {
  afterEach(() => setWaitMode('adaptive'));

  it('adaptive (the default) and hybrid: a 6 ms wait takes a small fraction of the ticks that spinning takes, and setImmediate is itself again afterwards', async () => {
    const original = setImmediate;
    setWaitMode('spin');
    const spun = pendingLikeDawn(6);
    await gpuWait(spun.promise);
    setWaitMode('adaptive');
    const slept = pendingLikeDawn(6);
    expect(await gpuWait(slept.promise)).toBeGreaterThanOrEqual(6);
    expect(globalThis.setImmediate).toBe(original);
    setWaitMode('hybrid');
    const timed = pendingLikeDawn(6);
    expect(await gpuWait(timed.promise)).toBeGreaterThanOrEqual(6);
    expect(globalThis.setImmediate).toBe(original);
    // spinning ticks thousands of times in 6 ms; both throttled waits spin only their first 0.5 ms
    expect(slept.ticks()).toBeLessThan(spun.ticks() / 4);
    expect(timed.ticks()).toBeLessThan(spun.ticks() / 4);
  });
});
