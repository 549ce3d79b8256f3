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
import { parseArgs } from 'node:util';
import { randn } from '../../src/autograd/create.js';
import { backward } from '../../src/autograd/backward.js';
import { mseLoss } from '../../src/autograd/ops.js';
import { noGrad, scope, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { DEFAULT_VELOCITY, VelocityNet } from '../../src/fusion/flow/model.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { withInitSeed } from '../../src/nn/module.js';
import { UNet } from '../../src/nn/unet.js';
import { PEER_UNET } from './peer-unet.js';
import { interleaved, knobVariants, withKnobs } from './timing.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, variants: { type: 'string' }, out: { type: 'string' } } });
if (!values.variants) throw new Error("knob-ab: --variants 'name=KNOB:value,...;name2=...' is required");
const variants = knobVariants(values.variants);
const rounds = Number(values.rounds);
const rt = await getNodeRuntime();
const provenance = benchProvenance('knob-ab', rt.adapter.name);
useRuntime(rt);
const out = values.out ?? `bench/results/knob-ab-${adapterSlug(rt.adapter)}.json`;
const records: object[] = [];
// trainSize: the training step's crops (128 as bench:torch times it; 64 for the FusionFM recipe's own crops, what train:default runs)
const nets = [
  { name: 'unet (3->32->64->128)', net: withInitSeed(1, () => new UNet(PEER_UNET)), size: 128, trainSize: 128 },
  { name: 'FusionFM default net', net: withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY)).unet, size: 176, trainSize: 128 },
  { name: 'FusionFM default net (recipe crops)', net: withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY)).unet, size: 176, trainSize: 64 },
];
for (const c of nets) {
  const x = randn([1, c.net.config.inChannels, c.size, c.size], 11).keep();
  const tx = randn([4, c.net.config.inChannels, c.trainSize, c.trainSize], 21).keep();
  const ty = randn([4, c.net.config.outChannels, c.trainSize, c.trainSize], 22, 0.1).keep();
  // outputs agree across variants
  const outputs: Float32Array[] = [];
  for (const [, knobs] of variants) outputs.push(await withKnobs(knobs, async () => { const y = noGrad(() => c.net.forward(x, [0.3])); const d = await y.data(); y.dispose(); return d; }));
  const maxDiff = Math.max(...outputs.slice(1).map((o) => o.reduce((m, v, i) => Math.max(m, Math.abs(v - outputs[0]![i]!)), 0)));
  const fwd: Record<string, () => Promise<void>> = {};
  const train: Record<string, () => Promise<void>> = {};
  for (const [name, knobs] of variants) {
    fwd[name] = () => withKnobs(knobs, async () => { tidy(() => { noGrad(() => c.net.forward(x, [0.3])); }); await rt.sync(); });
    // forward, loss, backward; the optimizer step is the same kernels in every variant and left out
    train[name] = () => withKnobs(knobs, () => scope(async () => {
      c.net.zeroGrad();
      backward(mseLoss(c.net.forward(tx, [0.1, 0.4, 0.6, 0.9]), ty));
      await rt.sync();
    }));
  }
  const f = await interleaved(fwd, { warmup: 1, rounds });
  const t = await interleaved(train, { warmup: 1, rounds });
  c.net.zeroGrad();
  const fmt = (r: typeof f) => Object.entries(r).map(([k, v]) => `${k} ${v.median_ms} ms`).join(', ');
  console.log(`${c.name} forward ${c.size}x${c.size}: ${fmt(f)} (outputs differ by ${maxDiff.toExponential(2)})`);
  console.log(`${c.name} forward+backward, batch 4 at ${c.trainSize}x${c.trainSize}: ${fmt(t)}`);
  records.push({ case: `${c.name} forward ${c.size}x${c.size}`, impl: 'fusionfm', adapter: rt.adapter.name, max_abs_diff: maxDiff, ...f });
  records.push({ case: `${c.name} forward + MSE + backward, batch 4 at ${c.trainSize}x${c.trainSize}`, impl: 'fusionfm', adapter: rt.adapter.name, ...t });
  for (const a of [x, tx, ty]) a.dispose();
}
writeBenchReport(out, provenance, { variants: Object.fromEntries(variants), records });
rt.destroy();
