/**
 * Square windows of a token map (shaders/window.wgsl), for attention within windows: gather
 * [B, C, H, W] -> [B * windows, C, wh * ww] and scatter back, the last window of each row and
 * column moved inside the map (so windows overlap where the side does not divide the map's).
 */
import type { GpuRuntime } from '../gpu/runtime.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { allocArray, ceilDiv, dummy, launch, layoutOf, program, WG, type DeviceArray } from './program.js';
import { statsOnePass } from './norm.js';

const FIELDS = [['B', 'u32'], ['C', 'u32'], ['H', 'u32'], ['W', 'u32'], ['wh', 'u32'], ['ww', 'u32'], ['nwy', 'u32'], ['nwx', 'u32'], ['G', 'u32'], ['has_affine', 'u32'], ['act', 'u32'], ['eps', 'f32']] as const;

/** How a H x W map is cut into windows of side `side` (at most the map's side). */
export interface WindowPlan { H: number; W: number; wh: number; ww: number; nwy: number; nwx: number }

export function windowPlan(H: number, W: number, side: number): WindowPlan {
  if (!Number.isInteger(side) || side < 1) throw new ShapeError(`windowPlan: the window side must be a positive integer, got ${side}`);
  const wh = Math.min(side, H);
  const ww = Math.min(side, W);
  return { H, W, wh, ww, nwy: Math.ceil(H / wh), nwx: Math.ceil(W / ww) };
}

const uniforms = (B: number, C: number, p: WindowPlan, G = 1, hasAffine = 0, act = 0, eps = 0) => ({ B, C, H: p.H, W: p.W, wh: p.wh, ww: p.ww, nwy: p.nwy, nwx: p.nwx, G, has_affine: hasAffine, act, eps });

/** x [B, C, H * W] (a H x W map) -> [B * nwy * nwx, C, wh * ww], window by window. */
export function windowGather(rt: GpuRuntime, x: DeviceArray, p: WindowPlan): DeviceArray {
  if (x.shape.length !== 3 || x.shape[2] !== p.H * p.W) throw new ShapeError(`windowGather: expected [B, C, ${p.H * p.W}], got ${fmtShape(x.shape)}`);
  const [B, C] = x.shape as [number, number, number];
  const shape = [B * p.nwy * p.nwx, C, p.wh * p.ww];
  const out = allocArray(rt, shape, 'window gather');
  launch(rt, program('window', 'gather'), layoutOf('window', FIELDS), uniforms(B, C, p), [x.storage, out], ceilDiv(shape[0]! * C * p.wh, WG));
  return { storage: out, shape };
}

/** The inverse of windowGather for tokens: windows [B * nwy * nwx, C, wh * ww] -> [B, C, H * W]. */
export function windowScatter(rt: GpuRuntime, w: DeviceArray, p: WindowPlan): DeviceArray {
  const n = p.nwy * p.nwx;
  if (w.shape.length !== 3 || w.shape[0]! % n || w.shape[2] !== p.wh * p.ww) {
    throw new ShapeError(`windowScatter: expected [B * ${n}, C, ${p.wh * p.ww}], got ${fmtShape(w.shape)}`);
  }
  const B = w.shape[0]! / n;
  const C = w.shape[1]!;
  const shape = [B, C, p.H * p.W];
  const out = allocArray(rt, shape, 'window scatter');
  launch(rt, program('window', 'scatter'), layoutOf('window', FIELDS), uniforms(B, C, p), [w.storage, out], ceilDiv(B * C * p.H * p.nwx, WG));
  return { storage: out, shape };
}

/**
 * Group norm of x [B, C, H, W] by statistics per window ([B * windows * G, 2]: mean, 1/sqrt(var +
 * eps), of windowGather's windows in order, G groups), interpolated bilinearly between the
 * windows' centres; the affine where gamma and beta are given, then SiLU where act is 'silu'.
 */
export function normByWindows(rt: GpuRuntime, x: DeviceArray, stats: DeviceArray, p: WindowPlan, groups: number, gamma: DeviceArray | null, beta: DeviceArray | null, act: 'none' | 'silu'): DeviceArray {
  const [B, C, H, W] = x.shape as [number, number, number, number];
  if (x.shape.length !== 4 || H !== p.H || W !== p.W || stats.shape[0] !== B * p.nwy * p.nwx * groups) {
    throw new ShapeError(`normByWindows: x ${fmtShape(x.shape)} and stats ${fmtShape(stats.shape)} do not match windows of ${p.wh}x${p.ww} over ${p.H}x${p.W} with ${groups} groups`);
  }
  const out = allocArray(rt, [...x.shape], 'norm by windows');
  const d = dummy(rt);
  launch(rt, program('window', 'norm_smooth'), layoutOf('window', FIELDS), uniforms(B, C, p, groups, gamma && beta ? 1 : 0, act === 'silu' ? 1 : 0),
    [x.storage, stats.storage, gamma?.storage ?? d, beta?.storage ?? d, out], ceilDiv(B * C * H, WG));
  return { storage: out, shape: [...x.shape] };
}

/**
 * Group norm statistics of x [B, C, H, W] per window and group, read in place: [B * windows *
 * G, 2] of mean and 1/sqrt(var + eps), windows in windowGather's order (what normByWindows takes).
 */
export function windowStats(rt: GpuRuntime, x: DeviceArray, p: WindowPlan, groups: number, eps: number): DeviceArray {
  const [B, C, H, W] = x.shape as [number, number, number, number];
  if (x.shape.length !== 4 || H !== p.H || W !== p.W || C % groups) throw new ShapeError(`windowStats: x ${fmtShape(x.shape)} does not match windows over ${p.H}x${p.W} with ${groups} groups`);
  const segments = B * p.nwy * p.nwx * groups;
  const out = allocArray(rt, [segments, 2], 'window stats');
  launch(rt, program('window', 'stats', { ONE_PASS: statsOnePass() }), layoutOf('window', FIELDS), uniforms(B, C, p, groups, 0, 0, eps), [x.storage, out], segments);
  return { storage: out, shape: [segments, 2] };
}
