/**
 * Training labels that average two fusion methods' results, the same two on every pair of a
 * split: a label a notch above either method (on MEFB's train pairs the Laplacian pyramid scores
 * 0.900 and FMMEF 0.891, their average 0.925; bench/results/pseudo-gt/blend-labels/), whose tone does not
 * change from pair to pair as a per-pair pick's does.
 *
 *   node dist/scripts/blend-labels.js --data mef/MEFB --split train --methods classical:laplacian,FMMEF --out <dir>
 *
 * Methods are candidate names as `fusionfm pseudo-gt` scores them: `classical:<fuser>` or a
 * published method's folder under the dataset's candidates/. Writes <dir>/<pair>.png; refuses a
 * <dir> that already holds labels, and a pair that a method has no result for.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { averageImages, type Image } from '../src/fusion/image.js';
import { candidatePool } from '../src/io/candidates.js';
import { Dataset } from '../src/io/dataset.js';
import { writePng } from '../src/io/image.js';
import { InputError } from '../src/util/errors.js';

const { values } = parseArgs({ options: { data: { type: 'string' }, split: { type: 'string', default: 'train' }, methods: { type: 'string' }, out: { type: 'string' } } });
if (!values.data || !values.methods || !values.out) throw new InputError('usage: blend-labels --data <task/dataset> [--split train|test] --methods <a>,<b> --out <dir>');
if (values.split !== 'train' && values.split !== 'test') throw new InputError(`--split must be train or test, got '${values.split}'`);
const names = values.methods.split(',').map((s) => s.trim());
if (names.length !== 2 || names[0] === names[1]) throw new InputError(`--methods takes two different candidate names, got '${values.methods}'`);
if (existsSync(values.out) && readdirSync(values.out).some((f) => f.endsWith('.png'))) throw new InputError(`${values.out}: already holds labels; not overwritten`);
const ds = new Dataset(values.data);
const pool = candidatePool(ds, { published: true, classical: true, folders: [] });
const methods = names.map((n) => pool.find((c) => c.name === n) ?? (() => { throw new InputError(`--methods: no candidate '${n}' in ${ds.id} (candidates: ${pool.map((c) => c.name).join(', ')})`); })());
const pairs = ds.split(values.split);
// every result first, so that a missing one leaves no partial folder behind
const labels = [];
for (const p of pairs) {
  const pair = ds.pair(p.name);
  const { a, b } = await ds.readPair(pair);
  const [ix, iy] = await Promise.all(methods.map(async (m) => {
    const r = await m.load(p.name, a, b);
    if ('skip' in r) throw new InputError(`${ds.id} pair '${p.name}', ${m.name}: ${r.skip}`);
    return r;
  })) as [Image, Image];
  labels.push({ name: p.name, image: averageImages(ix, iy, `average of ${names.join(' and ')}`) });
}
mkdirSync(values.out, { recursive: true });
for (const l of labels) writePng(join(values.out, `${l.name}.png`), l.image, { overwrite: false });
console.log(`${labels.length} labels of ${ds.id} (${values.split}) in ${values.out}: the average of ${names.join(' and ')}`);
