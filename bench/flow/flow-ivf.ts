/**
 * FusionFM on a dataset's test split (VIFB by default): one-step output vs its pseudo labels vs
 * the classical fusers, the coupling ablation (models trained with sum / average / gaussian flow
 * sources) and k = 1, 2, 4, 8 Euler steps, quality and time side by side. bench/flow/default-model.sh
 * runs it on every shared test split for the bundled four-task checkpoint.
 *
 *   node dist/bench/flow/flow-ivf.js --models sum=<model>,average=<model>,gaussian=<model>
 *        --labels <test-split pseudo labels folder> [--steps 1,2,4,8] [--other-steps 1,4] [--data ivf/VIFB] [--out bench/results/flow-ivf]
 *        [--held-out K: score the K validation pairs `fusionfm train --hold-out K` kept out of training, not the test split]
 *        [--tile-sides 112,176,128:16,default,whole,whole:128,whole:map: fuse at each net-input tile side (margin included; :16 an overlap of 16 px), the default tiles or in one piece
 *         (with the task's group norm window, windows of 128 px, or whole-map statistics), a row each]
 * (--steps for the first model, --other-steps for the rest; --pairs N: the first N test pairs;
 * --bounds-cache file.json keeps each pair's pool bounds, so that a machine without the candidate
 * folders, a GPU machine, scores on the same scale; --prepare-only writes it and stops; a cache of
 * bounds alone, written before the members' scores were kept, is recomputed)
 *
 * Quality: the task composite (each metric min-max normalised over the pair's candidate pool of
 * published methods + classical fusers, as in stage 1 of the pseudo labels) and the standard
 * metrics (VIFB convention). Where the dataset has published fused results, every row is also ranked
 * among the published methods alone, on their own per-pair scale (issue 20's top-three target).
 * Time: median wall time per image of the fusion call (luminance
 * network + colour), on the adapter named in the output.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from '../args.js';
import { useRuntime } from '../../src/autograd/tensor.js';
import { labelFileIn } from '../../src/cli/train.js';
import { fuseClassical, classicalNames } from '../../src/fusion/classical/index.js';
import { fuseImages } from '../../src/fusion/flow/fuse.js';
import type { Image } from '../../src/fusion/image.js';
import { luminance } from '../../src/fusion/colour.js';
import { getMetric, metricInput } from '../../src/fusion/metrics/index.js';
import { DEFAULT_WEIGHTS, greyTriple, rawScores, scoreWith, tableMetrics, type Bounds } from '../../src/fusion/pseudo/selection.js';
import { getNodeRuntime } from '../../src/gpu/node-device.js';
import { candidatePool, pairPoolBounds } from '../../src/io/candidates.js';
import { rankInSubPool, type PairForRanking } from '../../src/fusion/pseudo/pool-ranking.js';
import { gitCommit } from '../../src/io/provenance.js';
import { Dataset } from '../../src/io/dataset.js';
import { loadFlowModel } from '../../src/io/flow-checkpoint.js';
import { readImage, writePng } from '../../src/io/image.js';
import { InputError } from '../../src/util/errors.js';
import { summarize } from '../engine/timing.js';

const { values } = benchArgs(import.meta.url, { options: {
  models: { type: 'string' }, labels: { type: 'string' }, steps: { type: 'string', default: '1,2,4,8' },
  // the other couplings at fewer step counts keeps the run within a software GPU's budget
  'other-steps': { type: 'string', default: '1,4' },
  // the first N test pairs only (0: all), when the full split does not fit the time at hand
  pairs: { type: 'string', default: '0' },
  // K > 0: the K training pairs that `fusionfm train --hold-out K` kept out (validation) instead of the test split
  'held-out': { type: 'string', default: '0' },
  'bounds-cache': { type: 'string' }, 'prepare-only': { type: 'boolean', default: false },
  data: { type: 'string', default: 'ivf/VIFB' }, out: { type: 'string', default: 'bench/results/flow-ivf' },
  // net-input tile sides (margin included) to fuse at, each a row 'tile=<side>' (default: the default tiles, no suffix);
  // whole, whole:<px>, whole:map: one piece (with the task's norm window, or windows of <px>, or whole-map statistics)
  'tile-sides': { type: 'string' },
} });
if (!values.models && !values['prepare-only']) throw new Error('--models name=path,... is required');
const models = (values.models ?? '').split(',').filter(Boolean).map((s) => s.split('=') as [string, string]);
const steps = values.steps!.split(',').map(Number);
const otherSteps = values['other-steps']!.split(',').map(Number);
// each --tile-sides entry as its row's suffix (null: the default tiles, no suffix) and its fusion
// options: a side in pixels (optionally <side>:<overlap px>; by default a quarter of the side, at
// most 32), 'whole' (one piece), 'whole:<px>' or 'whole:map' (one piece with group norm windows of
// <px> net-input pixels, or statistics over the whole map) or 'default' (the default tiles)
const tileSides: { label: string | null; tiling: object }[] = values['tile-sides'] ? values['tile-sides'].split(',').map((v) => {
  if (v === 'default') return { label: null, tiling: {} };
  if (v === 'whole') return { label: v, tiling: { tiles: 'whole' } };
  if (v === 'whole:map') return { label: v, tiling: { tiles: 'whole', normWindow: null } };
  if (v.startsWith('whole:')) {
    const n = Number(v.slice(6));
    if (!Number.isInteger(n) || n < 1) throw new InputError(`--tile-sides: expected whole:<norm window in px> or whole:map, got '${v}'`);
    return { label: v, tiling: { tiles: 'whole', normWindow: n } };
  }
  const [n, ov] = v.split(':').map(Number) as [number, number | undefined];
  if (!Number.isInteger(n) || n < 16 || (ov !== undefined && !(Number.isInteger(ov) && ov >= 0))) {
    throw new InputError(`--tile-sides: expected sides of at least 16 px (optionally <side>:<overlap>), 'default', 'whole', 'whole:<px>' or 'whole:map', got '${v}'`);
  }
  return { label: ov === undefined ? String(n) : v, tiling: { maxTilePixels: n * n, overlap: ov ?? Math.min(32, n / 4) } };
}) : [{ label: null, tiling: {} }];
const rt = await getNodeRuntime();
useRuntime(rt);
const ds = new Dataset(values.data!);
const heldOut = Number(values['held-out']);
const scored = heldOut > 0 ? ds.trainHoldOut(heldOut).held : ds.split('test');
const pairs = Number(values.pairs) > 0 ? scored.slice(0, Number(values.pairs)) : scored;
const task = ds.id.split('/')[0] as 'ivf';
const weights = DEFAULT_WEIGHTS[task];
const selMetrics = tableMetrics(weights);
const stdMetrics = ['EN', 'SD', 'SF', 'AG', 'MI', 'VIF', 'Qabf', 'SSIM'].map((m) => getMetric(m, m === 'VIF' ? 'cddfuse' : 'vifb'));

interface Row { name: string; kind: string; coupling?: string; steps?: number; nfe?: number; ms: number[]; composite: number[]; metrics: number[][]; bias: number[] }
const rows = new Map<string, Row>();
const row = (name: string, kind: string, extra: Partial<Row> = {}) => {
  if (!rows.has(name)) rows.set(name, { name, kind, ms: [], composite: [], metrics: [], bias: [], ...extra });
  return rows.get(name)!;
};

// the task names the model must serve (a four-task checkpoint serves every task)
const loaded = models.map(([name, path]) => ({ name, ...loadFlowModel(path, task) }));
const cachePath = values['bounds-cache'];
const cache: Record<string, Bounds> = cachePath && existsSync(cachePath) ? JSON.parse(readFileSync(cachePath, 'utf8')) : {};
// the pool is read only for pairs the cache lacks (or holds as bounds alone)
let pool: ReturnType<typeof candidatePool> | null = null;
const poolFor = () => (pool ??= candidatePool(ds, { published: true, classical: true, folders: [] }));
const published = new Set(ds.methods());
const forRanking: PairForRanking[] = [];
const commit = gitCommit();
// the fused images, for looking at: runs/flow-<task>-<dataset>/<method>/<pair>.png
const imagesDir = join('runs', `flow-${ds.id.replace(/\//g, '-')}`);
// results are rewritten after every pair, so that a run cut short still leaves its figures
function writeResults(done: number): void {
  const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  const out = {
    bench: 'flow-ivf', dataset: ds.id, split: heldOut > 0 ? `train (${heldOut} held out)` : 'test', pairs: done, of_pairs: pairs.length, adapter: rt.adapter.name, commit,
    command: `node dist/bench/flow/flow-ivf.js ${process.argv.slice(2).join(' ')}`,
    composite_definition: `weighted mean of ${selMetrics.join(', ')} normalised per pair over the candidate pool (published + classical)`,
    metrics: stdMetrics.map((m) => m.id),
    rows: [...rows.values()].map((r) => ({
      name: r.name, kind: r.kind, coupling: r.coupling, steps: r.steps, nfe: r.nfe,
      median_ms: r.ms.every(Number.isNaN) ? null : summarize(r.ms).median_ms,
      composite: mean(r.composite),
      means: Object.fromEntries(stdMetrics.map((m, k) => [m.id, mean(r.metrics.map((v) => v[k]!))])),
      // |mean luminance of the output - of the pair's label|, grey levels (only with --labels)
      bias_grey_levels: r.bias.length ? mean(r.bias) : null,
    })),
    // every row on the published methods' own scale (absent where the dataset has none)
    published_pool: published.size ? rankInSubPool(forRanking, (n) => published.has(n), selMetrics, weights) : null,
  };
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(join(values.out!, 'results.json'), JSON.stringify(out, null, 1) + '\n');
  const f4 = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : Number(v.toPrecision(4)).toString());
  const md = [
    `# FusionFM on ${ds.id} ${heldOut > 0 ? 'held-out validation pairs' : 'test split'} (${done} of ${pairs.length} pairs)`, '',
    `Adapter: ${out.adapter}; commit ${commit}. Command: \`${out.command}\`.`, '',
    `Composite: ${out.composite_definition} (1 = best candidate of the pool). Time: median per image, whole fusion call.`, '',
    `| method | NFE | median ms | composite | ${out.metrics.join(' | ')} | bias vs label |`,
    `|---|---|---|---|${out.metrics.map(() => '---').join('|')}|---|`,
    ...out.rows.map((r) => `| ${r.name} | ${r.nfe ?? '-'} | ${f4(r.median_ms)} | ${f4(r.composite)} | ${out.metrics.map((m) => f4(r.means[m])).join(' | ')} | ${f4(r.bias_grey_levels)} |`),
    '',
  ];
  const pp = out.published_pool;
  if (pp?.members.length) {
    md.push(
      `## Among the ${pp.members.length} published methods alone`, '',
      'Composite with the published methods alone as each pair\'s pool (their own min-max scale); rank 1 = above all of them.', '',
      '| result | composite | rank among published |', '|---|---|---|',
      ...pp.results.map((r) => `| ${r.name} | ${f4(r.composite)} | ${r.rank} of ${r.of} |`), '',
      `Top three published: ${pp.members.slice(0, 3).map((m) => `${m.name} ${f4(m.composite)}`).join(', ')}.`, '',
    );
  }
  writeFileSync(join(values.out!, 'results.md'), md.join('\n'));
  if (done === pairs.length) console.log(md.join('\n'));
}
for (const [pi, p] of pairs.entries()) {
  const { a, b } = await ds.readPair(p);
  // the pair's scale: the candidate pool (copies of a source left out, as in selection)
  if (!cache[p.name]?.pool) {
    cache[p.name] = await pairPoolBounds(poolFor(), p.name, { a, b }, { a, b }, selMetrics);
    if (cachePath) writeFileSync(cachePath, JSON.stringify(cache, null, 1));
  }
  const bounds = cache[p.name]!;
  if (values['prepare-only']) continue;
  const pairRanking: PairForRanking = { pool: bounds.pool!, results: {} };
  forRanking.push(pairRanking);
  // the test pair's label, when --labels names them: what the intensity bias is measured against
  const labelFile = values.labels ? labelFileIn(values.labels, p.name) : undefined;
  const label = labelFile ? await readImage(labelFile) : null;
  const meanLuma = (img: Image) => { const y = luminance(img); let t = 0; for (const v of y) t += v; return (255 * t) / y.length; };
  const labelLuma = label ? meanLuma(label) : NaN;
  const record = (r: Row, f: Image, ms: number) => {
    r.ms.push(ms);
    if (label) r.bias.push(Math.abs(meanLuma(f) - labelLuma));
    const raw = rawScores(greyTriple(a, b, f), selMetrics);
    pairRanking.results[r.name] = raw;
    r.composite.push(scoreWith(bounds, r.name, raw, selMetrics, weights).composite);
    const input = metricInput(a, b, f);
    r.metrics.push(stdMetrics.map((m) => m.compute(input)));
  };
  for (const [mi, m] of loaded.entries()) for (const k of mi === 0 ? steps : otherSteps) for (const { label, tiling } of tileSides) {
    const name = `FusionFM-${m.name} k=${k}${label ? ` tile=${label}` : ''}`;
    const t0 = performance.now();
    const f = await fuseImages(m.net, a, b, { steps: k, coupling: m.meta.coupling, task, ...tiling });
    const ms = performance.now() - t0;
    const dir = join(imagesDir, name.replace(/[^\w=-]+/g, '_'));
    mkdirSync(dir, { recursive: true });
    writePng(join(dir, `${p.name}.png`), f, { overwrite: true });
    record(row(name, 'fusionfm', { coupling: m.meta.coupling, steps: k, nfe: k }), f, ms);
  }
  for (const c of classicalNames()) {
    const t0 = performance.now();
    const f = fuseClassical(c, a, b);
    record(row(`classical:${c}`, 'classical'), f, performance.now() - t0);
  }
  if (label) {
    const l = label;
    record(row('pseudo label (refined)', 'label'), l, NaN);
  }
  console.error(`${pi + 1}/${pairs.length} ${p.name}`);
  if (!values['prepare-only']) writeResults(pi + 1);
}

if (values['prepare-only']) process.exit(0);
rt.destroy();

