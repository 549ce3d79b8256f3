/** 2x nearest/bilinear upsampling and 2x2 average pooling on NCHW, with gradients. */
import type { GpuRuntime } from '../gpu/runtime.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { allocArray, ceilDiv, knob, launch, layoutOf, program, WG, type DeviceArray } from './program.js';

const FIELDS = [['planes', 'u32'], ['H', 'u32'], ['W', 'u32'], ['OH', 'u32'], ['OW', 'u32'], ['scale', 'f32'], ['_p0', 'u32'], ['_p1', 'u32']] as const;
export type UpsampleMode = 'nearest' | 'bilinear';

function nchw(op: string, shape: readonly number[]): [number, number, number, number] {
  if (shape.length !== 4) throw new ShapeError(`${op}: input must be [N, C, H, W], got ${fmtShape(shape)}`);
  return shape as [number, number, number, number];
}

function run(rt: GpuRuntime, entry: string, src: DeviceArray, outShape: number[], planes: number, H: number, W: number, OH: number, OW: number, scale: number, threads: number): DeviceArray {
  const out = allocArray(rt, outShape, entry);
  launch(rt, program('resample', entry), layoutOf('resample', FIELDS), { planes, H, W, OH, OW, scale, _p0: 0, _p1: 0 }, [src.storage, out], ceilDiv(threads, WG));
  return { storage: out, shape: outShape };
}

/**
 * Whether nearest upsampling and the 2x2 block sums move vec4 rows (up_nearest4, sum2x2_4) where
 * the widths allow: one integer division per four pixels instead of three per float, which on
 * lavapipe is a scalar loop over the lanes. Knob FFM_RESAMPLE_VEC4=0 keeps the per-float kernels.
 */
function rows4(): boolean {
  return knob('FFM_RESAMPLE_VEC4') !== 0;
}

/** scale x the sum of each aligned 2x2 block of src (H x W) into OH x OW */
function sum2x2(rt: GpuRuntime, src: DeviceArray, outShape: number[], planes: number, H: number, W: number, OH: number, OW: number, scale: number): DeviceArray {
  if (rows4() && OW % 4 === 0 && H === 2 * OH && W === 2 * OW) return run(rt, 'sum2x2_4', src, outShape, planes, H, W, OH, OW, scale, (planes * OH * OW) / 4);
  return run(rt, 'sum2x2', src, outShape, planes, H, W, OH, OW, scale, planes * OH * OW);
}

export function upsample2x(rt: GpuRuntime, x: DeviceArray, mode: UpsampleMode): DeviceArray {
  const [N, C, H, W] = nchw('upsample2x', x.shape);
  const planes = N * C;
  if (mode === 'nearest' && rows4() && W % 4 === 0) return run(rt, 'up_nearest4', x, [N, C, 2 * H, 2 * W], planes, H, W, 2 * H, 2 * W, 1, (planes * H * W) / 4);
  const entry = mode === 'nearest' ? 'up_nearest' : 'up_bilinear';
  return run(rt, entry, x, [N, C, 2 * H, 2 * W], planes, H, W, 2 * H, 2 * W, 1, planes * 4 * H * W);
}

/** Gradient of upsample2x: dy is [N, C, 2H, 2W], the result [N, C, H, W]. */
export function upsample2xBackward(rt: GpuRuntime, dy: DeviceArray, mode: UpsampleMode): DeviceArray {
  const [N, C, OH, OW] = nchw('upsample2xBackward', dy.shape);
  if (OH % 2 || OW % 2) throw new ShapeError(`upsample2xBackward: gradient ${fmtShape(dy.shape)} must have even height and width`);
  const H = OH / 2;
  const W = OW / 2;
  const planes = N * C;
  if (mode === 'nearest') return sum2x2(rt, dy, [N, C, H, W], planes, OH, OW, H, W, 1);
  return run(rt, 'up_bilinear_backward', dy, [N, C, H, W], planes, H, W, OH, OW, 1, planes * H * W);
}

/** 2x2 average pooling with stride 2; odd sizes drop the last row/column (PyTorch's floor). */
export function avgPool2x(rt: GpuRuntime, x: DeviceArray): DeviceArray {
  const [N, C, H, W] = nchw('avgPool2x', x.shape);
  const OH = Math.floor(H / 2);
  const OW = Math.floor(W / 2);
  if (OH < 1 || OW < 1) throw new ShapeError(`avgPool2x: input ${fmtShape(x.shape)} is smaller than 2x2`);
  const planes = N * C;
  return sum2x2(rt, x, [N, C, OH, OW], planes, H, W, OH, OW, 0.25);
}

export function avgPool2xBackward(rt: GpuRuntime, dy: DeviceArray, xShape: readonly number[]): DeviceArray {
  const [N, C, H, W] = nchw('avgPool2xBackward', xShape);
  const planes = N * C;
  return run(rt, 'avgpool_backward', dy, [N, C, H, W], planes, H, W, Math.floor(H / 2), Math.floor(W / 2), 1, planes * H * W);
}

/**
 * x [N, C, H, W] dilated by 2 into [N, C, OH, OW]: out[2y][2x] = x[y][x], zeros between and past
 * (OH >= 2H - 1, OW >= 2W - 1). The stride-2 convolution's input gradient runs as the stride-1
 * one over its output gradient dilated so (conv2d.ts).
 */
export function dilate2x(rt: GpuRuntime, x: DeviceArray, OH: number, OW: number): DeviceArray {
  const [N, C, H, W] = nchw('dilate2x', x.shape);
  if (OH < 2 * H - 1 || OW < 2 * W - 1) throw new ShapeError(`dilate2x: ${OH}x${OW} cannot hold ${fmtShape(x.shape)} dilated by 2`);
  return run(rt, 'dilate2', x, [N, C, OH, OW], N * C, H, W, OH, OW, 1, N * C * Math.ceil(OH / 2) * Math.ceil(OW / 2));
}
