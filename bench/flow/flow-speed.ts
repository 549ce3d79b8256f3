/**
 * FusionFM speed on the adapter at hand: training throughput (samples/s, batch 4 at 128x128,
 * full step: forward, backward, AdamW, EMA) and one-step fusion time of a 640x480 pair (luminance
 * network with tiling + colour), for the default velocity net; plus its parameter count and
 * FLOPs per megapixel. Medians after warm-up.
 *
 *   node dist/bench/flow/flow-speed.js [--checkpoint checkpoints/default.safetensors] [--out bench/results] [--tiles portable|device]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { useRuntime } from '../../src/autograd/tensor.js';
import { fuseImages, WEBGPU_BASELINE_BINDING_BYTES } from '../../src/fusion/flow/fuse.js';
import { DEFAULT_VELOCITY, VelocityNet } from '../../src/fusion/flow/model.js';
import { DEFAULT_TRAIN, FlowTrainer, type Triple } from '../../src/fusion/flow/trainer.js';
import { makeImage } from '../../src/fusion/image.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { loadFlowModel } from '../../src/io/flow-checkpoint.js';
import { adapterSlug, gitCommit } from '../../src/io/provenance.js';
import { syntheticPlane as texture } from '../../src/util/synthetic.js';
import { withInitSeed } from '../../src/nn/module.js';
import { summarize } from '../engine/timing.js';

const { values } = parseArgs({ options: { checkpoint: { type: 'string' }, out: { type: 'string', default: 'bench/results' }, rounds: { type: 'string', default: '5' }, tiles: { type: 'string', default: 'portable' } } });
if (values.tiles !== 'portable' && values.tiles !== 'device') throw new Error(`--tiles: expected portable or device, got ${values.tiles}`);
const tiles = values.tiles as 'portable' | 'device';
const rounds = Number(values.rounds);
const rt = await getNodeRuntime();
useRuntime(rt);

// training throughput at 128x128
const S = 128;
const data: Triple[] = [0, 1].map((k) => ({ name: `synthetic${k}`, w: 2 * S, h: 2 * S, a: texture(2 * S, 2 * S, k), b: texture(2 * S, 2 * S, k + 10), label: texture(2 * S, 2 * S, k + 20) }));
const trainer = new FlowTrainer({ ...DEFAULT_TRAIN, crop: S, batch: 4, steps: 1000 }, data);
for (let i = 0; i < 2; i++) await trainer.trainStep();
const stepMs: number[] = [];
for (let i = 0; i < rounds; i++) {
  const t0 = performance.now();
  await trainer.trainStep();
  stepMs.push(performance.now() - t0);
}
const step = summarize(stepMs);
trainer.dispose();

// one-step fusion of a 640x480 colour + grey pair
const net = values.checkpoint ? loadFlowModel(values.checkpoint).net : withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY));
const W = 640;
const H = 480;
const a = makeImage(W, H, [texture(W, H, 1), texture(W, H, 2), texture(W, H, 3)]);
const b = makeImage(W, H, [texture(W, H, 4)]);
await fuseImages(net, a, b, { steps: 1, tiles });
const fuseMs: number[] = [];
for (let i = 0; i < rounds; i++) {
  const t0 = performance.now();
  await fuseImages(net, a, b, { steps: 1, tiles });
  fuseMs.push(performance.now() - t0);
}
const fuse = summarize(fuseMs);
const side = net.maxSide((tiles === 'device' ? rt.maxBindingBytes : Math.min(rt.maxBindingBytes, WEBGPU_BASELINE_BINDING_BYTES)) / 2);
const commit = gitCommit();
const result = {
  bench: 'flow-speed', adapter: rt.adapter.name, commit, command: `node dist/bench/flow/flow-speed.js ${process.argv.slice(2).join(' ')}`,
  model: { config: net.config, parameters: net.parameters().reduce((s, p) => s + p.size, 0), gflop_per_megapixel_256: Number((net.unet.flopsPerPixel(256, 256) / 1e3).toFixed(1)) },
  train_128: { batch: 4, step_median_ms: step.median_ms, samples_per_s: Number((4000 / step.median_ms).toFixed(3)), runs: step.runs },
  fuse_640x480_one_step: { ...fuse, tiles_mode: tiles, tile_side: side, tiles: Math.ceil((W - 32) / (side - 32)) * Math.ceil((H - 32) / (side - 32)) },
};
const slug = adapterSlug(rt.adapter);
mkdirSync(values.out!, { recursive: true });
const path = join(values.out!, `flow-speed-${slug}.json`);
writeFileSync(path, JSON.stringify(result, null, 1) + '\n');
console.log(JSON.stringify(result, null, 1));
console.log(`wrote ${path}`);
net.dispose();
rt.destroy();
