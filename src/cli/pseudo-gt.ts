/**
 * `fusionfm pseudo-gt`: the two-stage pseudo ground truth of one dataset split.
 *   stage 1: every candidate of a pair scored with the task's metrics, the best one kept
 *   stage 2: the Fusion Refiner (probes trained on the engine + detail re-injection)
 * The output folder holds the final labels as <pair>.png (what `fusionfm train --labels` reads:
 * the refined label where it scores above the stage-1 one, else the stage-1 label), stage1/,
 * refined/ and top2avg/ for comparison, scores.csv (every candidate's raw and normalised
 * metrics: why a label was chosen), skipped.csv, evaluation.csv, summary.json and report.html.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { applyCrop, windowAt } from '../fusion/augment.js';
import { luminance, withLuminance } from '../fusion/colour.js';
import { averageImages, makeImage, type Image } from '../fusion/image.js';
import { nabf, qabfEvaluator } from '../fusion/metrics/evaluator.js';
import { refineLuma, type RefineParams } from '../fusion/pseudo/detail.js';
import { DEFAULT_PROBE, Probe, type ProbeConfig } from '../fusion/pseudo/probe.js';
import { composite, copyOfSource, greySources, greyTriple, pickBest, poolBounds, rawScores, scoreWith, tableMetrics, type Bounds, type Scored, type Task, type WeightTable } from '../fusion/pseudo/selection.js';
import { candidatePool, type PoolOptions } from '../io/candidates.js';
import { writeFileAtomic } from '../io/checkpoint.js';
import { Dataset } from '../io/dataset.js';
import { writePng } from '../io/image.js';
import { csv, dataUri } from '../io/report.js';
import { InputError } from '../util/errors.js';
import type { ProgressSink } from '../util/progress.js';

/**
 * Per-task refiner defaults, measured: the c x alpha setting with the best final composite
 * (per pair the better of refined and stage 1) in the train-split sweeps of
 * bench/results/pseudo-gt/ (ivf: VIFB, 20 settings; mif: the best mean over MRI-CT, MRI-PET and
 * MRI-SPECT, 20 settings each; mef: MEFB, 4 settings; mff: Lytro, 20 settings).
 */
export const DEFAULT_REFINE: Record<Task, RefineParams> = {
  ivf: { c: 0.3, alpha: 0.25 },
  mif: { c: 0.9, alpha: 0.5 },
  mef: { c: 0.7, alpha: 1 },
  mff: { c: 0.9, alpha: 1 },
};

export interface PseudoGtOptions {
  task: Task;
  data: string;
  split: 'train' | 'test' | 'all';
  out: string;
  pool: PoolOptions;
  weights: WeightTable;
  /** null: stage 1 only */
  refine: RefineParams | null;
  probe: ProbeConfig;
  overwrite: boolean;
  command: string;
  /** optional c x alpha grid, scored on the same pairs (sweep.csv) */
  sweep?: { c: number[]; alpha: number[] };
  /** with a sweep: write the labels of the grid's best-scoring setting instead of `refine` */
  tune?: boolean;
  /**
   * Stage 1 takes this candidate on every pair instead of each pair's best (the pool still sets
   * the normalisation): the refiner on one method's results, as `scripts/single-method-labels.sh`
   * picks one method per dataset so that the labels' tone does not change from pair to pair.
   */
  stage1Method?: string;
}

interface PairRecord {
  name: string;
  a: Image;
  b: Image;
  bounds: Bounds;
  scored: Scored[];
  best: Scored;
  label: Image;
  top2: Image;
  top2Raw: number[];
  src: { a: Float64Array; b: Float64Array };
}

function mean(xs: number[]): number {
  return xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);
}

/** Stage 1 for one pair: score the pool, keep the best and the average of the best two. */
async function selectPair(ds: Dataset, pairName: string, o: PseudoGtOptions, skipped: string[][], progress: ProgressSink, counter: { done: number; total: number }): Promise<PairRecord> {
  const pair = ds.pair(pairName);
  const { a, b } = await ds.readPair(pair);
  const metrics = tableMetrics(o.weights[o.task]);
  const pool = candidatePool(ds, o.pool);
  const raws: { name: string; raw: number[] }[] = [];
  const images = new Map<string, Image>();
  const src = greySources(a, b);
  for (const c of pool) {
    const img = await c.load(pair.name, a, b);
    progress({ task: `select ${ds.id}`, done: ++counter.done, total: counter.total, item: `${pair.name} ${c.name}` });
    if ('skip' in img) {
      skipped.push([pair.name, c.name, img.skip]);
      continue;
    }
    const g = greyTriple(a, b, img, src);
    const copy = copyOfSource(g);
    if (copy) {
      skipped.push([pair.name, c.name, copy]);
      continue;
    }
    raws.push({ name: c.name, raw: rawScores(g, metrics) });
    images.set(c.name, img);
  }
  if (!raws.length) throw new InputError(`${ds.id} pair '${pair.name}': every candidate was skipped (see skipped.csv); the pool is empty`);
  const scored = composite(raws, metrics, o.weights[o.task]);
  const best = o.stage1Method ? scored.find((s) => s.name === o.stage1Method) : pickBest(scored);
  if (!best) throw new InputError(`--stage1-method ${o.stage1Method}: no such candidate for ${ds.id} pair '${pair.name}' (scored: ${scored.map((s) => s.name).join(', ')}; see skipped.csv for the skipped ones)`);
  const second = raws.length > 1 ? pickBest(scored.filter((s) => s.name !== best.name)) : best;
  const top2 = averageImages(images.get(best.name)!, images.get(second.name)!, 'top-2 average');
  return { name: pair.name, a, b, bounds: poolBounds(raws, metrics), scored, best, label: images.get(best.name)!, top2, top2Raw: rawScores(greyTriple(a, b, top2, src), metrics), src };
}

/** Refined luminance of every label with the trained probes' reconstructions. */
function refineAll(recs: PairRecord[], probes: { pa: Float32Array; pb: Float32Array }[], p: RefineParams) {
  return recs.map((r, i) => {
    const res = refineLuma(luminance(r.label), luminance(r.a), luminance(r.b), probes[i]!.pa, probes[i]!.pb, r.a.width, r.a.height, p);
    return { ...res, image: withLuminance(r.label, res.y, `refined ${r.name}`) };
  });
}

/** Artifact (Nabf) and edge-transfer (Qabf) figures of a label, on grey 8-bit planes. */
function artifacts(r: PairRecord, f: Image): { nabf: number; qabf: number } {
  const g = greyTriple(r.a, r.b, f, r.src);
  return { nabf: nabf(g.a, g.b, g.f, g.w, g.h), qabf: qabfEvaluator(g.a, g.b, g.f, g.w, g.h) };
}

/** A square crop around the pixel where the refiner changed the most, for before/after views. */
function cropAround(img: Image, cx: number, cy: number, side: number): Image {
  const s = Math.min(side, img.width, img.height);
  const x = Math.max(0, Math.min(img.width - s, cx - (s >> 1)));
  const y = Math.max(0, Math.min(img.height - s, cy - (s >> 1)));
  return applyCrop(img, windowAt(x, y, s));
}

export interface PseudoGtSummary {
  dataset: string;
  task: Task;
  split: string;
  pairs: number;
  metrics: string[];
  weights: Record<string, number>;
  refine: RefineParams | null;
  /** true when refine was picked as the best setting of the sweep on these pairs */
  tuned: boolean;
  /** pairs whose written label is the refined one (it scored above the stage-1 label) */
  refinement_accepted: number;
  /** mean composite on the selection pool's scale, per label kind */
  composite: Record<string, number>;
  best_single_method: { name: string; composite: number };
  nabf: Record<string, number>;
  qabf: Record<string, number>;
  probe_loss?: { a: number; b: number; identity_a: number; identity_b: number };
  seconds: { select: number; probes: number; refine: number };
  skipped: number;
  command: string;
}

export async function runPseudoGt(opts: PseudoGtOptions, progress: ProgressSink): Promise<PseudoGtSummary> {
  let o = opts;
  const ds = new Dataset(o.data);
  const pairs = ds.split(o.split);
  if (!pairs.length) throw new InputError(`${ds.id}: the ${o.split} split is empty`);
  if (!o.overwrite && existsSync(join(o.out, 'summary.json'))) throw new InputError(`${o.out} already holds pseudo labels (summary.json); pass --overwrite or choose another --out`);
  const metrics = tableMetrics(o.weights[o.task]);
  const weights = o.weights[o.task];
  const poolSize = candidatePool(ds, o.pool).length;
  const t0 = performance.now();
  const skipped: string[][] = [];
  const counter = { done: 0, total: pairs.length * poolSize };
  const recs: PairRecord[] = [];
  for (const p of pairs) recs.push(await selectPair(ds, p.name, o, skipped, progress, counter));
  const tSelect = (performance.now() - t0) / 1000;
  for (const s of skipped) process.stderr.write(`skipped candidate ${s[1]} for pair ${s[0]}: ${s[2]}\n`);

  // stage 2: probes F -> A and F -> B, trained on this split's stage-1 labels
  let refined: ReturnType<typeof refineAll> | null = null;
  let probeLoss: PseudoGtSummary['probe_loss'];
  let probesOut: { pa: Float32Array; pb: Float32Array }[] = [];
  const t1 = performance.now();
  if (o.refine) {
    const lum = recs.map((r) => ({ w: r.a.width, h: r.a.height, f: luminance(r.label), a: luminance(r.a), b: luminance(r.b) }));
    const pa = new Probe('A', o.probe);
    const pb = new Probe('B', o.probe);
    try {
      const la = await pa.train(lum.map((l) => ({ w: l.w, h: l.h, input: l.f, target: l.a })), progress);
      const lb = await pb.train(lum.map((l) => ({ w: l.w, h: l.h, input: l.f, target: l.b })), progress);
      const identity = (k: 'a' | 'b') => mean(lum.map((l) => mean(Array.from(l.f, (v, i) => (v - l[k][i]!) ** 2))));
      probeLoss = { a: la, b: lb, identity_a: identity('a'), identity_b: identity('b') };
      for (const l of lum) probesOut.push({ pa: await pa.apply(l.f, l.w, l.h), pb: await pb.apply(l.f, l.w, l.h) });
    } finally {
      pa.dispose();
      pb.dispose();
    }
  }
  const tProbes = (performance.now() - t1) / 1000;

  let tuned: { c: number; alpha: number; score: number } | null = null;
  const sweepRows: (string | number)[][] = [['c', 'alpha', 'composite', 'final_composite', 'accepted', 'Nabf', 'Qabf', 'changed_fraction']];
  const stage1Score = recs.map((r) => scoreWith(r.bounds, 'stage1', r.best.raw, metrics, weights).composite);
  if (o.sweep && o.refine) {
    const total = o.sweep.c.length * o.sweep.alpha.length;
    let done = 0;
    for (const c of o.sweep.c) for (const alpha of o.sweep.alpha) {
      const res = refineAll(recs, probesOut, { c, alpha });
      const cs: number[] = [];
      const fin: number[] = [];
      const ns: number[] = [];
      const qs: number[] = [];
      const fr: number[] = [];
      res.forEach((x, i) => {
        const r = recs[i]!;
        cs.push(scoreWith(r.bounds, 'sweep', rawScores(greyTriple(r.a, r.b, x.image, r.src), metrics), metrics, weights).composite);
        fin.push(Math.max(cs.at(-1)!, stage1Score[i]!));
        const art = artifacts(r, x.image);
        ns.push(art.nabf);
        qs.push(art.qabf);
        fr.push(mean(Array.from(x.mask, (m) => (m > 0 ? 1 : 0))));
      });
      sweepRows.push([c, alpha, mean(cs), mean(fin), cs.filter((v, i) => v > stage1Score[i]!).length, mean(ns), mean(qs), mean(fr)]);
      // tuned on what gets written: per pair the better of refined and stage 1
      if (o.tune && (!tuned || mean(fin) > tuned.score)) tuned = { c, alpha, score: mean(fin) };
      progress({ task: 'sweep', done: ++done, total, item: `c ${c} alpha ${alpha}` });
    }
  }

  if (o.refine && tuned) o = { ...o, refine: { c: tuned.c, alpha: tuned.alpha } };
  const t2 = performance.now();
  if (o.refine) refined = refineAll(recs, probesOut, o.refine);
  const tRefine = (performance.now() - t2) / 1000;

  // evaluation on each pair's selection-pool scale
  const evalRows: (string | number)[][] = [['pair', 'label', ...metrics, 'composite', 'Nabf', 'Qabf']];
  const comp: Record<string, number[]> = { stage1: [], top2avg: [], refined: [], final: [] };
  const nab: Record<string, number[]> = { stage1: [], top2avg: [], refined: [], final: [] };
  const qab: Record<string, number[]> = { stage1: [], top2avg: [], refined: [], final: [] };
  // the written label: the refined one where it scores above the stage-1 label, else stage 1
  // (refinement must never make a label worse on the task's own score)
  const accepted: boolean[] = [];
  recs.forEach((r, i) => {
    const kinds: [string, Image, number[]][] = [['stage1', r.label, r.best.raw], ['top2avg', r.top2, r.top2Raw]];
    if (refined) kinds.push(['refined', refined[i]!.image, rawScores(greyTriple(r.a, r.b, refined[i]!.image, r.src), metrics)]);
    for (const [kind, img, raw] of kinds) {
      const s = scoreWith(r.bounds, kind, raw, metrics, weights);
      const art = artifacts(r, img);
      comp[kind]!.push(s.composite);
      nab[kind]!.push(art.nabf);
      qab[kind]!.push(art.qabf);
      evalRows.push([r.name, kind, ...raw, s.composite, art.nabf, art.qabf]);
    }
    const take = !!refined && comp.refined!.at(-1)! > comp.stage1!.at(-1)!;
    accepted.push(take);
    const k = take ? 'refined' : 'stage1';
    comp.final!.push(comp[k]!.at(-1)!);
    nab.final!.push(nab[k]!.at(-1)!);
    qab.final!.push(qab[k]!.at(-1)!);
    progress({ task: 'evaluate', done: i + 1, total: recs.length, item: r.name });
  });
  // the best single method: highest mean composite over the pairs where it is present
  const byMethod = new Map<string, number[]>();
  for (const r of recs) for (const s of r.scored) byMethod.set(s.name, [...(byMethod.get(s.name) ?? []), s.composite]);
  const bestSingle = [...byMethod].map(([name, v]) => ({ name, composite: v.length === recs.length ? mean(v) : -Infinity })).sort((x, y) => y.composite - x.composite || (x.name < y.name ? -1 : 1))[0]!;

  // outputs
  mkdirSync(join(o.out, 'stage1'), { recursive: true });
  mkdirSync(join(o.out, 'top2avg'), { recursive: true });
  if (refined) mkdirSync(join(o.out, 'refined'), { recursive: true });
  const ow = { overwrite: o.overwrite };
  recs.forEach((r, i) => {
    writePng(join(o.out, 'stage1', `${r.name}.png`), r.label, ow);
    writePng(join(o.out, 'top2avg', `${r.name}.png`), r.top2, ow);
    if (refined) writePng(join(o.out, 'refined', `${r.name}.png`), refined[i]!.image, ow);
    writePng(join(o.out, `${r.name}.png`), accepted[i] ? refined![i]!.image : r.label, ow);
  });
  const scoreRows: (string | number)[][] = [['pair', 'candidate', ...metrics, ...metrics.map((m) => `norm_${m}`), 'composite', 'chosen']];
  for (const r of recs) for (const s of r.scored) scoreRows.push([r.name, s.name, ...s.raw, ...s.normalised, s.composite, s.name === r.best.name ? 1 : 0]);
  const enc = (s: string) => new TextEncoder().encode(s);
  writeFileAtomic(join(o.out, 'scores.csv'), enc(csv(scoreRows)));
  writeFileAtomic(join(o.out, 'skipped.csv'), enc(csv([['pair', 'candidate', 'reason'], ...skipped])));
  writeFileAtomic(join(o.out, 'evaluation.csv'), enc(csv(evalRows)));
  if (sweepRows.length > 1) writeFileAtomic(join(o.out, 'sweep.csv'), enc(csv(sweepRows)));
  writeFileAtomic(join(o.out, 'weights.json'), enc(JSON.stringify(o.weights, null, 1)));
  const summary: PseudoGtSummary = {
    dataset: ds.id, task: o.task, split: o.split, pairs: recs.length, metrics, weights, refine: o.refine, tuned: !!tuned, refinement_accepted: accepted.filter(Boolean).length,
    composite: Object.fromEntries(Object.entries(comp).filter(([, v]) => v.length).map(([k, v]) => [k, mean(v)])),
    best_single_method: bestSingle,
    nabf: Object.fromEntries(Object.entries(nab).filter(([, v]) => v.length).map(([k, v]) => [k, mean(v)])),
    qabf: Object.fromEntries(Object.entries(qab).filter(([, v]) => v.length).map(([k, v]) => [k, mean(v)])),
    probe_loss: probeLoss,
    seconds: { select: tSelect, probes: tProbes, refine: tRefine },
    skipped: skipped.length,
    command: o.command,
  };
  writeFileAtomic(join(o.out, 'report.html'), enc(reportHtml(summary, recs, refined, sweepRows)));
  writeFileAtomic(join(o.out, 'summary.json'), enc(JSON.stringify(summary, null, 1)));
  return summary;
}

function reportHtml(s: PseudoGtSummary, recs: PairRecord[], refined: ReturnType<typeof refineAll> | null, sweep: (string | number)[][]): string {
  const fmt = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)) : 'NaN');
  const rows = Object.keys(s.composite).map((k) => `<tr><td>${k}</td><td>${fmt(s.composite[k]!)}</td><td>${fmt(s.nabf[k]!)}</td><td>${fmt(s.qabf[k]!)}</td></tr>`).join('');
  const fig = (img: Image, cap: string) => `<figure><img src="${dataUri(img)}"><figcaption>${cap}</figcaption></figure>`;
  const gallery = recs.slice(0, 6).map((r, i) => {
    const res = refined?.[i];
    let cx = r.a.width >> 1;
    let cy = r.a.height >> 1;
    if (res) {
      // centre the crop where the label changed most
      let best = -1;
      const y0 = luminance(r.label);
      for (let k = 0; k < res.y.length; k++) {
        const d = Math.abs(res.y[k]! - y0[k]!);
        if (d > best) { best = d; cx = k % r.a.width; cy = Math.floor(k / r.a.width); }
      }
    }
    const crop = (img: Image) => cropAround(img, cx, cy, 160);
    const parts = [fig(crop(r.a), 'source A'), fig(crop(r.b), 'source B'), fig(crop(r.label), `stage 1: ${r.best.name}`)];
    if (res) parts.push(fig(crop(res.image), 'refined'), fig(crop(makeImage(r.a.width, r.a.height, [res.mask])), 'protection mask (white = refined)'));
    return `<h3>${r.name}</h3><div class="row">${parts.join('')}</div>`;
  }).join('\n');
  const sweepTable = sweep.length > 1 ? `<h2>c x alpha sweep</h2><table>${sweep.map((r, i) => `<tr>${r.map((v) => (i ? `<td>${typeof v === 'number' ? fmt(v) : v}</td>` : `<th>${v}</th>`)).join('')}</tr>`).join('')}</table>` : '';
  return `<!doctype html><meta charset="utf-8"><title>pseudo-gt ${s.dataset}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}.row{display:flex;gap:8px;flex-wrap:wrap}figure{margin:0}img{width:160px;image-rendering:pixelated}figcaption{font-size:12px}</style>
<h1>Pseudo ground truth: ${s.dataset} (${s.split}, ${s.pairs} pairs)</h1>
<p>Task ${s.task}; metrics ${s.metrics.map((m) => `${m} (weight ${s.weights[m]})`).join(', ')}; refiner ${s.refine ? `c ${s.refine.c}, alpha ${s.refine.alpha}` : 'off'}.
Composite: weighted mean of the metrics min-max normalised over each pair's candidate pool (1 = best candidate, 0 = worst). Best single method: ${s.best_single_method.name} (${fmt(s.best_single_method.composite)}).</p>
<p>Refinement accepted (refined label scores above the stage-1 label) on ${s.refinement_accepted} of ${s.pairs} pairs; "final" is what was written.</p>
<table><tr><th>label</th><th>composite</th><th>Nabf (artifacts, lower is better)</th><th>Qabf</th></tr>${rows}</table>
${sweepTable}
<h2>Before / after (160 px crops where the refiner changed most)</h2>${gallery}
<p><small>${s.command}</small></p>\n`;
}

export { DEFAULT_PROBE };
