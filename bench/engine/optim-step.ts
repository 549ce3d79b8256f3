/**
 * What the optimiser and the weight average cost in a training step, one dispatch per parameter
 * against one over flat buffers (src/nn/flat.ts), interleaved round by round in one process:
 * - the whole training step (forward, MSE, backward, AdamW) with the flat AdamW and one-pass
 *   bias-gradient sums, and as before them (FFM_ADAMW_FLAT=0: one dispatch per parameter;
 *   FFM_REDUCE_WG=0: two passes per long sum), for torch-peer's 2.7 M U-Net (batch 4 at
 *   128x128) and the FusionFM default net (batch 4 at the recipe's 64 px crops);
 * - the AdamW step alone, both forms;
 * - the EMA update alone: Ema (flat: the weights gathered by copies, three dispatches) against the
 *   per-parameter form it replaced (three dispatches and a copy per parameter), written out here.
 *
 *   node dist/bench/engine/optim-step.js [--rounds 7] [--out bench/results/optim-step-<adapter>.json]
 */
import { benchArgs } from '../args.js';
import { backward } from '../../src/autograd/backward.js';
import { randn } from '../../src/autograd/create.js';
import { add, affine, mseLoss } from '../../src/autograd/ops.js';
import { noGrad, scope, tidy, useRuntime, type Tensor } from '../../src/autograd/tensor.js';
import { Ema } from '../../src/fusion/flow/ema.js';
import { DEFAULT_VELOCITY, VelocityNet } from '../../src/fusion/flow/model.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { withInitSeed } from '../../src/nn/module.js';
import { AdamW } from '../../src/nn/optim.js';
import { UNet } from '../../src/nn/unet.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { PEER_UNET } from './peer-unet.js';
import { interleaved, withKnobs } from './timing.js';

const { values } = benchArgs(import.meta.url, { options: { rounds: { type: 'string', default: '7' }, out: { type: 'string' } } });
const rounds = Number(values.rounds);
const rt = await getNodeRuntime();
useRuntime(rt);
const provenance = benchProvenance('optim-step', rt.adapter.name);
const out = values.out ?? `bench/results/optim-step-${adapterSlug(rt.adapter)}.json`;

const cases = [
  { name: '2.7 M U-Net, batch 4 at 128x128', net: withInitSeed(1, () => new UNet(PEER_UNET)), size: 128 },
  { name: 'FusionFM default net, batch 4 at 64x64', net: withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY)).unet, size: 64 },
];
const FLAT = { FFM_ADAMW_FLAT: '1', FFM_REDUCE_WG: '1' };
const EACH = { FFM_ADAMW_FLAT: '0', FFM_REDUCE_WG: '0' };
const records: Record<string, unknown>[] = [];

for (const c of cases) {
  const params = c.net.parameters();
  const x = randn([4, c.net.config.inChannels, c.size, c.size], 1).keep();
  const y = randn([4, c.net.config.outChannels, c.size, c.size], 2).keep();
  const t = [0.1, 0.4, 0.6, 0.9];
  const gradients = () => scope(async () => {
    c.net.zeroGrad();
    backward(mseLoss(c.net.forward(x, t), y));
  });
  const [flatOpt, eachOpt] = [new AdamW(params, { lr: 1e-5 }), new AdamW(params, { lr: 1e-5 })];
  const sync = () => params[0]!.data();
  const step = await interleaved({
    flat: async () => { await withKnobs(FLAT, async () => { await gradients(); await flatOpt.step(); }); await sync(); },
    before: async () => { await withKnobs(EACH, async () => { await gradients(); await eachOpt.step(); }); await sync(); },
  }, { warmup: 1, rounds });
  await gradients();
  const adam = await interleaved({
    flat: async () => { await withKnobs(FLAT, () => flatOpt.step()); await sync(); },
    'per-parameter': async () => { await withKnobs(EACH, () => eachOpt.step()); await sync(); },
  }, { warmup: 1, rounds });
  const ema = new Ema(params, 0.995);
  const shadow = noGrad(() => params.map((p) => affine(p, 1, 0).keep()));
  const emaStep = await interleaved({
    flat: async () => { ema.update(); await sync(); },
    'per-parameter': async () => { perParameterEma(params, shadow, 0.995); await sync(); },
  }, { warmup: 1, rounds });
  const dispatches = params.length;
  for (const [what, r] of [['training step (forward, MSE, backward, AdamW)', step], ['AdamW step alone', adam], ['EMA update alone', emaStep]] as const) {
    for (const [impl, timing] of Object.entries(r)) records.push({ case: `${c.name}: ${what}`, impl, adapter: rt.adapter.name, parameters: dispatches, ...timing });
    console.log(`${c.name}: ${what}: ${Object.entries(r).map(([k, v]) => `${k} ${v.median_ms} ms`).join(', ')} (${dispatches} parameter tensors)`);
  }
  ema.dispose();
  for (const s of shadow) s.dispose();
  flatOpt.dispose();
  eachOpt.dispose();
  x.dispose();
  y.dispose();
}
writeBenchReport(out, provenance, { rounds, records });
rt.destroy();

/** The EMA update as it was before the flat buffers: ema <- d ema + (1 - d) p, three dispatches and a copy per parameter. */
function perParameterEma(params: readonly Tensor[], shadow: readonly Tensor[], decay: number): void {
  noGrad(() => tidy(() => params.forEach((p, i) => {
    const s = shadow[i]!;
    const next = add(affine(s, decay, 0), affine(p, 1 - decay, 0));
    p.rt.copy(next.storage, 0, s.storage, 0, s.size * 4);
  })));
}
