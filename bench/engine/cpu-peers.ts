/**
 * What a CPU-only user gives up or gains: the same U-Net forward (128x128, 3->32->64->128, as in
 * bench/engine/kernels.ts, and FusionFM's default velocity net on one 176 px fusion tile) on our engine over the
 * software GPU (lavapipe) against TensorFlow.js's WASM backend (SIMD) on the same cores, the
 * TF.js model rebuilt from our module tree with our weights and checked to compute the same
 * function first. Interleaved rounds, medians.
 *
 *   node dist/bench/engine/cpu-peers.js [--rounds 5] [--out bench/results/cpu-peers-<adapter>.json]
 */
import { benchArgs } from '../args.js';
import { randn } from '../../src/autograd/create.js';
import { noGrad, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { DEFAULT_VELOCITY, VelocityNet } from '../../src/fusion/flow/model.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { withInitSeed } from '../../src/nn/module.js';
import { UNet } from '../../src/nn/unet.js';
import { mirrorUNet, toNHWC } from './tfjs-peer.js';
import { interleaved } from './timing.js';
import { PEER_UNET } from './peer-unet.js';

const { values } = benchArgs(import.meta.url, { options: { rounds: { type: 'string', default: '5' }, out: { type: 'string' } } });
const rounds = Number(values.rounds);
const rt = await createNodeRuntime();
const provenance = benchProvenance('cpu-peers', rt.adapter.name);
useRuntime(rt);
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-wasm');
await tf.setBackend('wasm');
await tf.ready();

const cases: { name: string; net: UNet; size: number }[] = [
  { name: 'unet forward 128x128 (3->32->64->128)', net: withInitSeed(1, () => new UNet(PEER_UNET)), size: 128 },
  // 176 px: the largest tile whose attention matrix fits WebGPU's baseline binding (what fusion uses)
  { name: 'FusionFM default net forward 176x176 (one fusion tile)', net: withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY)).unet, size: 176 },
];
const records: Record<string, unknown>[] = [];
for (const c of cases) {
  const inC = c.net.config.inChannels;
  const x = randn([1, inC, c.size, c.size], 11).keep();
  const tx = toNHWC(tf, await x.data(), [...x.shape]);
  const twin = await mirrorUNet(tf, c.net);
  const a = await noGrad(() => c.net.forward(x, [0.3])).data();
  const b = await tf.transpose(twin(tx, [0.3]), [0, 3, 1, 2]).data();
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  if (!(err <= 1e-3 * Math.max(1, scale))) throw new Error(`${c.name}: the TF.js mirror differs by ${err}`);
  const t = await interleaved({
    fusionfm: async () => { tidy(() => { noGrad(() => c.net.forward(x, [0.3])); }); await rt.sync(); },
    'tfjs-wasm': async () => { const y = twin(tx, [0.3]); await y.data(); y.dispose(); },
  }, { warmup: 1, rounds });
  const gflop = (c.net.flopsPerPixel(c.size, c.size) * c.size * c.size) / 1e9;
  for (const [impl, s] of Object.entries(t)) records.push({ case: c.name, impl, adapter: impl === 'fusionfm' ? rt.adapter.name : 'cpu (wasm simd)', ...s, gflops: Number((gflop / (s.median_ms / 1000)).toPrecision(4)), max_abs_diff: err });
  console.log(`${c.name}: fusionfm ${t.fusionfm!.median_ms} ms, tfjs-wasm ${t['tfjs-wasm']!.median_ms} ms (ratio ${(t['tfjs-wasm']!.median_ms / t.fusionfm!.median_ms).toFixed(2)}x), outputs differ by ${err.toExponential(2)}`);
  x.dispose();
}
const out = values.out ?? `bench/results/cpu-peers-${adapterSlug(rt.adapter)}.json`;
writeBenchReport(out, provenance, { records });
rt.destroy();
