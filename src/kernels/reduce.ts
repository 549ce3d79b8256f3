/** Sum (times a scale, so mean too) over any set of axes (shaders/reduce.wgsl). */
import type { GpuRuntime, Storage } from '../gpu/runtime.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { allocArray, ceilDiv, knob, launch, layoutOf, program, size, WG, type DeviceArray } from './program.js';

const MAX_DIMS = 8;
/**
 * Up to this many outputs, a sum over more than 1,024 terms runs one workgroup per output
 * (main_wg, one pass) instead of chunked partial sums and a second pass: a conv's bias gradient
 * (16-128 outputs of N*H*W terms) was two dispatches. Knob FFM_REDUCE_WG=0 keeps the two passes.
 */
const MAX_WORKGROUP_OUTPUTS = 4096;
const FIELDS = [
  ['out_count', 'u32'], ['red_count', 'u32'], ['kept_rank', 'u32'], ['red_rank', 'u32'],
  ['parts', 'u32'], ['chunk', 'u32'], ['_p0', 'u32'], ['scale', 'f32'],
  ['kept_shape', 'vec4u', 2], ['kept_strides', 'vec4u', 2], ['red_shape', 'vec4u', 2], ['red_strides', 'vec4u', 2],
] as const;

export function normalizeAxes(op: string, shape: readonly number[], axes: readonly number[] | undefined): number[] {
  if (axes === undefined) return shape.map((_, i) => i);
  const out = new Set<number>();
  for (const a of axes) {
    const ax = a < 0 ? a + shape.length : a;
    if (!Number.isInteger(ax) || ax < 0 || ax >= shape.length) throw new ShapeError(`${op}: axis ${a} out of range for ${fmtShape(shape)}`);
    out.add(ax);
  }
  return [...out].sort((x, y) => x - y);
}

/** Splits the shape into merged kept and reduced dims, each with its element stride. */
function plan(shape: readonly number[], axes: readonly number[]) {
  const strides: number[] = [];
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  const kept: [number, number][] = [];
  const red: [number, number][] = [];
  let prevReduced: boolean | null = null;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const r = axes.includes(i);
    const list = r ? red : kept;
    if (prevReduced === r && list.length) {
      const last = list[list.length - 1]!; // contiguous with the previous dim: merge
      last[0] *= shape[i]!;
      last[1] = strides[i]!;
    } else list.push([shape[i]!, strides[i]!]);
    prevReduced = r;
  }
  return { kept, red };
}

/** Sums x over `axes` (all when undefined) and multiplies by `scale`; keepDims keeps size-1 axes. */
export function sum(rt: GpuRuntime, x: DeviceArray, axes?: readonly number[], keepDims = false, scale = 1): DeviceArray {
  const ax = normalizeAxes('sum', x.shape, axes);
  const outShape = keepDims ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.includes(i));
  const outCount = size(outShape);
  const redCount = ax.reduce((p, a) => p * x.shape[a]!, 1);
  const { kept, red } = plan(x.shape, ax);
  if (kept.length > MAX_DIMS || red.length > MAX_DIMS) throw new ShapeError(`sum: ${fmtShape(x.shape)} has too many non-contiguous axes`);
  if (red.length === 0) red.push([1, 0]);
  const uniforms = (parts: number, chunk: number) => ({
    out_count: outCount, red_count: redCount, kept_rank: kept.length, red_rank: red.length,
    parts, chunk, _p0: 0, scale,
    kept_shape: kept.map((k) => k[0]), kept_strides: kept.map((k) => k[1]),
    red_shape: red.map((r) => r[0]), red_strides: red.map((r) => r[1]),
  });
  if (redCount > 1024 && outCount <= MAX_WORKGROUP_OUTPUTS && knob('FFM_REDUCE_WG') !== 0) {
    // long reductions with few outputs: one workgroup per output, one pass (main needs two)
    const out = allocArray(rt, outShape, 'sum');
    launch(rt, program('reduce', 'main_wg'), layoutOf('reduce', FIELDS), uniforms(WG, Math.ceil(redCount / WG)), [x.storage, out], outCount);
    return { storage: out, shape: outShape };
  }
  // split long reductions with few outputs so enough invocations run at once
  const parts = Math.max(1, Math.min(Math.ceil(redCount / 1024), Math.floor(16384 / Math.max(1, outCount))));
  const chunk = Math.ceil(redCount / parts);
  const first = allocArray(rt, parts > 1 ? [outCount, parts] : outShape, 'sum');
  launch(
    rt,
    program('reduce', 'main'),
    layoutOf('reduce', FIELDS),
    uniforms(parts, chunk),
    [x.storage, first],
    ceilDiv(outCount * parts, WG),
  );
  if (parts === 1) return { storage: first, shape: outShape };
  const second = sum(rt, { storage: first, shape: [outCount, parts] }, [1]);
  rt.free(first);
  return { storage: second.storage, shape: outShape };
}

/** Elements per partial sum of sumSquaresInto: long enough that few partials come back, short enough that many invocations run. */
export const SUM_SQUARES_CHUNK = 256;
const SQ_FIELDS = [['count', 'u32'], ['offset', 'u32'], ['chunk', 'u32'], ['_p', 'u32']] as const;

/** How many partial sums sumSquaresInto writes for a tensor of `count` elements. */
export function sumSquaresParts(count: number): number {
  return ceilDiv(count, SUM_SQUARES_CHUNK);
}

/**
 * Writes the sums of squares of x's consecutive SUM_SQUARES_CHUNK-element chunks to
 * out[offset .. offset + sumSquaresParts(size)): one dispatch per tensor, no temporary, and
 * the caller adds every tensor's parts after one readback (in float64).
 */
export function sumSquaresInto(rt: GpuRuntime, x: DeviceArray, out: Storage, offset: number): void {
  const count = size(x.shape);
  if (count === 0) return;
  const parts = sumSquaresParts(count);
  launch(rt, program('reduce', 'sum_squares'), layoutOf('sum-squares', SQ_FIELDS), { count, offset, chunk: SUM_SQUARES_CHUNK, _p: 0 }, [x.storage, out], ceilDiv(parts, WG));
}
