/**
 * The shared data layout (see ../shared/data/README.md): <root>/<task>/<dataset>/ with
 * pairs.csv, a/, b/, candidates/<method>/, metrics/*.csv, and <root>/splits.json.
 * One setting names the root: FUSIONFM_DATA (default ../shared/data from the project root).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../util/errors.js';
import { readImage } from './image.js';
import type { Image } from '../fusion/image.js';

/** The shared datasets of each task (what training uses when --data is not given). */
export const DEFAULT_DATASETS = {
  ivf: ['ivf/VIFB'],
  mif: ['mif/CDDFuse_MRI-CT', 'mif/CDDFuse_MRI-PET', 'mif/CDDFuse_MRI-SPECT'],
  mef: ['mef/MEFB'],
  mff: ['mff/Lytro'],
} as const;

export function dataRoot(): string {
  return resolve(process.env.FUSIONFM_DATA ?? join(process.cwd(), '..', 'shared', 'data'));
}

export function hasData(root = dataRoot()): boolean {
  return existsSync(join(root, 'splits.json'));
}

export interface PairEntry {
  name: string;
  a: string;
  b: string;
}

/** Minimal CSV parsing (quoted fields with commas, no embedded newlines): rows as objects. */
export function parseCsv(text: string, source: string): Record<string, string>[] {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const split = (line: string) => {
    const out: string[] = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (ch === '"') {
        if (q && line[i + 1] === '"') {
          cur += '"';
          i++;
        } else q = !q;
      } else if (ch === ',' && !q) {
        out.push(cur);
        cur = '';
      } else cur += ch;
    }
    out.push(cur);
    return out;
  };
  if (!lines.length) throw new InputError(`${source}: empty CSV file`);
  const header = split(lines[0]!);
  return lines.slice(1).map((l, i) => {
    const cells = split(l);
    if (cells.length !== header.length) throw new InputError(`${source}: line ${i + 2} has ${cells.length} fields, the header has ${header.length}`);
    return Object.fromEntries(header.map((h, k) => [h, cells[k]!]));
  });
}

const TASK_NAMES = ['ivf', 'mif', 'mef', 'mff'] as const;
const IMAGE_EXT = /\.(png|jpe?g)$/i;

function isDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

/** Pairs of a plain folder: a/<name>.<ext> with b/<name>.<ext> (any image extension on each side). */
function plainPairs(dir: string): PairEntry[] {
  const byName = (side: string) => new Map(readdirSync(join(dir, side)).filter((f) => IMAGE_EXT.test(f)).map((f) => [f.replace(IMAGE_EXT, ''), f]));
  const a = byName('a');
  const b = byName('b');
  const pairs = [...a.keys()].filter((n) => b.has(n)).sort().map((n) => ({ name: n, a: `a/${a.get(n)}`, b: `b/${b.get(n)}` }));
  if (!pairs.length) throw new InputError(`${dir}: no pairs (a/ and b/ hold no images of the same name; expected e.g. a/01.png with b/01.png)`);
  return pairs;
}

export class Dataset {
  readonly dir: string;
  readonly pairs!: PairEntry[];

  /** `id` is "<task>/<dataset>", e.g. "ivf/VIFB"; or pass an absolute directory. */
  constructor(readonly id: string, readonly root = dataRoot()) {
    this.dir = existsSync(id) && statSync(id).isDirectory() ? resolve(id) : join(root, id);
    const csv = join(this.dir, 'pairs.csv');
    if (!existsSync(csv) && isDir(join(this.dir, 'a')) && isDir(join(this.dir, 'b'))) {
      this.pairs = plainPairs(this.dir);
      return;
    }
    if (!existsSync(csv)) throw new InputError(`${this.dir}: no pairs.csv, and no a/ and b/ folders (expected a dataset folder with pairs.csv, or a/ and b/ holding same-named images)`);
    this.pairs = parseCsv(readFileSync(csv, 'utf8'), csv).map((r) => {
      if (!r.name || !r.a || !r.b) throw new InputError(`${csv}: rows need name, a and b columns`);
      return { name: r.name, a: r.a, b: r.b };
    });
    if (!this.pairs.length) throw new InputError(`${csv}: no pairs listed`);
  }

  /** Whether splits.json names this dataset's train/test pairs. */
  hasSplits(): boolean {
    const path = join(this.root, 'splits.json');
    return existsSync(path) && JSON.parse(readFileSync(path, 'utf8')).splits?.[this.id] !== undefined;
  }

  /** The task a dataset belongs to, read from its id or folder path (…/<task>/<dataset>), or null. */
  task(): string | null {
    const parts = [...this.id.split(/[\\/]/), ...this.dir.split(/[\\/]/).slice(-2)];
    return parts.find((p) => (TASK_NAMES as readonly string[]).includes(p)) ?? null;
  }

  /** Pair names of a split from splits.json ('all' for every pair). */
  split(which: 'train' | 'test' | 'all'): PairEntry[] {
    if (which === 'all') return this.pairs;
    const path = join(this.root, 'splits.json');
    if (!existsSync(path)) throw new InputError(`${path}: splits.json not found (needed for --split ${which})`);
    const splits = JSON.parse(readFileSync(path, 'utf8')).splits?.[this.id]?.[which] as string[] | undefined;
    if (!splits) throw new InputError(`${path}: no '${which}' split for ${this.id}`);
    const names = new Set(splits);
    return this.pairs.filter((p) => names.has(p.name));
  }

  /**
   * The train split without `holdOut` pairs, and those pairs: a validation set carved from the
   * training pairs (what settings are chosen by; the test split never is), at evenly spaced
   * positions of the split (heldOutIndices), so training and scoring agree on it by count alone.
   */
  trainHoldOut(holdOut: number): { train: PairEntry[]; held: PairEntry[] } {
    const all = this.split(this.hasSplits() ? 'train' : 'all');
    const picked = heldOutIndices(all.length, holdOut, `${this.id}: hold-out`);
    return { train: all.filter((_, i) => !picked.has(i)), held: all.filter((_, i) => picked.has(i)) };
  }

  pair(name: string): PairEntry {
    const p = this.pairs.find((q) => q.name === name);
    if (!p) throw new InputError(`${this.id}: no pair named '${name}'`);
    return p;
  }

  async readPair(p: PairEntry): Promise<{ a: Image; b: Image }> {
    const a = await readImage(join(this.dir, p.a));
    const b = await readImage(join(this.dir, p.b));
    if (a.width !== b.width || a.height !== b.height) {
      throw new InputError(`${this.id} pair '${p.name}': ${p.a} is ${a.width}x${a.height} but ${p.b} is ${b.width}x${b.height}`);
    }
    return { a, b };
  }

  methods(): string[] {
    const dir = join(this.dir, 'candidates');
    return existsSync(dir) ? readdirSync(dir).filter((m) => statSync(join(dir, m)).isDirectory()).sort() : [];
  }

  /** Path of a candidate's fused image for a pair (any extension), or null. */
  candidatePath(method: string, pair: string): string | null {
    const dir = join(this.dir, 'candidates', method);
    if (!existsSync(dir)) return null;
    const f = readdirSync(dir).find((n) => n.replace(/\.[^.]+$/, '') === pair);
    return f ? join(dir, f) : null;
  }

  metricsTable(file: string): Record<string, string>[] {
    const path = join(this.dir, 'metrics', file);
    if (!existsSync(path)) throw new InputError(`${path}: metrics table not found`);
    return parseCsv(readFileSync(path, 'utf8'), path);
  }
}

/**
 * Positions of k of n items, evenly spaced ((i + 0.5) n / k): the validation pairs held out of
 * training. Throws when k is not a whole number below n (training needs a pair left).
 */
export function heldOutIndices(n: number, k: number, what = 'hold-out'): Set<number> {
  if (!Number.isInteger(k) || k < 0) throw new InputError(`${what}: expected a whole number of pairs >= 0, got ${k}`);
  if (k > 0 && k >= n) throw new InputError(`${what}: ${k} pairs held out of ${n} leaves none to train on`);
  return new Set(Array.from({ length: k }, (_, i) => Math.floor(((i + 0.5) * n) / k)));
}
