/**
 * Waiting for the GPU without stealing a CPU core.
 *
 * dawn.node resolves a pending mapAsync/onSubmittedWorkDone by re-queuing a device tick
 * with the global setImmediate, i.e. it spins one core for as long as the promise is
 * pending. With a software GPU (lavapipe) on two cores that core is the one the shader
 * threads need. While we wait, ticks in the first SPIN_MS go through unchanged (short
 * waits stay fast); later ones are delayed. In a browser there is no setImmediate and this
 * is a plain await.
 *
 * How later ticks are delayed ('adaptive', the default): until SLEEP_UNTIL_MS the thread sleeps
 * (Atomics.wait, no CPU) for an eighth of the time waited so far before each tick, so a wait
 * overshoots the GPU's completion by about an eighth at most; past it, a 1 ms timer, which lets
 * the event loop run. 'hybrid' (before 2026-12-05) took the 1 ms timer right after SPIN_MS,
 * whose granularity (1-2 ms in Node) added up to 2 ms to every wait of a few dispatches: a
 * three-dispatch attention measured 5.5 ms, two of them that timer.
 */
const SPIN_MS = 0.5;
const SLEEP_UNTIL_MS = 8;
const MIN_SLEEP_MS = 0.05;
let depth = 0;
let original: ((cb: (...a: unknown[]) => void, ...args: unknown[]) => unknown) | undefined;
let waitStart = 0;
// Atomics.wait needs a shared Int32Array; nothing ever notifies it, so each wait runs its timeout
const sleeper = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : undefined;

type ImmediateFn = (cb: (...a: unknown[]) => void, ...args: unknown[]) => unknown;

/** 'adaptive' (default) and 'hybrid' throttle polling after SPIN_MS (above); 'spin' leaves dawn.node's polling alone (for comparison benchmarks). */
export type WaitMode = 'adaptive' | 'hybrid' | 'spin';
let mode: WaitMode = 'adaptive';
export function setWaitMode(m: WaitMode): void {
  mode = m;
}

/** The setImmediate that dawn.node's ticks go through while a wait that began at waitStart is pending. */
function throttled(spin: ImmediateFn): ImmediateFn {
  return (cb, ...args) => {
    const waited = performance.now() - waitStart;
    if (waited < SPIN_MS) return spin(cb, ...args);
    if (mode === 'adaptive' && sleeper && waited < SLEEP_UNTIL_MS) {
      Atomics.wait(sleeper, 0, 0, Math.max(MIN_SLEEP_MS, waited / 8));
      return spin(cb, ...args);
    }
    return setTimeout(cb, 1, ...args);
  };
}

export async function gpuWait<T>(promise: Promise<T>): Promise<T> {
  const g = globalThis as unknown as { setImmediate?: ImmediateFn };
  if (typeof g.setImmediate !== 'function' || mode === 'spin') return promise;
  if (depth++ === 0) {
    original = g.setImmediate;
    waitStart = performance.now();
    g.setImmediate = throttled(original);
  }
  try {
    return await promise;
  } finally {
    if (--depth === 0 && original) {
      g.setImmediate = original;
      original = undefined;
    }
  }
}
