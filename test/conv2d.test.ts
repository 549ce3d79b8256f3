import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv2d, conv2dInputGrad, conv2dWeightGrad } from '../src/kernels/conv2d.js';
import { conv2dInputGradRef, conv2dRef, conv2dWeightGradRef, outSize, type RefConv } from '../src/kernels/reference/conv2d.js';
import { tensor } from '../src/autograd/create.js';
import { conv2d as conv2dOp, groupNormSiluConv2d, withNormWindow } from '../src/autograd/ops.js';
import { noGrad, runtime, type Tensor } from '../src/autograd/tensor.js';
import { groupNormPlan } from '../src/kernels/norm.js';
import { normRef, windowNormRef } from '../src/kernels/reference/norm.js';
import { F32_TOL, gpu, maxRelErr, randomArray } from './helpers.js';

const CASES: RefConv[] = [
  { N: 1, Cin: 1, H: 1, W: 1, Cout: 1, K: 3, stride: 1, pad: 1 },
  { N: 2, Cin: 3, H: 7, W: 9, Cout: 5, K: 3, stride: 1, pad: 1 },
  { N: 1, Cin: 6, H: 11, W: 13, Cout: 7, K: 3, stride: 2, pad: 1 },
  { N: 3, Cin: 5, H: 5, W: 17, Cout: 6, K: 1, stride: 1, pad: 0 },
  { N: 1, Cin: 4, H: 10, W: 10, Cout: 9, K: 1, stride: 2, pad: 0 },
  { N: 2, Cin: 8, H: 9, W: 33, Cout: 4, K: 3, stride: 1, pad: 0 },
  { N: 1, Cin: 2, H: 6, W: 5, Cout: 3, K: 3, stride: 2, pad: 0 },
  { N: 1, Cin: 17, H: 19, W: 21, Cout: 13, K: 3, stride: 1, pad: 1 },
  // widths divisible by 4: the forward kernel (and the stride-1 input gradient, which runs it)
  // reads rows as vec4s; each padding, both strides, 1x1, a partial last pixel block, W = 4
  { N: 2, Cin: 3, H: 5, W: 8, Cout: 5, K: 3, stride: 1, pad: 1 },
  { N: 1, Cin: 5, H: 6, W: 20, Cout: 9, K: 3, stride: 1, pad: 0 },
  { N: 1, Cin: 3, H: 4, W: 16, Cout: 5, K: 3, stride: 1, pad: 2 },
  { N: 1, Cin: 4, H: 7, W: 12, Cout: 6, K: 3, stride: 2, pad: 1 },
  { N: 2, Cin: 6, H: 3, W: 24, Cout: 7, K: 1, stride: 1, pad: 0 },
  { N: 1, Cin: 2, H: 3, W: 4, Cout: 3, K: 3, stride: 1, pad: 1 },
  // 1x1 weight gradient by matmul: dy x^T through the vec4 kernel (channels in fours) and, from 64 output channels, its transposed-x copy
  { N: 2, Cin: 8, H: 4, W: 6, Cout: 12, K: 1, stride: 1, pad: 0 },
  { N: 3, Cin: 8, H: 4, W: 4, Cout: 64, K: 1, stride: 1, pad: 0 },
  // software adapters' wide tile (16 px x 16 ch) where a row has 16 pixels and 16 channels, both strides
  { N: 1, Cin: 16, H: 5, W: 36, Cout: 20, K: 3, stride: 1, pad: 1 },
  { N: 1, Cin: 3, H: 6, W: 40, Cout: 16, K: 3, stride: 2, pad: 1 },
  // Winograd (3x3, stride 1, pad 1, channels in fours): sides that leave partial tiles,
  // a single pixel, more tiles than one workgroup, and as many channels as the U-Net's first level
  { N: 2, Cin: 4, H: 7, W: 9, Cout: 8, K: 3, stride: 1, pad: 1 },
  { N: 1, Cin: 8, H: 1, W: 1, Cout: 4, K: 3, stride: 1, pad: 1 },
  { N: 3, Cin: 12, H: 6, W: 5, Cout: 16, K: 3, stride: 1, pad: 1 },
  { N: 1, Cin: 48, H: 18, W: 20, Cout: 48, K: 3, stride: 1, pad: 1 },
  // F(4x4) by rows (W % 4 == 0): one tile column (no neighbour on either side), two samples with a
  // partial last tile row, and a single row
  { N: 2, Cin: 4, H: 5, W: 4, Cout: 8, K: 3, stride: 1, pad: 1 },
  { N: 2, Cin: 8, H: 9, W: 12, Cout: 4, K: 3, stride: 1, pad: 1 },
  { N: 1, Cin: 4, H: 1, W: 8, Cout: 4, K: 3, stride: 1, pad: 1 },
  // F(4x4) by tile groups (W % 16 == 0): one group per tile row (no neighbour on either side) with a
  // partial last tile row, and three groups per row (neighbours inside the row)
  { N: 2, Cin: 8, H: 7, W: 16, Cout: 12, K: 3, stride: 1, pad: 1 },
  { N: 1, Cin: 4, H: 9, W: 48, Cout: 8, K: 3, stride: 1, pad: 1 },
  // stride 2: the input gradient as the stride-1 one of the dilated output gradient, whose stride-1
  // convolution is Winograd where channels come in fours (the U-Net's downsampling), and at pad 2
  { N: 2, Cin: 8, H: 16, W: 16, Cout: 8, K: 3, stride: 2, pad: 1 },
  { N: 1, Cin: 3, H: 9, W: 7, Cout: 5, K: 3, stride: 2, pad: 2 },
];

// The tile the adapter would pick, plus the hardware-GPU tile forced through the tuning
// knobs, so both variants are checked on the software GPU of CI.
const VARIANTS: [string, Record<string, string>][] = [
  ['adapter default tiles', {}],
  ['hardware tiles (4 px x 4 ch)', { FFM_CONV_TP: '4', FFM_CONV_COV: '1', FFM_WGRAD_TP: '4', FFM_WGRAD_COV: '1' }],
  // rows read as vec4s wherever W % 4 == 0 (by default only at the wide software tile)
  ['vec4 rows at every tile', { FFM_CONV_ROWV: '1' }],
  // Winograd F(2x2, 3x3) and F(4x4, 3x3) wherever they apply (by default where winogradTile says), and never
  ['Winograd F(2x2) wherever it applies', { FFM_CONV_WINOGRAD: '2' }],
  ['Winograd F(4x4) wherever it applies', { FFM_CONV_WINOGRAD: '4' }],
  ['Winograd F(4x4) with per-float transforms (not by rows)', { FFM_CONV_WINOGRAD: '4', FFM_WINOGRAD_ROWS: '0', FFM_WINOGRAD_GROUPS: '0' }],
  ['Winograd F(4x4) by rows where tile groups would apply', { FFM_CONV_WINOGRAD: '4', FFM_WINOGRAD_GROUPS: '0' }],
  ['direct kernel only', { FFM_CONV_WINOGRAD: '0' }],
  ['strided input gradients by the per-pixel gather', { FFM_CONV_DILATED_GRAD: '0' }],
];

describe.each(VARIANTS)('conv2d kernels against float64 references, %s', (_label, env) => {
  beforeAll(() => Object.assign(process.env, env));
  afterAll(() => {
    for (const k of Object.keys(env)) delete process.env[k];
  });
  for (const c of CASES) {
    const name = `N${c.N} ${c.Cin}->${c.Cout} ${c.H}x${c.W} k${c.K} s${c.stride} p${c.pad}`;
    it(name, async () => {
      await gpu();
      const [OH, OW] = outSize(c);
      const xs = randomArray(c.N * c.Cin * c.H * c.W, 1);
      const ws = randomArray(c.Cout * c.Cin * c.K * c.K, 2);
      const bs = randomArray(c.Cout, 3);
      const gs = randomArray(c.N * c.Cout * OH * OW, 4);
      const x = tensor(xs, [c.N, c.Cin, c.H, c.W]);
      const w = tensor(ws, [c.Cout, c.Cin, c.K, c.K]);
      const b = tensor(bs, [c.Cout]);
      const g = tensor(gs, [c.N, c.Cout, OH, OW]);
      const rt = x.rt;
      const opts = { stride: c.stride, pad: c.pad };
      const y = conv2d(rt, x, w, b, opts);
      expect(y.shape).toEqual([c.N, c.Cout, OH, OW]);
      const dx = conv2dInputGrad(rt, g, w, x.shape, opts);
      const dw = conv2dWeightGrad(rt, x, g, w.shape, opts);
      const read = async (s: typeof y) => new Float32Array(await rt.read(s.storage, 0, s.shape.reduce((a, v) => a * v, 1) * 4));
      expect(maxRelErr(await read(y), conv2dRef(xs, ws, bs, c))).toBeLessThan(F32_TOL);
      expect(maxRelErr(await read(dx), conv2dInputGradRef(gs, ws, c))).toBeLessThan(F32_TOL);
      expect(maxRelErr(await read(dw), conv2dWeightGradRef(xs, gs, c))).toBeLessThan(F32_TOL);
      // the fused epilogue: one bias per sample and channel, and a residual, added in the output loop
      const sbs = randomArray(c.N * c.Cout, 5);
      const rs = randomArray(c.N * c.Cout * OH * OW, 6);
      const sb = tensor(sbs, [c.N, c.Cout]);
      const r = tensor(rs, [c.N, c.Cout, OH, OW]);
      const ye = conv2d(rt, x, w, sb, opts, r);
      const plain = conv2dRef(xs, ws, null, c);
      const want = plain.map((v, i) => v + sbs[Math.floor(i / (OH * OW))]! + rs[i]!);
      expect(maxRelErr(await read(ye), want), 'per-sample bias + residual').toBeLessThan(F32_TOL);
      for (const s of [y, dx, dw, ye]) rt.free(s.storage);
      for (const t of [x, w, b, g, sb, r]) t.dispose();
    });
  }

});

describe('the Winograd input transform kept for the weight gradient', () => {
  // W = 32: the tile-group layout (by default where F(4x4) applies and W % 16 == 0)
  const c: RefConv = { N: 2, Cin: 8, H: 9, W: 32, Cout: 8, K: 3, stride: 1, pad: 1 };
  beforeAll(() => Object.assign(process.env, { FFM_CONV_WINOGRAD: '4' }));
  afterAll(() => { delete process.env.FFM_CONV_WINOGRAD; });
  it('serves the weight gradient without a second transform, and is remade after x is written', async () => {
    await gpu();
    const xs = randomArray(c.N * c.Cin * c.H * c.W, 11);
    const xs2 = randomArray(c.N * c.Cin * c.H * c.W, 12);
    const ws = randomArray(c.Cout * c.Cin * 9, 13);
    const gs = randomArray(c.N * c.Cout * c.H * c.W, 14);
    const x = tensor(xs, [c.N, c.Cin, c.H, c.W]);
    const w = tensor(ws, [c.Cout, c.Cin, 3, 3]);
    const g = tensor(gs, [c.N, c.Cout, c.H, c.W]);
    const rt = x.rt;
    const read = async (s: { storage: typeof x.storage; shape: readonly number[] }) => new Float32Array(await rt.read(s.storage, 0, s.shape.reduce((a, v) => a * v, 1) * 4));
    const y = conv2d(rt, x, w, null, {}, null, true);
    // without a kept transform: input transform, output-gradient transform, GEMM, weights_grad
    // (+ a split-K sum where the GEMM splits); with it, one dispatch fewer
    const before = rt.counters.dispatches;
    const dw = conv2dWeightGrad(rt, x, g, w.shape);
    const kept = rt.counters.dispatches - before;
    process.env.FFM_WINOGRAD_KEEP_INPUT = '0';
    const before2 = rt.counters.dispatches;
    const dwAgain = conv2dWeightGrad(rt, x, g, w.shape);
    const transformedAgain = rt.counters.dispatches - before2;
    delete process.env.FFM_WINOGRAD_KEEP_INPUT;
    expect(kept).toBe(transformedAgain - 1);
    expect(maxRelErr(await read(dw), conv2dWeightGradRef(xs, gs, c))).toBeLessThan(F32_TOL);
    expect(maxRelErr(await read(dwAgain), conv2dWeightGradRef(xs, gs, c))).toBeLessThan(F32_TOL);
    // x written after the forward: the kept transform is stale and must not be used
    rt.upload(x.storage, xs2);
    const dw2 = conv2dWeightGrad(rt, x, g, w.shape);
    expect(maxRelErr(await read(dw2), conv2dWeightGradRef(xs2, gs, c))).toBeLessThan(F32_TOL);
    for (const s of [y, dw, dwAgain, dw2]) rt.free(s.storage);
    for (const t of [x, w, g]) t.dispose();
  });
});

/**
 * A norm + convolution op's output as it runs (folded) and with `knob` = 0 (the two ops apart),
 * with each one's dispatch count; a first run makes the weights' transform, kept with them for both.
 */
function foldedAndApart(op: () => Tensor, knob: string): { folded: { y: Tensor; dispatches: number }; apart: { y: Tensor; dispatches: number } } {
  const run = () => {
    const rt = runtime();
    const before = rt.counters.dispatches;
    const y = noGrad(op);
    return { y, dispatches: rt.counters.dispatches - before };
  };
  run().y.dispose();
  const folded = run();
  process.env[knob] = '0';
  try {
    return { folded, apart: run() };
  } finally {
    delete process.env[knob];
  }
}

describe('GroupNorm + SiLU folded into the Winograd input transform (a forward without gradient)', () => {
  // W % 16 == 0 with F(4x4): the tile-group layout, where the fold applies (two samples, 4 groups
  // of 4 channels, a partial last tile row, neighbours inside a row); W = 20, 24, 28 and 12: tile
  // groups with a partial last group of 1, 2, 3 tiles (and a row of one group), folded too; W = 20
  // with FFM_WINOGRAD_PARTIAL_GROUPS=0: by rows, where the fold does not apply and the two ops run
  // as they are. Large |mean| against std: the fold must subtract the mean before scaling, as the
  // norm's own pass does.
  const cases: (RefConv & { groups: number; folds: boolean; env?: Record<string, string> })[] = [
    { N: 2, Cin: 16, H: 7, W: 32, Cout: 8, K: 3, stride: 1, pad: 1, groups: 4, folds: true },
    { N: 1, Cin: 8, H: 9, W: 16, Cout: 12, K: 3, stride: 1, pad: 1, groups: 8, folds: true },
    { N: 2, Cin: 8, H: 6, W: 20, Cout: 4, K: 3, stride: 1, pad: 1, groups: 2, folds: true },
    { N: 1, Cin: 8, H: 5, W: 24, Cout: 8, K: 3, stride: 1, pad: 1, groups: 2, folds: true },
    { N: 1, Cin: 8, H: 9, W: 28, Cout: 4, K: 3, stride: 1, pad: 1, groups: 4, folds: true },
    { N: 2, Cin: 4, H: 6, W: 12, Cout: 8, K: 3, stride: 1, pad: 1, groups: 2, folds: true },
    { N: 1, Cin: 8, H: 6, W: 20, Cout: 4, K: 3, stride: 1, pad: 1, groups: 2, folds: false, env: { FFM_WINOGRAD_PARTIAL_GROUPS: '0' } },
  ];
  beforeAll(() => Object.assign(process.env, { FFM_CONV_WINOGRAD: '4' }));
  afterAll(() => { delete process.env.FFM_CONV_WINOGRAD; });
  for (const c of cases) {
    it(`N${c.N} ${c.Cin}->${c.Cout} ${c.H}x${c.W}, ${c.groups} groups: ${c.folds ? `folded, one pass fewer${c.W % 16 ? ' (a partial last tile group)' : ''}` : 'not folded (rows layout, FFM_WINOGRAD_PARTIAL_GROUPS=0)'}; float64 reference`, async () => {
      await gpu();
      Object.assign(process.env, c.env ?? {});
      try {
        const plane = c.H * c.W;
        const xs = randomArray(c.N * c.Cin * plane, 21).map((v, i) => 40 + 3 * v + (Math.floor(i / plane) % c.Cin));
        const gammas = randomArray(c.Cin, 22).map((v) => 1 + 0.5 * v);
        const betas = randomArray(c.Cin, 23);
        const ws = randomArray(c.Cout * c.Cin * 9, 24);
        const shifts = randomArray(c.N * c.Cout, 25);
        const rs = randomArray(c.N * c.Cout * plane, 26);
        const [x, gamma, beta, w, shift, r] = [
          tensor(xs, [c.N, c.Cin, c.H, c.W]), tensor(gammas, [c.Cin]), tensor(betas, [c.Cin]),
          tensor(ws, [c.Cout, c.Cin, 3, 3]), tensor(shifts, [c.N, c.Cout]), tensor(rs, [c.N, c.Cout, c.H, c.W]),
        ];
        const { folded, apart } = foldedAndApart(() => groupNormSiluConv2d(x, c.groups, gamma, beta, 1e-5, w, shift, {}, r), 'FFM_WINOGRAD_NORM_INPUT');
        expect(folded.dispatches).toBe(apart.dispatches - (c.folds ? 1 : 0));
        const h = normRef(xs, groupNormPlan([c.N, c.Cin, c.H, c.W], c.groups, 1e-5), gammas, betas).map((v) => v / (1 + Math.exp(-v)));
        const want = conv2dRef(h, ws, null, c).map((v, i) => v + shifts[Math.floor(i / plane)]! + rs[i]!);
        expect(maxRelErr(await folded.y.data(), want)).toBeLessThan(F32_TOL);
        expect(maxRelErr(await apart.y.data(), want)).toBeLessThan(F32_TOL);
        // the plain convolution without gradient (a partial last group where W % 16 != 0) against the float64 one
        const plain = noGrad(() => conv2dOp(x, w, shift, {}, r));
        const wantPlain = conv2dRef(xs, ws, null, c).map((v, i) => v + shifts[Math.floor(i / plane)]! + rs[i]!);
        expect(maxRelErr(await plain.data(), wantPlain)).toBeLessThan(F32_TOL);
        for (const t of [x, gamma, beta, w, shift, r, folded.y, apart.y, plain]) t.dispose();
      } finally {
        for (const k of Object.keys(c.env ?? {})) delete process.env[k];
      }
    });
  }
});

describe('GroupNorm by windows + SiLU folded into the Winograd input transform (one-piece fusion\'s windowed statistics)', () => {
  // Windows of 6 px across 48 columns: a patch row's 18 pixels span three or four centre
  // intervals; windows of 10 over 32 columns: the last window 2 px from the one before (a
  // narrow last interval); one window across 16 columns, three down 40 rows (no horizontal
  // interpolation); two samples. Against the float64 windowed norm, SiLU and convolution.
  const cases: (RefConv & { groups: number; side: number })[] = [
    { N: 2, Cin: 16, H: 13, W: 48, Cout: 8, K: 3, stride: 1, pad: 1, groups: 4, side: 6 },
    { N: 1, Cin: 8, H: 23, W: 32, Cout: 4, K: 3, stride: 1, pad: 1, groups: 2, side: 10 },
    { N: 1, Cin: 8, H: 40, W: 16, Cout: 4, K: 3, stride: 1, pad: 1, groups: 8, side: 16 },
    // partial last tile groups (W % 16 of 4 and 12): the tiles past the row take no statistics
    { N: 2, Cin: 8, H: 11, W: 36, Cout: 4, K: 3, stride: 1, pad: 1, groups: 2, side: 10 },
    { N: 1, Cin: 16, H: 9, W: 44, Cout: 8, K: 3, stride: 1, pad: 1, groups: 4, side: 8 },
  ];
  beforeAll(() => Object.assign(process.env, { FFM_CONV_WINOGRAD: '4' }));
  afterAll(() => { delete process.env.FFM_CONV_WINOGRAD; });
  for (const c of cases) {
    it(`N${c.N} ${c.Cin}->${c.Cout} ${c.H}x${c.W}, ${c.groups} groups, windows of ${c.side}: folded (one pass fewer than FFM_NORM_WINDOW_FOLD=0), float64 reference`, async () => {
      await gpu();
      const plane = c.H * c.W;
      const xs = randomArray(c.N * c.Cin * plane, 31).map((v, i) => 20 + 3 * v + (i % c.W) / 4 + (Math.floor(i / plane) % c.Cin));
      const gammas = randomArray(c.Cin, 32).map((v) => 1 + 0.5 * v);
      const betas = randomArray(c.Cin, 33);
      const ws = randomArray(c.Cout * c.Cin * 9, 34);
      const shifts = randomArray(c.N * c.Cout, 35);
      const [x, gamma, beta, w, shift] = [
        tensor(xs, [c.N, c.Cin, c.H, c.W]), tensor(gammas, [c.Cin]), tensor(betas, [c.Cin]),
        tensor(ws, [c.Cout, c.Cin, 3, 3]), tensor(shifts, [c.N, c.Cout]),
      ];
      const { folded, apart } = foldedAndApart(() => withNormWindow(c.side / c.W, () => groupNormSiluConv2d(x, c.groups, gamma, beta, 1e-5, w, shift)), 'FFM_NORM_WINDOW_FOLD');
      expect(folded.dispatches).toBe(apart.dispatches - 1);
      const h = windowNormRef(xs, [c.N, c.Cin, c.H, c.W], c.groups, c.side, gammas, betas).map((v) => v / (1 + Math.exp(-v)));
      const want = conv2dRef(h, ws, null, c).map((v, i) => v + shifts[Math.floor(i / plane)]!);
      expect(maxRelErr(await folded.y.data(), want)).toBeLessThan(F32_TOL);
      expect(maxRelErr(await apart.y.data(), want)).toBeLessThan(F32_TOL);
      for (const t of [x, gamma, beta, w, shift, folded.y, apart.y]) t.dispose();
    });
  }
});

describe('a tile-group convolution in slabs of tile rows (bounded transformed operands)', () => {
  // 2 samples of 13 x 48 (4 tile rows, the last partial) in slabs of 3 tile rows and of 1: the
  // slab's first row (th0) must place every transform; with per-sample bias and a residual, and
  // with the windowed norm folded into the input transform. Float64 references.
  const c: RefConv & { groups: number; side: number } = { N: 2, Cin: 16, H: 13, W: 48, Cout: 8, K: 3, stride: 1, pad: 1, groups: 4, side: 6 };
  const rowBytes = 36 * c.N * (c.W / 4) * c.Cin * 4; // one tile row of V (the larger operand)
  beforeAll(() => Object.assign(process.env, { FFM_CONV_WINOGRAD: '4' }));
  afterAll(() => { delete process.env.FFM_CONV_WINOGRAD; });
  for (const rows of [3, 1]) {
    it(`slabs of ${rows} tile row${rows > 1 ? 's' : ''}: plain (bias per sample, residual) and windowed-norm-folded convolutions equal the float64 references, in more dispatches than one slab`, async () => {
      await gpu();
      const plane = c.H * c.W;
      const xs = randomArray(c.N * c.Cin * plane, 41).map((v, i) => 20 + 3 * v + (i % c.W) / 4);
      const ws = randomArray(c.Cout * c.Cin * 9, 42);
      const shifts = randomArray(c.N * c.Cout, 43);
      const rs = randomArray(c.N * c.Cout * plane, 44);
      const gammas = randomArray(c.Cin, 45).map((v) => 1 + 0.5 * v);
      const betas = randomArray(c.Cin, 46);
      const [x, w, shift, r, gamma, beta] = [
        tensor(xs, [c.N, c.Cin, c.H, c.W]), tensor(ws, [c.Cout, c.Cin, 3, 3]), tensor(shifts, [c.N, c.Cout]),
        tensor(rs, [c.N, c.Cout, c.H, c.W]), tensor(gammas, [c.Cin]), tensor(betas, [c.Cin]),
      ];
      const plain = () => conv2dOp(x, w, shift, {}, r);
      const normed = () => withNormWindow(c.side / c.W, () => groupNormSiluConv2d(x, c.groups, gamma, beta, 1e-5, w, shift));
      const run = (op: () => Tensor) => {
        const rt = runtime();
        const before = rt.counters.dispatches;
        const y = noGrad(op);
        return { y, dispatches: rt.counters.dispatches - before };
      };
      for (const o of [run(plain), run(normed)]) o.y.dispose(); // the weights' transform, made once
      const whole = [run(plain), run(normed)];
      process.env.FFM_WINOGRAD_SLAB_MIB = String((rows * rowBytes + 1) / 2 ** 20);
      let slabbed: { y: Tensor; dispatches: number }[];
      try {
        slabbed = [run(plain), run(normed)];
      } finally {
        delete process.env.FFM_WINOGRAD_SLAB_MIB;
      }
      const slabs = Math.ceil(Math.ceil(c.H / 4) / rows);
      for (let k = 0; k < 2; k++) expect(slabbed[k]!.dispatches).toBe(whole[k]!.dispatches + 3 * (slabs - 1));
      const wantPlain = conv2dRef(xs, ws, null, c).map((v, i) => v + shifts[Math.floor(i / plane)]! + rs[i]!);
      const h = windowNormRef(xs, [c.N, c.Cin, c.H, c.W], c.groups, c.side, gammas, betas).map((v) => v / (1 + Math.exp(-v)));
      const wantNormed = conv2dRef(h, ws, null, c).map((v, i) => v + shifts[Math.floor(i / plane)]!);
      expect(maxRelErr(await slabbed[0]!.y.data(), wantPlain)).toBeLessThan(F32_TOL);
      expect(maxRelErr(await slabbed[1]!.y.data(), wantNormed)).toBeLessThan(F32_TOL);
      for (const t of [x, w, shift, r, gamma, beta, ...whole.map((o) => o.y), ...slabbed.map((o) => o.y)]) t.dispose();
    });
  }
});

describe('slabs and the binding limit', () => {
  it('a convolution in slabs needs only a slab of its transformed operands within one binding; one kept whole (a weight gradient to come), or with slabs off, the whole operand', async () => {
    await gpu();
    const { winogradTile } = await import('../src/kernels/winograd.js');
    // V of 1 x 48 x 256 x 256 by F(4x4): 36 x 4,096 tiles x 48 channels, 28 MB, against a binding of 8 MiB
    const rt = Object.create(runtime(), { maxBindingBytes: { value: 8 * 2 ** 20 } }) as ReturnType<typeof runtime>;
    const s = { N: 1, Cin: 48, Cout: 16, H: 256, W: 256 };
    process.env.FFM_CONV_WINOGRAD = '4';
    process.env.FFM_WINOGRAD_SLAB_MIB = '4';
    try {
      expect(winogradTile(rt, s, 'conv', true)).toBe(4);
      expect(winogradTile(rt, s, 'conv', false)).toBe(null);
      process.env.FFM_WINOGRAD_SLAB_MIB = '0';
      expect(winogradTile(rt, s, 'conv', true)).toBe(null);
    } finally {
      delete process.env.FFM_CONV_WINOGRAD;
      delete process.env.FFM_WINOGRAD_SLAB_MIB;
    }
  });
});

describe('conv2d argument checks', () => {
  it('refuses a Winograd knob that names no tile', async () => {
    await gpu();
    const x = tensor(new Float32Array(32 * 4 * 4), [1, 32, 4, 4]);
    const w = tensor(new Float32Array(32 * 32 * 9), [32, 32, 3, 3]);
    process.env.FFM_CONV_WINOGRAD = '3';
    try {
      expect(() => conv2d(x.rt, x, w, null)).toThrow('FFM_CONV_WINOGRAD must be 0 (direct kernel), 2 or 4 (the Winograd tile), got 3');
    } finally {
      delete process.env.FFM_CONV_WINOGRAD;
    }
  });
  it('names the op and both shapes when channels disagree', async () => {
    await gpu();
    const x = tensor(new Float32Array(32 * 4 * 4), [1, 32, 4, 4]);
    const w = tensor(new Float32Array(16 * 64 * 9), [16, 64, 3, 3]);
    expect(() => conv2d(x.rt, x, w, null)).toThrow('conv2d: weight in_channels 64 != input channels 32 (input [1,32,4,4], weight [16,64,3,3])');
    const w2 = tensor(new Float32Array(16 * 32 * 9), [16, 32, 3, 3]);
    expect(() => conv2d(x.rt, x, w2, tensor(new Float32Array(15), [15]))).toThrow('conv2d: bias must be [16] or [1, 16], got [15] (weight [16,32,3,3])');
    expect(() => conv2d(x.rt, x, w2, null, {}, tensor(new Float32Array(16 * 4), [1, 16, 4, 1]))).toThrow('conv2d: residual must be [1,16,4,4], got [1,16,4,1]');
    w2.dispose();
    x.dispose();
    w.dispose();
  });
});
