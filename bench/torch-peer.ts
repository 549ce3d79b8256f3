/**
 * Our U-Net against a PyTorch reference of the same network (bench/torch_unet.py) with the same
 * weights and input, checked to compute the same output, each timed on its own device: ours on
 * the WebGPU adapter at hand, PyTorch on CUDA where it has it, else on the CPU cores; and the
 * same network exported by PyTorch to ONNX, run by ONNX Runtime's WASM build (onnxruntime-web
 * in Node, SIMD, one thread per core; onnxruntime-node downloads its binaries at install time
 * from outside the npm registry, which this project cannot rely on). Runs where
 * python3 (or $PYTHON) has torch (Debian: apt-get install python3-torch, then PYTHON=/usr/bin/python3
 * where another python3 comes first on the PATH; the GPU machine's own PyTorch).
 *
 *   node dist/bench/torch-peer.js [--rounds 5] [--out bench/results/torch-peer-<adapter>.json]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { randn } from '../src/autograd/create.js';
import { noGrad, tidy, useRuntime } from '../src/autograd/tensor.js';
import { DEFAULT_VELOCITY, VelocityNet } from '../src/fusion/flow/model.js';
import { getNodeRuntime } from '../src/gpu/node-device.js';
import { adapterSlug, gitCommit } from '../src/io/provenance.js';
import { withInitSeed } from '../src/nn/module.js';
import { encodeSafetensors, type HostTensor } from '../src/nn/safetensors.js';
import { UNet } from '../src/nn/unet.js';
import { summarize } from './timing.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, out: { type: 'string' } } });
const rounds = Number(values.rounds);
const rt = await getNodeRuntime();
useRuntime(rt);
const cases = [
  { name: 'unet forward 128x128 (3->32->64->128)', net: withInitSeed(1, () => new UNet({ inChannels: 3, outChannels: 3, baseChannels: 32, channelMults: [1, 2, 4], blocksPerLevel: 1, attention: true, heads: 4, groups: 8, timeDim: 64, upsample: 'nearest' })), size: 128 },
  { name: 'FusionFM default net forward 176x176 (one fusion tile)', net: withInitSeed(1, () => new VelocityNet(DEFAULT_VELOCITY)).unet, size: 176 },
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
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ config: c.net.config, shape, t }));
  writeFileSync(join(dir, 'input.f32'), await x.data());
  const y = noGrad(() => c.net.forward(x, t));
  writeFileSync(join(dir, 'output.f32'), await y.data());
  y.dispose();
  const ms: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    const t0 = performance.now();
    tidy(() => { noGrad(() => c.net.forward(x, t)); });
    await rt.sync();
    if (r > 0) ms.push(performance.now() - t0);
  }
  const ours = summarize(ms);
  const onnx = join(dir, 'net.onnx');
  const torch = JSON.parse(execFileSync(process.env.PYTHON ?? 'python3', ['bench/torch_unet.py', dir, '--rounds', String(rounds), '--onnx', onnx], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').at(-1)!);
  if (!(torch.max_abs_diff <= 1e-3 * Math.max(1, torch.output_scale))) throw new Error(`${c.name}: PyTorch's output differs from ours by ${torch.max_abs_diff}`);
  records.push({ case: c.name, impl: 'fusionfm', adapter: rt.adapter.name, ...ours }, { case: c.name, ...torch, adapter: torch.device });
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = cpus().length;
  const session = await ort.InferenceSession.create(readFileSync(onnx), { executionProviders: ['wasm'] });
  const feeds = { x: new ort.Tensor('float32', await x.data(), shape) };
  const want = await noGrad(() => c.net.forward(x, t)).data();
  const got = (await session.run(feeds)).y!.data as Float32Array;
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
  if (!(err <= 1e-3 * Math.max(1, torch.output_scale))) throw new Error(`${c.name}: ONNX Runtime's output differs from ours by ${err}`);
  const oms: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await session.run(feeds);
    oms.push(performance.now() - t0);
  }
  const o = summarize(oms);
  records.push({ case: c.name, impl: `onnxruntime-web ${ort.env.versions.web} (wasm)`, adapter: `cpu (${cpus().length} threads, wasm simd)`, ...o, max_abs_diff: err });
  console.log(`${c.name}: onnxruntime wasm ${o.median_ms} ms (ORT / ours ${(o.median_ms / ours.median_ms).toFixed(2)}x); outputs differ by ${err.toExponential(2)}`);
  await session.release();
  console.log(`${c.name}: fusionfm ${ours.median_ms} ms on ${rt.adapter.name}; ${torch.impl} ${torch.median_ms.toFixed(1)} ms on ${torch.device} (PyTorch / ours ${(torch.median_ms / ours.median_ms).toFixed(2)}x); outputs differ by ${torch.max_abs_diff.toExponential(2)}`);
  x.dispose();
}
const commit = gitCommit();
const out = values.out ?? `bench/results/torch-peer-${adapterSlug(rt.adapter)}.json`;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ bench: 'torch-peer', adapter: rt.adapter.name, commit, command: `node dist/bench/torch-peer.js ${process.argv.slice(2).join(' ')}`, records }, null, 1) + '\n');
console.log(`wrote ${out}`);
rt.destroy();
