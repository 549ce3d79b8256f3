/**
 * conv2d (NCHW, square kernel 1 or 3, stride 1 or 2, zero padding, optional bias) and its
 * input and weight gradients (shaders/conv2d.wgsl).
 *
 * Variant rule (docs/architecture.md, "Kernel variants"): each kernel keeps a register tile
 * of output pixels x output channels per invocation and no workgroup memory. Software
 * adapters (lavapipe, SwiftShader) run few wide invocations best: forward 8 px x 8 channels,
 * weight gradient 2 px x 8 channels. Hardware GPUs need many invocations to fill their cores:
 * 4 px x 4 channels. Narrow outputs shrink the pixel tile so no invocation is mostly idle.
 */
import type { GpuRuntime, Storage } from '../gpu/runtime.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { allocArray, ceilDiv, dummy, knob, launch, layoutOf, program, requireRank, WG, type DeviceArray } from './program.js';
import { sum } from './reduce.js';
import { matmul } from './matmul.js';
import { takesNormedInput, winogradConv3x3, winogradTile, winogradWeightGrad3x3, type InputNorm, type WinogradShape, type WinogradTile } from './winograd.js';
import { dilate2x } from './resample.js';

export interface Conv2dOptions {
  stride?: number;
  pad?: number;
}

const FIELDS = [
  ['N', 'u32'], ['Cin', 'u32'], ['H', 'u32'], ['W', 'u32'],
  ['Cout', 'u32'], ['OH', 'u32'], ['OW', 'u32'], ['pad', 'u32'],
  ['bias_mode', 'u32'], ['xblocks', 'u32'], ['coblocks', 'u32'], ['parts', 'u32'],
  ['chunk', 'u32'], ['wstride', 'u32'], ['has_res', 'u32'], ['_p2', 'u32'],
] as const;
const PACK_FIELDS = [['A', 'u32'], ['B', 'u32'], ['BP', 'u32'], ['Cin', 'u32'], ['mode', 'u32'], ['total', 'u32'], ['_p0', 'u32'], ['_p1', 'u32']] as const;

export interface ConvGeometry {
  N: number; Cin: number; H: number; W: number; Cout: number; K: number; OH: number; OW: number; stride: number; pad: number;
}

export function convGeometry(op: string, xShape: readonly number[], wShape: readonly number[], opts: Conv2dOptions): ConvGeometry {
  requireRank(op, 'input', xShape, 4);
  requireRank(op, 'weight', wShape, 4);
  const [N, Cin, H, W] = xShape as [number, number, number, number];
  const [Cout, wCin, K, K2] = wShape as [number, number, number, number];
  const stride = opts.stride ?? 1;
  const pad = opts.pad ?? (K - 1) / 2;
  const shapes = `(input ${fmtShape(xShape)}, weight ${fmtShape(wShape)})`;
  if (wCin !== Cin) throw new ShapeError(`${op}: weight in_channels ${wCin} != input channels ${Cin} ${shapes}`);
  if (K !== K2 || (K !== 1 && K !== 3)) throw new ShapeError(`${op}: kernel must be 1x1 or 3x3, got ${K}x${K2} ${shapes}`);
  if (stride !== 1 && stride !== 2) throw new ShapeError(`${op}: stride must be 1 or 2, got ${stride} ${shapes}`);
  if (!Number.isInteger(pad) || pad < 0 || pad > K - 1) throw new ShapeError(`${op}: padding must be an integer in [0, ${K - 1}], got ${pad} ${shapes}`);
  const OH = Math.floor((H + 2 * pad - K) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - K) / stride) + 1;
  if (OH < 1 || OW < 1) throw new ShapeError(`${op}: input ${H}x${W} is smaller than the ${K}x${K} kernel with padding ${pad} ${shapes}`);
  return { N, Cin, H, W, Cout, K, OH, OW, stride, pad };
}

/**
 * Register tile of the forward kernel: TP output pixels x 4*COV output channels per
 * invocation. Measured on lavapipe (bench/engine/conv-probe.ts, rows read as vec4s): 16 x 16
 * channels runs 1.3-1.4x faster than 8 x 8 wherever a row holds 16 pixels and there are 16
 * channels to fill it; 8 x 16 and 16 x 8 are no better than 8 x 8, which stays the tile for
 * narrower outputs (at 8x8 pixels 16 x 16 wastes half the tile and runs 0.7x). Hardware GPUs
 * want many small invocations.
 */
function forwardVariant(rt: GpuRuntime, OW: number, Cout: number): { TP: number; COV: number } {
  const wide = rt.isSoftware && OW >= 16 && Cout >= 16;
  const TP = knob('FFM_CONV_TP') ?? (OW < 4 ? 1 : !rt.isSoftware || OW < 8 ? 4 : wide ? 16 : 8);
  return { TP, COV: knob('FFM_CONV_COV') ?? (!rt.isSoftware ? 1 : wide ? 4 : 2) };
}

/**
 * Whether the forward kernel reads input rows as vec4s: rows must start on a multiple of 4 floats
 * (W % 4 == 0) and each invocation's row segment too (TP * stride % 4 == 0). On by default only
 * for the software wide tile, where it was measured to pay (docs/architecture.md): at the 8-pixel
 * tile it ran 0.95-1.03x. Knob FFM_CONV_ROWV=1 forces it wherever it applies, 0 turns it off.
 */
function vec4Rows(rt: GpuRuntime, g: ConvGeometry, TP: number): boolean {
  const fits = g.W % 4 === 0 && (TP * g.stride) % 4 === 0;
  const k = knob('FFM_CONV_ROWV');
  return fits && (k !== undefined ? k !== 0 : rt.isSoftware && TP >= 16);
}

/** Weight-gradient tile: TP positions x 4*COV output channels (lavapipe: 2 x 8 was best of 1-8 x 4-8). */
function weightGradVariant(rt: GpuRuntime, OW: number): { TP: number; COV: number } {
  const TP = knob('FFM_WGRAD_TP') ?? (OW < 2 ? 1 : rt.isSoftware ? 2 : 4);
  return { TP, COV: knob('FFM_WGRAD_COV') ?? (rt.isSoftware ? 2 : 1) };
}

/** Packed weights pad the fastest channel axis to a multiple of 16 (any 4*COV tile): vec4s per tap. */
function packedStride(channels: number): number {
  return ceilDiv(channels, 16) * 4;
}

/**
 * Packs weights [Cout, Cin, K, K] to [(a*K*K + tap) * BP + b] (see conv2d.wgsl, pack). The
 * packed copy is kept with the weights (GpuRuntime.derived) and remade only after they change,
 * so inference packs each conv once, not once per evaluation. Owned by w: never free it.
 */
function packWeights(rt: GpuRuntime, w: Storage, Cout: number, Cin: number, K: number, mode: 0 | 1 | 2): Storage {
  const [A, B] = mode === 0 ? [Cin, Cout] : [Cout, Cin];
  const BP = ceilDiv(B, 16) * 16;
  const total = A * K * K * BP;
  return rt.derived(w, `conv2d packed weights (mode ${mode}, ${Cout}x${Cin}x${K}x${K})`, total * 4, (out) =>
    launch(rt, program('conv2d', 'pack', { K }), layoutOf('conv-pack', PACK_FIELDS), { A, B, BP, Cin, mode, total, _p0: 0, _p1: 0 }, [w, out], ceilDiv(total, WG)));
}

/** bias: [Cout] (mode 1) or [N, Cout] (mode 2); residual: [N, Cout, OH, OW] added to the output */
function forwardPacked(rt: GpuRuntime, x: Storage, packed: Storage, bias: Storage | null, g: ConvGeometry, biasMode: 0 | 1 | 2 = bias ? 1 : 0, residual: Storage | null = null): Storage {
  const out = allocArray(rt, [g.N, g.Cout, g.OH, g.OW], 'conv2d');
  const { TP, COV } = forwardVariant(rt, g.OW, g.Cout);
  const xblocks = ceilDiv(g.OW, TP);
  const coblocks = ceilDiv(g.Cout, 4 * COV);
  const rowv = vec4Rows(rt, g, TP);
  const rows: Record<string, number> = rowv ? { ROWV: 1, PAD: g.pad } : {};
  launch(
    rt,
    program('conv2d', 'forward', { K: g.K, S: g.stride, TP, COV, ...rows }),
    layoutOf('conv', FIELDS),
    {
      N: g.N, Cin: g.Cin, H: g.H, W: g.W, Cout: g.Cout, OH: g.OH, OW: g.OW, pad: g.pad,
      bias_mode: biasMode, xblocks, coblocks, parts: 1, chunk: 0, wstride: packedStride(g.Cout), has_res: residual ? 1 : 0, _p2: 0,
    },
    [x, packed, bias ?? dummy(rt), out, residual ?? dummy(rt), rowv ? x : dummy(rt)],
    ceilDiv(xblocks * g.OH * coblocks * g.N, WG),
  );
  return out;
}

/**
 * y = conv2d(x, w) + bias + residual, the additions fused into the convolution's output loop.
 * bias: [Cout], or [N, Cout] for one per sample (a ResBlock's bias plus its time embedding);
 * residual: [N, Cout, OH, OW] (a ResBlock's skip path). forWeightGrad: the caller will take
 * conv2dWeightGrad of this convolution, so work both need may be kept with x (the Winograd
 * input transform).
 */
export function conv2d(rt: GpuRuntime, x: DeviceArray, w: DeviceArray, bias: DeviceArray | null, opts: Conv2dOptions = {}, residual: DeviceArray | null = null, forWeightGrad = false): DeviceArray {
  return convForward(rt, x, w, bias, opts, residual, forWeightGrad, null);
}

/** Whether conv2dOfNormed can take this convolution: Winograd by tile groups (takesNormedInput). */
export function conv2dTakesNormed(rt: GpuRuntime, xShape: readonly number[], wShape: readonly number[], opts: Conv2dOptions = {}): boolean {
  // conv2dOfNormed keeps no input transform (a forward without gradient), so it runs in slabs
  const wino = winogradShape(rt, convGeometry('conv2d', xShape, wShape, opts), 'conv', true);
  return wino !== null && takesNormedInput(wino.shape, wino.R);
}

/**
 * conv2d of silu(groupNorm(x)) without writing the normalised map: the normalisation is applied
 * in the Winograd input transform. Only where conv2dTakesNormed (else normalise, then conv2d).
 */
export function conv2dOfNormed(rt: GpuRuntime, x: DeviceArray, norm: InputNorm, w: DeviceArray, bias: DeviceArray | null, opts: Conv2dOptions = {}, residual: DeviceArray | null = null): DeviceArray {
  return convForward(rt, x, w, bias, opts, residual, false, norm);
}

function convForward(rt: GpuRuntime, x: DeviceArray, w: DeviceArray, bias: DeviceArray | null, opts: Conv2dOptions, residual: DeviceArray | null, forWeightGrad: boolean, norm: InputNorm | null): DeviceArray {
  const g = convGeometry('conv2d', x.shape, w.shape, opts);
  const perSample = bias?.shape.length === 2 && bias.shape[0] === g.N && bias.shape[1] === g.Cout;
  if (bias && !perSample && (bias.shape.length !== 1 || bias.shape[0] !== g.Cout)) {
    throw new ShapeError(`conv2d: bias must be [${g.Cout}] or [${g.N}, ${g.Cout}], got ${fmtShape(bias.shape)} (weight ${fmtShape(w.shape)})`);
  }
  const outShape = [g.N, g.Cout, g.OH, g.OW];
  if (residual && (residual.shape.length !== 4 || residual.shape.some((d, i) => d !== outShape[i]))) {
    throw new ShapeError(`conv2d: residual must be ${fmtShape(outShape)}, got ${fmtShape(residual.shape)} (input ${fmtShape(x.shape)}, weight ${fmtShape(w.shape)})`);
  }
  const biasMode = bias ? (perSample ? 2 : 1) : 0;
  // without a kept input transform (no weight gradient to come) the tile-group form runs in slabs
  const wino = winogradShape(rt, g, 'conv', !forWeightGrad);
  if (norm && !(wino && takesNormedInput(wino.shape, wino.R))) {
    throw new ShapeError(`conv2dOfNormed: this convolution (input ${fmtShape(x.shape)}, weight ${fmtShape(w.shape)}) does not run Winograd by tile groups; normalise first`);
  }
  if (wino) return { storage: winogradConv3x3(rt, x.storage, w.storage, wino.shape, wino.R, 0, bias?.storage ?? null, biasMode, residual?.storage ?? null, forWeightGrad, norm), shape: outShape };
  const packed = packWeights(rt, w.storage, g.Cout, g.Cin, g.K, 0);
  const out = forwardPacked(rt, x.storage, packed, bias?.storage ?? null, g, biasMode, residual?.storage ?? null);
  return { storage: out, shape: outShape };
}

/** dL/dx for y = conv2d(x, w): dy is [N, Cout, OH, OW]. */
export function conv2dInputGrad(rt: GpuRuntime, dy: DeviceArray, w: DeviceArray, xShape: readonly number[], opts: Conv2dOptions = {}): DeviceArray {
  const g = convGeometry('conv2dInputGrad', xShape, w.shape, opts);
  checkDy('conv2dInputGrad', dy, g);
  if (g.stride === 1) {
    // the transposed convolution is a stride-1 convolution of dy with flipped, transposed weights
    const wino = winogradShape(rt, { ...g, Cin: g.Cout, Cout: g.Cin }, 'conv', true);
    if (wino) return { storage: winogradConv3x3(rt, dy.storage, w.storage, wino.shape, wino.R, 1, null, 0, null), shape: [...xShape] };
    const packed = packWeights(rt, w.storage, g.Cout, g.Cin, g.K, 1);
    const t: ConvGeometry = { N: g.N, Cin: g.Cout, H: g.OH, W: g.OW, Cout: g.Cin, K: g.K, OH: g.H, OW: g.W, stride: 1, pad: g.K - 1 - g.pad };
    const out = forwardPacked(rt, dy.storage, packed, null, t);
    return { storage: out, shape: [...xShape] };
  }
  if (g.stride === 2 && g.K === 3 && knob('FFM_CONV_DILATED_GRAD') !== 0) {
    // dx[i] = sum_k dy[(i + pad - k) / 2] w[k] over the k that make it whole: the stride-1 input
    // gradient (same pad) of dy dilated by 2 to the stride-1 output's size, H + 2 pad - 2, which
    // takes the Winograd or tiled forward kernels instead of input_grad's per-pixel gather
    // (lavapipe, U-Net training step: docs/architecture.md). Knob FFM_CONV_DILATED_GRAD=0: the gather.
    const [OH1, OW1] = [g.H + 2 * g.pad - 2, g.W + 2 * g.pad - 2];
    const dz = dilate2x(rt, dy, OH1, OW1);
    const dx = conv2dInputGrad(rt, dz, w, xShape, { ...opts, stride: 1 });
    rt.free(dz.storage);
    return dx;
  }
  const packed = packWeights(rt, w.storage, g.Cout, g.Cin, g.K, 2);
  const out = allocArray(rt, xShape, 'conv2dInputGrad');
  const ciblocks = ceilDiv(g.Cin, 4);
  launch(
    rt,
    program('conv2d', 'input_grad', { K: g.K, S: g.stride }),
    layoutOf('conv', FIELDS),
    { N: g.N, Cin: g.Cin, H: g.H, W: g.W, Cout: g.Cout, OH: g.OH, OW: g.OW, pad: g.pad, bias_mode: 0, xblocks: 0, coblocks: 0, parts: 1, chunk: 0, wstride: packedStride(g.Cin), has_res: 0, _p2: 0 },
    [dy.storage, packed, out],
    ceilDiv(g.N * ciblocks * g.H * g.W, WG),
  );
  return { storage: out, shape: [...xShape] };
}

/** dL/dw for y = conv2d(x, w): returns [Cout, Cin, K, K]. */
export function conv2dWeightGrad(rt: GpuRuntime, x: DeviceArray, dy: DeviceArray, wShape: readonly number[], opts: Conv2dOptions = {}): DeviceArray {
  const g = convGeometry('conv2dWeightGrad', x.shape, wShape, opts);
  checkDy('conv2dWeightGrad', dy, g);
  const wino = knob('FFM_WGRAD_WINOGRAD') !== 0 ? winogradShape(rt, g, 'weight-grad') : null;
  if (wino) return { storage: winogradWeightGrad3x3(rt, x.storage, dy.storage, wino.shape, wino.R), shape: [...wShape] };
  if (g.K === 1 && g.stride === 1 && g.pad === 0 && knob('FFM_WGRAD_1X1_MATMUL') !== 0) return weightGrad1x1(rt, x, dy, g, wShape);
  const { TP, COV } = weightGradVariant(rt, g.OW);
  const coblocks = ceilDiv(g.Cout, 4 * COV);
  const rows = g.N * g.OH;
  const base = coblocks * g.Cin;
  // split the sum over output rows so enough invocations run; each part keeps >= 256 positions
  const target = rt.isSoftware ? 512 : 32768;
  const parts = Math.max(1, Math.min(ceilDiv(rows * g.OW, 256), ceilDiv(target, base), rows));
  const chunk = ceilDiv(rows, parts);
  const kk = g.K * g.K;
  const partial = allocArray(rt, [g.Cout, g.Cin, kk, parts], 'conv2dWeightGrad');
  launch(
    rt,
    program('conv2d', 'weight_grad', { K: g.K, S: g.stride, TP, COV }),
    layoutOf('conv', FIELDS),
    { N: g.N, Cin: g.Cin, H: g.H, W: g.W, Cout: g.Cout, OH: g.OH, OW: g.OW, pad: g.pad, bias_mode: 0, xblocks: 0, coblocks, parts, chunk, wstride: 0, has_res: 0, _p2: 0 },
    [x.storage, dy.storage, partial],
    ceilDiv(base * parts, WG),
  );
  if (parts === 1) return { storage: partial, shape: [...wShape] };
  const summed = sum(rt, { storage: partial, shape: [g.Cout, g.Cin, kk, parts] }, [3]);
  rt.free(partial);
  return { storage: summed.storage, shape: [...wShape] };
}

/**
 * A 1x1 convolution's weight gradient is a product: dw = sum over samples of dy_n x_n^T
 * ([Cout, P] x [P, Cin]), taken by the tuned matmul (the direct weight_grad kernel reduces
 * over positions with few invocations; knob FFM_WGRAD_1X1_MATMUL=0 keeps it).
 */
function weightGrad1x1(rt: GpuRuntime, x: DeviceArray, dy: DeviceArray, g: ConvGeometry, wShape: readonly number[]): DeviceArray {
  const P = g.H * g.W;
  const perSample = matmul(rt, { storage: dy.storage, shape: [g.N, g.Cout, P] }, { storage: x.storage, shape: [g.N, g.Cin, P] }, false, true);
  if (g.N === 1) return { storage: perSample.storage, shape: [...wShape] };
  const summed = sum(rt, perSample, [0]);
  rt.free(perSample.storage);
  return { storage: summed.storage, shape: [...wShape] };
}

/** The Winograd path's shape and tile where it serves this convolution (3x3, stride 1, pad 1; see winogradTile), else null. */
function winogradShape(rt: GpuRuntime, g: ConvGeometry, op: 'conv' | 'weight-grad' = 'conv', slabbed = false): { shape: WinogradShape; R: WinogradTile } | null {
  if (g.K !== 3 || g.stride !== 1 || g.pad !== 1) return null;
  const shape = { N: g.N, Cin: g.Cin, Cout: g.Cout, H: g.H, W: g.W };
  const R = winogradTile(rt, shape, op, slabbed);
  return R === null ? null : { shape, R };
}

function checkDy(op: string, dy: DeviceArray, g: ConvGeometry): void {
  const want = [g.N, g.Cout, g.OH, g.OW];
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new ShapeError(`${op}: output gradient must be ${fmtShape(want)}, got ${fmtShape(dy.shape)}`);
  }
}
