/**
 * FusionFM speed on the adapter at hand: training throughput (samples/s, batch 4 at 128x128,
 * full step: forward, backward, AdamW, EMA) and one-step fusion time of a 640x480 pair (luminance
 * network with tiling + colour) in the default tiles (portable: the attention window the model
 * always had) and in one piece (whole: attention over the whole image), interleaved; with --big,
 * one fusion of a 2048x2048 pair and the process's peak memory (a peak over the process's life, so
 * --big-only measures that pair alone, in a process that runs nothing else). For the default velocity net;
 * plus its parameter count and FLOPs per megapixel. Medians after warm-up.
 *
 *   node dist/bench/flow/flow-speed.js [--checkpoint checkpoints/default.safetensors] [--out bench/results] [--rounds 5] [--big | --big-only]
 *        [--whole-variants 'name=KNOB:value,...;...': the one-piece fusion also under these knob sets]
 *        [--size WxH: the fused pair's size, default 640x480]
 *        [--tile-variants 'name=KNOB:value,...;...': the default tiled fusion also under these knob sets]
 *        [--task <t>: the task fused for (default: the model's first task without a TASK_TILE_SIDE entry; mef: its 128 px tiles)]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from '../args.js';
import { useRuntime } from '../../src/autograd/tensor.js';
import { fuseImages, TASK_TILE_SIDE, tilePlan } from '../../src/fusion/flow/fuse.js';
import { DEFAULT_VELOCITY, VelocityNet } from '../../src/fusion/flow/model.js';
import { DEFAULT_TRAIN, FlowTrainer, type Triple } from '../../src/fusion/flow/trainer.js';
import { makeImage } from '../../src/fusion/image.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { loadFlowModel } from '../../src/io/flow-checkpoint.js';
import { adapterSlug, gitCommit, hostCpu } from '../../src/io/provenance.js';
import { syntheticPlane as texture } from '../../src/util/synthetic.js';
import { withInitSeed } from '../../src/nn/module.js';
import { interleaved, knobVariants, summarize, withKnobs } from '../engine/timing.js';

const { values } = benchArgs(import.meta.url, { options: { checkpoint: { type: 'string' }, out: { type: 'string', default: 'bench/results' }, rounds: { type: 'string', default: '5' }, big: { type: 'boolean', default: false }, 'big-only': { type: 'boolean', default: false }, 'whole-variants': { type: 'string' }, 'tile-variants': { type: 'string' }, size: { type: 'string', default: '640x480' }, task: { type: 'string' } } });
const rounds = Number(values.rounds);
const rt = await getNodeRuntime();
useRuntime(rt);

const bigOnly = values['big-only']!;
// --size WxH: the pair fused (default 640x480)
const sizeMatch = /^(\d+)x(\d+)$/.exec(values.size!);
if (!sizeMatch || Number(sizeMatch[1]) < 1 || Number(sizeMatch[2]) < 1) throw new Error(`flow-speed: --size expects WxH such as 640x480, got '${values.size}'`);
const fuseSize = [Number(sizeMatch[1]), Number(sizeMatch[2])] as const;
const net = values.checkpoint ? loadFlowModel(values.checkpoint).net : withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY));
// a task-conditioned model fuses for one of its tasks: one with the default tiles (the cost is the
// same for all of those; TASK_TILE_SIDE's tasks fuse in smaller tiles)
const task = values.task ?? net.conditionTasks.find((t) => !Object.hasOwn(TASK_TILE_SIDE, t)) ?? net.conditionTasks[0];
const step = bigOnly ? null : await trainingStep();
const fuse = bigOnly ? null : await fusePair();

/** Training throughput at 128x128: step times of the default recipe's trainer. */
async function trainingStep() {
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
  trainer.dispose();
  return summarize(stepMs);
}

/** One-step fusion of a W x H (--size) colour + grey pair in each tile mode (and knob set), interleaved. */
async function fusePair() {
  const [W, H] = fuseSize;
  const a = makeImage(W, H, [texture(W, H, 1), texture(W, H, 2), texture(W, H, 3)]);
  const b = makeImage(W, H, [texture(W, H, 4)]);
  const modes = ['portable', 'whole'] as const;
  // --whole-variants: the one-piece fusion again under knob sets, interleaved with the rest (e.g. the attention kernel before)
  const runs: { name: string; tiles: (typeof modes)[number]; knobs: Record<string, string> }[] = [
    ...modes.map((m) => ({ name: m, tiles: m, knobs: {} })),
    ...knobVariants(values['whole-variants'] ?? '').slice(1).map(([name, knobs]) => ({ name: `whole-${name}`, tiles: 'whole' as const, knobs })),
    ...knobVariants(values['tile-variants'] ?? '').slice(1).map(([name, knobs]) => ({ name: `portable-${name}`, tiles: 'portable' as const, knobs })),
  ];
  const timings = await interleaved(Object.fromEntries(runs.map((r) => [r.name, () => withKnobs(r.knobs, async () => void (await fuseImages(net, a, b, { steps: 1, tiles: r.tiles, task })))])), { warmup: 1, rounds });
  const plans: ReturnType<typeof tilePlan>[] = [];
  for (const r of runs) plans.push(await withKnobs(r.knobs, () => tilePlan(net, W, H, { tiles: r.tiles, task })));
  return Object.fromEntries(runs.map((r, i) => [r.name, { ...timings[r.name]!, ...plans[i]!, ...(Object.keys(r.knobs).length ? { knobs: r.knobs } : {}) }]));
}

let big: object | null = null;
if (values.big || bigOnly) {
  const N = 2048;
  const A = makeImage(N, N, [texture(N, N, 5)]);
  const B = makeImage(N, N, [texture(N, N, 6)]);
  const t0 = performance.now();
  await fuseImages(net, A, B, { steps: 1, task });
  big = { size: '2048x2048', ms: Math.round(performance.now() - t0), ...tilePlan(net, N, N), peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024) };
}
const commit = gitCommit();
const result = {
  bench: 'flow-speed', adapter: rt.adapter.name, commit, host: hostCpu(), command: `node dist/bench/flow/flow-speed.js ${process.argv.slice(2).join(' ')}`,
  model: { config: net.config, parameters: net.parameters().reduce((s, p) => s + p.size, 0), gflop_per_megapixel_256: Number((net.unet.flopsPerPixel(256, 256) / 1e3).toFixed(1)) },
  ...(step ? { train_128: { batch: 4, step_median_ms: step.median_ms, samples_per_s: Number((4000 / step.median_ms).toFixed(3)), runs: step.runs } } : {}),
  ...(fuse ? { [`fuse_${fuseSize[0]}x${fuseSize[1]}_one_step`]: fuse } : {}),
  ...(big ? { fuse_2048x2048_one_step: big } : {}),
};
const slug = adapterSlug(rt.adapter);
mkdirSync(values.out!, { recursive: true });
const path = join(values.out!, `flow-speed-${slug}${bigOnly ? '-2048' : ''}${values.size === '640x480' ? '' : `-${values.size}`}.json`);
writeFileSync(path, JSON.stringify(result, null, 1) + '\n');
console.log(JSON.stringify(result, null, 1));
console.log(`wrote ${path}`);
net.dispose();
rt.destroy();
