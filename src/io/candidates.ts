/**
 * The candidate pool of a pair for pseudo-label selection: the dataset's published fused
 * results, our classical fusers (computed on the fly) and any folders a user adds. A candidate
 * that is missing or mis-sized for a pair is reported (file and reason) and left out of that
 * pair's pool, never silently dropped.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { classicalNames, fuseClassical } from '../fusion/classical/index.js';
import { applyCrop, type CropSpec } from '../fusion/augment.js';
import type { Image } from '../fusion/image.js';
import { copyOfSource, greyTriple, poolBounds, rawScores, type Bounds } from '../fusion/pseudo/selection.js';
import { InputError } from '../util/errors.js';
import type { Dataset } from './dataset.js';
import { readImage } from './image.js';

export interface Candidate {
  name: string;
  /** the fused image for a pair, or a reason it is unusable */
  load(pair: string, a: Image, b: Image): Promise<Image | { skip: string }>;
}

export interface PoolOptions {
  published: boolean;
  classical: boolean;
  /** extra folders of fused images named by pair */
  folders: string[];
}

function folderCandidate(name: string, dir: string, describe: (pair: string) => string): Candidate {
  const files = existsSync(dir) ? readdirSync(dir) : [];
  return {
    name,
    async load(pair, a) {
      const f = files.find((n) => n.replace(/\.[^.]+$/, '') === pair);
      if (!f) return { skip: `${describe(pair)}: missing` };
      let img: Image;
      try {
        img = await readImage(join(dir, f));
      } catch (e) {
        return { skip: `${join(dir, f)}: unreadable (${(e as Error).message})` };
      }
      if (img.width !== a.width || img.height !== a.height) return { skip: `${join(dir, f)}: ${img.width}x${img.height}, the pair is ${a.width}x${a.height}` };
      return img;
    },
  };
}

export function candidatePool(ds: Dataset, o: PoolOptions): Candidate[] {
  const out: Candidate[] = [];
  if (o.published) for (const m of ds.methods()) {
    const dir = join(ds.dir, 'candidates', m);
    out.push(folderCandidate(m, dir, (pair) => `${dir}/${pair}.*`));
  }
  if (o.classical) for (const c of classicalNames()) out.push({ name: `classical:${c}`, load: async (_p, a, b) => fuseClassical(c, a, b) });
  for (const f of o.folders) {
    const dir = resolve(f);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError(`--candidates: ${dir} is not a folder`);
    out.push(folderCandidate(`folder:${basename(dir)}`, dir, (pair) => `${dir}/${pair}.*`));
  }
  if (!out.length) throw new InputError(`${ds.id}: the candidate pool is empty (no published candidates, classical fusers off, no --candidates folders)`);
  return out;
}

/**
 * The scale a pair's results are scored on: each selection metric's range over the pool,
 * candidates that copy a source left out (as in stage-1 selection). `view` is what is scored,
 * the pair itself or a crop of it (`crop`, applied to every candidate as well). The members' raw
 * scores come with the bounds (`pool`).
 */
export async function pairPoolBounds(pool: Candidate[], pair: string, full: { a: Image; b: Image }, view: { a: Image; b: Image }, metrics: readonly string[], crop?: CropSpec): Promise<Bounds> {
  const raws: { name: string; raw: number[] }[] = [];
  for (const c of pool) {
    const f = await c.load(pair, full.a, full.b);
    if ('skip' in f) continue;
    const g = greyTriple(view.a, view.b, crop ? applyCrop(f, crop) : f);
    if (!copyOfSource(g)) raws.push({ name: c.name, raw: rawScores(g, metrics) });
  }
  // the members' scores are kept so that a sub-pool (the published methods alone) can be ranked later
  return { ...poolBounds(raws, metrics), pool: raws };
}
