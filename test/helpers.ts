import { getNodeRuntime } from '../src/gpu/node-device.js';
import type { GpuRuntime } from '../src/gpu/runtime.js';
import { useRuntime } from '../src/autograd/tensor.js';
import { SeededRng } from '../src/util/rng.js';

export async function gpu(): Promise<GpuRuntime> {
  const rt = await getNodeRuntime();
  useRuntime(rt);
  return rt;
}

/** Deterministic test data in [-1, 1). */
export function randomArray(n: number, seed: number): Float32Array {
  const r = new SeededRng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.next() * 2 - 1;
  return a;
}

/**
 * Error measure used throughout the kernel tests: the largest absolute difference divided by
 * the largest magnitude of the float64 reference (so a sum of many products is judged against
 * its own scale, and near-zero entries do not blow up the ratio).
 */
export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= err)) err = Number.isNaN(d) ? Infinity : d;
  }
  return err / Math.max(scale, 1e-12);
}

/** f32 kernels against float64 references. */
export const F32_TOL = 1e-4;
