/**
 * Waiting for the GPU without stealing a CPU core.
 *
 * dawn.node resolves a pending mapAsync/onSubmittedWorkDone by re-queuing a device tick
 * with the global setImmediate, i.e. it spins one core for as long as the promise is
 * pending. With a software GPU (lavapipe) on two cores that core is the one the shader
 * threads need. While we wait, ticks in the first SPIN_MS go through unchanged (short
 * waits stay fast); later ones are delayed by a 1 ms timer. In a browser there is no
 * setImmediate and this is a plain await.
 */
const SPIN_MS = 0.5;
let depth = 0;
let original: ((cb: (...a: unknown[]) => void, ...args: unknown[]) => unknown) | undefined;
let waitStart = 0;

type ImmediateFn = (cb: (...a: unknown[]) => void, ...args: unknown[]) => unknown;

/** 'hybrid' (default) throttles polling after SPIN_MS; 'spin' leaves dawn.node's polling alone (for comparison benchmarks). */
export type WaitMode = 'hybrid' | 'spin';
let mode: WaitMode = 'hybrid';
export function setWaitMode(m: WaitMode): void {
  mode = m;
}

export async function gpuWait<T>(promise: Promise<T>): Promise<T> {
  const g = globalThis as unknown as { setImmediate?: ImmediateFn };
  if (typeof g.setImmediate !== 'function' || mode === 'spin') return promise;
  if (depth++ === 0) {
    original = g.setImmediate;
    waitStart = performance.now();
    const spin = original;
    g.setImmediate = (cb, ...args) =>
      performance.now() - waitStart < SPIN_MS ? spin(cb, ...args) : setTimeout(cb, 1, ...args);
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
