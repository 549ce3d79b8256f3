/**
 * What a multi-exposure model would gain from the exposure fuser's image-wide structure, without
 * training anything: per pair, the model's fused image with its Laplacian pyramid levels from
 * --from-level down (the exposure fuser's depth; default: only the coarsest) replaced by the
 * exposure fuser's, scored by the task composite. The scale is each pair's stage-1 pool, read from
 * a `fusionfm pseudo-gt` scores.csv, so the pairs need not have a bounds cache (train pairs). A
 * rise says a net that sees the whole image (and so could learn those levels) has room to gain; a
 * fall says the coarse part only helps together with the fuser's own detail.
 *
 *   node dist/bench/flow/tone-oracle.js --fused <folder of the model's outputs, <pair>.png> \
 *     --scores bench/results/exposure-fuser/stage1-scores-train.csv [--data mef/MEFB] [--split train] [--from-level 5]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs } from '../args.js';
import { exposureLevels } from '../../src/fusion/classical/exposure.js';
import { fuseClassical } from '../../src/fusion/classical/index.js';
import { grid } from '../../src/fusion/classical/grid.js';
import { collapse, laplacianPyramid } from '../../src/fusion/classical/pyramid.js';
import { rgbToYCbCr, yCbCrToRgb } from '../../src/fusion/colour.js';
import { makeImage, planeOrGrey, type Image } from '../../src/fusion/image.js';
import { DEFAULT_WEIGHTS, greyTriple, poolBounds, rawScores, scoreWith, tableMetrics } from '../../src/fusion/pseudo/selection.js';
import { Dataset, parseCsv } from '../../src/io/dataset.js';
import { readImage } from '../../src/io/image.js';

const { values } = benchArgs(import.meta.url, { options: {
  fused: { type: 'string' }, scores: { type: 'string' }, data: { type: 'string', default: 'mef/MEFB' },
  split: { type: 'string', default: 'train' }, 'from-level': { type: 'string' },
} });
if (!values.fused || !values.scores) throw new Error('tone-oracle: --fused and --scores are required');
const split = values.split as 'train' | 'test' | 'all';
const ds = new Dataset(values.data!);
const weights = DEFAULT_WEIGHTS.mef;
const metrics = tableMetrics(weights);
const rows = parseCsv(readFileSync(values.scores, 'utf8'), values.scores);

/** `img` with its luminance pyramid's levels from `from` on taken from `ref`; chroma kept. */
function swapCoarse(img: Image, ref: Image, from: number | undefined): Image {
  const { width: w, height: h } = img;
  const levels = exposureLevels(w, h);
  const ycc = (im: Image) => rgbToYCbCr(planeOrGrey(im, 0), planeOrGrey(im, 1), planeOrGrey(im, 2));
  const y = ycc(img);
  const yRef = ycc(ref);
  const p = laplacianPyramid(grid(w, h, y.y), levels);
  const q = laplacianPyramid(grid(w, h, yRef.y), levels);
  for (let l = from ?? p.length - 1; l < p.length; l++) p[l] = q[l]!;
  return makeImage(w, h, yCbCrToRgb({ y: collapse(p).d, cb: y.cb, cr: y.cr }));
}

const from = values['from-level'] === undefined ? undefined : Number(values['from-level']);
const names = ['model', 'model, coarse levels swapped', 'classical:laplacian', 'classical:exposure'] as const;
const sums = names.map(() => 0);
let n = 0;
for (const p of ds.split(split)) {
  const pool = rows.filter((r) => r.pair === p.name).map((r) => ({ raw: metrics.map((m) => Number(r[m])) }));
  if (!pool.length) throw new Error(`tone-oracle: ${values.scores} has no rows for pair ${p.name}`);
  const bounds = poolBounds(pool, metrics);
  const { a, b } = await ds.readPair(p);
  const score = (f: Image) => scoreWith(bounds, 'x', rawScores(greyTriple(a, b, f), metrics), metrics, weights).composite;
  const model = await readImage(join(values.fused, `${p.name}.png`));
  const exposure = fuseClassical('exposure', a, b);
  const s = [score(model), score(swapCoarse(model, exposure, from)), score(fuseClassical('laplacian', a, b)), score(exposure)];
  s.forEach((v, i) => (sums[i]! += v));
  n++;
  console.log(`${p.name}: ${names.map((k, i) => `${k} ${s[i]!.toFixed(3)}`).join(', ')}`);
}
console.log(`mean of ${n} pairs (levels from ${from ?? 'the coarsest'} swapped): ${names.map((k, i) => `${k} ${(sums[i]! / n).toFixed(4)}`).join(', ')}`);
