/**
 * Every gradient rule against central finite differences, on the GPU in float32
 * (eps 1e-3): L = sum(f(inputs) * R) for a fixed random R, analytic dL/dx from backward()
 * versus (L(x + eps) - L(x - eps)) / 2eps at sampled elements.
 */
import { describe, expect, it } from 'vitest';
import { backward } from '../src/autograd/backward.js';
import { tensor } from '../src/autograd/create.js';
import * as op from '../src/autograd/ops.js';
import { noGrad, tidy, type Tensor } from '../src/autograd/tensor.js';
import { conv2dInputGradRef, conv2dRef, conv2dWeightGradRef } from '../src/kernels/reference/conv2d.js';
import { normBackwardRef, normRef } from '../src/kernels/reference/norm.js';
import { groupNormPlan } from '../src/kernels/norm.js';
import { gpu, maxRelErr, randomArray } from './helpers.js';

interface Spec {
  shape: number[];
  /** transform of the uniform [-1, 1) test values (to keep away from kinks or poles) */
  map?: (v: number) => number;
}

const EPS = 1e-3;
const SAMPLES = 6;

async function gradcheck(specs: Spec[], f: (...xs: Tensor[]) => Tensor, seed = 1): Promise<void> {
  await gpu();
  const values = specs.map((s, i) => randomArray(s.shape.reduce((a, b) => a * b, 1), seed * 31 + i).map(s.map ?? ((v) => v)));
  const inputs = values.map((v, i) => tensor(v, specs[i]!.shape, { requiresGrad: true }));
  const probe = noGrad(() => f(...inputs));
  const R = tensor(randomArray(probe.size, seed + 99), probe.shape);
  probe.dispose();
  const loss = (xs: Tensor[]) => op.sum(op.mul(f(...xs), R));
  tidy(() => backward(loss(inputs)));
  for (let i = 0; i < specs.length; i++) {
    const analytic = await inputs[i]!.grad!.data();
    const n = values[i]!.length;
    const picks = new Set<number>([0, n - 1]);
    for (let k = 0; picks.size < Math.min(n, SAMPLES); k++) picks.add(Math.floor(((k * 7919 + seed * 104729) % 1000003) / 1000003 * n));
    for (const j of picks) {
      const evalAt = async (delta: number) => {
        const v = values[i]!.slice();
        v[j]! += delta;
        const l = noGrad(() => tidy(() => loss(inputs.map((x, k) => (k === i ? tensor(v, specs[i]!.shape) : x)))));
        const r = await l.item();
        l.dispose();
        return r;
      };
      const numeric = ((await evalAt(EPS)) - (await evalAt(-EPS))) / (2 * EPS);
      const a = analytic[j]!;
      expect(Math.abs(numeric - a), `input ${i} element ${j}: numeric ${numeric} analytic ${a}`).toBeLessThan(3e-3 + 2e-2 * Math.abs(a));
    }
  }
  for (const x of inputs) {
    x.grad?.dispose();
    x.dispose();
  }
  R.dispose();
}

const awayFromZero = (v: number) => (v >= 0 ? 0.2 + v : -0.2 + v);
const positive = (v: number) => 0.5 + Math.abs(v);

describe('gradient rules against finite differences (GPU, f32)', () => {
  it('add / sub / mul / div with broadcasting', async () => {
    await gradcheck([{ shape: [2, 3, 4] }, { shape: [3, 1] }], (a, b) => op.add(a, b));
    await gradcheck([{ shape: [2, 3, 4] }, { shape: [4] }], (a, b) => op.sub(a, b));
    await gradcheck([{ shape: [2, 1, 4] }, { shape: [3, 1] }], (a, b) => op.mul(a, b));
    await gradcheck([{ shape: [2, 3] }, { shape: [2, 3], map: positive }], (a, b) => op.div(a, b));
  });
  it('unary ops', async () => {
    const s = [{ shape: [3, 7] }];
    for (const f of [op.exp, op.neg, op.silu, op.gelu, op.sigmoid, op.tanh, op.square]) await gradcheck(s, f);
    await gradcheck([{ shape: [3, 7], map: positive }], op.log);
    await gradcheck([{ shape: [3, 7], map: positive }], op.sqrt);
    await gradcheck([{ shape: [3, 7], map: awayFromZero }], op.relu);
    await gradcheck([{ shape: [3, 7], map: awayFromZero }], op.abs);
    await gradcheck(s, (x) => op.pow(x, 3));
    await gradcheck([{ shape: [3, 7], map: (v) => (Math.abs(v) < 0.55 && Math.abs(v) > 0.45 ? v * 1.3 : v) }], (x) => op.clamp(x, -0.5, 0.5));
    await gradcheck(s, (x) => op.affine(x, -1.7, 0.3));
  });
  it('sum and mean over axes, reshape, expand', async () => {
    await gradcheck([{ shape: [2, 3, 4] }], (x) => op.sum(x, [1]));
    await gradcheck([{ shape: [2, 3, 4] }], (x) => op.mean(x, [0, 2], true));
    await gradcheck([{ shape: [2, 3, 4] }], (x) => op.mean(x));
    await gradcheck([{ shape: [2, 3, 4] }], (x) => op.reshape(x, [6, 4]));
    await gradcheck([{ shape: [3, 1] }], (x) => op.expand(x, [2, 3, 5]));
  });
  it('batched matmul with transposes and batch broadcasting', async () => {
    await gradcheck([{ shape: [2, 3, 5] }, { shape: [2, 5, 4] }], (a, b) => op.matmul(a, b));
    await gradcheck([{ shape: [2, 5, 3] }, { shape: [2, 4, 5] }], (a, b) => op.matmul(a, b, true, true));
    await gradcheck([{ shape: [3, 5] }, { shape: [2, 5, 4] }], (a, b) => op.matmul(op.reshape(a, [1, 3, 5]), b));
  });
  it('conv2d: input, weight and bias gradients, stride 1 and 2, kernel 1 and 3', async () => {
    await gradcheck([{ shape: [2, 3, 5, 6] }, { shape: [4, 3, 3, 3] }, { shape: [4] }], (x, w, b) => op.conv2d(x, w, b));
    await gradcheck([{ shape: [1, 3, 7, 5] }, { shape: [2, 3, 3, 3] }, { shape: [2] }], (x, w, b) => op.conv2d(x, w, b, { stride: 2, pad: 1 }));
    await gradcheck([{ shape: [2, 5, 3, 3] }, { shape: [3, 5, 1, 1] }], (x, w) => op.conv2d(x, w, null, { pad: 0 }));
    // the fused epilogue: a bias per sample and channel, and a residual
    await gradcheck([{ shape: [2, 3, 4, 5] }, { shape: [4, 3, 3, 3] }, { shape: [2, 4] }, { shape: [2, 4, 4, 5] }], (x, w, b, r) => op.conv2d(x, w, b, {}, r));
  });
  it('group norm and layer norm with affine parameters', async () => {
    await gradcheck([{ shape: [2, 4, 3, 3], map: (v) => 2 * v }, { shape: [4] }, { shape: [4] }], (x, g, b) => op.groupNorm(x, 2, g, b));
    await gradcheck([{ shape: [2, 4, 2, 4], map: (v) => 2 * v }, { shape: [4] }, { shape: [4] }], (x, g, b) => op.groupNorm(x, 2, g, b));
    await gradcheck([{ shape: [3, 6] }, { shape: [6] }, { shape: [6] }], (x, g, b) => op.layerNorm(x, g, b));
  });
  it('group norm with SiLU fused: gradients, and the same values as the two ops', async () => {
    await gradcheck([{ shape: [2, 4, 3, 3], map: (v) => 2 * v }, { shape: [4] }, { shape: [4] }], (x, g, b) => op.groupNormSilu(x, 2, g, b));
    await gradcheck([{ shape: [1, 6, 2, 5] }], (x) => op.groupNormSilu(x, 3, null, null));
    // maps of 4k pixels: four elements per invocation in the forward and both backward passes
    await gradcheck([{ shape: [2, 4, 2, 2], map: (v) => 2 * v }, { shape: [4] }, { shape: [4] }], (x, g, b) => op.groupNormSilu(x, 2, g, b));
    await gradcheck([{ shape: [1, 6, 2, 4] }], (x) => op.groupNormSilu(x, 3, null, null));
    // maps of 16k pixels: four vec4s per invocation
    await gradcheck([{ shape: [1, 4, 4, 4], map: (v) => 2 * v }, { shape: [4] }, { shape: [4] }], (x, g, b) => op.groupNormSilu(x, 2, g, b));
    await gpu();
    const x = tensor(randomArray(2 * 4 * 3 * 3, 9).map((v) => 3 * v), [2, 4, 3, 3]);
    const g = tensor(randomArray(4, 10), [4]);
    const b = tensor(randomArray(4, 11), [4]);
    const fused = await op.groupNormSilu(x, 2, g, b).data();
    const twoOps = await op.silu(op.groupNorm(x, 2, g, b)).data();
    expect(maxRelErr(fused, twoOps)).toBeLessThan(1e-6);
  });
  it('softmax, fused attention, resampling, concat and slice', async () => {
    await gradcheck([{ shape: [3, 5] }], (x) => op.softmax(x, 0.7));
    await gradcheck([{ shape: [2, 3, 4] }], (x) => op.softmaxColumns(x, 0.7));
    // dense attention at L % 4 == 0: transposed scores, the column softmax, the value product
    await gradcheck([{ shape: [1, 3, 4] }, { shape: [1, 3, 4] }, { shape: [1, 3, 4] }], (q, k, v) => op.attention(q, k, v, 0.6, 'dense'));
    await gradcheck([{ shape: [2, 3, 5] }, { shape: [2, 3, 5] }, { shape: [2, 3, 5] }], (q, k, v) => op.attention(q, k, v, 0.6, 'fused'));
    await gradcheck([{ shape: [1, 2, 3, 2] }], (x) => op.upsample2x(x, 'nearest'));
    await gradcheck([{ shape: [1, 2, 3, 2] }], (x) => op.upsample2x(x, 'bilinear'));
    await gradcheck([{ shape: [1, 2, 5, 4] }], (x) => op.avgPool2x(x));
    await gradcheck([{ shape: [2, 2, 3] }, { shape: [2, 1, 3] }], (a, b) => op.concat([a, b]));
    await gradcheck([{ shape: [2, 4, 3] }], (x) => op.slice(x, 1, 2));
  });
  it('MSE and L1 losses', async () => {
    await gradcheck([{ shape: [2, 3] }, { shape: [2, 3] }], (a, b) => op.mseLoss(a, b));
    await gradcheck([{ shape: [2, 3] }, { shape: [2, 3], map: (v) => v + 3 }], (a, b) => op.l1Loss(a, b));
  });
});

describe('float64 references of the backward kernels against finite differences (CPU)', () => {
  const fd = (f: (v: Float64Array) => number, x: Float64Array, j: number, h = 1e-6) => {
    const p = x.slice();
    const m = x.slice();
    p[j]! += h;
    m[j]! -= h;
    return (f(p) - f(m)) / (2 * h);
  };
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
    return s;
  };
  it('conv2d input and weight gradients', () => {
    const c = { N: 1, Cin: 2, H: 5, W: 4, Cout: 3, K: 3, stride: 2, pad: 1 };
    const x = Float64Array.from(randomArray(40, 1));
    const w = Float64Array.from(randomArray(54, 2));
    const dy = Float64Array.from(randomArray(3 * 3 * 2, 3));
    const gx = conv2dInputGradRef(dy, w, c);
    const gw = conv2dWeightGradRef(x, dy, c);
    for (const j of [0, 7, 39]) expect(Math.abs(fd((v) => dot(conv2dRef(v, w, null, c), dy), x, j) - gx[j]!)).toBeLessThan(1e-7);
    for (const j of [0, 20, 53]) expect(Math.abs(fd((v) => dot(conv2dRef(x, v, null, c), dy), w, j) - gw[j]!)).toBeLessThan(1e-7);
  });
  it('group norm gradients', () => {
    const plan = groupNormPlan([2, 4, 2, 3], 2, 1e-5);
    const x = Float64Array.from(randomArray(48, 4));
    const g = Float64Array.from(randomArray(4, 5));
    const b = Float64Array.from(randomArray(4, 6));
    const dy = Float64Array.from(randomArray(48, 7));
    const ref = normBackwardRef(x, dy, plan, g);
    for (const j of [0, 13, 47]) expect(Math.abs(fd((v) => dot(normRef(v, plan, g, b), dy), x, j) - ref.dx[j]!)).toBeLessThan(1e-6);
    for (const j of [0, 3]) expect(Math.abs(fd((v) => dot(normRef(x, plan, v, b), dy), g, j) - ref.dgamma[j]!)).toBeLessThan(1e-6);
  });
});
