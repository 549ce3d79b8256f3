/**
 * Our U-Net against a PyTorch reference of the same network (bench/engine/torch_unet.py) with the same
 * weights and input, checked to compute the same output, each timed on its own device (the
 * forward pass, and a training step of batch 4 at 128x128: forward, MSE, backward, Adam, its first
 * two losses checked against PyTorch's so that both compute the same gradients and update): ours on
 * the WebGPU adapter at hand, PyTorch on CUDA where it has it, else on the CPU cores, the two
 * alternating round by round (bench/engine/torch-serve.ts); and the
 * same network exported by PyTorch to ONNX, run by ONNX Runtime's WASM build (onnxruntime-web
 * in Node, SIMD, one thread per core) and, where it is installed, by its native CPU build
 * (onnxruntime-node: 93 MB for every platform's binaries, so a bench-time install rather than a
 * dependency: ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save onnxruntime-node@1.23.0; the
 * variable skips its postinstall, which fetches CUDA libraries from outside the npm registry and
 * fails offline; the CPU binaries come in the package). Runs where
 * python3 (or $PYTHON) has torch (Debian: apt-get install python3-torch, then PYTHON=/usr/bin/python3
 * where another python3 comes first on the PATH; the GPU machine's own PyTorch).
 *
 *   node dist/bench/engine/torch-peer.js [--rounds 5] [--out bench/results/torch-peer-<adapter>.json]
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs } from '../args.js';
import { randn } from '../../src/autograd/create.js';
import { backward } from '../../src/autograd/backward.js';
import { mseLoss } from '../../src/autograd/ops.js';
import { AdamW } from '../../src/nn/optim.js';
import type { Tensor } from '../../src/autograd/tensor.js';
import { noGrad, scope, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { DEFAULT_VELOCITY, VelocityNet } from '../../src/fusion/flow/model.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchProvenance, writeBenchReport } from './report.js';
import { withInitSeed } from '../../src/nn/module.js';
import { encodeSafetensors, type HostTensor } from '../../src/nn/safetensors.js';
import { UNet } from '../../src/nn/unet.js';
import { interleaved } from './timing.js';
import { againstPeer, TorchPeer } from './torch-serve.js';
import { PEER_UNET } from './peer-unet.js';

const { values } = benchArgs(import.meta.url, { options: { rounds: { type: 'string', default: '5' }, out: { type: 'string' } } });
const rounds = Number(values.rounds);
const rt = await getNodeRuntime();
const provenance = benchProvenance('torch-peer', rt.adapter.name);
useRuntime(rt);
const TRAIN_STEP = 'training step, batch 4 at 128x128 (forward, MSE, backward, Adam)';
const cases = [
  { name: 'unet forward 128x128 (3->32->64->128)', trainName: `unet ${TRAIN_STEP}`, net: withInitSeed(1, () => new UNet(PEER_UNET)), size: 128 },
  { name: 'FusionFM default net forward 176x176 (one fusion tile)', trainName: `FusionFM default net ${TRAIN_STEP}`, net: withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY)).unet, size: 176 },
];
const records: Record<string, unknown>[] = [];
for (const c of cases) {
  const dir = mkdtempSync(join(tmpdir(), 'ffm-torch-'));
  const shape = [1, c.net.config.inChannels, c.size, c.size];
  const x = randn(shape, 11).keep();
  const t = [0.3];
  const weights = new Map<string, HostTensor>();
  for (const [n, p] of c.net.namedParameters()) weights.set(n, { shape: [...p.shape], data: await p.data() });
  writeFileSync(join(dir, 'weights.safetensors'), encodeSafetensors(weights));
  // the training step: batch 4 at 128x128 (what the figures quote), its own input, target and times
  const trainShape = [4, c.net.config.inChannels, 128, 128];
  const trainOut = [4, c.net.config.outChannels, 128, 128];
  const tx = randn(trainShape, 21).keep();
  const ty = randn(trainOut, 22, 0.1).keep();
  const tt = [0.1, 0.4, 0.6, 0.9];
  writeFileSync(join(dir, 'train_input.f32'), await tx.data());
  writeFileSync(join(dir, 'train_target.f32'), await ty.data());
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ config: c.net.config, shape, t, train: { shape: trainShape, shape_out: trainOut, t: tt } }));
  writeFileSync(join(dir, 'input.f32'), await x.data());
  // our output: what PyTorch and both ONNX Runtime builds are checked against
  const y = noGrad(() => c.net.forward(x, t));
  const want = await y.data();
  y.dispose();
  writeFileSync(join(dir, 'output.f32'), want);
  const onnx = join(dir, 'net.onnx');
  const peer = await TorchPeer.start(dir, onnx);
  const torch = peer.check;
  const tolerance = 1e-3 * Math.max(1, torch.output_scale);
  if (!(torch.max_abs_diff <= tolerance)) throw new Error(`${c.name}: PyTorch's output differs from ours by ${torch.max_abs_diff}`);
  // ours and PyTorch's alternate round by round, PyTorch's time as it measures it (without the pipe)
  const { ours, theirs } = await againstPeer(peer, 'forward', rounds, async () => { tidy(() => { noGrad(() => c.net.forward(x, t)); }); await rt.sync(); });
  // its check run's one-round timing is left out: the interleaved rounds replace it
  const { train: torchTrain, median_ms: _m, min_ms: _n, max_ms: _x, runs: _r, ...torchForward } = torch;
  records.push({ case: c.name, impl: 'fusionfm', adapter: rt.adapter.name, ...ours }, { case: c.name, ...torchForward, ...theirs, adapter: torch.device, interleaved: true });
  // ours trains last (after ONNX Runtime, which checks against the untrained weights' output)
  const web = await import('onnxruntime-web');
  web.env.wasm.numThreads = cpus().length;
  records.push({ case: c.name, ...await onnxPeer(c.name, web, onnx, { executionProviders: ['wasm'] }, x, shape, want, tolerance, ours.median_ms),
    impl: `onnxruntime-web ${web.env.versions.web} (wasm)`, adapter: `cpu (${cpus().length} threads, wasm simd)` });
  const native = await optionalImport<typeof import('onnxruntime-web')>('onnxruntime-node');
  if (native) {
    records.push({ case: c.name, ...await onnxPeer(c.name, native, onnx, { executionProviders: ['cpu'], intraOpNumThreads: cpus().length }, x, shape, want, tolerance, ours.median_ms),
      impl: `onnxruntime-node ${native.env.versions.node} (cpu)`, adapter: `cpu (${cpus().length} threads, native)` });
  } else if (c === cases[0]) {
    console.log('onnxruntime-node is not installed, so its figures are left out (it weighs 93 MB, so it is no dependency of ours: ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save onnxruntime-node@1.23.0)');
  }
  console.log(`${c.name}: fusionfm ${ours.median_ms} ms on ${rt.adapter.name}; ${torch.impl} ${theirs.median_ms.toFixed(1)} ms on ${torch.device} (PyTorch / ours ${(theirs.median_ms / ours.median_ms).toFixed(2)}x); outputs differ by ${torch.max_abs_diff.toExponential(2)}`);
  // the training step, last: it changes c.net's weights
  const opt = new AdamW(c.net.parameters(), { lr: 1e-3, eps: 1e-8, weightDecay: 0 });
  const step = () => scope(async () => {
    c.net.zeroGrad();
    const l = mseLoss(c.net.forward(tx, tt), ty);
    backward(l);
    await opt.step();
    return l.item();
  });
  const losses = [await step(), await step()];
  for (const [i, l] of losses.entries()) {
    const theirs = torchTrain.losses[i] as number;
    if (!(Math.abs(l - theirs) <= 1e-4 * Math.max(1e-3, Math.abs(theirs)) + 1e-6)) throw new Error(`${c.name}: training step ${i + 1} loss ${l} differs from PyTorch's ${theirs}`);
  }
  const { ours: ourTrain, theirs: theirTrain } = await againstPeer(peer, 'train', rounds, async () => { await step(); });
  peer.close();
  const theirLosses = torchTrain.losses as number[];
  records.push({ case: c.trainName, impl: 'fusionfm', adapter: rt.adapter.name, ...ourTrain, losses },
    { case: c.trainName, impl: torch.impl, device: torch.device, adapter: torch.device, ...theirTrain, losses: theirLosses, interleaved: true });
  console.log(`${c.trainName}: fusionfm ${ourTrain.median_ms} ms; ${torch.impl} ${theirTrain.median_ms.toFixed(1)} ms (PyTorch / ours ${(theirTrain.median_ms / ourTrain.median_ms).toFixed(2)}x); losses ${losses.map((l) => l.toPrecision(6)).join(', ')} vs ${theirLosses.map((l: number) => l.toPrecision(6)).join(', ')}`);
  for (const a of [x, tx, ty]) a.dispose();
}

/** The exported network run by one ONNX Runtime build (same API in both), checked against our output first. */
async function onnxPeer(name: string, ort: typeof import('onnxruntime-web'), onnx: string, options: object, x: Tensor, shape: number[], want: Float32Array, tolerance: number, oursMs: number) {
  const session = await ort.InferenceSession.create(readFileSync(onnx), { ...options }); // a copy: ORT writes into the options it is given
  const feeds = { x: new ort.Tensor('float32', await x.data(), shape) };
  const got = (await session.run(feeds)).y!.data as Float32Array;
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
  if (!(err <= tolerance)) throw new Error(`${name}: ONNX Runtime's output differs from ours by ${err}`);
  const { ort: o } = await interleaved({ ort: async () => { await session.run(feeds); } }, { warmup: 1, rounds });
  await session.release();
  console.log(`${name}: onnxruntime ${JSON.stringify(options)} ${o.median_ms} ms (ORT / ours ${(o.median_ms / oursMs).toFixed(2)}x); outputs differ by ${err.toExponential(2)}`);
  return { ...o, max_abs_diff: err };
}

/** a package that a benchmark uses where it is installed, without being a dependency */
async function optionalImport<T>(name: string): Promise<T | null> {
  try {
    return (await import(name)) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return null;
    throw e;
  }
}

const out = values.out ?? `bench/results/torch-peer-${adapterSlug(rt.adapter)}.json`;
writeBenchReport(out, provenance, { records });
rt.destroy();
