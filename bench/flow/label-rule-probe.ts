/**
 * Which per-pixel choice rule would make better infrared-visible training labels than the max
 * fuser, whose output the bundled model imitates (and ends just below): each rule fuses a
 * dataset's train pairs (the K pairs `fusionfm train --hold-out K` keeps out are reported apart,
 * since a rule chosen on them would not be judged fairly there), scored by the task composite
 * against each pair's pool of published methods and classical fusers (the scale of stage 1 and of
 * flow-ivf). Rules: the max fuser; region max (per pixel the source whose Gaussian-blurred
 * luminance, sigma px, is brighter: the max fuser's rule by regions, so textures are copied
 * whole); and region max with its choice map feathered by a Gaussian of f px. No training: it says
 * whether a label rule has room, not whether a net learns it.
 *
 *   node dist/bench/flow/label-rule-probe.js [--data ivf/VIFB] [--held-out 2] [--sigmas 2,5,8,12,16,20,28,40]
 *     [--feathers 16:2,16:4] [--bounds-cache runs/bounds-<ds>-train.json] [--out bench/results/label-rule-probe]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from '../args.js';
import { fuseClassical } from '../../src/fusion/classical/index.js';
import { convolveSeparable, gaussianKernel, grid } from '../../src/fusion/classical/grid.js';
import { fuseColour } from '../../src/fusion/colour.js';
import { checkTask, DEFAULT_WEIGHTS, greyTriple, rawScores, scoreWith, tableMetrics, type Bounds } from '../../src/fusion/pseudo/selection.js';
import { candidatePool, pairPoolBounds } from '../../src/io/candidates.js';
import { Dataset } from '../../src/io/dataset.js';
import { gitCommit } from '../../src/io/provenance.js';

const { values } = benchArgs(import.meta.url, { options: {
  data: { type: 'string', default: 'ivf/VIFB' }, 'held-out': { type: 'string', default: '2' },
  sigmas: { type: 'string', default: '2,5,8,12,16,20,28,40' }, feathers: { type: 'string', default: '16:2,16:4' },
  'bounds-cache': { type: 'string' }, out: { type: 'string', default: 'bench/results/label-rule-probe' },
} });
const ds = new Dataset(values.data!);
const task = checkTask(ds.id.split('/')[0]);
const weights = DEFAULT_WEIGHTS[task];
const metrics = tableMetrics(weights);

/** Per pixel the source whose luminance blurred by sigma is brighter; the choice map blurred by `feather` px (0: hard). */
function regionMax(sigma: number, feather: number) {
  return (a: Float32Array, b: Float32Array, w: number, h: number): Float32Array => {
    const k = gaussianKernel(Math.ceil(3 * sigma), sigma);
    const ba = convolveSeparable(grid(w, h, a), k).d;
    const bb = convolveSeparable(grid(w, h, b), k).d;
    let choice: Float32Array = Float32Array.from(a, (_, i) => (ba[i]! >= bb[i]! ? 1 : 0));
    if (feather > 0) choice = convolveSeparable(grid(w, h, choice), gaussianKernel(Math.ceil(3 * feather), feather)).d;
    return Float32Array.from(a, (v, i) => choice[i]! * v + (1 - choice[i]!) * b[i]!);
  };
}

const rules: [string, ReturnType<typeof regionMax> | null][] = [['max', null]];
for (const s of values.sigmas!.split(',').filter(Boolean).map(Number)) rules.push([`region max, sigma ${s}`, regionMax(s, 0)]);
for (const sf of values.feathers!.split(',').filter(Boolean)) {
  const [s, f] = sf.split(':').map(Number) as [number, number];
  rules.push([`region max, sigma ${s}, feathered ${f}`, regionMax(s, f)]);
}

const { train: kept, held } = ds.trainHoldOut(Number(values['held-out']));
const heldNames = new Set(held.map((p) => p.name));
const pairs = [...kept, ...held];
const cachePath = values['bounds-cache'];
const cache: Record<string, Bounds> = cachePath && existsSync(cachePath) ? JSON.parse(readFileSync(cachePath, 'utf8')) : {};
const pool = candidatePool(ds, { published: true, classical: true, folders: [] });
const scores = new Map<string, { pair: string; composite: number }[]>();
for (const [i, p] of pairs.entries()) {
  const { a, b } = await ds.readPair(p);
  if (!cache[p.name]) {
    cache[p.name] = await pairPoolBounds(pool, p.name, { a, b }, { a, b }, metrics);
    if (cachePath) writeFileSync(cachePath, JSON.stringify(cache));
  }
  for (const [name, rule] of rules) {
    const f = rule ? fuseColour(a, b, (ya, yb) => rule(ya, yb, a.width, a.height), name) : fuseClassical('max', a, b);
    const composite = scoreWith(cache[p.name]!, name, rawScores(greyTriple(a, b, f), metrics), metrics, weights).composite;
    if (!scores.has(name)) scores.set(name, []);
    scores.get(name)!.push({ pair: p.name, composite });
  }
  console.log(`${i + 1}/${pairs.length} ${p.name}`);
}
const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const rows = [...scores].map(([name, s]) => ({
  rule: name,
  train: Number(mean(s.filter((x) => !heldNames.has(x.pair)).map((x) => x.composite)).toFixed(4)),
  held_out: held.length ? Number(mean(s.filter((x) => heldNames.has(x.pair)).map((x) => x.composite)).toFixed(4)) : null,
  pairs: Object.fromEntries(s.map((x) => [x.pair, Number(x.composite.toFixed(4))])),
}));
mkdirSync(values.out!, { recursive: true });
const command = `node dist/bench/flow/label-rule-probe.js ${process.argv.slice(2).join(' ')}`;
writeFileSync(join(values.out!, 'results.json'), JSON.stringify({ bench: 'label-rule-probe', dataset: ds.id, commit: gitCommit(), command, metrics, weights, held_out: [...heldNames], rows }, null, 1) + '\n');
const md = [
  `# Label rules on ${ds.id}'s train pairs`, '',
  `Commit ${gitCommit()}. Command: \`${command}\`.`, '',
  `Task composite (${metrics.join(', ')}, weights as stage 1) against each pair's pool; "train": the ${kept.length} pairs training uses, "held-out": the ${held.length} it keeps out (${[...heldNames].join(', ')}).`, '',
  '| rule | train | held-out |', '|---|---|---|',
  ...rows.map((r) => `| ${r.rule} | ${r.train.toFixed(4)} | ${r.held_out?.toFixed(4) ?? '-'} |`), '',
];
writeFileSync(join(values.out!, 'results.md'), md.join('\n'));
console.log(md.join('\n'));
