/**
 * Times matmul variants against each other, interleaved in one process: each variant is a set
 * of tuning knobs (src/kernels/matmul.ts; the default is the adapter's own choice). Cases are
 * the products the nets and bench:kernels run: the two of dense attention over 16x16 tokens of
 * 128 channels (q^T k, then v P^T, as [B, M, K] x [B, K, N] with transposes), that attention
 * whole (with its softmax), the four transpose combinations at 512 x 128 x 512, and a
 * Winograd-shaped batched product, and a 1x1 convolution's weight gradient (few output tiles, long K:
 * where the product splits K).
 *
 *   node dist/bench/engine/matmul-probe.js [--rounds 9] [--repeat 8] [--tokens 256] [--channels 128] [--variants 'scalar=FFM_MM_VEC:0'] [--only <case name part>] [--out bench/results/matmul-probe-<adapter>.json]
 */
import { benchArgs } from '../args.js';
import { randn } from '../../src/autograd/create.js';
import { matmul, softmax } from '../../src/autograd/ops.js';
import { noGrad, tidy, useRuntime, type Tensor } from '../../src/autograd/tensor.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { interleaved, knobVariants, withKnobs } from './timing.js';

const { values } = benchArgs(import.meta.url, { options: { rounds: { type: 'string', default: '9' }, out: { type: 'string' }, variants: { type: 'string', default: 'scalar=FFM_MM_VEC:0' }, tokens: { type: 'string', default: '256' }, repeat: { type: 'string', default: '8' }, channels: { type: 'string', default: '128' }, only: { type: 'string' } } });
const rt = await createNodeRuntime();
const provenance = benchProvenance('matmul-probe', rt.adapter.name);
useRuntime(rt);
const out = values.out ?? `bench/results/matmul-probe-${adapterSlug(rt.adapter)}.json`;
const variants = knobVariants(values.variants);
const repeat = Number(values.repeat);

const [D, L] = [Number(values.channels), Number(values.tokens)];
const q = randn([1, D, L], 1).keep();
const k = randn([1, D, L], 2).keep();
const v = randn([1, D, L], 3).keep();
const p = randn([1, L, L], 4).keep();
const wa = randn([16, 256, 32], 5).keep();
// every transpose combination at M = N = 512, K = 128 (x: [512, 128], y: [128, 512] and their transposes)
const x = randn([1, 512, 128], 7).keep();
const xt = randn([1, 128, 512], 8).keep();
const wb = randn([16, 32, 32], 6).keep();
// a 1x1 convolution's weight gradient in the 2.7 M U-Net's training step: dy x^T over 128x128 pixels
const dy = randn([1, 32, 16384], 9).keep();
const xs = randn([1, 96, 16384], 10).keep();
const cases: { name: string; flop: number; run: () => Tensor }[] = [
  { name: `scores q^T k: [${D}x${L}]^T x [${D}x${L}]`, flop: 2 * L * L * D, run: () => matmul(q, k, true, false) },
  { name: `values v P^T: [${D}x${L}] x [${L}x${L}]^T`, flop: 2 * L * L * D, run: () => matmul(v, p, false, true) },
  { name: `dense attention, ${L} tokens, ${D} channels (matmul, softmax, matmul)`, flop: 4 * L * L * D, run: () => matmul(v, softmax(matmul(q, k, true, false), 1 / Math.sqrt(D)), false, true) },
  { name: 'NN [512x128] x [128x512]', flop: 2 * 512 * 512 * 128, run: () => matmul(x, xt) },
  { name: 'TN [128x512]^T x [128x512]', flop: 2 * 512 * 512 * 128, run: () => matmul(xt, xt, true, false) },
  { name: 'NT [512x128] x [512x128]^T', flop: 2 * 512 * 512 * 128, run: () => matmul(x, x, false, true) },
  { name: 'TT [128x512]^T x [512x128]^T', flop: 2 * 512 * 512 * 128, run: () => matmul(xt, x, true, true) },
  { name: 'batched 16 x [256x32] x [32x32] (Winograd F(2x2,3x3) of 32->32 at 32x32)', flop: 2 * 16 * 256 * 32 * 32, run: () => matmul(wa, wb) },
  { name: '1x1 weight gradient [32x16384] x [96x16384]^T (few output tiles, long K)', flop: 2 * 32 * 96 * 16384, run: () => matmul(dy, xs, false, true) },
];
const records: object[] = [];
for (const c of cases.filter((c) => !values.only || c.name.includes(values.only))) {
  const fns: Record<string, () => Promise<void>> = {};
  for (const [name, knobs] of variants) {
    fns[name] = () => withKnobs(knobs, async () => {
      // several products per sample: waiting for the device has a granularity of ~1 ms on lavapipe
      for (let r = 0; r < repeat; r++) noGrad(() => tidy(() => { c.run(); }));
      await rt.sync();
    });
  }
  const t = await interleaved(fns, { warmup: 2, rounds: Number(values.rounds) });
  console.log(`${c.name}: ` + Object.entries(t).map(([n, s]) => `${n} ${s.median_ms} ms (${((repeat * c.flop) / 1e9 / (s.median_ms / 1000)).toFixed(1)} GFLOPS)`).join(', '));
  records.push({ case: `${c.name}, ${repeat} per sample`, impl: 'fusionfm', adapter: rt.adapter.name, gflop: (repeat * c.flop) / 1e9, ...t });
}
writeBenchReport(out, provenance, { variants: Object.fromEntries(variants), records });
rt.destroy();
