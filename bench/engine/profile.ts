/**
 * Where the GPU time of a network evaluation goes, kernel by kernel, from timestamp queries
 * (GpuRuntime.startProfiling): the 2.7 M-parameter U-Net of bench:torch at 128x128 (forward, and
 * a training step: forward, MSE, backward, AdamW) and the FusionFM default net on one 176 px
 * fusion tile and its training step at the recipe's 64 px crops, and (case fusionfm-whole, not run unless --only names it) the same net on a whole 640x480
 * image in one piece, where attention runs the fused kernel. Each dispatch runs in a timestamped pass of its own, which adds a little to
 * each; the end-to-end figures are bench:torch's. What this answers is which kernels to speed up.
 *
 *   node dist/bench/engine/profile.js [--only unet-forward,unet-train,fusionfm-forward,fusionfm-train64,fusionfm-whole] [--out file.json]
 */
import { benchArgs } from '../args.js';
import { backward } from '../../src/autograd/backward.js';
import { randn } from '../../src/autograd/create.js';
import { mseLoss } from '../../src/autograd/ops.js';
import { noGrad, scope, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { DEFAULT_VELOCITY, VelocityNet } from '../../src/fusion/flow/model.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { withInitSeed } from '../../src/nn/module.js';
import { AdamW } from '../../src/nn/optim.js';
import { UNet } from '../../src/nn/unet.js';
import { round } from './timing.js';
import { PEER_UNET } from './peer-unet.js';

const { values } = benchArgs(import.meta.url, { options: { only: { type: 'string' }, out: { type: 'string' } } });
const rt = await createNodeRuntime({ profile: true });
const provenance = benchProvenance('profile', rt.adapter.name);
useRuntime(rt);

const unet = withInitSeed(1, () => new UNet(PEER_UNET));
const fusionNet = withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY)).unet;
const x128 = randn([1, 3, 128, 128], 11).keep();
const target = randn([1, 3, 128, 128], 12).keep();
const x176 = randn([1, fusionNet.config.inChannels, 176, 176], 13).keep();
const wholeInput = () => randn([1, fusionNet.config.inChannels, 480, 640], 14);
const x64 = randn([4, fusionNet.config.inChannels, 64, 64], 15).keep();
const target64 = randn([4, fusionNet.config.outChannels, 64, 64], 16).keep();
const fusionOpt = new AdamW(fusionNet.parameters(), { lr: 1e-4, eps: 1e-8, weightDecay: 0 });
const opt = new AdamW(unet.parameters(), { lr: 1e-3, eps: 1e-8, weightDecay: 0 });

const cases: Record<string, { name: string; run: () => Promise<void> }> = {
  'unet-forward': { name: 'unet forward 128x128 (3->32->64->128)', run: async () => tidy(() => { noGrad(() => unet.forward(x128, [0.3])); }) },
  'unet-train': {
    name: 'unet training step 128x128 (3->32->64->128, MSE, AdamW)',
    run: () => scope(async () => {
      unet.zeroGrad();
      backward(mseLoss(unet.forward(x128, [0.3]), target));
      await opt.step();
    }),
  },
  'fusionfm-forward': { name: 'FusionFM default net forward 176x176 (one fusion tile)', run: async () => tidy(() => { noGrad(() => fusionNet.forward(x176, [0.3])); }) },
  'fusionfm-train64': {
    name: 'FusionFM default net training step, batch 4 at 64x64 (the training recipe\'s crops; MSE, AdamW)',
    run: () => scope(async () => {
      fusionNet.zeroGrad();
      backward(mseLoss(fusionNet.forward(x64, [0.3, 0.5, 0.1, 0.9]), target64));
      await fusionOpt.step();
    }),
  },
  'fusionfm-whole': { name: 'FusionFM default net forward 640x480 in one piece (fused attention)', run: async () => tidy(() => { noGrad(() => fusionNet.forward(wholeInput(), [0.3])); }) },
};
const chosen = values.only ? values.only.split(',') : Object.keys(cases).filter((k) => k !== 'fusionfm-whole');
const records: Record<string, unknown>[] = [];
for (const key of chosen) {
  const c = cases[key];
  if (!c) throw new Error(`--only: unknown case '${key}' (expected some of ${Object.keys(cases).join(', ')})`);
  // warm-up: pipelines compiled, weights packed, buffers pooled. Twice: after one run the pool
  // still lacked buffers, and a new buffer's first-touch cost lands in the first kernel that
  // writes it (a FusionFM tile's forward read 209 ms of GPU time from the third run on, 289-305
  // ms profiled after one warm-up; session 18)
  for (let i = 0; i < 2; i++) await c.run();
  await rt.sync();
  rt.startProfiling();
  const t0 = performance.now();
  await c.run();
  const kernels = await rt.stopProfiling();
  const wall = performance.now() - t0;
  const gpu = kernels.reduce((s, k) => s + k.gpu_ms, 0);
  const dispatches = kernels.reduce((s, k) => s + k.dispatches, 0);
  console.log(`\n${c.name}: ${dispatches} dispatches, ${gpu.toFixed(1)} ms of GPU time, ${wall.toFixed(0)} ms wall (profiled)`);
  for (const k of kernels.slice(0, 25)) {
    console.log(`  ${k.gpu_ms.toFixed(1).padStart(8)} ms ${((100 * k.gpu_ms) / gpu).toFixed(1).padStart(5)}% ${String(k.dispatches).padStart(4)}x  ${k.kernel}`);
  }
  records.push({ case: c.name, impl: 'fusionfm', adapter: rt.adapter.name, dispatches, gpu_ms: round(gpu), wall_ms: round(wall),
    kernels: kernels.map((k) => ({ ...k, gpu_ms: round(k.gpu_ms) })) });
}
const out = values.out ?? `bench/results/profile-${adapterSlug(rt.adapter)}.json`;
writeBenchReport(out, provenance, { records });
rt.destroy();
