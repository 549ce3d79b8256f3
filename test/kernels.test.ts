import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { tensor } from '../src/autograd/create.js';
import type { Tensor } from '../src/autograd/tensor.js';
import { adamwStep, adamwStepFlat } from '../src/kernels/adamw.js';
import { concatChannels, padChannels, sliceChannels } from '../src/kernels/channels.js';
import { binary, BINARY_OPS, expand, unary, UNARY_OPS, type BinaryOp, type UnaryOp } from '../src/kernels/elementwise.js';
import { randomNormal, randomUniform } from '../src/kernels/fill.js';
import { matmul } from '../src/kernels/matmul.js';
import { groupNormPlan, layerNormPlan, normBackward, normForward } from '../src/kernels/norm.js';
import type { DeviceArray } from '../src/kernels/program.js';
import { sum, SUM_SQUARES_CHUNK, sumSquaresInto, sumSquaresParts } from '../src/kernels/reduce.js';
import { attention, attentionBackward } from '../src/kernels/attention.js';
import { adamwRef, attentionRef, avgPoolRef, binaryRef, matmulRef, softmaxBackwardRef, softmaxRef, unaryRef, upsampleBackwardRef, upsampleRef } from '../src/kernels/reference/misc.js';
import { normBackwardRef, normRef } from '../src/kernels/reference/norm.js';
import { avgPool2x, avgPool2xBackward, dilate2x, upsample2x, upsample2xBackward } from '../src/kernels/resample.js';
import { softmax, softmaxBackward, softmaxColumns, softmaxColumnsBackward } from '../src/kernels/softmax.js';
import { normalAt, uniformAt } from '../src/util/rng.js';
import { F32_TOL, gpu, maxRelErr, randomArray } from './helpers.js';

async function read(a: DeviceArray): Promise<Float32Array> {
  const rt = await gpu();
  return new Float32Array(await rt.read(a.storage, 0, a.shape.reduce((x, y) => x * y, 1) * 4));
}
function t(values: ArrayLike<number>, shape: number[]): Tensor {
  return tensor(values, shape);
}

describe('elementwise', () => {
  const shape = [3, 5, 7];
  const n = 105;
  const unaryDomains: Partial<Record<UnaryOp, [number, number]>> = { log: [0.1, 3], sqrt: [0.01, 4], rsqrt: [0.1, 4], reciprocal: [0.5, 3] };
  for (const op of Object.keys(unaryRef) as UnaryOp[]) {
    it(`unary ${op} on ${n} elements`, async () => {
      const rt = await gpu();
      const [lo, hi] = unaryDomains[op] ?? [-3, 3];
      const xs = randomArray(n, 11).map((v) => lo + ((v + 1) / 2) * (hi - lo));
      const [a, b] = op === 'pow' ? [3, 0] : op === 'clamp' ? [-0.5, 0.7] : op === 'affine' ? [1.5, -0.25] : [0, 0];
      const y = unary(rt, t(xs, shape), op, a, b);
      const want = Array.from(xs, (v) => unaryRef[op]!(v, a, b));
      expect(maxRelErr(await read(y), want)).toBeLessThan(op === 'gelu' || op === 'tanh' || op === 'exp' ? 3e-6 * 10 : F32_TOL);
    });
  }
  expect(Object.keys(UNARY_OPS).length).toBeGreaterThan(15);

  const shapes: [number[], number[]][] = [
    [[3, 5, 7], [3, 5, 7]],
    // same shapes of 4k elements: by vec4s (binary4), one invocation's four vec4s partly past the end
    [[3, 4, 5], [3, 4, 5]],
    [[3, 5, 7], [7]],
    [[3, 1, 7], [1, 5, 1]],
    [[1], [2, 3, 1, 5]],
    [[2, 1, 3, 1, 2, 1, 3], [4, 3, 5, 2, 4, 1]],
  ];
  for (const op of Object.keys(binaryRef) as BinaryOp[]) {
    it(`binary ${op} with broadcasting`, async () => {
      const rt = await gpu();
      for (const [sa, sb] of shapes) {
        const na = sa.reduce((x, y) => x * y, 1);
        const nb = sb.reduce((x, y) => x * y, 1);
        const pos = op === 'pow' || op === 'div';
        const as = randomArray(na, 3).map((v) => (pos ? 0.5 + Math.abs(v) : v));
        const bs = randomArray(nb, 4).map((v) => (pos ? 0.5 + Math.abs(v) : v));
        const c = binary(rt, t(as, sa), t(bs, sb), op);
        // float64 reference with NumPy broadcasting
        const rank = c.shape.length;
        const pa = [...new Array(rank - sa.length).fill(1), ...sa];
        const pb = [...new Array(rank - sb.length).fill(1), ...sb];
        const total = c.shape.reduce((x, y) => x * y, 1);
        const want = new Float64Array(total);
        for (let i = 0; i < total; i++) {
          let rem = i;
          let ia = 0;
          let ib = 0;
          let sA = 1;
          let sB = 1;
          for (let d = rank - 1; d >= 0; d--) {
            const k = rem % c.shape[d]!;
            rem = Math.floor(rem / c.shape[d]!);
            ia += (pa[d] === 1 ? 0 : k) * sA;
            ib += (pb[d] === 1 ? 0 : k) * sB;
            sA *= pa[d]!;
            sB *= pb[d]!;
          }
          want[i] = binaryRef[op]!(as[ia]!, bs[ib]!);
        }
        expect(maxRelErr(await read(c), want), `${op} ${sa} ${sb}`).toBeLessThan(F32_TOL);
      }
    });
  }
  expect(Object.keys(BINARY_OPS)).toContain('sqdiff');

  it('expand broadcasts to a target shape', async () => {
    const rt = await gpu();
    const e = expand(rt, t([1, 2, 3], [3, 1]), [2, 3, 4]);
    expect(Array.from(await read(e))).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  });
});

describe('reductions', () => {
  const cases: [number[], number[] | undefined][] = [
    [[4, 6, 5], [1]],
    [[4, 6, 5], [0, 2]],
    [[2, 3, 4, 5], [0, 2, 3]],
    [[7, 1, 9], undefined],
    [[1], [0]],
    [[3, 70001], [1]],
    [[200000], undefined],
    // a conv bias gradient (two reduced runs), and long reductions on either side of the
    // one-pass form's output bound (4,096)
    [[4, 16, 32, 32], [0, 2, 3]],
    [[3000, 1100], [1]],
    [[4100, 1030], [1]],
  ];
  // the one-workgroup-per-output pass (default) and the two passes it replaced (FFM_REDUCE_WG=0)
  for (const [shape, axes, onePass] of cases.flatMap(([s, a]) => [[s, a, true], [s, a, false]] as const)) {
    it(`sum ${JSON.stringify(shape)} over ${axes ? JSON.stringify(axes) : 'all'}${onePass ? '' : ' (FFM_REDUCE_WG=0)'}`, async () => {
      const rt = await gpu();
      if (!onePass) process.env.FFM_REDUCE_WG = '0';
      onTestFinished(() => { delete process.env.FFM_REDUCE_WG; });
      const n = shape.reduce((a, b) => a * b, 1);
      const xs = randomArray(n, 5);
      const y = sum(rt, t(xs, shape), axes, false, 0.5);
      const ax = axes ?? shape.map((_, i) => i);
      const outShape = shape.filter((_, i) => !ax.includes(i));
      expect(y.shape).toEqual(outShape);
      const want = new Float64Array(Math.max(1, outShape.reduce((a, b) => a * b, 1)));
      const idx = new Array(shape.length).fill(0);
      for (let i = 0; i < n; i++) {
        let rem = i;
        for (let d = shape.length - 1; d >= 0; d--) {
          idx[d] = rem % shape[d]!;
          rem = Math.floor(rem / shape[d]!);
        }
        let o = 0;
        for (let d = 0; d < shape.length; d++) if (!ax.includes(d)) o = o * shape[d]! + idx[d]!;
        want[o]! += 0.5 * xs[i]!;
      }
      expect(maxRelErr(await read(y), want)).toBeLessThan(F32_TOL);
    });
  }
  it('sum of squares in chunks, written at offsets of one shared buffer, against float64', async () => {
    const rt = await gpu();
    // awkward sizes: one element, one short of and one past a chunk, several chunks with a tail
    const sizes = [1, SUM_SQUARES_CHUNK - 1, SUM_SQUARES_CHUNK + 1, 5 * SUM_SQUARES_CHUNK + 17];
    const total = sizes.reduce((s, n) => s + sumSquaresParts(n), 0);
    const out = t(new Float32Array(total).fill(-1), [total]);
    let offset = 0;
    const want: number[] = [];
    for (const [i, n] of sizes.entries()) {
      const xs = randomArray(n, 30 + i);
      sumSquaresInto(rt, t(xs, [n]), out.storage, offset);
      for (let c = 0; c < sumSquaresParts(n); c++) {
        let s = 0;
        for (let j = c * SUM_SQUARES_CHUNK; j < Math.min(n, (c + 1) * SUM_SQUARES_CHUNK); j++) s += xs[j]! * xs[j]!;
        want.push(s);
      }
      offset += sumSquaresParts(n);
    }
    // every slot written (none left at -1), each within float32 rounding of the float64 sums
    expect(maxRelErr(await read(out), want)).toBeLessThan(F32_TOL);
  });
});

describe.each([
  ['adapter default tile', {}],
  ['hardware tiles (4 x 4; vec4 kernel 8 x 8)', { FFM_MM_TM: '4', FFM_MM_TNV: '1', FFM_MM_VTM: '8', FFM_MM_VTNV: '2' }],
  ['vec4 kernel wherever it fits, at 16 x 16', { FFM_MM_VEC: '1', FFM_MM_VTM: '16', FFM_MM_VTNV: '4' }],
  ['vec4 kernel wherever it fits, at its smallest tile (4 x 4)', { FFM_MM_VEC: '1', FFM_MM_VTM: '4', FFM_MM_VTNV: '1' }],
  ['scalar loads only', { FFM_MM_VEC: '0' }],
  ['K split in 3 chunks (partial products summed)', { FFM_MM_KSPLIT: '3' }],
  ['K split in 3 chunks, scalar loads only', { FFM_MM_KSPLIT: '3', FFM_MM_VEC: '0' }],
  ['NT dot products at 16 x 8', { FFM_MM_NT4_TM: '16', FFM_MM_NT4_TNV: '2' }],
  ['NT products by the scalar kernel', { FFM_MM_NT4: '0' }],
] as [string, Record<string, string>][])('matmul, %s', (_label, env) => {
  beforeAll(() => Object.assign(process.env, env));
  afterAll(() => {
    for (const k of Object.keys(env)) delete process.env[k];
  });
  const cases = [
    { batch: 1, M: 1, K: 1, N: 1, tA: false, tB: false },
    { batch: 3, M: 5, K: 7, N: 9, tA: false, tB: false },
    { batch: 2, M: 13, K: 6, N: 3, tA: true, tB: false },
    { batch: 2, M: 4, K: 17, N: 11, tA: false, tB: true },
    { batch: 4, M: 9, K: 5, N: 6, tA: true, tB: true },
    { batch: 1, M: 66, K: 33, N: 70, tA: false, tB: false },
    // K % 4 == 0 (and M or N where the vec4 kernel reads along them): main_vec4, with ragged tiles
    { batch: 2, M: 12, K: 8, N: 20, tA: false, tB: false },
    { batch: 2, M: 12, K: 12, N: 20, tA: true, tB: false },
    { batch: 3, M: 10, K: 16, N: 7, tA: false, tB: true },
    { batch: 2, M: 20, K: 8, N: 9, tA: true, tB: true },
    { batch: 1, M: 64, K: 36, N: 72, tA: true, tB: false },
    // B transposed, M >= 64: B copied to [K, N] first, then main_vec4 (M < 64, A not transposed: main_nt4's dot products along k; TT: the scalar kernel)
    { batch: 2, M: 7, K: 4, N: 4, tA: false, tB: true },
    { batch: 1, M: 9, K: 24, N: 12, tA: false, tB: true },
    { batch: 2, M: 68, K: 12, N: 8, tA: false, tB: true },
    { batch: 2, M: 64, K: 8, N: 12, tA: true, tB: true },
    { batch: 2, M: 20, K: 12, N: 8, tA: false, tB: true },
    { batch: 2, M: 16, K: 8, N: 12, tA: true, tB: true },
    // few output tiles and a long K (a 1x1 convolution's weight gradient): K split by default
    { batch: 2, M: 12, K: 1540, N: 20, tA: false, tB: true },
    { batch: 1, M: 8, K: 2053, N: 5, tA: true, tB: false },
  ];
  for (const c of cases) {
    it(`batch ${c.batch} ${c.M}x${c.K}x${c.N} tA=${c.tA} tB=${c.tB}`, async () => {
      const rt = await gpu();
      const as = randomArray(c.batch * c.M * c.K, 1);
      const bs = randomArray(c.batch * c.K * c.N, 2);
      const a = t(as, c.tA ? [c.batch, c.K, c.M] : [c.batch, c.M, c.K]);
      const b = t(bs, c.tB ? [c.batch, c.N, c.K] : [c.batch, c.K, c.N]);
      const y = matmul(rt, a, b, c.tA, c.tB);
      expect(y.shape).toEqual([c.batch, c.M, c.N]);
      expect(maxRelErr(await read(y), matmulRef(as, bs, c.batch, c.M, c.K, c.N, c.tA, c.tB))).toBeLessThan(F32_TOL);
    });
  }
  it('broadcasts a batch-1 operand', async () => {
    const rt = await gpu();
    const as = randomArray(3 * 4 * 5, 1);
    const bs = randomArray(5 * 6, 2);
    const y = matmul(rt, t(as, [3, 4, 5]), t(bs, [1, 5, 6]));
    expect(maxRelErr(await read(y), matmulRef(as, bs, 3, 4, 5, 6, false, false, 3, 1))).toBeLessThan(F32_TOL);
    // the same with K % 4 == 0 (the vec4 kernel, B's batch stride 0)
    const a4 = randomArray(3 * 8 * 12, 3);
    const b4 = randomArray(12 * 16, 4);
    const z = matmul(rt, t(a4, [3, 8, 12]), t(b4, [1, 12, 16]));
    expect(maxRelErr(await read(z), matmulRef(a4, b4, 3, 8, 12, 16, false, false, 3, 1))).toBeLessThan(F32_TOL);
    // and a transposed batch-1 B that is copied to [K, N] once for all three products
    const a5 = randomArray(3 * 16 * 8, 5);
    const b5 = randomArray(12 * 8, 6);
    const w = matmul(rt, t(a5, [3, 16, 8]), t(b5, [1, 12, 8]), false, true);
    expect(maxRelErr(await read(w), matmulRef(a5, b5, 3, 16, 8, 12, false, true, 3, 1))).toBeLessThan(F32_TOL);
  });
  it('rejects mismatched inner dimensions with both shapes', async () => {
    const rt = await gpu();
    expect(() => matmul(rt, t(new Float32Array(6), [2, 3]), t(new Float32Array(8), [4, 2]))).toThrow(/matmul: inner dimensions differ \(3 vs 4\) for \[2,3\] x \[4,2\]/);
  });
});

describe('group norm and layer norm', () => {
  const gn: [number[], number][] = [
    [[2, 6, 5, 7], 3],
    [[1, 6, 1, 1], 2], // 1x1 image; segments of 2 are ill-conditioned (dx cancels to ~eps), so 3 per group
    [[3, 5, 3, 3], 5],
    [[2, 8, 33, 9], 1],
    // maps of 4k pixels: four elements per invocation (apply4, backward_apply4)
    [[2, 6, 4, 8], 3],
    [[1, 8, 2, 2], 2],
    // maps of 16k pixels: four vec4s per invocation (VQ = 4)
    [[2, 4, 4, 4], 2],
    [[1, 6, 8, 6], 3],
    // maps of at least 64 pixels, 4k: the backward by channel planes (backward_sums4, backward_finish),
    // with a map shorter than a workgroup's lanes, one that leaves lanes idle, and several loops
    [[2, 8, 8, 8], 4],
    [[3, 6, 12, 20], 2],
    [[1, 4, 64, 68], 1],
  ];
  for (const [shape, groups] of gn) {
    it(`groupNorm ${JSON.stringify(shape)} groups ${groups}, forward and backward`, async () => {
      const rt = await gpu();
      const n = shape.reduce((a, b) => a * b, 1);
      const C = shape[1]!;
      const xs = randomArray(n, 7).map((v) => 3 * v + 1);
      const gs = randomArray(C, 8);
      const bs = randomArray(C, 9);
      const dys = randomArray(n, 10);
      const plan = groupNormPlan(shape, groups, 1e-5);
      const x = t(xs, shape);
      const f = normForward(rt, 'groupNorm', x, plan, t(gs, [C]), t(bs, [C]));
      expect(maxRelErr(await read(f.y), normRef(xs, plan, gs, bs)), 'y').toBeLessThan(F32_TOL);
      const g = normBackward(rt, 'groupNorm', x, t(dys, shape), f.stats, plan, t(gs, [C]));
      const ref = normBackwardRef(xs, dys, plan, gs);
      expect(maxRelErr(await read(g.dx), ref.dx), 'dx').toBeLessThan(F32_TOL);
      expect(maxRelErr(await read(g.dgamma!), ref.dgamma)).toBeLessThan(F32_TOL);
      expect(maxRelErr(await read(g.dbeta!), ref.dbeta)).toBeLessThan(F32_TOL);
    });
  }
  it('groupNorm statistics of data far from zero (mean 1,000, unit spread) in one read, against float64: the shift by the segment\'s first value keeps the variance (with k = 0 it cancels; FFM_NORM_ONE_PASS=0: two passes)', async () => {
    const rt = await gpu();
    const shape = [2, 6, 24, 20];
    const n = shape.reduce((a, b) => a * b, 1);
    const xs = randomArray(n, 21).map((v) => v + 1000);
    const plan = groupNormPlan(shape, 3, 1e-5);
    const want = normRef(xs, plan, null, null);
    for (const onePass of ['1', '0']) {
      process.env.FFM_NORM_ONE_PASS = onePass;
      try {
        const f = normForward(rt, 'groupNorm', t(xs, shape), plan, null, null);
        expect(maxRelErr(await read(f.y), want), `one pass ${onePass}`).toBeLessThan(1e-3);
      } finally {
        delete process.env.FFM_NORM_ONE_PASS;
      }
    }
  });
  it('groupNorm backward by channel planes without affine parameters, without dx, and with the planes turned off', async () => {
    const rt = await gpu();
    const shape = [2, 8, 8, 12];
    const n = shape.reduce((a, b) => a * b, 1);
    const xs = randomArray(n, 21).map((v) => 2 * v - 1);
    const dys = randomArray(n, 22);
    const gs = randomArray(8, 23);
    const plan = groupNormPlan(shape, 2, 1e-5);
    const x = t(xs, shape);
    const plain = normForward(rt, 'groupNorm', x, plan, null, null);
    const g = normBackward(rt, 'groupNorm', x, t(dys, shape), plain.stats, plan, null);
    expect(g.dgamma).toBeNull();
    expect(maxRelErr(await read(g.dx), normBackwardRef(xs, dys, plan, null).dx), 'dx without affine').toBeLessThan(F32_TOL);
    const f = normForward(rt, 'groupNorm', x, plan, t(gs, [8]), t(randomArray(8, 24), [8]));
    const ref = normBackwardRef(xs, dys, plan, gs);
    const only = normBackward(rt, 'groupNorm', x, t(dys, shape), f.stats, plan, t(gs, [8]), false);
    expect(maxRelErr(await read(only.dgamma!), ref.dgamma), 'dgamma without dx').toBeLessThan(F32_TOL);
    expect(maxRelErr(await read(only.dbeta!), ref.dbeta), 'dbeta without dx').toBeLessThan(F32_TOL);
    process.env.FFM_NORM_PLANES = '0';
    try {
      const old = normBackward(rt, 'groupNorm', x, t(dys, shape), f.stats, plan, t(gs, [8]));
      expect(maxRelErr(await read(old.dx), ref.dx), 'dx by segments').toBeLessThan(F32_TOL);
      expect(maxRelErr(await read(old.dgamma!), ref.dgamma), 'dgamma by param_grad').toBeLessThan(F32_TOL);
    } finally {
      delete process.env.FFM_NORM_PLANES;
    }
  });
  it('layerNorm over the last axis, with and without affine', async () => {
    const rt = await gpu();
    const shape = [3, 7, 19];
    const xs = randomArray(3 * 7 * 19, 12);
    const plan = layerNormPlan(shape, 1e-5);
    const gs = randomArray(19, 13);
    const bs = randomArray(19, 14);
    const f = normForward(rt, 'layerNorm', t(xs, shape), plan, t(gs, [19]), t(bs, [19]));
    expect(maxRelErr(await read(f.y), normRef(xs, plan, gs, bs))).toBeLessThan(F32_TOL);
    const f2 = normForward(rt, 'layerNorm', t(xs, shape), plan, null, null);
    expect(maxRelErr(await read(f2.y), normRef(xs, plan, null, null))).toBeLessThan(F32_TOL);
  });
  it('rejects channels that do not divide into groups', async () => {
    expect(() => groupNormPlan([1, 6, 4, 4], 4, 1e-5)).toThrow('groupNorm: 6 channels cannot be split into 4 groups (input [1,6,4,4])');
  });
});

describe('softmax', () => {
  // odd rows by floats; rows of 4k by vec4s (forward4, backward4), a long one as attention's scores
  for (const L of [37, 36, 4, 1936]) it(`forward and backward on rows of ${L} with a scale`, async () => {
    const rt = await gpu();
    const xs = randomArray(5 * L, 3).map((v) => 4 * v);
    const dys = randomArray(5 * L, 4);
    const y = softmax(rt, t(xs, [5, L]), 0.7);
    const ref = softmaxRef(xs, L, 0.7);
    expect(maxRelErr(await read(y), ref)).toBeLessThan(F32_TOL);
    const dx = softmaxBackward(rt, y, t(dys, [5, L]), 0.7);
    expect(maxRelErr(await read(dx), softmaxBackwardRef(ref, dys, L, 0.7))).toBeLessThan(F32_TOL);
  });
});

describe('softmax over columns (attention\'s transposed scores)', () => {
  it('forward and backward of [2, 37, 12] with a scale equal the row softmax of the transpose', async () => {
    const rt = await gpu();
    const [B, R, C] = [2, 37, 12];
    const xs = randomArray(B * R * C, 5).map((v) => 4 * v);
    const dys = randomArray(B * R * C, 6);
    // the reference works on rows: transpose each batch entry's [R, C] to [C, R]
    const tr = (a: ArrayLike<number>, rows: number, cols: number) => Float64Array.from({ length: B * rows * cols }, (_, i) => {
      const b = Math.floor(i / (rows * cols));
      const r = Math.floor((i % (rows * cols)) / cols);
      const c = i % cols;
      return a[b * rows * cols + c * rows + r]!;
    });
    const ref = tr(softmaxRef(tr(xs, C, R), R, 0.7), R, C);
    const y = softmaxColumns(rt, t(xs, [B, R, C]), 0.7);
    expect(maxRelErr(await read(y), ref)).toBeLessThan(F32_TOL);
    const dx = softmaxColumnsBackward(rt, y, t(dys, [B, R, C]), 0.7);
    expect(maxRelErr(await read(dx), tr(softmaxBackwardRef(tr(ref, C, R), tr(dys, C, R), R, 0.7), R, C))).toBeLessThan(F32_TOL);
    expect(() => softmaxColumns(rt, t(xs.subarray(0, 2 * 37 * 6), [2, 37, 6]))).toThrow('softmaxColumns: expected [B, R, C] with C % 4 == 0, got [2,37,6]');
  });
});

describe('fused attention (online softmax)', () => {
  /** The fused forward's output and the three gradients of its backward against the float64 reference, q, k, v, dout [B, D, L]. */
  async function expectAttentionMatchesFloat64([B, D, L]: [number, number, number], qs: Float32Array, ks: Float32Array, vs: Float32Array, dos: Float32Array) {
    const rt = await gpu();
    const scale = 1 / Math.sqrt(D);
    const ref = attentionRef(qs, ks, vs, B, D, L, scale, dos);
    const [q, k, v] = [t(qs, [B, D, L]), t(ks, [B, D, L]), t(vs, [B, D, L])];
    const { o, lse } = attention(rt, q, k, v, scale);
    expect(maxRelErr(await read(o), ref.o)).toBeLessThan(F32_TOL);
    const g = attentionBackward(rt, q, k, v, o, lse, t(dos, [B, D, L]), scale);
    expect(maxRelErr(await read(g.dq), ref.dq), 'dq').toBeLessThan(F32_TOL);
    expect(maxRelErr(await read(g.dk), ref.dk), 'dk').toBeLessThan(F32_TOL);
    expect(maxRelErr(await read(g.dv), ref.dv), 'dv').toBeLessThan(F32_TOL);
  }
  // awkward shapes: one token, a head dimension not a multiple of 4, lengths not a multiple of the key block (8) or workgroup (64), the largest head dimension;
  // L % 4 == 0 takes the vec4-lane forward (forward_q4) at 4 query quads per invocation (D = 5, 16: 9 and 33 quads leave a partial group), 2 (D = 24) and 1 (D = 64)
  const cases: [number, number, number][] = [[1, 1, 1], [3, 5, 37], [2, 16, 130], [1, 64, 9], [2, 5, 36], [2, 16, 132], [1, 24, 40], [1, 64, 8]];
  for (const [B, D, L] of cases) {
    it(`B ${B}, D ${D}, L ${L}: output and the three gradients against float64`, async () => {
      const n = B * D * L;
      const qs = randomArray(n, 11).map((x) => 2 * x);
      const ks = randomArray(n, 12).map((x) => 2 * x);
      const vs = randomArray(n, 13);
      const dos = randomArray(n, 14);
      await expectAttentionMatchesFloat64([B, D, L], qs, ks, vs, dos);
    });
  }
  // the online softmax's rescale where its running maximum leaps: scores that climb ~4.2 per key
  // (~17 per quad of keys, so the maximum moves and the accumulator shrinks by ~e^-17 at every
  // quad) and scores of standard deviation ~12 (most weights near 0), through the vec4-lane
  // forward (L = 64) and the per-query one (L = 66)
  for (const L of [64, 66]) {
    it(`B 2, D 8, L ${L}: climbing and widely spread scores, output and gradients against float64`, async () => {
      const [B, D] = [2, 8];
      const qs = new Float32Array(B * D * L);
      const ks = new Float32Array(B * D * L);
      const rq = randomArray(D * L, 11);
      const rk = randomArray(D * L, 12);
      for (let i = 0; i < L; i++) {
        qs[i] = 1; // entry 0: every query (1, 0, ...), key i's channel 0 = 12 i
        ks[i] = 12 * i;
        for (let c = 0; c < D; c++) { // entry 1: uniform in [-6, 6)
          qs[(D + c) * L + i] = 6 * rq[c * L + i]!;
          ks[(D + c) * L + i] = 6 * rk[c * L + i]!;
        }
      }
      const vs = randomArray(B * D * L, 13);
      const dos = randomArray(B * D * L, 14);
      await expectAttentionMatchesFloat64([B, D, L], qs, ks, vs, dos);
    });
  }
  it('refuses mismatched shapes and head dimensions above 64, naming them', async () => {
    const rt = await gpu();
    const a = t(new Float32Array(2 * 4 * 5), [2, 4, 5]);
    expect(() => attention(rt, a, t(new Float32Array(2 * 4 * 6), [2, 4, 6]), a, 1)).toThrow('attention: q, k and v must have one shape, got q [2,4,5], k [2,4,6], v [2,4,5]');
    const big = t(new Float32Array(65 * 2), [1, 65, 2]);
    expect(() => attention(rt, big, big, big, 1)).toThrow('attention: head dimension 65 exceeds 64 (q [1,65,2])');
  });
});

describe('resampling', () => {
  // widths of a multiple of 4 (nearest) take the vec4-row kernels, up and back; the others the per-float ones
  const sizes: [number, number, number][] = [[3, 1, 1], [2, 5, 7], [1, 8, 3], [2, 3, 8], [3, 2, 4]];
  for (const [planes, H, W] of sizes) {
    for (const mode of ['nearest', 'bilinear'] as const) {
      it(`upsample2x ${mode} ${planes}x${H}x${W} and its gradient`, async () => {
        const rt = await gpu();
        const xs = randomArray(planes * H * W, 1);
        const dys = randomArray(planes * 4 * H * W, 2);
        const y = upsample2x(rt, t(xs, [1, planes, H, W]), mode);
        expect(maxRelErr(await read(y), upsampleRef(xs, planes, H, W, mode))).toBeLessThan(F32_TOL);
        const dx = upsample2xBackward(rt, t(dys, [1, planes, 2 * H, 2 * W]), mode);
        expect(maxRelErr(await read(dx), upsampleBackwardRef(dys, planes, H, W, mode))).toBeLessThan(F32_TOL);
      });
    }
  }
  it('avgPool2x on even sizes whose output rows are vec4s (the vec4-row block sum)', async () => {
    const rt = await gpu();
    const [planes, H, W] = [2, 6, 16];
    const xs = randomArray(planes * H * W, 5);
    const y = avgPool2x(rt, t(xs, [1, planes, H, W]));
    expect(y.shape).toEqual([1, 2, 3, 8]);
    expect(maxRelErr(await read(y), avgPoolRef(xs, planes, H, W))).toBeLessThan(F32_TOL);
  });
  it('dilate2x: x[y][x] at (2y, 2x), exact zeros everywhere else, in outputs of odd and even sides (over a reused buffer full of other values), and refuses a target too small', async () => {
    const rt = await gpu();
    for (const [planes, H, W, OH, OW] of [[3, 4, 5, 7, 9], [2, 3, 3, 6, 6], [1, 1, 1, 1, 2]] as const) {
      // a freed buffer of the target's size full of ones: the pool may hand it to dilate2x
      rt.free(unary(rt, t(randomArray(planes * OH * OW, 9), [1, planes, OH, OW]), 'affine', 0, 1).storage);
      const xs = randomArray(planes * H * W, 6);
      const y = await read(dilate2x(rt, t(xs, [1, planes, H, W]), OH, OW));
      const want = new Float64Array(planes * OH * OW);
      for (let p = 0; p < planes; p++) for (let yy = 0; yy < H; yy++) for (let xx = 0; xx < W; xx++) {
        if (2 * yy < OH && 2 * xx < OW) want[(p * OH + 2 * yy) * OW + 2 * xx] = xs[(p * H + yy) * W + xx]!;
      }
      expect(Array.from(y)).toEqual(Array.from(want, (v) => Math.fround(v)));
    }
    expect(() => dilate2x(rt, t(randomArray(16, 1), [1, 1, 4, 4]), 6, 7)).toThrow(/6x7 cannot hold \[1,1,4,4\] dilated by 2/);
  });
  it('avgPool2x on odd sizes and its gradient', async () => {
    const rt = await gpu();
    const [planes, H, W] = [3, 7, 9];
    const xs = randomArray(planes * H * W, 3);
    const y = avgPool2x(rt, t(xs, [1, planes, H, W]));
    expect(y.shape).toEqual([1, 3, 3, 4]);
    expect(maxRelErr(await read(y), avgPoolRef(xs, planes, H, W))).toBeLessThan(F32_TOL);
    const dys = randomArray(planes * 12, 4);
    const dx = await read(avgPool2xBackward(rt, t(dys, [1, planes, 3, 4]), [1, planes, H, W]));
    // adjoint: <avgpool(x), dy> == <x, avgpool^T(dy)>
    let l = 0;
    let r = 0;
    const ys = await read(y);
    for (let i = 0; i < ys.length; i++) l += ys[i]! * dys[i]!;
    for (let i = 0; i < xs.length; i++) r += xs[i]! * dx[i]!;
    expect(Math.abs(l - r)).toBeLessThan(1e-5);
  });
});

describe('channels', () => {
  it('concat, slice and the slice gradient', async () => {
    const rt = await gpu();
    const a = randomArray(2 * 3 * 5, 1);
    const b = randomArray(2 * 1 * 5, 2);
    const c = concatChannels(rt, [t(a, [2, 3, 5]), t(b, [2, 1, 5])]);
    const got = await read(c);
    expect(c.shape).toEqual([2, 4, 5]);
    expect(Array.from(got.slice(15, 20))).toEqual(Array.from(b.slice(0, 5)));
    expect(Array.from(got.slice(20, 35))).toEqual(Array.from(a.slice(15, 30)));
    const s = sliceChannels(rt, c, 1, 3);
    expect(Array.from((await read(s)).slice(0, 10))).toEqual(Array.from(a.slice(5, 15)));
    const p = await read(padChannels(rt, s, [2, 4, 5], 1));
    expect(Array.from(p.slice(0, 5))).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(p.slice(5, 20))).toEqual(Array.from(got.slice(5, 20)));
  });
  // S % 4 == 0 copies by vec4s (main4), else by floats: both against a reference by index; at
  // S = 16 every copy's run is a multiple of four vec4s (four per invocation), at 8 some are
  for (const S of [8, 12, 6, 16]) {
    it(`concat, slice and pad of [N, C, ${S}] against a reference`, async () => {
      const rt = await gpu();
      const [N, Ca, Cb] = [2, 3, 2];
      const a = randomArray(N * Ca * S, 3);
      const b = randomArray(N * Cb * S, 4);
      const want = new Float32Array(N * (Ca + Cb) * S);
      for (let n = 0; n < N; n++) {
        want.set(a.subarray(n * Ca * S, (n + 1) * Ca * S), n * (Ca + Cb) * S);
        want.set(b.subarray(n * Cb * S, (n + 1) * Cb * S), (n * (Ca + Cb) + Ca) * S);
      }
      const c = concatChannels(rt, [t(a, [N, Ca, S]), t(b, [N, Cb, S])]);
      expect(Array.from(await read(c))).toEqual(Array.from(want));
      const s = sliceChannels(rt, c, 1, 3); // channels 1..3 of 5
      const wantSlice = new Float32Array(N * 3 * S);
      for (let n = 0; n < N; n++) wantSlice.set(want.subarray((n * 5 + 1) * S, (n * 5 + 4) * S), n * 3 * S);
      expect(Array.from(await read(s))).toEqual(Array.from(wantSlice));
      const p = await read(padChannels(rt, s, [N, 5, S], 1)); // back into place, zeros elsewhere
      for (let n = 0; n < N; n++) {
        for (let ch = 0; ch < 5; ch++) {
          const got = Array.from(p.subarray((n * 5 + ch) * S, (n * 5 + ch + 1) * S));
          expect(got).toEqual(ch >= 1 && ch <= 3 ? Array.from(want.subarray((n * 5 + ch) * S, (n * 5 + ch + 1) * S)) : new Array(S).fill(0));
        }
      }
    });
  }
});

describe('AdamW step', () => {
  it('matches the float64 update over three steps with weight decay', async () => {
    const rt = await gpu();
    const n = 77;
    let p = Array.from(randomArray(n, 1));
    let m = new Array(n).fill(0);
    let v = new Array(n).fill(0);
    const P = t(p, [n]);
    const M = t(m, [n]);
    const V = t(v, [n]);
    for (let step = 1; step <= 3; step++) {
      const g = Array.from(randomArray(n, 10 + step));
      const h = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step };
      adamwStep(rt, n, P.storage, M.storage, V.storage, t(g, [n]).storage, h);
      ({ p, m, v } = adamwRef(p, m, v, g, h));
    }
    expect(maxRelErr(await read(P), p)).toBeLessThan(F32_TOL);
    expect(maxRelErr(await read(V), v)).toBeLessThan(F32_TOL);
  });

  it('the flat vec4 form and the per-tensor form with its moments at an offset match the float64 update, EWC penalty included', async () => {
    const rt = await gpu();
    const n = 80;
    const moff = 12;
    let p = Array.from(randomArray(n, 2));
    let m = new Array(n).fill(0);
    let v = new Array(n).fill(0);
    const fisher = Array.from(randomArray(n, 3), Math.abs);
    const anchor = Array.from(randomArray(n, 4));
    const ewc = { fisher: t(fisher, [n]).storage, anchor: t(anchor, [n]).storage, lambda: 3 };
    const [P4, M4, V4] = [t(p, [n]), t(m, [n]), t(v, [n])];
    const P1 = t(p, [n]);
    // the moments at moff start from zero; the 7s around them must stay untouched
    const around = Array.from({ length: n + moff + 5 }, (_, i) => (i >= moff && i < moff + n ? 0 : 7));
    const [M1, V1] = [t(around, [around.length]), t(around, [around.length])];
    for (let step = 1; step <= 3; step++) {
      const g = Array.from(randomArray(n, 20 + step));
      const h = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step, gradScale: 0.5 };
      adamwStepFlat(rt, n, P4.storage, M4.storage, V4.storage, t(g, [n]).storage, h, ewc);
      adamwStep(rt, n, P1.storage, M1.storage, V1.storage, t(g, [n]).storage, h, ewc, moff);
      // the gradient the kernel sees: scaled, plus the penalty's lambda F (p - anchor)
      ({ p, m, v } = adamwRef(p, m, v, g.map((x, i) => 0.5 * x + 3 * fisher[i]! * (p[i]! - anchor[i]!)), h));
    }
    expect(maxRelErr(await read(P4), p)).toBeLessThan(F32_TOL);
    expect(maxRelErr(await read(V4), v)).toBeLessThan(F32_TOL);
    expect(maxRelErr(await read(P1), p)).toBeLessThan(F32_TOL);
    const m1 = await read(M1);
    expect(maxRelErr(m1.slice(moff, moff + n), m)).toBeLessThan(F32_TOL);
    expect([...m1.slice(0, moff), ...m1.slice(moff + n)].every((x) => x === 7)).toBe(true);
    expect(() => adamwStepFlat(rt, 78, P4.storage, M4.storage, V4.storage, P4.storage, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 })).toThrow(/not a whole number of vec4s/);
  });
});

describe('random numbers', () => {
  it('GPU streams equal the CPU definition for the same seed and offset', async () => {
    const rt = await gpu();
    const u = await read(randomUniform(rt, [1000], 42, 0, 1, 500));
    const nrm = await read(randomNormal(rt, [1000], 42, 0, 1, 7));
    const wantU = Array.from({ length: 1000 }, (_, i) => uniformAt(42, 500 + i));
    const wantN = Array.from({ length: 1000 }, (_, i) => normalAt(42, 7 + i));
    expect(maxRelErr(u, wantU)).toBeLessThan(1e-6);
    expect(maxRelErr(nrm, wantN)).toBeLessThan(1e-4);
    const again = await read(randomNormal(rt, [1000], 42, 0, 1, 7));
    expect(Array.from(again)).toEqual(Array.from(nrm));
    const other = await read(randomNormal(rt, [1000], 43, 0, 1, 7));
    expect(Array.from(other)).not.toEqual(Array.from(nrm));
    const mean = nrm.reduce((a, b) => a + b, 0) / 1000;
    const sd = Math.sqrt(nrm.reduce((a, b) => a + (b - mean) ** 2, 0) / 1000);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.abs(sd - 1)).toBeLessThan(0.1);
  });
});

describe('explicit bind-group layouts from the WGSL', () => {
  it('reads each entry point\'s own storage access where a file declares one binding twice (norm.wgsl), and gives up on ambiguity', async () => {
    const { WGSL } = await import('../src/kernels/wgsl.generated.js');
    const { storageBindingTypes } = await import('../src/gpu/binding-layout.js');
    const norm = `${WGSL['common']}\n${WGSL['norm']}`;
    expect(storageBindingTypes(norm, 'stats', 2)).toEqual(['read-only-storage', 'storage']);
    expect(storageBindingTypes(norm, 'apply', 5)).toEqual(['read-only-storage', 'read-only-storage', 'read-only-storage', 'read-only-storage', 'storage']);
    expect(storageBindingTypes(norm, 'param_grad', 5)).toEqual(['read-only-storage', 'read-only-storage', 'read-only-storage', 'storage', 'storage']);
    const ambiguous = '@group(0) @binding(1) var<storage, read> a: array<f32>;\n@group(0) @binding(1) var<storage, read_write> b: array<f32>;\nfn helper() { }\n@compute @workgroup_size(1) fn main() { helper(); }';
    expect(storageBindingTypes(ambiguous, 'main', 1)).toBeNull();
    expect(storageBindingTypes(ambiguous.replace('helper(); }', 'helper(); b[0] = 1.0; }'), 'main', 1)).toEqual(['storage']);
    expect(storageBindingTypes(ambiguous, 'missing', 1)).toBeNull();
  });
});
