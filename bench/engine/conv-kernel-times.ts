/**
 * GPU time per kernel of one 3x3 convolution (its Winograd transforms and GEMM, or the direct
 * kernel), from timestamp queries, under the adapter's defaults and under each knob set, rounds
 * interleaved in one process; medians per kernel. What it answers: which of a convolution's
 * dispatches a kernel change moved (e.g. FFM_WINOGRAD_ROWS:0 for the per-float transforms).
 *
 *   node dist/bench/engine/conv-kernel-times.js [--variants 'per-float=FFM_WINOGRAD_ROWS:0'] [--rounds 5]
 *     [--out bench/results/conv-kernel-times-<adapter>.json]
 */
import { benchArgs } from '../args.js';
import { randn } from '../../src/autograd/create.js';
import { conv2d } from '../../src/autograd/ops.js';
import { noGrad, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { knobVariants, round, summarize, withKnobs } from './timing.js';

const { values } = benchArgs(import.meta.url, { options: { rounds: { type: 'string', default: '5' }, variants: { type: 'string', default: '' }, out: { type: 'string' } } });
const rt = await createNodeRuntime({ profile: true });
const provenance = benchProvenance('conv-kernel-times', rt.adapter.name);
useRuntime(rt);
const variants = knobVariants(values.variants ?? '');
/** [N, C, side]: the 2.7 M U-Net's first two levels at 128 px, and the training recipe's batch at 64 px */
const SHAPES = [[1, 32, 128], [1, 64, 64], [4, 32, 64]] as const;
const REPEATS = 3; // convolutions per profiled window, so each kernel's time is a mean of three
const samples = new Map<string, number[]>();
for (let r = 0; r < Number(values.rounds); r++) {
  for (const [N, C, S] of SHAPES) {
    const x = randn([N, C, S, S], 1).keep();
    const w = randn([C, C, 3, 3], 2, 0.05).keep();
    for (const [name, knobs] of variants) {
      await withKnobs(knobs, async () => {
        noGrad(() => tidy(() => { conv2d(x, w, null); })); // warm-up: pipelines, transformed weights
        await rt.sync();
        rt.startProfiling();
        for (let i = 0; i < REPEATS; i++) noGrad(() => tidy(() => { conv2d(x, w, null); }));
        for (const k of await rt.stopProfiling()) {
          const key = JSON.stringify([`N=${N} ${C}->${C} ${S}x${S}`, name, k.kernel]);
          if (!samples.has(key)) samples.set(key, []);
          samples.get(key)!.push(k.gpu_ms / REPEATS);
        }
      });
    }
    x.dispose();
    w.dispose();
  }
}
const records = [...samples].map(([key, ms]) => {
  const [shape, variant, kernel] = JSON.parse(key) as string[];
  const t = summarize(ms);
  console.log(`${shape!.padEnd(20)} ${variant!.padEnd(12)} ${t.median_ms.toFixed(2).padStart(8)} ms  ${kernel}`);
  return { case: shape, variant, kernel, ...t, median_ms: round(t.median_ms) };
});
writeBenchReport(values.out ?? `bench/results/conv-kernel-times-${adapterSlug(rt.adapter)}.json`, provenance, { records });
rt.destroy();
