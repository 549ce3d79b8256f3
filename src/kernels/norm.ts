/**
 * Group norm (NCHW) and layer norm (last axis) with optional affine parameters, forward and
 * backward (shaders/norm.wgsl). Both are "normalise contiguous segments"; see the shader
 * header for how the affine parameter of an element is found.
 */
import type { GpuRuntime, Storage } from '../gpu/runtime.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { allocArray, ceilDiv, dummy, knob, launch, layoutOf, program, size, vec4sPerInvocation, WG, type DeviceArray } from './program.js';

const FIELDS = [['num_seg', 'u32'], ['L', 'u32'], ['G', 'u32'], ['Cg', 'u32'], ['S', 'u32'], ['has_affine', 'u32'], ['N', 'u32'], ['eps', 'f32']] as const;

/**
 * Whether the statistics kernels (norm.wgsl's and window.wgsl's `stats`) read each segment once,
 * summing x - k and its square with k the segment's first value, instead of twice (the mean, then
 * the centred squares). lavapipe, a 640x480 one-piece forward's window statistics in place
 * (interleaved, 12 rounds, beside a scoring job): 16 x 496 x 656 with windows of 64 px 23.3 -> 11.5 ms,
 * 32 x 248 x 328 / 32 px 15.8 -> 8.2 ms, 48 x 124 x 164 / 16 px 10.7 -> 5.8 ms: the second read cost
 * as much as the first. The plain statistics (normStats, 15 interleaved rounds of 10, quiet):
 * [4,16,64,64] 0.67 -> 0.41 ms, [1,48,176,176] 2.25 -> 1.13 ms, [4,64,64,64] / 32 groups 1.98 -> 1.07 ms.
 * End to end (flow-speed, 7 interleaved rounds, quiet): a 640x480 pair in
 * one piece 2,165 -> 2,043 ms, in the tiles 4,480 -> 4,439 ms. Knob FFM_NORM_ONE_PASS=0 keeps two passes.
 */
export function statsOnePass(): number {
  return knob('FFM_NORM_ONE_PASS') === 0 ? 0 : 1;
}

/** Segment geometry of a normalisation. */
export interface NormPlan {
  numSeg: number;
  L: number;
  G: number;
  Cg: number;
  S: number;
  /** number of affine parameters (G * Cg) */
  params: number;
  eps: number;
}

export function groupNormPlan(shape: readonly number[], groups: number, eps: number): NormPlan {
  if (shape.length < 2) throw new ShapeError(`groupNorm: input must be [N, C, ...], got ${fmtShape(shape)}`);
  const [N, C] = shape as [number, number];
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0) {
    throw new ShapeError(`groupNorm: ${C} channels cannot be split into ${groups} groups (input ${fmtShape(shape)})`);
  }
  const S = size(shape.slice(2));
  const Cg = C / groups;
  return { numSeg: N * groups, L: Cg * S, G: groups, Cg, S, params: C, eps };
}

export function layerNormPlan(shape: readonly number[], eps: number): NormPlan {
  if (shape.length < 1) throw new ShapeError(`layerNorm: input must have rank >= 1, got ${fmtShape(shape)}`);
  const D = shape[shape.length - 1]!;
  return { numSeg: size(shape) / D, L: D, G: 1, Cg: D, S: 1, params: D, eps };
}

/**
 * Whether the element-wise passes (apply, act_grad, backward_apply) take four elements per
 * invocation: where S % 4 == 0 (group norm over maps of 4k pixels), so the four share a channel.
 * Knob FFM_NORM_VEC=0 keeps one element per invocation.
 */
function byFours(p: NormPlan): boolean {
  return p.S % 4 === 0 && knob('FFM_NORM_VEC') !== 0;
}

/**
 * The entry point of an element-wise pass, its overrides and its workgroup count over x's
 * elements. The by-fours entries take four vec4s per invocation where a channel's map holds a
 * multiple of 16 (one set of index divisions per 16 elements; knob FFM_NORM_VQ=<n> sets another
 * count, used only where S % (4 n) == 0).
 */
function elementwisePass(p: NormPlan, entry: string, elements: number): { entry: string; groups: number; overrides: Record<string, number> } {
  if (!byFours(p)) return { entry, groups: ceilDiv(elements, WG), overrides: {} };
  const { VQ, overrides } = vec4sPerInvocation('FFM_NORM_VQ', p.S / 4);
  return { entry: `${entry}4`, groups: ceilDiv(elements / (4 * VQ), WG), overrides };
}

function uniforms(p: NormPlan, affine: boolean) {
  return { num_seg: p.numSeg, L: p.L, G: p.G, Cg: p.Cg, S: p.S, has_affine: affine ? 1 : 0, N: p.numSeg / p.G, eps: p.eps };
}

function checkAffine(op: string, p: NormPlan, x: DeviceArray, t: DeviceArray | null, name: string): void {
  if (t && (t.shape.length !== 1 || t.shape[0] !== p.params)) {
    throw new ShapeError(`${op}: ${name} must be [${p.params}], got ${fmtShape(t.shape)} (input ${fmtShape(x.shape)})`);
  }
}

export interface NormForward {
  y: DeviceArray;
  /** [numSeg, 2]: mean and 1/sqrt(var + eps) per segment, kept for the backward pass */
  stats: DeviceArray;
}

/** Activation fused into the normalisation's output: 'none' or 'silu' (GroupNorm-SiLU). */
export type NormActivation = 'none' | 'silu';
const ACT: Record<NormActivation, number> = { none: 0, silu: 1 };

export function normForward(rt: GpuRuntime, op: string, x: DeviceArray, p: NormPlan, gamma: DeviceArray | null, beta: DeviceArray | null, act: NormActivation = 'none'): NormForward {
  checkAffine(op, p, x, gamma, 'weight');
  checkAffine(op, p, x, beta, 'bias');
  if (!gamma !== !beta) throw new ShapeError(`${op}: weight and bias must be given together`);
  const layout = layoutOf('norm', FIELDS);
  const u = uniforms(p, !!gamma);
  const stats = normStats(rt, op, x, p);
  const y = allocArray(rt, x.shape, op);
  const d = dummy(rt);
  const pass = elementwisePass(p, 'apply', size(x.shape));
  launch(rt, program('norm', pass.entry, { ACT: ACT[act], ...pass.overrides }), layout, u, [x.storage, stats.storage, gamma?.storage ?? d, beta?.storage ?? d, y], pass.groups);
  return { y: { storage: y, shape: [...x.shape] }, stats };
}

/** Mean and 1/sqrt(var + eps) of each segment: [numSeg, 2] (for a group norm, segment n * G + g). */
export function normStats(rt: GpuRuntime, op: string, x: DeviceArray, p: NormPlan): DeviceArray {
  const stats = allocArray(rt, [p.numSeg, 2], op);
  launch(rt, program('norm', 'stats', { ONE_PASS: statsOnePass() }), layoutOf('norm', FIELDS), uniforms(p, false), [x.storage, stats], p.numSeg);
  return { storage: stats, shape: [p.numSeg, 2] };
}

/**
 * The gradient at the normalisation's own output n when the forward fused an activation a(n):
 * dn = dy * a'(n), with n recomputed from x and the stats (not stored by the forward).
 */
export function normActivationGrad(rt: GpuRuntime, op: string, x: DeviceArray, dy: DeviceArray, stats: DeviceArray, p: NormPlan, gamma: DeviceArray | null, beta: DeviceArray | null): DeviceArray {
  const d = dummy(rt);
  const out = allocArray(rt, x.shape, op);
  const pass = elementwisePass(p, 'act_grad', size(x.shape));
  launch(rt, program('norm', pass.entry, pass.overrides), layoutOf('norm', FIELDS), uniforms(p, !!gamma), [x.storage, dy.storage, stats.storage, gamma?.storage ?? d, beta?.storage ?? d, out], pass.groups);
  return { storage: out, shape: [...x.shape] };
}

export interface NormGrads {
  dx: DeviceArray;
  dgamma: DeviceArray | null;
  dbeta: DeviceArray | null;
}

/**
 * Whether the backward sums by channel planes (backward_sums4 + backward_finish: one pass over x
 * and dy for both the per-segment means and the parameter gradients): group norm over maps of
 * at least 64 pixels, a multiple of 4. Knob FFM_NORM_PLANES=0 keeps backward_stats and param_grad.
 */
function byPlanes(p: NormPlan): boolean {
  return p.S % 4 === 0 && p.S >= 64 && knob('FFM_NORM_PLANES') !== 0;
}

export function normBackward(
  rt: GpuRuntime, op: string, x: DeviceArray, dy: DeviceArray, stats: DeviceArray, p: NormPlan, gamma: DeviceArray | null, wantInput = true,
): NormGrads {
  if (byPlanes(p)) return normBackwardByPlanes(rt, op, x, dy, stats, p, gamma, wantInput);
  const layout = layoutOf('norm', FIELDS);
  const u = uniforms(p, !!gamma);
  let dx: DeviceArray | null = null;
  if (wantInput) {
    const bstats = rt.alloc(p.numSeg * 8, `${op} backward`);
    launch(rt, program('norm', 'backward_stats'), layout, u, [x.storage, dy.storage, stats.storage, gamma?.storage ?? dummy(rt), bstats], p.numSeg);
    dx = inputGrad(rt, op, x, dy, stats, bstats, p, gamma);
    rt.free(bstats);
  }
  let dgamma: DeviceArray | null = null;
  let dbeta: DeviceArray | null = null;
  if (gamma) {
    const dg: Storage = allocArray(rt, [p.params], op);
    const db: Storage = allocArray(rt, [p.params], op);
    launch(rt, program('norm', 'param_grad'), layout, u, [x.storage, dy.storage, stats.storage, dg, db], ceilDiv(p.params, WG));
    dgamma = { storage: dg, shape: [p.params] };
    dbeta = { storage: db, shape: [p.params] };
  }
  return { dx: dx ?? { storage: dummy(rt), shape: [] }, dgamma, dbeta };
}

/** dx = rstd * (dy*gamma - mean(dy*gamma) - xhat * mean(dy*gamma*xhat)), the means per segment in bstats. */
function inputGrad(rt: GpuRuntime, op: string, x: DeviceArray, dy: DeviceArray, stats: DeviceArray, bstats: Storage, p: NormPlan, gamma: DeviceArray | null): DeviceArray {
  const out = allocArray(rt, x.shape, op);
  const pass = elementwisePass(p, 'backward_apply', size(x.shape));
  launch(rt, program('norm', pass.entry, pass.overrides), layoutOf('norm', FIELDS), uniforms(p, !!gamma), [x.storage, dy.storage, stats.storage, bstats, gamma?.storage ?? dummy(rt), out], pass.groups);
  return { storage: out, shape: [...x.shape] };
}

/** normBackward by channel planes (see byPlanes): the same gradients from one pass of sums. */
function normBackwardByPlanes(
  rt: GpuRuntime, op: string, x: DeviceArray, dy: DeviceArray, stats: DeviceArray, p: NormPlan, gamma: DeviceArray | null, wantInput: boolean,
): NormGrads {
  const layout = layoutOf('norm', FIELDS);
  const u = uniforms(p, !!gamma);
  const planes = u.N * p.params;
  const sums = rt.alloc(planes * 8, `${op} backward sums`);
  launch(rt, program('norm', 'backward_sums4'), layout, u, [x.storage, dy.storage, stats.storage, sums], planes);
  const bstats = rt.alloc(p.numSeg * 8, `${op} backward`);
  // without affine parameters there are no parameter gradients: two scratch buffers take the
  // bindings (one writable buffer may not be bound twice)
  const dg = gamma ? allocArray(rt, [p.params], op) : rt.alloc(4, 'placeholder');
  const db = gamma ? allocArray(rt, [p.params], op) : rt.alloc(4, 'placeholder');
  launch(rt, program('norm', 'backward_finish'), layout, u, [sums, gamma?.storage ?? dummy(rt), bstats, dg, db], ceilDiv(Math.max(p.numSeg, p.params), WG));
  rt.free(sums);
  const dx = wantInput ? inputGrad(rt, op, x, dy, stats, bstats, p, gamma) : { storage: dummy(rt), shape: [] };
  rt.free(bstats);
  if (!gamma) {
    rt.free(dg);
    rt.free(db);
    return { dx, dgamma: null, dbeta: null };
  }
  return { dx, dgamma: { storage: dg, shape: [p.params] }, dbeta: { storage: db, shape: [p.params] } };
}
