/**
 * Differentiable ops. Each computes its result with a kernel launcher and, when the tape is
 * on and an input needs a gradient, records a node whose rule is written with these same ops.
 */
import { binary, broadcastShapes, expand as expandKernel, unary, type BinaryOp, type UnaryOp } from '../kernels/elementwise.js';
import { concatChannels, padChannels, sliceChannels } from '../kernels/channels.js';
import { conv2d as conv2dKernel, conv2dInputGrad, conv2dOfNormed, conv2dTakesNormed, conv2dWeightGrad, type Conv2dOptions } from '../kernels/conv2d.js';
import { matmul as matmulKernel } from '../kernels/matmul.js';
import { groupNormPlan, layerNormPlan, normActivationGrad, normBackward, normForward, normStats, type NormActivation, type NormPlan } from '../kernels/norm.js';
import { normalizeAxes, sum as sumKernel } from '../kernels/reduce.js';
import { avgPool2x as avgPoolKernel, avgPool2xBackward, upsample2x as upsampleKernel, upsample2xBackward, type UpsampleMode } from '../kernels/resample.js';
import { softmax as softmaxKernel, softmaxBackward, softmaxColumns as softmaxColumnsKernel, softmaxColumnsBackward } from '../kernels/softmax.js';
import { attention as attentionKernel, attentionBackward, ATTENTION_MAX_HEAD_DIM, hasVec4Forward } from '../kernels/attention.js';
import { attentionByQueryBlocks } from '../kernels/attention-blocks.js';
import { normByWindows, windowGather, windowPlan, windowScatter, windowStats, type WindowPlan } from '../kernels/window.js';
export { ATTENTION_MAX_HEAD_DIM } from '../kernels/attention.js';
import { knob, size, type DeviceArray } from '../kernels/program.js';
import { ShapeError, fmtShape } from '../util/errors.js';
import { isGradEnabled, Tensor, wrap } from './tensor.js';

function needsGrad(inputs: Tensor[]): boolean {
  return isGradEnabled() && inputs.some((t) => t.requiresGrad || t.node !== null);
}

/** Wraps a kernel result and records the tape node when needed. */
function result(rt: Tensor['rt'], out: DeviceArray, op: string, inputs: Tensor[], rule: (g: Tensor) => (Tensor | null)[]): Tensor {
  const t = wrap(rt, out);
  if (needsGrad(inputs)) t.node = { op, inputs, backward: rule };
  return t;
}

// ---------- elementwise ----------

function unaryOp(x: Tensor, op: UnaryOp, rule: ((g: Tensor, y: Tensor) => Tensor) | null, a = 0, b = 0): Tensor {
  const y = result(x.rt, unary(x.rt, x, op, a, b), op, [x], (g) => [rule ? rule(g, y) : null]);
  return y;
}

/** Sums a broadcast gradient back to the shape of the operand it came from. */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g.detach();
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = wrap(g.rt, sumKernel(g.rt, g, axes, true));
  const r = s.view(shape);
  s.dispose();
  return r;
}

function binaryOp(a: Tensor, b: Tensor, op: BinaryOp, rule: (g: Tensor) => [Tensor | null, Tensor | null]): Tensor {
  return result(a.rt, binary(a.rt, a, b, op), op, [a, b], (g) => {
    const [ga, gb] = rule(g);
    const ra = ga && unbroadcast(ga, a.shape);
    const rb = gb && unbroadcast(gb, b.shape);
    ga?.dispose();
    gb?.dispose();
    return [ra, rb];
  });
}

export const add = (a: Tensor, b: Tensor) => binaryOp(a, b, 'add', (g) => [g.detach(), g.detach()]);
export const sub = (a: Tensor, b: Tensor) => binaryOp(a, b, 'sub', (g) => [g.detach(), neg(g)]);
export const mul = (a: Tensor, b: Tensor) => binaryOp(a, b, 'mul', (g) => [mulNoTape(g, b), mulNoTape(g, a)]);
export const div = (a: Tensor, b: Tensor) =>
  binaryOp(a, b, 'div', (g) => {
    const ga = raw(binary(g.rt, g, b, 'div'), g);
    const t = raw(binary(g.rt, ga, b, 'div'), g); // g / b^2
    const gb = raw(binary(g.rt, t, a, 'mul'), g);
    t.dispose();
    const ngb = neg(gb);
    gb.dispose();
    return [ga, ngb];
  });
/** (a - b)^2 elementwise: the core of MSE. */
export const sqdiff = (a: Tensor, b: Tensor) =>
  binaryOp(a, b, 'sqdiff', (g) => {
    const d = raw(binary(g.rt, a, b, 'sub'), g);
    const ga = raw(binary(g.rt, g, d, 'mul'), g);
    d.dispose();
    const ga2 = affine(ga, 2, 0);
    ga.dispose();
    return [ga2, neg(ga2)];
  });
/** |a - b| elementwise: the core of L1. */
export const absdiff = (a: Tensor, b: Tensor) =>
  binaryOp(a, b, 'absdiff', (g) => {
    const d = raw(binary(g.rt, a, b, 'sub'), g);
    const s = raw(unary(g.rt, d, 'sign'), g);
    d.dispose();
    const ga = raw(binary(g.rt, g, s, 'mul'), g);
    s.dispose();
    return [ga, neg(ga)];
  });

function raw(a: DeviceArray, like: Tensor): Tensor {
  return wrap(like.rt, a);
}
function mulNoTape(a: Tensor, b: Tensor): Tensor {
  return raw(binary(a.rt, a, b, 'mul'), a);
}

export const neg = (x: Tensor): Tensor => unaryOp(x, 'neg', (g) => neg(g));
export const exp = (x: Tensor) => unaryOp(x, 'exp', (g, y) => mulNoTape(g, y));
export const log = (x: Tensor) => unaryOp(x, 'log', (g) => raw(binary(g.rt, g, x, 'div'), g));
export const sqrt = (x: Tensor) =>
  unaryOp(x, 'sqrt', (g, y) => {
    const t = raw(binary(g.rt, g, y, 'div'), g);
    const r = affine(t, 0.5, 0);
    t.dispose();
    return r;
  });
export const silu = (x: Tensor) => unaryOp(x, 'silu', (g) => withDerivative(g, x, 'siluGrad'));
/** GELU, tanh approximation (PyTorch approximate='tanh'). */
export const gelu = (x: Tensor) => unaryOp(x, 'gelu', (g) => withDerivative(g, x, 'geluGrad'));
export const sigmoid = (x: Tensor) =>
  unaryOp(x, 'sigmoid', (g, y) => {
    const oneMinus = raw(unary(g.rt, y, 'affine', -1, 1), g);
    const t = mulNoTape(y, oneMinus);
    oneMinus.dispose();
    const r = mulNoTape(g, t);
    t.dispose();
    return r;
  });
export const tanh = (x: Tensor) =>
  unaryOp(x, 'tanh', (g, y) => {
    const y2 = raw(unary(g.rt, y, 'square'), g);
    const d = raw(unary(g.rt, y2, 'affine', -1, 1), g);
    y2.dispose();
    const r = mulNoTape(g, d);
    d.dispose();
    return r;
  });
export const relu = (x: Tensor) => unaryOp(x, 'relu', (g) => withDerivative(g, x, 'inRange', 1.2e-38, 3.4e38));
export const abs = (x: Tensor) => unaryOp(x, 'abs', (g) => withDerivative(g, x, 'sign'));
export const square = (x: Tensor) =>
  unaryOp(x, 'square', (g) => {
    const t = mulNoTape(g, x);
    const r = affine(t, 2, 0);
    t.dispose();
    return r;
  });
/** x^p for a constant p. */
export const pow = (x: Tensor, p: number) => unaryOp(x, 'pow', (g) => withDerivative(g, x, 'pow', p - 1, 0, p), p);
export const clamp = (x: Tensor, lo: number, hi: number) => unaryOp(x, 'clamp', (g) => withDerivative(g, x, 'inRange', lo, hi), lo, hi);
/** a * x + b for constants a and b. */
export const affine = (x: Tensor, a: number, b: number): Tensor => unaryOp(x, 'affine', (g) => affine(g, a, 0), a, b);
export const scale = (x: Tensor, a: number) => affine(x, a, 0);

/** g * f'(x) where f' is a unary kernel (times a constant factor). */
function withDerivative(g: Tensor, x: Tensor, op: UnaryOp, a = 0, b = 0, factor = 1): Tensor {
  const d = raw(unary(g.rt, x, op, a, b), g);
  const r = mulNoTape(g, d);
  d.dispose();
  if (factor === 1) return r;
  const s = affine(r, factor, 0);
  r.dispose();
  return s;
}

// ---------- shape ----------

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  if (size(resolved) !== x.size || resolved.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(`reshape: cannot view ${fmtShape(x.shape)} (${x.size} elements) as ${fmtShape(shape)}`);
  }
  const y = x.view(resolved);
  if (needsGrad([x])) y.node = { op: 'reshape', inputs: [x], backward: (g) => [g.view(x.shape)] };
  return y;
}

/** Broadcasts x to `shape` (a copy). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  return result(x.rt, expandKernel(x.rt, x, shape), 'expand', [x], (g) => [unbroadcast(g, x.shape)]);
}

// ---------- reductions ----------

export function sum(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  return reduce(x, axes, keepDims, false);
}

export function mean(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  return reduce(x, axes, keepDims, true);
}

function reduce(x: Tensor, axes: readonly number[] | undefined, keepDims: boolean, average: boolean): Tensor {
  const ax = normalizeAxes(average ? 'mean' : 'sum', x.shape, axes);
  const count = ax.reduce((p, a) => p * x.shape[a]!, 1);
  const k = average ? 1 / Math.max(1, count) : 1;
  const keptShape = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  return result(x.rt, sumKernel(x.rt, x, ax, keepDims, k), average ? 'mean' : 'sum', [x], (g) => {
    const gv = g.view(keptShape);
    const e = raw(expandKernel(g.rt, gv, x.shape), g);
    gv.dispose();
    if (k === 1) return [e];
    const r = raw(unary(g.rt, e, 'affine', k, 0), g);
    e.dispose();
    return [r];
  });
}

// ---------- linear algebra ----------

/** Batched matmul: a [B?, M, K], b [B?, K, N] (transposes as flagged); batch 1 broadcasts. */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  return result(a.rt, matmulKernel(a.rt, a, b, transA, transB), 'matmul', [a, b], (g) => {
    const ga = transA ? matmulKernel(g.rt, b, g, transB, true) : matmulKernel(g.rt, g, b, false, !transB);
    const gb = transB ? matmulKernel(g.rt, g, a, true, transA) : matmulKernel(g.rt, a, g, !transA, false);
    return [sumBatch(raw(ga, g), a.shape), sumBatch(raw(gb, g), b.shape)];
  });
}

/** A broadcast operand's gradient is summed over the batch it was broadcast to. */
function sumBatch(g: Tensor, shape: readonly number[]): Tensor {
  if (g.size === size(shape)) {
    const v = g.view(shape);
    g.dispose();
    return v;
  }
  const s = raw(sumKernel(g.rt, g, [0]), g);
  g.dispose();
  const v = s.view(shape);
  s.dispose();
  return v;
}

// ---------- convolution ----------

/**
 * 2-D convolution; `bias` is [Cout], or [N, Cout] for one per sample. `residual` ([N, Cout, OH,
 * OW]) is added to the output: both additions run inside the convolution's output loop.
 */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}, residual: Tensor | null = null): Tensor {
  const inputs = [x, w, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  const weightGradLater = isGradEnabled() && (w.requiresGrad || w.node !== null);
  return result(x.rt, conv2dKernel(x.rt, x, w, bias, opts, residual, weightGradLater), 'conv2d', inputs, (g) => {
    const gx = x.requiresGrad || x.node ? raw(conv2dInputGrad(g.rt, g, w, x.shape, opts), g) : null;
    const gw = w.requiresGrad || w.node ? raw(conv2dWeightGrad(g.rt, x, g, w.shape, opts), g) : null;
    const out: (Tensor | null)[] = [gx, gw];
    // a per-channel bias sums the gradient over batch and space; a per-sample one over space
    if (bias) out.push(raw(sumKernel(g.rt, g, bias.shape.length === 2 ? [2, 3] : [0, 2, 3]), g));
    if (residual) out.push(g.detach());
    return out;
  });
}

// ---------- normalisation ----------

function norm(op: string, x: Tensor, plan: NormPlan, gamma: Tensor | null, beta: Tensor | null, act: NormActivation = 'none'): Tensor {
  const { y, stats } = normForward(x.rt, op, x, plan, gamma, beta, act);
  const inputs = gamma && beta ? [x, gamma, beta] : [x];
  if (!needsGrad(inputs)) {
    x.rt.free(stats.storage);
    return wrap(x.rt, y);
  }
  const statsT = wrap(x.rt, stats); // owned by the current scope like any intermediate
  return result(x.rt, y, op, inputs, (g) => {
    // a fused activation: first the gradient at the norm's own output (recomputed, not stored)
    const dn = act === 'none' ? g : raw(normActivationGrad(g.rt, op, x, g, statsT, plan, gamma, beta), g);
    const grads = normBackward(g.rt, op, x, dn, statsT, plan, gamma, x.requiresGrad || x.node !== null);
    if (dn !== g) dn.dispose();
    const gx = x.requiresGrad || x.node ? raw(grads.dx, g) : null;
    return gamma ? [gx, raw(grads.dgamma!, g), raw(grads.dbeta!, g)] : [gx];
  });
}

/**
 * Group norm statistics by windows (withNormWindow; one-piece fusion, FuseOptions.normWindow;
 * knob FFM_NORM_WINDOW=<input pixels> in UNet.forward): in a forward without gradient, group norms
 * over [N, C, H, W] take their statistics per square window whose side is this fraction of the
 * map's width (a training crop's share of the net input, at every level), interpolated
 * bilinearly between the windows' centres at each pixel (normByWindows), instead of over the
 * whole map: a net trained on crops then sees statistics of a crop's extent in a whole image.
 * FFM_NORM_WINDOW_SMOOTH=0: each pixel by its owning window's statistics, no interpolation (the
 * first probe; the window borders show). bench/results/window-attention/.
 */
let normWindowFraction: number | null = null;
export function withNormWindow<T>(fraction: number | null, f: () => T): T {
  const prev = normWindowFraction;
  normWindowFraction = fraction;
  try {
    return f();
  } finally {
    normWindowFraction = prev;
  }
}

/** Per-window group norm statistics of gathered windows (the in-place windowStats' first form). */
function gatheredWindowStats(op: string, x: Tensor, plan: ReturnType<typeof windowPlan>, groups: number, eps: number): DeviceArray {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const nw = plan.nwy * plan.nwx;
  const xw = windowGather(x.rt, { storage: x.storage, shape: [N, C, H * W] }, plan);
  const stats = normStats(x.rt, op, { storage: xw.storage, shape: [N * nw, C, plan.wh, plan.ww] }, groupNormPlan([N * nw, C, plan.wh, plan.ww], groups, eps));
  x.rt.free(xw.storage);
  return stats;
}

/** The windows of withNormWindow's group norm of x, or null where its statistics are the whole map's (no windows set, or one window covers it). */
function normWindowsOf(x: Tensor): WindowPlan | null {
  if (normWindowFraction === null || x.shape.length !== 4) return null;
  const [, , H, W] = x.shape as [number, number, number, number];
  const plan = windowPlan(H, W, Math.max(1, Math.round(W * normWindowFraction)));
  return plan.nwy * plan.nwx === 1 ? null : plan;
}

/**
 * Whether a convolution after a windowed group norm applies it in its input transform
 * (interpolated statistics read in place, as normByWindows'; knob FFM_NORM_WINDOW_FOLD=0 never:
 * normByWindows' pass, then the convolution, as the hard-window and gathered-statistics probes).
 */
const normWindowsFold = (): boolean => knob('FFM_NORM_WINDOW_FOLD') !== 0 && knob('FFM_NORM_WINDOW_SMOOTH') !== 0 && knob('FFM_NORM_WINDOW_STATS') !== 0;

/** The windowed group norm of withNormWindow, or null where it does not apply. */
function windowedGroupNorm(op: string, x: Tensor, groups: number, gamma: Tensor | null, beta: Tensor | null, eps: number, act: NormActivation): Tensor | null {
  const plan = normWindowsOf(x);
  if (!plan || needsGrad(gamma && beta ? [x, gamma, beta] : [x])) return null;
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const nw = plan.nwy * plan.nwx;
  if (knob('FFM_NORM_WINDOW_SMOOTH') !== 0) {
    // statistics per window (read in place; FFM_NORM_WINDOW_STATS=0: of gathered windows, as
    // first built), interpolated between the windows' centres
    const stats = knob('FFM_NORM_WINDOW_STATS') === 0 ? gatheredWindowStats(op, x, plan, groups, eps) : windowStats(x.rt, x, plan, groups, eps);
    const y = normByWindows(x.rt, x, stats, plan, groups, gamma, beta, act === 'silu' ? 'silu' : 'none');
    x.rt.free(stats.storage);
    return wrap(x.rt, y);
  }
  const xw = windowGather(x.rt, { storage: x.storage, shape: [N, C, H * W] }, plan);
  const yw = normForward(x.rt, op, { storage: xw.storage, shape: [N * nw, C, plan.wh, plan.ww] }, groupNormPlan([N * nw, C, plan.wh, plan.ww], groups, eps), gamma, beta, act);
  x.rt.free(xw.storage);
  x.rt.free(yw.stats.storage);
  const y = windowScatter(x.rt, { storage: yw.y.storage, shape: [N * nw, C, plan.wh * plan.ww] }, plan);
  x.rt.free(yw.y.storage);
  return wrap(x.rt, { storage: y.storage, shape: [N, C, H, W] });
}

/** Group norm over [N, C, ...] with `groups` groups; gamma/beta are [C] or both null. */
export function groupNorm(x: Tensor, groups: number, gamma: Tensor | null, beta: Tensor | null, eps = 1e-5): Tensor {
  return windowedGroupNorm('groupNorm', x, groups, gamma, beta, eps, 'none') ?? norm('groupNorm', x, groupNormPlan(x.shape, groups, eps), gamma, beta);
}

/** silu(groupNorm(x)) in one pass (the activation fused into the normalisation's output kernel). */
export function groupNormSilu(x: Tensor, groups: number, gamma: Tensor | null, beta: Tensor | null, eps = 1e-5): Tensor {
  return windowedGroupNorm('groupNormSilu', x, groups, gamma, beta, eps, 'silu') ?? norm('groupNormSilu', x, groupNormPlan(x.shape, groups, eps), gamma, beta, 'silu');
}

/**
 * conv2d(silu(groupNorm(x)), w, bias, opts, residual), the pair every ResBlock runs. Where no
 * gradient is taken and the convolution runs Winograd by tile groups, the normalisation is applied
 * inside its input transform and the normalised map is never written (one pass over a map less);
 * else the two ops as they are. Same values either way, up to float rounding.
 */
export function groupNormSiluConv2d(x: Tensor, groups: number, gamma: Tensor, beta: Tensor, eps: number, w: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}, residual: Tensor | null = null): Tensor {
  const inputs = [x, gamma, beta, w, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  if (!needsGrad(inputs) && conv2dTakesNormed(x.rt, x.shape, w.shape, opts)) {
    const windows = normWindowsOf(x);
    if (!windows || normWindowsFold()) {
      const stats = windows ? windowStats(x.rt, x, windows, groups, eps) : normStats(x.rt, 'groupNormSiluConv2d', x, groupNormPlan(x.shape, groups, eps));
      const y = conv2dOfNormed(x.rt, x, { stats: stats.storage, gamma: gamma.storage, beta: beta.storage, groups, ...(windows ? { windows } : {}) }, w, bias, opts, residual);
      x.rt.free(stats.storage);
      return wrap(x.rt, y);
    }
  }
  return conv2d(groupNormSilu(x, groups, gamma, beta, eps), w, bias, opts, residual);
}

/** Layer norm over the last axis; gamma/beta are [D] or both null. */
export function layerNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, eps = 1e-5): Tensor {
  return norm('layerNorm', x, layerNormPlan(x.shape, eps), gamma, beta);
}

// ---------- attention pieces ----------

/** softmax(scale * x) over the last axis. */
export function softmax(x: Tensor, scaleBy = 1): Tensor {
  const y: Tensor = result(x.rt, softmaxKernel(x.rt, x, scaleBy), 'softmax', [x], (g) => [raw(softmaxBackward(g.rt, y, g, scaleBy), g)]);
  return y;
}

/** softmax(scale * x) over the second-to-last axis of x: [B, R, C], C % 4 == 0 (each column sums to 1). */
export function softmaxColumns(x: Tensor, scaleBy = 1): Tensor {
  const y: Tensor = result(x.rt, softmaxColumnsKernel(x.rt, x, scaleBy), 'softmaxColumns', [x], (g) => [raw(softmaxColumnsBackward(g.rt, y, g, scaleBy), g)]);
  return y;
}

/**
 * Attention through its materialised scores. Where L % 4 == 0 they are computed transposed
 * (k^T q, one column per query) and normalised by columns, so that the value product reads them
 * as they lie: the row-major way (q^T k, a row softmax, v p^T) copies the L x L scores for the
 * vec4 matmul and strides its softmax's lanes by L. On lavapipe, knob FFM_ATTN_COLUMNS=0 (the
 * row-major way) against the default, interleaved: 5.31 -> 4.28 ms at L = 256, D = 128 (quiet,
 * attention-probe), 79 -> 50 ms at L = 1,024, D = 64 (under load); the 2.7 M U-Net's training
 * step (dense attention, as it needs a gradient) 4,559 -> 4,485 ms (quiet, knob-ab, 7 rounds; a
 * first 5-round run's 6,073 -> 4,712 ms did not repeat).
 */
function denseAttention(q: Tensor, k: Tensor, v: Tensor, scale: number, L: number): Tensor {
  if (L % 4 === 0 && knob('FFM_ATTN_COLUMNS') !== 0) return matmul(v, softmaxColumns(matmul(k, q, true, false), scale));
  return matmul(v, softmax(matmul(q, k, true, false), scale), false, true);
}

/**
 * The scores attention may materialise at once: all of them (B x L x L floats, 'dense') or one
 * block of queries' ('blocks') within DENSE_ATTENTION_BYTES, half of WebGPU's baseline binding.
 * FFM_ATTN_DENSE_BYTES overrides it (0: never materialised, always the fused kernel).
 */
const denseAttentionBytes = (): number => knob('FFM_ATTN_DENSE_BYTES') ?? DENSE_ATTENTION_BYTES;
export const DENSE_ATTENTION_BYTES = 64 * 1024 * 1024;

/**
 * The widest head that 'auto' gives the fused forward. Its vec4-lane form holds QV = 64 / D
 * queries per invocation, so wider heads keep fewer queries in flight: on lavapipe (attention-probe,
 * 4 heads, beside two training jobs) it ran 1.67x dense at D = 16, L = 1,024, but dense ran
 * 1.27-1.43x it at D = 32 (quiet: 34 vs 44 ms) and 1.52x at D = 64, and blocks 1.11x it at
 * D = 32, L = 4,096. So software adapters stop at 16 (the 2.7 M U-Net's forward, heads of 32:
 * 311 vs 323 ms quiet, knob-ab); hardware keeps every head the kernel holds until measured there.
 * Knob FFM_ATTN_FUSED_MAX_DIM sets it.
 */
function fusedForwardMaxDim(rt: Tensor['rt']): number {
  return knob('FFM_ATTN_FUSED_MAX_DIM') ?? (rt.isSoftware ? 16 : ATTENTION_MAX_HEAD_DIM);
}

/**
 * Attention of one head per batch entry: q, k, v are [B, D, L] (channel-major tokens),
 * the result is [B, D, L] with o[:, :, i] = sum_j softmax_j(scale q_i.k_j) v[:, :, j].
 * 'dense' materialises the L x L scores; 'blocks' those of one block of queries at a time
 * (memory B x rows x L; no gradient); 'fused' never stores scores (online softmax; the backward
 * recomputes them), so memory grows with L. 'auto' (the default) takes, on lavapipe
 * (bench/engine/attention-probe.ts, bench/results/attention-probe-*):
 * - without a gradient where L % 4 == 0 and the head is at most fusedForwardMaxDim wide: fused, whose vec4-lane forward (forward_q4) ran
 *   2-2.5x dense at L = 256 and 1,936 and 2.5x blocks at 4,800 (D = 16);
 * - else dense while the scores fit (its backward is the faster one at training sizes);
 * - else blocks without a gradient (4x the generic fused forward at L = 4,800; knob
 *   FFM_ATTN_BLOCKS=0 turns it off), else fused.
 * All equal, within float rounding, to matmul(v, softmax(matmul(q, k, true), scale), false, true).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, scale: number, method: 'auto' | 'fused' | 'dense' | 'blocks' = 'auto'): Tensor {
  const [B, D, L] = q.shape as [number, number, number];
  const budget = denseAttentionBytes();
  const inputs = [q, k, v];
  const grad = needsGrad(inputs);
  // the fused kernel keeps a head in registers: a wider one goes dense or by blocks
  const fusedFast = !grad && hasVec4Forward(L) && D <= Math.min(ATTENTION_MAX_HEAD_DIM, fusedForwardMaxDim(q.rt));
  if (method === 'dense' || (method === 'auto' && !fusedFast && B * L * L * 4 <= budget)) {
    return denseAttention(q, k, v, scale, L);
  }
  if (method === 'blocks' || (method === 'auto' && !fusedFast && !grad && budget > 0 && knob('FFM_ATTN_BLOCKS') !== 0)) {
    if (grad) throw new ShapeError("attention: 'blocks' keeps no scores for a gradient (use 'fused' or 'dense' where one is wanted)");
    return wrap(q.rt, attentionByQueryBlocks(q.rt, q, k, v, scale, budget || DENSE_ATTENTION_BYTES));
  }
  const { o, lse } = attentionKernel(q.rt, q, k, v, scale);
  if (!grad) {
    q.rt.free(lse.storage);
    return wrap(q.rt, o);
  }
  const lseT = wrap(q.rt, lse); // owned by the current scope like any intermediate
  const y: Tensor = result(q.rt, o, 'attention', inputs, (g) => {
    const d = attentionBackward(g.rt, q, k, v, y, lseT, g, scale);
    return [raw(d.dq, g), raw(d.dk, g), raw(d.dv, g)];
  });
  return y;
}

/**
 * Attention of each token of an H x W token map (q, k, v [B, D, H * W], as `attention` takes
 * them) over the tokens of its square window of `side` x `side` only, instead of the whole map:
 * windows tile the map, the last of each row and column moved back inside it (src/kernels/window.ts).
 * A map no larger than one window is plain attention. Inference only (no gradient): a net
 * trained on crops whose lowest level is one window sees, in a larger image, attention over as
 * many tokens as in training, at a cost linear in the map's area.
 */
export function windowedAttention(q: Tensor, k: Tensor, v: Tensor, scale: number, H: number, W: number, side: number): Tensor {
  if (needsGrad([q, k, v])) throw new ShapeError('windowedAttention: inference only (no gradient); train with attention() on crops of one window');
  const plan = windowPlan(H, W, side);
  if (plan.nwy * plan.nwx === 1) return attention(q, k, v, scale);
  const rt = q.rt;
  const [qw, kw, vw] = [q, k, v].map((t) => raw(windowGather(rt, t, plan), t));
  const o = attention(qw!, kw!, vw!, scale);
  for (const t of [qw!, kw!, vw!]) t.dispose();
  const y = raw(windowScatter(rt, o, plan), o);
  o.dispose();
  return y;
}

// ---------- resampling ----------

export function upsample2x(x: Tensor, mode: UpsampleMode = 'nearest'): Tensor {
  return result(x.rt, upsampleKernel(x.rt, x, mode), `upsample2x-${mode}`, [x], (g) => [raw(upsample2xBackward(g.rt, g, mode), g)]);
}

export function avgPool2x(x: Tensor): Tensor {
  return result(x.rt, avgPoolKernel(x.rt, x), 'avgPool2x', [x], (g) => [raw(avgPool2xBackward(g.rt, g, x.shape), g)]);
}

// ---------- channels ----------

export function concat(parts: Tensor[]): Tensor {
  const first = parts[0];
  if (!first) throw new ShapeError('concat: no inputs');
  return result(first.rt, concatChannels(first.rt, parts), 'concat', parts, (g) => {
    let off = 0;
    return parts.map((p) => {
      const s = raw(sliceChannels(g.rt, g, off, p.shape[1]!), g);
      off += p.shape[1]!;
      return s;
    });
  });
}

export function slice(x: Tensor, start: number, count: number): Tensor {
  return result(x.rt, sliceChannels(x.rt, x, start, count), 'slice', [x], (g) => [raw(padChannels(g.rt, g, x.shape, start), g)]);
}

// ---------- losses ----------

function checkSameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`${op}: prediction ${fmtShape(a.shape)} and target ${fmtShape(b.shape)} differ`);
  }
}

/** mean((a - b)^2) */
export function mseLoss(a: Tensor, b: Tensor): Tensor {
  checkSameShape('mseLoss', a, b);
  const d = sqdiff(a, b);
  const m = mean(d);
  if (!m.node) d.dispose();
  return m;
}

/** mean(|a - b|) */
export function l1Loss(a: Tensor, b: Tensor): Tensor {
  checkSameShape('l1Loss', a, b);
  const d = absdiff(a, b);
  const m = mean(d);
  if (!m.node) d.dispose();
  return m;
}

export { broadcastShapes };
