/** Softmax over the last axis, with an input scale (attention's 1/sqrt(d)), and its gradient. */
import type { GpuRuntime } from '../gpu/runtime.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { allocArray, ceilDiv, knob, launch, layoutOf, program, size, WG, type DeviceArray } from './program.js';

const FIELDS = [['rows', 'u32'], ['L', 'u32'], ['scale', 'f32'], ['_p', 'u32']] as const;

function rows(op: string, shape: readonly number[]): [number, number] {
  if (shape.length < 1) throw new ShapeError(`${op}: needs rank >= 1, got ${fmtShape(shape)}`);
  const L = shape[shape.length - 1]!;
  return [size(shape) / L, L];
}

/**
 * The entry point and the row length it counts in: by vec4s where L % 4 == 0 (`<entry>4`; knob
 * FFM_SOFTMAX_VEC=0: floats). The sums then run in four lanes: float rounding differs.
 */
function rowPass(entry: string, L: number): { entry: string; L: number } {
  return L % 4 === 0 && knob('FFM_SOFTMAX_VEC') !== 0 ? { entry: `${entry}4`, L: L / 4 } : { entry, L };
}

/** y = softmax(scale * x) along the last axis. */
export function softmax(rt: GpuRuntime, x: DeviceArray, scale = 1): DeviceArray {
  const [r, L] = rows('softmax', x.shape);
  const out = allocArray(rt, x.shape, 'softmax');
  const pass = rowPass('forward', L);
  launch(rt, program('softmax', pass.entry), layoutOf('softmax', FIELDS), { rows: r, L: pass.L, scale, _p: 0 }, [x.storage, out], ceilDiv(r, WG));
  return { storage: out, shape: [...x.shape] };
}

/**
 * The column kernels' uniforms and workgroups for x: [B, R, C], C % 4 == 0: one invocation per
 * four adjacent columns of a batch entry (u.rows column quads in all, u.L = R rows, u._p quads per entry).
 */
function columnPass(op: string, shape: readonly number[], scale: number): { fields: Record<(typeof FIELDS)[number][0], number>; groups: number } {
  if (shape.length !== 3 || shape[2]! % 4 !== 0) throw new ShapeError(`${op}: expected [B, R, C] with C % 4 == 0, got ${fmtShape(shape)}`);
  const [B, R, C] = shape as [number, number, number];
  return { fields: { rows: (B * C) / 4, L: R, scale, _p: C / 4 }, groups: ceilDiv((B * C) / 4, WG) };
}

/**
 * y = softmax(scale * x) over the second-to-last axis of x: [B, R, C] (each of the C columns of a
 * batch entry sums to 1), C % 4 == 0. Attention computes its scores transposed (k^T q: one column
 * per query) for this, so that the value product reads them untransposed.
 */
export function softmaxColumns(rt: GpuRuntime, x: DeviceArray, scale = 1): DeviceArray {
  const pass = columnPass('softmaxColumns', x.shape, scale);
  const out = allocArray(rt, x.shape, 'softmaxColumns');
  launch(rt, program('softmax', 'columns4'), layoutOf('softmax', FIELDS), pass.fields, [x.storage, out], pass.groups);
  return { storage: out, shape: [...x.shape] };
}

/** dx for y = softmaxColumns(x, scale), given y and dy. */
export function softmaxColumnsBackward(rt: GpuRuntime, y: DeviceArray, dy: DeviceArray, scale = 1): DeviceArray {
  const pass = columnPass('softmaxColumnsBackward', y.shape, scale);
  const out = allocArray(rt, y.shape, 'softmaxColumnsBackward');
  launch(rt, program('softmax', 'columns_backward4'), layoutOf('softmax', FIELDS), pass.fields, [y.storage, dy.storage, out], pass.groups);
  return { storage: out, shape: [...y.shape] };
}

/** dx for y = softmax(scale * x), given y and dy. */
export function softmaxBackward(rt: GpuRuntime, y: DeviceArray, dy: DeviceArray, scale = 1): DeviceArray {
  const [r, L] = rows('softmaxBackward', y.shape);
  const out = allocArray(rt, y.shape, 'softmaxBackward');
  const pass = rowPass('backward', L);
  launch(rt, program('softmax', pass.entry), layoutOf('softmax', FIELDS), { rows: r, L: pass.L, scale, _p: 0 }, [y.storage, dy.storage, out], ceilDiv(r, WG));
  return { storage: out, shape: [...y.shape] };
}
