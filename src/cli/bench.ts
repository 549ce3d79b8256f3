/**
 * `fusionfm bench` (`npm run bench`): FusionFM against the diffusion baseline on one task's
 * test split, quality and time side by side, in one run on one adapter.
 *
 * Quality: centre crops (--crop, default 256) of the test pairs, fused by FusionFM with k Euler
 * steps and by the DDPM baseline with S DDIM steps; the task composite (metrics min-max
 * normalised over the pair's candidate pool, published + classical, cropped the same way; 1 =
 * best candidate) and standard metrics. Time: median wall time per image of the whole fusion
 * call on synthetic pairs of each --sizes entry. The speedup compares FusionFM k = 1 with DDIM
 * at the smallest S whose composite reaches FusionFM's (or the largest S run if none does).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtime } from '../autograd/tensor.js';
import { applyCrop, windowAt, type CropSpec } from '../fusion/augment.js';
import { fuseImages } from '../fusion/flow/fuse.js';
import type { LoadedFlowModel } from '../fusion/flow/model-file.js';
import { makeImage, type Image } from '../fusion/image.js';
import { getMetric, metricInput } from '../fusion/metrics/index.js';
import { DEFAULT_WEIGHTS, greyTriple, rawScores, scoreWith, tableMetrics, type Bounds, type Task } from '../fusion/pseudo/selection.js';
import { candidatePool, pairPoolBounds } from '../io/candidates.js';
import { adapterSlug, gitCommit } from '../io/provenance.js';
import { Dataset } from '../io/dataset.js';
import { writeFileAtomic } from '../io/checkpoint.js';
import { loadFlowModel } from '../io/flow-checkpoint.js';
import { syntheticPlane } from '../util/synthetic.js';
import { InputError } from '../util/errors.js';
import type { ProgressSink } from '../util/progress.js';
import { benchHtml } from './bench-report.js';
import type { BenchResult, EngineRecord, MethodRow } from './bench-result.js';

export type { BenchResult, EngineRecord, MethodRow } from './bench-result.js';

export interface BenchOptions {
  task: Task;
  data: string;
  flow: string;
  ddpm: string;
  flowSteps: number[];
  ddimSteps: number[];
  /** test pairs used for quality (0: all) */
  pairs: number;
  crop: number;
  sizes: [number, number][];
  rounds: number;
  out: string;
  command: string;
  /**
   * a JSON file of each test crop's pool bounds: read where it exists (the candidate folders are
   * then not needed, e.g. on a GPU machine), else computed and written
   */
  boundsCache?: string;
}

export const QUICK = { flowSteps: [1, 2, 4], ddimSteps: [1, 5, 10], pairs: 2, crop: 128, sizes: [[256, 256]] as [number, number][], rounds: 1 };
export const FULL = { flowSteps: [1, 2, 4], ddimSteps: [1, 5, 10, 25, 50, 100], pairs: 0, crop: 256, sizes: [[256, 256], [640, 480]] as [number, number][], rounds: 3 };

/** the test pairs a bench scores: the first n of the split (0: all) */
const testPairs = (ds: Dataset, n: number) => (n > 0 ? ds.split('test').slice(0, n) : ds.split('test'));
/** the centre crop of a pair, at most `size` and never larger than the image */
function centreCrop(full: { a: Image }, size: number): CropSpec {
  const c = Math.min(size, full.a.width, full.a.height);
  return windowAt((full.a.width - c) >> 1, (full.a.height - c) >> 1, c);
}

/** key of one crop's pool bounds in a bounds cache */
const boundsKey = (dataset: string, pair: string, crop: number) => `${dataset}/${pair}@${crop}`;

/**
 * The pool bounds of the test crops the bench scores (centre crops of o.crop), from o.boundsCache
 * where it holds them, else computed from the candidate pool; the cache is (re)written with every
 * crop it lacked. Returns them by pair name, and what the pool was: without the published results
 * (e.g. a machine without the candidate folders and no cache) it is the classical fusers alone,
 * another scale, which the report states.
 */
export async function benchBounds(o: Pick<BenchOptions, 'task' | 'data' | 'pairs' | 'crop' | 'boundsCache'>): Promise<{ bounds: Map<string, Bounds>; pool: string }> {
  const ds = new Dataset(o.data);
  const pairs = testPairs(ds, o.pairs);
  const sel = tableMetrics(DEFAULT_WEIGHTS[o.task]);
  let cache: Record<string, Bounds> = {};
  if (o.boundsCache && existsSync(o.boundsCache)) {
    try { cache = JSON.parse(readFileSync(o.boundsCache, 'utf8')) as Record<string, Bounds>; } catch (e) { throw new InputError(`--bounds-cache ${o.boundsCache}: not a JSON bounds file (${(e as Error).message})`); }
  }
  const missing = pairs.filter((p) => !cache[boundsKey(ds.id, p.name, o.crop)]);
  const pool = missing.length ? candidatePool(ds, { published: true, classical: true, folders: [] }) : [];
  const published = pool.filter((c) => !c.name.startsWith('classical:')).length;
  for (const p of missing) {
    const full = await ds.readPair(p);
    const crop = centreCrop(full, o.crop);
    cache[boundsKey(ds.id, p.name, o.crop)] = await pairPoolBounds(pool, p.name, full, { a: applyCrop(full.a, crop), b: applyCrop(full.b, crop) }, sel, crop);
  }
  if (missing.length && o.boundsCache) writeFileAtomic(o.boundsCache, Buffer.from(JSON.stringify(cache)));
  const computed = `${published} published methods + ${pool.length - published} classical fusers`;
  const poolText = !missing.length ? `read from ${o.boundsCache}` : missing.length < pairs.length ? `partly read from ${o.boundsCache}, ${missing.length} crops computed over ${computed}` : computed;
  return { bounds: new Map(pairs.map((p) => [p.name, cache[boundsKey(ds.id, p.name, o.crop)]!])), pool: poolText };
}

/**
 * The engine figures measured on this adapter (kernels and U-Net against TF.js-WebGPU) and the
 * peers measured beside it on this machine's CPU (TF.js-WASM, PyTorch, ONNX Runtime), as saved
 * in bench/results by their own commands; each keeps the commit it was measured at.
 */
export function engineRecords(dir: string, adapterName: string, slug: string): EngineRecord[] {
  const out: EngineRecord[] = [];
  for (const bench of ['kernels', 'cpu-peers', 'torch-peer']) {
    const file = join(dir, `${bench}-${slug}.json`);
    if (!existsSync(file)) continue;
    const json = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    // bench:kernels writes a bare array (older format, no commit); the peers write { commit, records }
    const { commit = '-', records } = Array.isArray(json) ? { records: json } : (json as { commit?: string; records: unknown[] });
    for (const r of records as { case: string; impl: string; adapter?: string; device?: string; median_ms: number; gflops?: number }[]) {
      out.push({ source: file, commit, case: r.case, impl: r.impl, device: r.device ?? r.adapter ?? adapterName, median_ms: r.median_ms, ...(r.gflops ? { gflops: r.gflops } : {}) });
    }
  }
  return out;
}

const STD = ['EN', 'SD', 'SF', 'MI', 'VIF', 'Qabf', 'SSIM'];
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

function load(path: string, task: Task, objective: 'flow' | 'ddpm', what: string): LoadedFlowModel {
  const m = loadFlowModel(path, task);
  if ((m.meta.objective ?? 'flow') !== objective) {
    m.net.dispose();
    throw new InputError(`${what} ${path}: a ${m.meta.objective ?? 'flow'} model, expected ${objective === 'flow' ? 'a FusionFM (flow) model' : 'a diffusion baseline (train it with --objective ddpm)'}`);
  }
  return m;
}

export async function runBench(o: BenchOptions, progress: ProgressSink): Promise<BenchResult> {
  // first, so that a missing pool fails before any model is loaded
  const { bounds: boundsByPair, pool } = await benchBounds(o);
  const flow = load(o.flow, o.task, 'flow', '--flow');
  const ddpm = load(o.ddpm, o.task, 'ddpm', '--ddpm');
  const sameNet = JSON.stringify(flow.meta.config) === JSON.stringify(ddpm.meta.config);
  const methods = [
    // both families in the same portable tiles, so that steps and seconds compare like for like
    // (the default 'auto' would fuse FusionFM in one piece for infrared-visible, medical and multi-focus pairs)
    ...o.flowSteps.map((k) => ({ name: `FusionFM k=${k}`, family: 'fusionfm' as const, steps: k, fuse: (a: Image, b: Image) => fuseImages(flow.net, a, b, { steps: k, coupling: flow.meta.coupling, task: o.task, tiles: 'portable' }) })),
    ...o.ddimSteps.map((s) => ({ name: `DDIM S=${s}`, family: 'ddim' as const, steps: s, fuse: (a: Image, b: Image) => fuseImages(ddpm.net, a, b, { steps: s, objective: 'ddpm', seed: 1, task: o.task, tiles: 'portable' }) })),
  ];
  const ds = new Dataset(o.data);
  const pairs = testPairs(ds, o.pairs);
  const weights = DEFAULT_WEIGHTS[o.task];
  const sel = tableMetrics(weights);
  const std = STD.map((m) => getMetric(m, m === 'VIF' ? 'cddfuse' : 'vifb'));
  const scores = methods.map(() => ({ composite: [] as number[], metrics: [] as number[][] }));
  const examples: { name: string; a: Image; b: Image; fused: Map<string, Image> } = { name: '', a: makeImage(1, 1, [new Float32Array(1)]), b: makeImage(1, 1, [new Float32Array(1)]), fused: new Map() };
  const total = pairs.length * methods.length + o.sizes.length * methods.length;
  let done = 0;
  for (const [pi, p] of pairs.entries()) {
    const full = await ds.readPair(p);
    const crop = centreCrop(full, o.crop);
    const a = applyCrop(full.a, crop);
    const b = applyCrop(full.b, crop);
    const bounds = boundsByPair.get(p.name)!;
    if (pi === 0) Object.assign(examples, { name: p.name, a, b });
    for (const [mi, m] of methods.entries()) {
      const f = await m.fuse(a, b);
      if (pi === 0) examples.fused.set(m.name, f);
      scores[mi]!.composite.push(scoreWith(bounds, m.name, rawScores(greyTriple(a, b, f), sel), sel, weights).composite);
      const input = metricInput(a, b, f);
      scores[mi]!.metrics.push(std.map((s) => s.compute(input)));
      progress({ task: 'quality', done: ++done, total, values: { pair: pi + 1 } });
    }
  }
  // time per image on synthetic pairs of each size (colour A, grey B), after one warm-up call
  const times = methods.map(() => new Map<string, number>());
  for (const [w, h] of o.sizes) {
    const a = makeImage(w, h, [syntheticPlane(w, h, 1), syntheticPlane(w, h, 2), syntheticPlane(w, h, 3)]);
    const b = makeImage(w, h, [syntheticPlane(w, h, 4)]);
    await methods[0]!.fuse(a, b);
    for (const [mi, m] of methods.entries()) {
      const ms: number[] = [];
      for (let r = 0; r < o.rounds; r++) {
        const t0 = performance.now();
        await m.fuse(a, b);
        ms.push(performance.now() - t0);
      }
      times[mi]!.set(`${w}x${h}`, Number(median(ms).toPrecision(4)));
      progress({ task: 'timing', done: ++done, total, values: { size: w * h } });
    }
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const rows: MethodRow[] = methods.map((m, mi) => ({
    name: m.name, family: m.family, steps: m.steps, nfe: m.steps,
    composite: mean(scores[mi]!.composite),
    metrics: Object.fromEntries(STD.map((s, k) => [s, mean(scores[mi]!.metrics.map((v) => v[k]!))])),
    ms: Object.fromEntries(times[mi]!),
  }));
  const one = rows.find((r) => r.family === 'fusionfm' && r.steps === 1) ?? rows[0]!;
  const ddim = rows.filter((r) => r.family === 'ddim').sort((x, y) => x.steps - y.steps);
  const match = ddim.find((r) => r.composite >= one.composite);
  const ref = match ?? ddim.at(-1)!;
  const speedup = o.sizes.map(([w, h]) => {
    const size = `${w}x${h}`;
    return { size, ddim_steps: ref.steps, matched: !!match, fusionfm_ms: one.ms[size]!, ddim_ms: ref.ms[size]!, ratio: Number((ref.ms[size]! / one.ms[size]!).toPrecision(4)) };
  });
  const rt = runtime();
  const result: BenchResult = {
    bench: 'fusionfm-vs-diffusion', adapter: rt.adapter.name, commit: gitCommit(), command: o.command, task: o.task, dataset: ds.id,
    pairs: pairs.map((p) => p.name), crop: o.crop, models: { flow: o.flow, ddpm: o.ddpm }, rows, speedup,
    engine: engineRecords(join('bench', 'results'), rt.adapter.name, adapterSlug(rt.adapter)),
    composite_definition: `weighted mean of ${sel.join(', ')} normalised per pair over the candidate pool (${pool}), on ${o.crop}x${o.crop} centre crops`,
  };
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'results.json'), JSON.stringify(result, null, 1) + '\n');
  writeFileSync(join(o.out, 'report.html'), benchHtml(result, examples, sameNet));
  flow.net.dispose();
  ddpm.net.dispose();
  return result;
}
