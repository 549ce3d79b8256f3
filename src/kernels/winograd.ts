/**
 * The 3x3, stride-1, pad-1 convolution by Winograd F(RxR, 3x3), R = 2 or 4 (shaders/winograd.wgsl):
 * an input transform, P*P GEMMs (P = R + 2) of [tiles, Cin] x [Cin, Cout] by the register-tiled
 * matmul, and an output transform that adds the bias and the residual. R = 2: 16 multiplies per
 * 2x2 outputs instead of 36, transformed operands 4x the input's size; R = 4: 36 per 4x4 instead
 * of 144, operands 2.25x. Both for two extra passes over memory.
 */
import type { GpuRuntime, Storage } from '../gpu/runtime.js';
import { ShapeError } from '../util/errors.js';
import { allocArray, ceilDiv, dummy, knob, launch, layoutOf, program, WG, type DeviceArray } from './program.js';
import { matmul } from './matmul.js';
import type { WindowPlan } from './window.js';

const FIELDS = [
  ['N', 'u32'], ['Cin', 'u32'], ['Cout', 'u32'], ['H', 'u32'],
  ['W', 'u32'], ['TH', 'u32'], ['TW', 'u32'], ['T', 'u32'],
  ['bias_mode', 'u32'], ['has_res', 'u32'], ['mode', 'u32'], ['norm_groups', 'u32'],
  ['win_h', 'u32'], ['win_w', 'u32'], ['win_ny', 'u32'], ['win_nx', 'u32'],
  ['th0', 'u32'], ['pad0', 'u32'], ['pad1', 'u32'], ['pad2', 'u32'],
] as const;

/** The convolution as the Winograd path sees it: a stride-1, pad-1 3x3 kernel over N x Cin x H x W. */
export interface WinogradShape {
  N: number; Cin: number; Cout: number; H: number; W: number;
}

/** Output tile side: F(2x2, 3x3) or F(4x4, 3x3). */
export type WinogradTile = 2 | 4;

/** Bytes of the larger transformed operand (V: P*P x tiles x Cin, or M: P*P x tiles x Cout). */
function transformedBytes(s: WinogradShape, R: WinogradTile): number {
  return (R + 2) ** 2 * tiles(s, R) * Math.max(s.Cin, s.Cout) * 4;
}

/**
 * The Winograd tile this convolution runs with, or null for the direct kernel. It needs channels
 * in multiples of 4 (vec4 transforms and vec4 GEMM operands) and the transformed operands within
 * one storage binding; then knob FFM_CONV_WINOGRAD = 2 or 4 takes that tile wherever it applies,
 * 0 never, and otherwise the default rule below holds.
 * Default, from bench/engine/winograd-probe.ts on lavapipe (2 cores, beside two other jobs;
 * bench/results/winograd-probe-*-shared-cores.json), against the direct kernel: F(4x4) ran
 * 1.08-1.17x at 32 channels, 1.36-2.8x at 64, 2.25x at 128, but 0.55x at 16 (the GEMM with
 * K = N = 16 is all output writes); F(2x2) lost at 16 and 32 channels (0.52-0.88x) and won less
 * than F(4x4) everywhere else. So software adapters take F(4x4) from 32 channels in and out
 * (knob FFM_WINOGRAD_MIN_CHANNELS moves that bound; on the whole nets 32 beat 64 by 1.03-1.10x,
 * bench/results/knob-ab-winograd-threshold-*).
 * The weight gradient has its own bound (knob FFM_WGRAD_WINOGRAD_MIN_CHANNELS, default 16): at 16
 * channels its Winograd form (two transforms and a GEMM over the tiles, whose long K suits the
 * GEMM) ran 1.18-1.67x the direct weight_grad kernel, where forward and input gradient ran
 * 0.77-0.94x theirs (quiet, N x C x side 4x16x64, 4x16x128, 1x16x176; `conv-probe --ops`,
 * bench/results/conv-probe-*-16ch-ops.json).
 * Hardware GPUs keep the direct kernel until measured there.
 */
export function winogradTile(rt: GpuRuntime, s: WinogradShape, op: 'conv' | 'weight-grad' = 'conv', slabbed = false): WinogradTile | null {
  if (s.Cin % 4 !== 0 || s.Cout % 4 !== 0) return null;
  const k = knob('FFM_CONV_WINOGRAD');
  if (k !== undefined && k !== 0 && k !== 2 && k !== 4) throw new ShapeError(`FFM_CONV_WINOGRAD must be 0 (direct kernel), 2 or 4 (the Winograd tile), got ${k}`);
  const R: WinogradTile | null = k !== undefined ? (k === 0 ? null : (k as WinogradTile)) : defaultTile(rt, s, op);
  if (R === null) return null;
  // a convolution that keeps no input transform (winogradConv3x3 without keepInputTransform) in
  // the tile-group layout binds one slab of its operands at a time (slabRows)
  const bytes = slabbed && op === 'conv' && groupsLayout(s, R, true) ? transformedBytes(s, R) * Math.min(1, slabRows(rt, s, R, tileCols(s, R, true)) / ceilDiv(s.H, R)) : transformedBytes(s, R);
  return bytes <= rt.maxBindingBytes ? R : null;
}

function defaultTile(rt: GpuRuntime, s: WinogradShape, op: 'conv' | 'weight-grad'): WinogradTile | null {
  // the general bound moves both; the weight gradient's own knob moves it alone. Where the tile-group
  // layout applies, the forward (and input gradient) takes F(4x4) from 16 channels: with FusionFM's
  // net (16 channels at full size) a 176 px forward ran 1.01-1.09x faster by median, its training
  // step 1.06-1.08x at 128 px and 1.00-1.10x at the recipe's 64 px (knob-ab, two runs,
  // bench/results/knob-ab-winograd-16-groups-*); the 2.7 M U-Net has no 16-channel convolution
  const general = knob('FFM_WINOGRAD_MIN_CHANNELS');
  const minChannels = op === 'weight-grad' ? (knob('FFM_WGRAD_WINOGRAD_MIN_CHANNELS') ?? general ?? 16) : (general ?? (byGroups(s, 4) ? 16 : 32));
  return rt.isSoftware && Math.min(s.Cin, s.Cout) >= minChannels ? 4 : null;
}

/**
 * Whether the transforms move whole tile rows as vec4s (input_rows, output_rows, grad_output_rows):
 * F(4x4) with W a multiple of 4, so every tile row is four contiguous, aligned floats. On lavapipe
 * the per-float forms spent as long in the transforms as in the GEMM (each scattered float is a
 * store or load of its own); by rows the output transform ran 1.55-1.66x faster, the input 1.06-1.22x
 * (quiet, bench/engine/conv-kernel-times.ts). Knob FFM_WINOGRAD_ROWS = 0 keeps the per-float forms.
 */
function byRows(s: WinogradShape, R: WinogradTile): boolean {
  return R === 4 && s.W % 4 === 0 && knob('FFM_WINOGRAD_ROWS') !== 0;
}

/**
 * Whether the transformed operands are laid out channel-major with four tiles per vec4
 * (input_groups, output_groups; V [P*P, Cin, T], M [P*P, Cout, T], the GEMM as M = U^T V):
 * F(4x4) with W a multiple of 16, so that every four neighbouring tiles share a tile row. The
 * input transform then loads half the vec4s of input_rows for the same stores. Knob
 * FFM_WINOGRAD_GROUPS = 0 keeps the by-rows layout (and FFM_WINOGRAD_ROWS = 0 the per-float one).
 */
function byGroups(s: WinogradShape, R: WinogradTile): boolean {
  return byRows(s, R) && s.W % 16 === 0 && knob('FFM_WINOGRAD_GROUPS') !== 0;
}

/**
 * Whether a forward that keeps no input transform takes the tile-group layout with a partial last
 * group in each tile row: F(4x4) with W a multiple of 4 but not of 16 (a one-piece fusion's second
 * and third levels, 328 and 164 px wide at 640x480). Each tile row's tile count is rounded up to
 * whole groups of four; the tiles past the image read zeros and write nothing. Such a forward
 * then folds a preceding group norm into its input transform too (takesNormedInput). A kept
 * input transform (the weight gradient's) keeps byGroups' layout. On lavapipe (session 22,
 * flow-speed.js --whole-variants 'rows=FFM_WINOGRAD_PARTIAL_GROUPS:0', 9 interleaved rounds): a
 * 640x480 pair in one piece 1,882 against 1,960 ms (profiled GPU time 1,695-1,801 against
 * 1,821-1,866 ms, 243 dispatches against 246); 256x256 (475 / 482 ms) and 520x520 (1,668 / 1,666
 * ms) level. Knob FFM_WINOGRAD_PARTIAL_GROUPS=0: by rows there, as before.
 */
function byPartialGroups(s: WinogradShape, R: WinogradTile): boolean {
  return byRows(s, R) && s.W % 16 !== 0 && knob('FFM_WINOGRAD_GROUPS') !== 0 && knob('FFM_WINOGRAD_PARTIAL_GROUPS') !== 0;
}

/** Whether a convolution's transformed operands go by tile groups: byGroups, or byPartialGroups where it keeps no input transform. */
function groupsLayout(s: WinogradShape, R: WinogradTile, keepsNoInput: boolean): boolean {
  return byGroups(s, R) || (keepsNoInput && byPartialGroups(s, R));
}

/** Tile columns of each tile row: ceil(W / R), rounded up to whole groups of four by tile groups. */
function tileCols(s: WinogradShape, R: WinogradTile, groups: boolean): number {
  const TW = ceilDiv(s.W, R);
  return groups ? ceilDiv(TW, 4) * 4 : TW;
}

/** The input transform's entry point: by tile groups, by rows or per float. */
function inputEntry(s: WinogradShape, R: WinogradTile, groups = byGroups(s, R)): string {
  return groups ? 'input_groups' : byRows(s, R) ? 'input_rows' : 'input';
}

function tiles(s: WinogradShape, R: WinogradTile): number {
  return s.N * ceilDiv(s.H, R) * ceilDiv(s.W, R);
}

/**
 * U [P*P, Cin, Cout] of the weights w [Cout, Cin, 3, 3] (mode 0), or of the stride-1 input
 * gradient's transposed, flipped weights (mode 1: the gradient convolution maps w's Cout channels
 * to its Cin). Kept with w (GpuRuntime.derived), remade only after w changes. Owned by w.
 */
function transformedWeights(rt: GpuRuntime, w: Storage, s: WinogradShape, R: WinogradTile, mode: 0 | 1): Storage {
  return rt.derived(w, `winograd F(${R}x${R}) weights (mode ${mode}, ${s.Cout}x${s.Cin})`, (R + 2) ** 2 * s.Cin * s.Cout * 4, (out) =>
    launch(rt, program('winograd', 'weights', { R }), layoutOf('winograd', FIELDS), uniforms(s, R, 0, false, mode), [w, out], ceilDiv(s.Cin * s.Cout, WG)));
}

function uniforms(s: WinogradShape, R: WinogradTile, biasMode: number, hasRes: boolean, mode: number, groups = false) {
  const TH = ceilDiv(s.H, R);
  const TW = tileCols(s, R, groups);
  return { N: s.N, Cin: s.Cin, Cout: s.Cout, H: s.H, W: s.W, TH, TW, T: s.N * TH * TW, bias_mode: biasMode, has_res: hasRes ? 1 : 0, mode, norm_groups: 0, win_h: 0, win_w: 0, win_ny: 0, win_nx: 0, th0: 0, pad0: 0, pad1: 0, pad2: 0 };
}

/** V [P*P, tiles, Cin] = B^T d B of every tile's input patch d (the forward's and the weight gradient's), into V. */
function recordInputTransform(rt: GpuRuntime, x: Storage, V: Storage, s: WinogradShape, R: WinogradTile, u: ReturnType<typeof uniforms>, groups = byGroups(s, R)): void {
  // by groups: one invocation per channel and four tiles; else per four channels and one tile
  const invocations = groups ? (u.T / 4) * s.Cin : u.T * (s.Cin / 4);
  launch(rt, program('winograd', inputEntry(s, R, groups), { R }), layoutOf('winograd', FIELDS), u, [x, V], ceilDiv(invocations, WG));
}

/**
 * The input transform of x as a buffer kept with x (GpuRuntime.derived) until x is freed or
 * written: a training step's forward leaves it for the weight gradient, which would otherwise
 * transform the same input again (one of every three input transforms of a U-Net training
 * step). Owned by x: never free it. Knob FFM_WINOGRAD_KEEP_INPUT=0 transforms again instead.
 */
function keptInputTransform(rt: GpuRuntime, x: Storage, s: WinogradShape, R: WinogradTile, u: ReturnType<typeof uniforms>): Storage {
  return rt.derived(x, keptKey(s, R), (R + 2) ** 2 * u.T * s.Cin * 4, (V) => recordInputTransform(rt, x, V, s, R, u));
}

function keptKey(s: WinogradShape, R: WinogradTile): string {
  return `winograd F(${R}x${R}) input transform of ${s.N}x${s.Cin}x${s.H}x${s.W} (${inputEntry(s, R)})`;
}

/** Whether a forward asked to keep its input transform for the weight gradient does (knob FFM_WINOGRAD_KEEP_INPUT). */
function keepsInputTransform(): boolean {
  return knob('FFM_WINOGRAD_KEEP_INPUT') !== 0;
}

/**
 * V of x ([P*P, T, Cin], or [P*P, Cin, T] by groups): made and kept with x where `keep` is
 * 'make', the one a forward kept where it is 'reuse' and one is current, else a new buffer the
 * caller frees (owned).
 */
function inputTransform(rt: GpuRuntime, x: Storage, s: WinogradShape, R: WinogradTile, u: ReturnType<typeof uniforms>, keep: 'make' | 'reuse' | 'no', groups = byGroups(s, R)): { V: DeviceArray; owned: boolean } {
  if (keep !== 'no' && groups !== byGroups(s, R)) throw new ShapeError('winograd: a kept input transform is laid out as byGroups says');
  const shape = groups ? [(R + 2) ** 2, s.Cin, u.T] : [(R + 2) ** 2, u.T, s.Cin];
  if (keep === 'make') return { V: { storage: keptInputTransform(rt, x, s, R, u), shape }, owned: false };
  const kept = keep === 'reuse' ? rt.derivedIfCurrent(x, keptKey(s, R)) : null;
  if (kept) return { V: { storage: kept, shape }, owned: false };
  const V = allocArray(rt, shape, 'winograd input transform');
  recordInputTransform(rt, x, V, s, R, u, groups);
  return { V: { storage: V, shape }, owned: true };
}

/** silu(groupNorm(x)) as a convolution's input, applied inside its input transform (input_groups_norm). */
export interface InputNorm {
  /**
   * [N * groups, 2]: mean and 1/std of each sample's group (kernels/norm.ts normStats); with
   * `windows`, [N * windows * groups, 2] of each window's (kernels/window.ts windowStats)
   */
  stats: Storage;
  /** statistics per window, interpolated between the windows' centres as normByWindows does (input_groups_norm_win) */
  windows?: WindowPlan;
  /** [Cin] each */
  gamma: Storage;
  beta: Storage;
  groups: number;
}

/**
 * Whether a forward (without kept input transform) can take its input as x with
 * silu(groupNorm(x)) applied in the input transform: the tile-group layout only (F(4x4), W a
 * multiple of 16, or of 4 with byPartialGroups), the one whose input transform was written for
 * it; knob FFM_WINOGRAD_NORM_INPUT=0 never.
 */
export function takesNormedInput(s: WinogradShape, R: WinogradTile): boolean {
  return groupsLayout(s, R, true) && knob('FFM_WINOGRAD_NORM_INPUT') !== 0;
}

/** Refuses an input norm that the convolution's layout (`groups`: by tile groups) or shape cannot take, before any work. */
function checkInputNorm(n: InputNorm, s: WinogradShape, groups: boolean): void {
  if (!groups || s.Cin % n.groups !== 0) throw new ShapeError(`winograd: a normalised input needs the tile-group layout and ${n.groups} groups dividing ${s.Cin} channels (${s.N}x${s.Cin}x${s.H}x${s.W})`);
  const p = n.windows;
  if (p && (p.H !== s.H || p.W !== s.W)) throw new ShapeError(`winograd: norm windows over ${p.H}x${p.W} for an input of ${s.H}x${s.W}`);
}

/** V of silu(groupNorm(x)) from x (a new buffer the caller frees; never kept: no weight gradient follows a forward without gradient); n checked by checkInputNorm. */
function normedInputTransform(rt: GpuRuntime, x: Storage, n: InputNorm, s: WinogradShape, R: WinogradTile, u: ReturnType<typeof uniforms>): { V: DeviceArray; owned: boolean } {
  const shape = [(R + 2) ** 2, s.Cin, u.T];
  const V = allocArray(rt, shape, 'winograd input transform (normalised)');
  const p = n.windows;
  const win = p ? { win_h: p.wh, win_w: p.ww, win_ny: p.nwy, win_nx: p.nwx } : {};
  launch(rt, program('winograd', p ? 'input_groups_norm_win' : 'input_groups_norm', { R }), layoutOf('winograd', FIELDS), { ...u, norm_groups: n.groups, ...win }, [x, V, n.stats, n.gamma, n.beta], ceilDiv((u.T / 4) * s.Cin, WG));
  return { V: { storage: V, shape }, owned: true };
}

/**
 * y [N, Cout, H, W] = conv3x3(x, w) by F(RxR, 3x3) (+ bias, + residual) for x [N, Cin, H, W]; w [Cout, Cin, 3, 3]
 * (mode 0) or, for the stride-1 input gradient, w [Cin, Cout, 3, 3] of the forward convolution
 * whose gradient this is (mode 1). bias: [Cout] (biasMode 1) or [N, Cout] (2).
 * keepInputTransform: the caller will take this convolution's weight gradient, so the input
 * transform stays with x for it (winogradWeightGrad3x3). inputNorm: the input is
 * silu(groupNorm(x)), applied in the input transform (where takesNormedInput).
 */
export function winogradConv3x3(rt: GpuRuntime, x: Storage, w: Storage, s: WinogradShape, R: WinogradTile, mode: 0 | 1, bias: Storage | null, biasMode: 0 | 1 | 2, residual: Storage | null, keepInputTransform = false, inputNorm: InputNorm | null = null): Storage {
  const keep = keepInputTransform && mode === 0 && keepsInputTransform();
  const groups = groupsLayout(s, R, !keep);
  if (inputNorm) checkInputNorm(inputNorm, s, groups);
  const u = uniforms(s, R, biasMode, residual !== null, mode, groups);
  const layout = layoutOf('winograd', FIELDS);
  const PP = (R + 2) ** 2;
  const U = transformedWeights(rt, w, s, R, mode);
  const Ushape = { storage: U, shape: [PP, s.Cin, s.Cout] };
  const y = allocArray(rt, [s.N, s.Cout, s.H, s.W], 'conv2d');
  const entry = groups ? 'output_groups' : byRows(s, R) ? 'output_rows' : 'output';
  const rows = groups && !keep ? slabRows(rt, s, R, u.TW) : u.TH;
  // the whole map at once, or (tile-group layout) slabs of `rows` tile rows: each slab's input
  // transform, product and output transform before the next, so V and M stay a slab's size
  for (let th0 = 0; th0 < u.TH; th0 += rows) {
    const TH = Math.min(rows, u.TH - th0);
    const us = { ...u, TH, T: s.N * TH * u.TW, th0 };
    const { V, owned } = inputNorm ? normedInputTransform(rt, x, inputNorm, s, R, us) : inputTransform(rt, x, s, R, us, keep ? 'make' : 'no', groups);
    // M [P*P, T, Cout] = V U, or by groups M [P*P, Cout, T] = U^T V
    const M = groups ? matmul(rt, Ushape, V, true, false) : matmul(rt, V, Ushape);
    if (owned) rt.free(V.storage);
    const invocations = groups ? (us.T / 4) * s.Cout : us.T * (s.Cout / 4);
    launch(rt, program('winograd', entry, { R }), layout, us, [M.storage, bias ?? dummy(rt), y, residual ?? dummy(rt)], ceilDiv(invocations, WG));
    rt.free(M.storage);
  }
  return y;
}

/**
 * Tile rows per slab of a tile-group convolution: as many as keep the larger transformed operand
 * (V or M: P*P x tiles x channels) within WINOGRAD_SLAB_MIB (software adapters; hardware:
 * WINOGRAD_SLAB_MIB_HARDWARE; knob FFM_WINOGRAD_SLAB_MIB, 0: one
 * slab, the whole map). One piece at full resolution made operands of up to 124 MB for a 520 px
 * pair, each a pool bucket of its own, whose pages a one-shot fusion touches for the first time
 * (about 3.3 ms per MiB on this VM; src/gpu/pool.ts). A one-shot 520x520 fusion in one piece
 * (`cold-fuse.js --size 520x520 --tiles whole`, 3 alternating rounds,
 * bench/results/cold-fuse-520-whole-slabs-session21.json): pool 727 -> 470 MiB (8 MiB slabs: 382),
 * peak RSS 953-958 -> 698-701 MiB, first fusion 5.3-5.6 -> 4.7-4.8 s; warm 640x480 level
 * (flow-speed, 7 interleaved rounds in a slow hour: 3,026 ms against 3,148 without slabs, 2,981
 * with 8 MiB, 3,108 with 16; flow-speed-*-session21-slabs.json). The slab's first tile row reaches
 * the kernels as `th0`; the weight gradient's kept input transform is never cut. A slabbed
 * convolution's operands need only a slab within one binding (winogradTile's `slabbed`), so a map
 * whose whole operand would exceed one binding can still take Winograd (tested with a small
 * binding; the 640x480 one-piece forward kept the same kernels, its profile shows).
 */
function slabRows(rt: GpuRuntime, s: WinogradShape, R: WinogradTile, TW: number): number {
  const mib = knob('FFM_WINOGRAD_SLAB_MIB') ?? (rt.isSoftware ? WINOGRAD_SLAB_MIB : WINOGRAD_SLAB_MIB_HARDWARE);
  if (mib <= 0) return Number.MAX_SAFE_INTEGER;
  const rowBytes = (R + 2) ** 2 * s.N * TW * Math.max(s.Cin, s.Cout) * 4;
  return Math.max(1, Math.floor((mib * 2 ** 20) / rowBytes));
}

/** The default slab of slabRows, in MiB of the larger transformed operand (software adapters). */
export const WINOGRAD_SLAB_MIB = 32;
/**
 * Hardware GPUs: slabs of a baseline binding, so that a one-piece forward on a discrete GPU keeps
 * its dispatch count (a 640x480 one piece: 214 dispatches in 32 MiB slabs against 175 whole) until
 * slabs are measured there.
 */
export const WINOGRAD_SLAB_MIB_HARDWARE = 128;

/**
 * dL/dw [Cout, Cin, 3, 3] of y = conv3x3(x, w) by F(RxR, 3x3): the input transform of x again
 * (V), the output gradient's transform (Wt = A dy A^T per tile), P*P GEMMs over the tiles
 * (dU = V^T Wt) and dw = G^T dU G. Exact in exact arithmetic, like the forward.
 */
export function winogradWeightGrad3x3(rt: GpuRuntime, x: Storage, dy: Storage, s: WinogradShape, R: WinogradTile): Storage {
  const u = uniforms(s, R, 0, false, 0);
  const layout = layoutOf('winograd', FIELDS);
  const PP = (R + 2) ** 2;
  // the forward's, where it kept one (a forward by the direct kernel kept none: then a transient one)
  const { V, owned } = inputTransform(rt, x, s, R, u, keepsInputTransform() ? 'reuse' : 'no');
  const Wt = allocArray(rt, [PP, u.T, s.Cout], 'winograd output-gradient transform');
  launch(rt, program('winograd', byRows(s, R) ? 'grad_output_rows' : 'grad_output', { R }), layout, u, [dy, Wt], ceilDiv(u.T * (s.Cout / 4), WG));
  // dU = V^T Wt over the tiles (by groups V is [P*P, Cin, T] already: V Wt)
  const dU = matmul(rt, V, { storage: Wt, shape: [PP, u.T, s.Cout] }, !byGroups(s, R), false);
  if (owned) rt.free(V.storage);
  rt.free(Wt);
  const dw = allocArray(rt, [s.Cout, s.Cin, 3, 3], 'conv2dWeightGrad');
  launch(rt, program('winograd', 'weights_grad', { R }), layout, u, [dU.storage, dw], ceilDiv(s.Cin * s.Cout, WG));
  rt.free(dU.storage);
  return dw;
}
