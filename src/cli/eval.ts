/**
 * `fusionfm eval`: scores published candidates, classical fusers and folders of fused images
 * on a dataset split; writes per_image.csv, mean.csv and report.html into --out, all or
 * nothing (files are staged and renamed only after every pair was scored).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fuseClassical, classicalNames } from '../fusion/classical/index.js';
import type { Image } from '../fusion/image.js';
import { conventionFor, getMetric, metricInput, type Convention, type MetricSpec } from '../fusion/metrics/index.js';
import { Dataset } from '../io/dataset.js';
import { readImage } from '../io/image.js';
import { csv, dataUri, htmlReport, thumbnail } from '../io/report.js';
import { InputError } from '../util/errors.js';
import type { ProgressSink } from '../util/progress.js';

export const DEFAULT_METRICS = ['EN', 'SD', 'SF', 'AG', 'MI', 'SCD', 'VIF', 'Qabf', 'SSIM'];

export interface EvalOptions {
  data: string;
  split: 'train' | 'test' | 'all';
  /** published candidate folders, `classical:<name>`, or `label=<folder>` of fused images */
  methods: string[];
  metrics: string[];
  /** convention for bare metric names (default: the dataset's published one) */
  convention?: Convention;
  out: string;
  overwrite?: boolean;
  /** pairs shown in the report gallery */
  galleryPairs?: number;
}

interface Source {
  label: string;
  fused(pair: string, a: Image, b: Image): Promise<Image>;
}

function sources(ds: Dataset, methods: string[]): Source[] {
  const published = ds.methods();
  const expanded = methods.flatMap((m) => (m === 'all' ? published : m === 'classical' ? classicalNames().map((c) => `classical:${c}`) : [m]));
  return expanded.map((m): Source => {
    if (m.startsWith('classical:')) {
      const name = m.slice('classical:'.length);
      if (!classicalNames().includes(name)) throw new InputError(`--methods: unknown classical fuser '${name}' (known: ${classicalNames().join(', ')})`);
      return { label: m, fused: async (_p, a, b) => fuseClassical(name, a, b) };
    }
    const eq = m.indexOf('=');
    if (eq > 0) {
      const label = m.slice(0, eq);
      const dir = resolve(m.slice(eq + 1));
      if (!existsSync(dir)) throw new InputError(`--methods ${label}: folder ${dir} does not exist`);
      const files = readdirSync(dir);
      if (!files.length) throw new InputError(`--methods ${label}: folder ${dir} is empty`);
      return {
        label,
        fused: async (pair) => {
          const f = files.find((n) => n.replace(/\.[^.]+$/, '') === pair);
          if (!f) throw new InputError(`${dir}: no fused image for pair '${pair}' (expected ${pair}.png or .jpg)`);
          return readImage(join(dir, f));
        },
      };
    }
    if (!published.includes(m)) throw new InputError(`--methods: '${m}' is not a candidate folder of ${ds.id} (have: ${published.join(', ') || 'none'}), a classical:<name> fuser or label=<folder>`);
    return {
      label: m,
      fused: async (pair) => {
        const p = ds.candidatePath(m, pair);
        if (!p) throw new InputError(`${join(ds.dir, 'candidates', m)}: missing the result for pair '${pair}'`);
        return readImage(p);
      },
    };
  });
}

export async function runEval(o: EvalOptions, progress: ProgressSink): Promise<{ means: { method: string; values: number[] }[]; metrics: MetricSpec[] }> {
  const ds = new Dataset(o.data);
  const convention = o.convention ?? conventionFor(ds.id);
  const metrics = o.metrics.map((m) => getMetric(m, convention));
  const srcs = sources(ds, o.methods);
  if (!srcs.length) throw new InputError('--methods: nothing to evaluate');
  const pairs = ds.split(o.split);
  if (!pairs.length) throw new InputError(`${ds.id}: the ${o.split} split is empty`);
  const out = resolve(o.out);
  const finals = ['per_image.csv', 'mean.csv', 'report.html'].map((f) => join(out, f));
  if (!o.overwrite) for (const f of finals) if (existsSync(f)) throw new InputError(`${f} exists; pass --overwrite or choose another --out`);
  mkdirSync(out, { recursive: true });
  const rows: (string | number)[][] = [['pair', 'method', ...metrics.map((m) => m.id)]];
  const sums = srcs.map(() => metrics.map(() => 0));
  const counts = srcs.map(() => metrics.map(() => 0));
  const gallery: { pair: string; a: string; b: string; results: { method: string; uri: string }[] }[] = [];
  const total = pairs.length * srcs.length;
  let done = 0;
  for (const [pi, pair] of pairs.entries()) {
    const { a, b } = await ds.readPair(pair);
    const g = pi < (o.galleryPairs ?? 3) ? { pair: pair.name, a: dataUri(thumbnail(a)), b: dataUri(thumbnail(b)), results: [] as { method: string; uri: string }[] } : null;
    for (const [si, s] of srcs.entries()) {
      const f = await s.fused(pair.name, a, b);
      if (f.width !== a.width || f.height !== a.height) throw new InputError(`${f.source ?? s.label}: fused image is ${f.width}x${f.height}, pair '${pair.name}' is ${a.width}x${a.height}`);
      const input = metricInput(a, b, f);
      const vals = metrics.map((m) => m.compute(input));
      vals.forEach((v, k) => {
        if (Number.isFinite(v)) {
          sums[si]![k]! += v;
          counts[si]![k]! += 1;
        }
      });
      rows.push([pair.name, s.label, ...vals]);
      g?.results.push({ method: s.label, uri: dataUri(thumbnail(f)) });
      progress({ task: 'eval', done: ++done, total, item: `${pair.name} ${s.label}` });
    }
    if (g) gallery.push(g);
  }
  const means = srcs.map((s, si) => ({ method: s.label, values: metrics.map((_, k) => (counts[si]![k]! ? sums[si]![k]! / counts[si]![k]! : NaN)) }));
  // stage everything, then rename: an interrupted run leaves no report that looks complete
  const stage = join(out, `.eval-${process.pid}`);
  mkdirSync(stage, { recursive: true });
  try {
    writeFileSync(join(stage, 'per_image.csv'), csv(rows));
    writeFileSync(join(stage, 'mean.csv'), csv([['method', ...metrics.map((m) => m.id)], ...means.map((m) => [m.method, ...m.values])]));
    writeFileSync(join(stage, 'report.html'), htmlReport({
      title: `fusionfm eval: ${ds.id} (${o.split} split, ${pairs.length} pairs)`,
      metrics: metrics.map((m) => ({ id: m.id, higherIsBetter: m.higherIsBetter })),
      means,
      gallery,
      notes: [`Metrics: ${metrics.map((m) => `${m.id} (${m.description})`).join('; ')}.`],
    }));
    for (const f of ['per_image.csv', 'mean.csv', 'report.html']) renameSync(join(stage, f), join(out, f));
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return { means, metrics };
}
