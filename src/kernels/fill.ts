/** Constant and seeded random fills (shaders/fill.wgsl; same stream as src/util/rng.ts). */
import type { GpuRuntime } from '../gpu/runtime.js';
import { allocArray, ceilDiv, launch, layoutOf, program, size, WG, type DeviceArray } from './program.js';

const FIELDS = [
  ['n', 'u32'], ['seed', 'u32'], ['offset', 'u32'], ['_pad', 'u32'],
  ['a', 'f32'], ['b', 'f32'], ['_p1', 'f32'], ['_p2', 'f32'],
] as const;

function fillWith(rt: GpuRuntime, shape: readonly number[], mode: number, a: number, b: number, seed: number, offset: number, op: string): DeviceArray {
  const n = size(shape);
  const out = allocArray(rt, shape, op);
  launch(rt, program('fill', 'main', { MODE: mode }), layoutOf('fill', FIELDS), { n, seed, offset, _pad: 0, a, b, _p1: 0, _p2: 0 }, [out], ceilDiv(n, WG));
  return { storage: out, shape: [...shape] };
}

export function fillConstant(rt: GpuRuntime, shape: readonly number[], value: number): DeviceArray {
  return fillWith(rt, shape, 0, value, 0, 0, 0, 'fill');
}

/** Uniform in [low, high): element i is uniformAt(seed, offset + i) scaled. */
export function randomUniform(rt: GpuRuntime, shape: readonly number[], seed: number, low = 0, high = 1, offset = 0): DeviceArray {
  return fillWith(rt, shape, 1, low, high, seed >>> 0, offset >>> 0, 'randomUniform');
}

/** Normal(mean, std): element i is normalAt(seed, offset + i). */
export function randomNormal(rt: GpuRuntime, shape: readonly number[], seed: number, mean = 0, std = 1, offset = 0): DeviceArray {
  return fillWith(rt, shape, 2, mean, std, seed >>> 0, offset >>> 0, 'randomNormal');
}
