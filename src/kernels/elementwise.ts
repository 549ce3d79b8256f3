/** Elementwise unary ops and broadcasting binary ops (shaders/elementwise.wgsl). */
import type { GpuRuntime } from '../gpu/runtime.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { allocArray, ceilDiv, knob, launch, layoutOf, program, size, WG, type DeviceArray } from './program.js';

export const UNARY_OPS = {
  identity: 0, neg: 1, exp: 2, log: 3, sqrt: 4, silu: 5, gelu: 6, sigmoid: 7, tanh: 8, relu: 9,
  abs: 10, square: 11, pow: 12, clamp: 13, affine: 14, siluGrad: 15, geluGrad: 16, rsqrt: 17,
  sign: 18, reciprocal: 19, inRange: 20,
} as const;
export type UnaryOp = keyof typeof UNARY_OPS;

export const BINARY_OPS = { add: 0, sub: 1, mul: 2, div: 3, pow: 4, maximum: 5, minimum: 6, sqdiff: 7, absdiff: 8, greaterEqual: 9, expand: 10 } as const;
export type BinaryOp = keyof typeof BINARY_OPS;

const MAX_RANK = 8;

export function unary(rt: GpuRuntime, x: DeviceArray, op: UnaryOp, a = 0, b = 0): DeviceArray {
  const n = size(x.shape);
  const out = allocArray(rt, x.shape, op);
  const layout = layoutOf('unary', [['n', 'u32'], ['a', 'f32'], ['b', 'f32'], ['_pad', 'u32']]);
  launch(rt, program('elementwise', 'unary', { OP: UNARY_OPS[op] }), layout, { n, a, b, _pad: 0 }, [x.storage, out], ceilDiv(n, WG * 4));
  return { storage: out, shape: [...x.shape] };
}

/** NumPy broadcasting of two shapes, or a ShapeError naming the op. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast (axis ${i}: ${da} vs ${db})`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `shape` viewed inside `outShape` (0 along broadcast axes). */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    strides[rank - shape.length + i] = d === 1 ? 0 : s;
    s *= d;
  }
  return strides;
}

/** Broadcasts x to `shape` (a copy; the gradient of a reduction). */
export function expand(rt: GpuRuntime, x: DeviceArray, shape: readonly number[]): DeviceArray {
  const target = broadcastShapes('expand', x.shape, shape);
  if (target.length !== shape.length || target.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`expand: ${fmtShape(x.shape)} cannot be broadcast to ${fmtShape(shape)}`);
  }
  return binaryInto(rt, x, x, 'expand', target, broadcastStrides(x.shape, target), new Array(target.length).fill(0));
}

export function binary(rt: GpuRuntime, a: DeviceArray, b: DeviceArray, op: BinaryOp): DeviceArray {
  const shape = broadcastShapes(op, a.shape, b.shape);
  return binaryInto(rt, a, b, op, shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
}

function binaryInto(rt: GpuRuntime, a: DeviceArray, b: DeviceArray, op: BinaryOp, shape: number[], aStrides: number[], bStrides: number[]): DeviceArray {
  if (shape.length > MAX_RANK) throw new ShapeError(`${op}: rank ${shape.length} exceeds ${MAX_RANK}`);
  const n = size(shape);
  const out = allocArray(rt, shape, op);
  const same = op !== 'expand' && size(a.shape) === n && size(b.shape) === n;
  const layout = layoutOf('binary', [
    ['n', 'u32'], ['rank', 'u32'], ['_p0', 'u32'], ['_p1', 'u32'],
    ['out_shape', 'vec4u', 2], ['a_strides', 'vec4u', 2], ['b_strides', 'vec4u', 2],
  ]);
  // same shapes of a multiple of 4 elements: by vec4s (binary4; knob FFM_BINARY_VEC=0: by floats)
  const by4 = same && n % 4 === 0 && knob('FFM_BINARY_VEC') !== 0;
  const units = by4 ? n / 4 : n; // what ub.n counts: vec4s or floats
  launch(
    rt,
    by4 ? program('elementwise', 'binary4', { OP: BINARY_OPS[op] }) : program('elementwise', 'binary', { OP: BINARY_OPS[op], BROADCAST: same ? 0 : 1 }),
    layout,
    { n: units, rank: shape.length, _p0: 0, _p1: 0, out_shape: shape, a_strides: aStrides, b_strides: bStrides },
    [a.storage, b.storage, out],
    ceilDiv(units, WG * 4),
  );
  return { storage: out, shape };
}
