/**
 * What the first run on a machine pays before any kernel has been compiled: lavapipe compiles a
 * pipeline's shader with LLVM when its first dispatch executes, and Mesa keeps the result in its
 * on-disk shader cache (~/.cache/mesa_shader_cache_db), so only a machine's (or a Mesa
 * upgrade's) first run pays it. Two fresh processes share an empty cache folder of their own
 * (MESA_SHADER_CACHE_DIR; the user's cache is not touched): each loads the bundled model and runs
 * one FusionFM tile forward (176 px) twice under the profiler. The first process's first forward
 * carries the compiles (its kernels' GPU times include them); the second process finds them cached.
 *
 *   node dist/bench/flow/cold-compile.js [--checkpoint checkpoints/default.safetensors] [--side 176]
 *     [--out bench/results/cold-compile-<adapter>.json]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randn } from '../../src/autograd/create.js';
import { noGrad, tidy, useRuntime } from '../../src/autograd/tensor.js';
import { createNodeRuntime } from '../../src/gpu/node-device.js';
import { loadFlowModel } from '../../src/io/flow-checkpoint.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { benchArgs } from '../args.js';
import { benchProvenance, writeBenchReport } from '../engine/report.js';
import { round } from '../engine/timing.js';

const { values } = benchArgs(import.meta.url, {
  options: { checkpoint: { type: 'string', default: 'checkpoints/default.safetensors' }, side: { type: 'string', default: '176' }, out: { type: 'string' }, child: { type: 'boolean', default: false } },
});
const side = Number(values.side);
if (!Number.isInteger(side) || side < 16 || side % 16) throw new Error(`cold-compile: --side must be a multiple of 16, got '${values.side}'`);

interface Run { wall_ms: number; gpu_ms: number; kernels: { kernel: string; dispatches: number; gpu_ms: number }[] }
interface ChildResult { adapter: string; slug: string; runs: Run[] }

async function child(): Promise<void> {
  const rt = await createNodeRuntime({ profile: true });
  useRuntime(rt);
  const { net } = loadFlowModel(values.checkpoint!);
  const unet = net.unet;
  const x = randn([1, unet.config.inChannels, side, side], 13).keep();
  const runs: Run[] = [];
  for (let r = 0; r < 2; r++) {
    rt.startProfiling();
    const t0 = performance.now();
    tidy(() => { noGrad(() => unet.forward(x, [0.3])); });
    const kernels = await rt.stopProfiling();
    runs.push({ wall_ms: round(performance.now() - t0), gpu_ms: round(kernels.reduce((s, k) => s + k.gpu_ms, 0)), kernels: kernels.map((k) => ({ ...k, gpu_ms: round(k.gpu_ms) })) });
  }
  console.log(JSON.stringify({ adapter: rt.adapter.name, slug: adapterSlug(rt.adapter), runs } satisfies ChildResult));
  rt.destroy();
}

async function parent(): Promise<void> {
  const cache = mkdtempSync(join(tmpdir(), 'ffm-mesa-cache-'));
  const results: ChildResult[] = [];
  try {
    for (const name of ['empty cache', 'cache filled by the first process']) {
      const out = execFileSync(process.execPath, [process.argv[1]!, '--child', '--checkpoint', values.checkpoint!, '--side', String(side)], {
        env: { ...process.env, MESA_SHADER_CACHE_DIR: cache }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'],
      });
      const res = JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
      results.push(res);
      console.log(`${name}: first forward ${res.runs[0]!.wall_ms} ms, second ${res.runs[1]!.wall_ms} ms`);
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
  const cold = results[0]!.runs[0]!;
  console.log('costliest kernels of the first forward with an empty cache (GPU time, compile included):');
  for (const k of cold.kernels.slice(0, 8)) console.log(`  ${String(k.gpu_ms).padStart(9)} ms ${String(k.dispatches).padStart(3)}x ${k.kernel}`);
  const records = results.map((r, i) => ({
    case: `FusionFM default net forward ${side}x${side}, fresh process`, impl: i === 0 ? 'empty shader cache' : 'shader cache filled',
    first_forward: { wall_ms: r.runs[0]!.wall_ms, gpu_ms: r.runs[0]!.gpu_ms }, second_forward: { wall_ms: r.runs[1]!.wall_ms, gpu_ms: r.runs[1]!.gpu_ms },
    first_forward_kernels: r.runs[0]!.kernels,
  }));
  writeBenchReport(values.out ?? `bench/results/cold-compile-${results[0]!.slug}.json`, benchProvenance('cold-compile', results[0]!.adapter), { side, records });
}

await (values.child ? child() : parent());
