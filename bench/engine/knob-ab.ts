/**
 * The whole-network effect of a kernel choice: times torch-peer's two nets (the 2.7 M U-Net at
 * 128x128 and the FusionFM default net at 176x176: forward, and a training step of batch 4 at
 * 128x128; the FusionFM net also at its training recipe's 64 px crops, what train:default runs)
 * under the adapter's default kernels and under each knob set, interleaved round by
 * round in one process so that a busy CPU slows every variant alike. Outputs are checked to
 * agree across variants (float rounding only).
 *
 *   node dist/bench/engine/knob-ab.js --variants 'before=FFM_CONV_TP:8,FFM_CONV_COV:2,FFM_CONV_ROWV:0' [--rounds 5]
 *     [--out bench/results/knob-ab-<adapter>.json]
 */
import { benchArgs } from '../args.js';
import { useRuntime } from '../../src/autograd/tensor.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { abCase, abNets, maxAbsDiff } from './ab-workload.js';
import { interleaved, knobVariants, withKnobs } from './timing.js';

const { values } = benchArgs(import.meta.url, { options: { rounds: { type: 'string', default: '5' }, variants: { type: 'string' }, out: { type: 'string' } } });
if (!values.variants) throw new Error("knob-ab: --variants 'name=KNOB:value,...;name2=...' is required");
const variants = knobVariants(values.variants);
const rounds = Number(values.rounds);
const rt = await getNodeRuntime();
const provenance = benchProvenance('knob-ab', rt.adapter.name);
useRuntime(rt);
const out = values.out ?? `bench/results/knob-ab-${adapterSlug(rt.adapter)}.json`;
const records: object[] = [];
for (const c of abNets()) {
  const w = abCase(rt, c);
  // outputs agree across variants
  const outputs: Float32Array[] = [];
  for (const [, knobs] of variants) outputs.push(await withKnobs(knobs, w.output));
  const maxDiff = maxAbsDiff(outputs);
  const fwd: Record<string, () => Promise<void>> = {};
  const train: Record<string, () => Promise<void>> = {};
  for (const [name, knobs] of variants) {
    fwd[name] = () => withKnobs(knobs, w.forward);
    train[name] = () => withKnobs(knobs, w.train);
  }
  const f = await interleaved(fwd, { warmup: 1, rounds });
  const t = await interleaved(train, { warmup: 1, rounds });
  w.dispose();
  const fmt = (r: typeof f) => Object.entries(r).map(([k, v]) => `${k} ${v.median_ms} ms`).join(', ');
  console.log(`${w.forwardCase}: ${fmt(f)} (outputs differ by ${maxDiff.toExponential(2)})`);
  console.log(`${w.trainCase}: ${fmt(t)}`);
  records.push({ case: w.forwardCase, impl: 'fusionfm', adapter: rt.adapter.name, max_abs_diff: maxDiff, ...f });
  records.push({ case: w.trainCase, impl: 'fusionfm', adapter: rt.adapter.name, ...t });
}
writeBenchReport(out, provenance, { variants: Object.fromEntries(variants), records });
rt.destroy();
