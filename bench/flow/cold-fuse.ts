/**
 * What a one-shot user of `fusionfm fuse` waits for: a fresh process loads the bundled model and
 * fuses one W x H pair once (pipelines compiled, buffers made on the way), then once more (warm).
 * Reported per environment variant (settings read when the process starts, e.g. FFM_POOL_PARK):
 * the first and second fusion's wall time, the process's peak RSS and the bytes of GPU buffers the
 * runtime's pool made. Each round starts one process per variant, in alternating order.
 *
 *   node dist/bench/flow/cold-fuse.js --variants 'reuse=FFM_POOL_PARK:0;park=FFM_POOL_PARK:1' [--rounds 3]
 *     [--size 640x480] [--tiles whole|portable] [--task <t>: default the model's first] [--out bench/results/cold-fuse-<adapter>.json]
 */
import { execFileSync } from 'node:child_process';
import { benchArgs } from '../args.js';
import { useRuntime } from '../../src/autograd/tensor.js';
import { fuseImages } from '../../src/fusion/flow/fuse.js';
import { makeImage } from '../../src/fusion/image.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { loadFlowModel } from '../../src/io/flow-checkpoint.js';
import { adapterSlug } from '../../src/io/provenance.js';
import { syntheticPlane as texture } from '../../src/util/synthetic.js';
import { benchProvenance, writeBenchReport } from '../engine/report.js';
import { namedSettings, summarize } from '../engine/timing.js';

const { values } = benchArgs(import.meta.url, {
  options: {
    variants: { type: 'string' }, rounds: { type: 'string', default: '3' }, size: { type: 'string', default: '640x480' },
    tiles: { type: 'string', default: 'whole' }, out: { type: 'string' }, child: { type: 'boolean', default: false },
    checkpoint: { type: 'string', default: 'checkpoints/default.safetensors' }, task: { type: 'string' },
  },
});
const size = /^(\d+)x(\d+)$/.exec(values.size!);
if (!size) throw new Error(`cold-fuse: --size expects WxH such as 640x480, got '${values.size}'`);
if (values.tiles !== 'whole' && values.tiles !== 'portable') throw new Error(`cold-fuse: --tiles must be whole or portable, got '${values.tiles}'`);
const [W, H] = [Number(size[1]), Number(size[2])];

interface ChildResult { adapter: string; slug: string; first_ms: number; second_ms: number; peak_rss_mib: number; pool_allocated_mib: number }

async function child(): Promise<void> {
  const rt = await getNodeRuntime();
  useRuntime(rt);
  const { net } = loadFlowModel(values.checkpoint!);
  const task = values.task ?? net.conditionTasks[0];
  const a = makeImage(W, H, [texture(W, H, 1), texture(W, H, 2), texture(W, H, 3)]);
  const b = makeImage(W, H, [texture(W, H, 4)]);
  const opts = { steps: 1, task, tiles: values.tiles as 'whole' | 'portable' };
  let t0 = performance.now();
  await fuseImages(net, a, b, opts);
  const first = performance.now() - t0;
  t0 = performance.now();
  await fuseImages(net, a, b, opts);
  const second = performance.now() - t0;
  const res: ChildResult = {
    adapter: rt.adapter.name, slug: adapterSlug(rt.adapter), first_ms: Math.round(first), second_ms: Math.round(second),
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024), pool_allocated_mib: Math.round(rt.stats().allocatedBytes / 2 ** 20),
  };
  console.log(JSON.stringify(res));
  net.dispose();
  rt.destroy();
}

async function parent(): Promise<void> {
  if (!values.variants) throw new Error("cold-fuse: --variants 'name=VAR:value,...;name2=...' is required");
  const variants = namedSettings(values.variants, 'cold-fuse --variants');
  const rounds = Number(values.rounds);
  const results: Record<string, ChildResult[]> = Object.fromEntries(variants.map(([n]) => [n, []]));
  const passOn = ['--child', '--size', values.size!, '--tiles', values.tiles!, '--checkpoint', values.checkpoint!, ...(values.task ? ['--task', values.task] : [])];
  for (let r = 0; r < rounds; r++) {
    for (const [name, env] of r % 2 === 0 ? variants : [...variants].reverse()) {
      const out = execFileSync(process.execPath, [process.argv[1]!, ...passOn], { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const res = JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
      results[name]!.push(res);
      console.log(`round ${r + 1} ${name}: first ${res.first_ms} ms, second ${res.second_ms} ms, peak RSS ${res.peak_rss_mib} MiB, pool ${res.pool_allocated_mib} MiB`);
    }
  }
  const first = results[variants[0]![0]]![0]!;
  const records = variants.map(([name, env]) => {
    const rs = results[name]!;
    return { case: `fuse ${W}x${H} (${values.tiles}) in a fresh process`, impl: name, env, first: summarize(rs.map((x) => x.first_ms)), second: summarize(rs.map((x) => x.second_ms)), peak_rss_mib: summarize(rs.map((x) => x.peak_rss_mib)), pool_allocated_mib: summarize(rs.map((x) => x.pool_allocated_mib)) };
  });
  writeBenchReport(values.out ?? `bench/results/cold-fuse-${first.slug}.json`, benchProvenance('cold-fuse', first.adapter), { size: `${W}x${H}`, tiles: values.tiles, rounds, records });
}

if (values.child) await child();
else await parent();
