/**
 * Stage 1 of the pseudo ground truth: score every candidate fused image of a pair with the
 * metrics that matter for the task, normalise each metric across the pool (min-max, so no
 * metric's scale dominates; lower-is-better metrics flipped), weight them by a per-task table
 * and pick the best. Deterministic: a NaN metric counts as the worst value of the pool, and
 * equal composites are broken by candidate name.
 *
 * Metrics are computed on 8-bit grey planes (OpenCV's grey conversion), one convention for
 * every task, because ranking needs comparability within a pool, not a published table.
 */
import type { Image } from '../image.js';
import { InputError } from '../../util/errors.js';
import { cvGray, en, mutualInfoScore, qabfEvaluator, scd, sd, sf, ag, ssimSkimage, vif } from '../metrics/evaluator.js';
import { mefSsim } from '../metrics/mefssim.js';
import { plane } from '../metrics/plane.js';
import { metricInput } from '../metrics/index.js';
import { focusSsim } from './focus.js';

export type Task = 'ivf' | 'mif' | 'mef' | 'mff';
export const TASKS: readonly Task[] = ['ivf', 'mif', 'mef', 'mff'];

export function checkTask(t: string | undefined, what = '--task'): Task {
  if (!t || !(TASKS as readonly string[]).includes(t)) throw new InputError(`${what} must be one of ${TASKS.join(', ')}, got '${t ?? ''}'`);
  return t as Task;
}

/** The grey sources and candidate on the 0..255 scale. */
export interface GreyTriple {
  a: Float64Array;
  b: Float64Array;
  f: Float64Array;
  w: number;
  h: number;
}

export interface SelectionMetric {
  name: string;
  higherIsBetter: boolean;
  description: string;
  compute(g: GreyTriple): number;
}

/** Every metric a selection table may name. */
export const SELECTION_METRICS: Record<string, SelectionMetric> = {
  VIF: { name: 'VIF', higherIsBetter: true, description: 'pixel-domain VIF(A->F)+VIF(B->F)', compute: (g) => vif(g.a, g.b, g.f, g.w, g.h) },
  Qabf: { name: 'Qabf', higherIsBetter: true, description: 'Xydeas-Petrovic edge transfer', compute: (g) => qabfEvaluator(g.a, g.b, g.f, g.w, g.h) },
  SSIM: { name: 'SSIM', higherIsBetter: true, description: 'SSIM(F,A)+SSIM(F,B), 7x7 window, L=255', compute: (g) => ssimSkimage(g.f, g.a, g.w, g.h, 255) + ssimSkimage(g.f, g.b, g.w, g.h, 255) },
  MI: { name: 'MI', higherIsBetter: true, description: 'MI(F,A)+MI(F,B), nats', compute: (g) => mutualInfoScore(g.f, g.a) + mutualInfoScore(g.f, g.b) },
  SD: { name: 'SD', higherIsBetter: true, description: 'standard deviation of F', compute: (g) => sd(g.f) },
  EN: { name: 'EN', higherIsBetter: true, description: 'entropy of F (bits)', compute: (g) => en(g.f) },
  SCD: { name: 'SCD', higherIsBetter: true, description: 'sum of the correlations of differences', compute: (g) => scd(g.a, g.b, g.f) },
  SF: { name: 'SF', higherIsBetter: true, description: 'spatial frequency of F', compute: (g) => sf(g.f, g.w, g.h) },
  AG: { name: 'AG', higherIsBetter: true, description: 'average gradient of F', compute: (g) => ag(g.f, g.w, g.h) },
  'MEF-SSIM': { name: 'MEF-SSIM', higherIsBetter: true, description: 'MEF-SSIM (Ma et al. 2015)', compute: (g) => mefSsim([plane(g.w, g.h, g.a), plane(g.w, g.h, g.b)], plane(g.w, g.h, g.f)) },
  'SSIM-balance': {
    name: 'SSIM-balance', higherIsBetter: true, description: 'min over sources of SSIM(F,S): how well the worse-served source is kept',
    compute: (g) => Math.min(ssimSkimage(g.f, g.a, g.w, g.h, 255), ssimSkimage(g.f, g.b, g.w, g.h, 255)),
  },
  'SSIM-focus': { name: 'SSIM-focus', higherIsBetter: true, description: 'SSIM of F against the all-in-focus reference (per pixel the sharper source)', compute: (g) => focusSsim(g.a, g.b, g.f, g.w, g.h) },
};

/** Per task: metric name -> weight. */
export type WeightTable = Record<Task, Record<string, number>>;

/**
 * Defaults. IVF and MIF reward information and structure transferred from both sources (VIF,
 * Qabf, SSIM, MI) with SD and EN at half weight, because both also reward noise; MIF adds SCD
 * (complementary information from the two modalities). Both add SSIM-balance at weight 2: the
 * sums over sources (VIF, SSIM, MI, Qabf) all score a copy of one source above a real fusion
 * (measured on the VIFB sample; see test/pseudo.test.ts), and the balance term is what tells
 * them apart. MEF is judged by MEF-SSIM first. MFF
 * rewards edges and sharpness (Qabf, SF, AG) and fidelity to the in-focus source, which keeps
 * SF/AG from rewarding ringing.
 */
export const DEFAULT_WEIGHTS: WeightTable = {
  ivf: { VIF: 1, Qabf: 1, SSIM: 1, MI: 1, SD: 0.5, EN: 0.5, 'SSIM-balance': 2 },
  mif: { VIF: 1, Qabf: 1, SSIM: 1, MI: 1, SCD: 1, SD: 0.5, EN: 0.5, 'SSIM-balance': 2 },
  mef: { 'MEF-SSIM': 2, Qabf: 1, EN: 0.5 },
  mff: { Qabf: 1, SF: 0.5, AG: 0.5, 'SSIM-focus': 1.5 },
};

/** Checks a user's table (e.g. read from JSON): known tasks, known metrics, finite non-negative weights. */
export function checkWeights(t: unknown, source: string): WeightTable {
  if (!t || typeof t !== 'object') throw new InputError(`${source}: expected an object {task: {metric: weight}}`);
  const out = { ...DEFAULT_WEIGHTS } as WeightTable;
  for (const [task, table] of Object.entries(t as Record<string, unknown>)) {
    checkTask(task, `${source}: task`);
    if (!table || typeof table !== 'object') throw new InputError(`${source}: '${task}' must map metric names to weights`);
    const entries = Object.entries(table as Record<string, unknown>);
    if (!entries.length) throw new InputError(`${source}: '${task}' names no metric`);
    for (const [m, w] of entries) {
      if (!SELECTION_METRICS[m]) throw new InputError(`${source}: unknown metric '${m}' for ${task} (known: ${Object.keys(SELECTION_METRICS).join(', ')})`);
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new InputError(`${source}: weight of ${task}.${m} must be a non-negative number, got ${JSON.stringify(w)}`);
    }
    out[task as Task] = table as Record<string, number>;
  }
  return out;
}

/**
 * Grey planes of a pair and a fused image. Scoring many candidates of one pair: pass the same
 * `sources` (from greySources) each time, so source-side work is memoised on those arrays.
 */
export function greyTriple(a: Image, b: Image, f: Image, sources?: { a: Float64Array; b: Float64Array }): GreyTriple {
  const i = metricInput(a, b, f);
  const src = sources ?? { a: cvGray(i.vi), b: cvGray(i.ir) };
  return { a: src.a, b: src.b, f: cvGray(i.f), w: i.w, h: i.h };
}

export function greySources(a: Image, b: Image): { a: Float64Array; b: Float64Array } {
  const i = metricInput(a, b, a);
  return { a: cvGray(i.vi), b: cvGray(i.ir) };
}

/**
 * A candidate that reproduces one source (SSIM >= 0.98 to it) is not a fusion, whatever its
 * metrics say: the sums over sources rate such a copy above real fusions. Returns the reason
 * to leave it out of the pool, or null.
 */
export function copyOfSource(g: GreyTriple): string | null {
  for (const [name, s] of [['A', g.a], ['B', g.b]] as const) {
    const v = ssimSkimage(g.f, s, g.w, g.h, 255);
    if (v >= 0.98) return `a copy of source ${name} (SSIM ${v.toFixed(3)}), not a fusion`;
  }
  return null;
}

/** Raw metric values of one candidate, in the table's order. */
export function rawScores(g: GreyTriple, metrics: readonly string[]): number[] {
  return metrics.map((m) => SELECTION_METRICS[m]!.compute(g));
}

export interface Scored {
  name: string;
  raw: number[];
  normalised: number[];
  composite: number;
}

/** Per metric, the worst and best value of a pool (NaN-free); what normalisation maps to 0 and 1. */
export interface Bounds {
  lo: number[];
  hi: number[];
  /** the raw scores that set them, per pool member (absent in older caches); a NaN reads back from JSON as null */
  pool?: { name: string; raw: (number | null)[] }[];
}

export function poolBounds(pool: { raw: number[] }[], metrics: readonly string[]): Bounds {
  const lo: number[] = [];
  const hi: number[] = [];
  metrics.forEach((_, k) => {
    const vals = pool.map((c) => c.raw[k]!).filter(Number.isFinite);
    lo.push(vals.length ? Math.min(...vals) : 0);
    hi.push(vals.length ? Math.max(...vals) : 0);
  });
  return { lo, hi };
}

/**
 * Normalised values (1 = best of the pool that set the bounds, 0 = worst; an image from outside
 * that pool may score beyond either end) and their weighted mean. A NaN counts as 0; a metric
 * equal on every pool member contributes 0.5.
 */
export function scoreWith(bounds: Bounds, name: string, raw: number[], metrics: readonly string[], weights: Record<string, number>): Scored {
  const wsum = metrics.reduce((s, m) => s + weights[m]!, 0);
  if (!(wsum > 0)) throw new InputError(`selection weights sum to ${wsum}; at least one metric needs a positive weight`);
  const normalised = metrics.map((m, k) => {
    const v = raw[k]!;
    const lo = bounds.lo[k]!;
    const hi = bounds.hi[k]!;
    if (!Number.isFinite(v)) return 0;
    if (hi - lo <= 1e-12 * Math.max(1, Math.abs(hi))) return 0.5;
    return SELECTION_METRICS[m]!.higherIsBetter ? (v - lo) / (hi - lo) : (hi - v) / (hi - lo);
  });
  return { name, raw, normalised, composite: metrics.reduce((s, m, k) => s + weights[m]! * normalised[k]!, 0) / wsum };
}

/** Min-max normalises each metric across the pool and forms the weighted mean (see scoreWith). */
export function composite(pool: { name: string; raw: number[] }[], metrics: readonly string[], weights: Record<string, number>): Scored[] {
  const bounds = poolBounds(pool, metrics);
  return pool.map((c) => scoreWith(bounds, c.name, c.raw, metrics, weights));
}

/** The best of a scored pool: highest composite, ties (within 1e-12) to the smaller name. */
export function pickBest(scored: Scored[]): Scored {
  if (!scored.length) throw new InputError('selection: the candidate pool is empty');
  return [...scored].sort((x, y) => (Math.abs(x.composite - y.composite) > 1e-12 ? y.composite - x.composite : x.name < y.name ? -1 : x.name > y.name ? 1 : 0))[0]!;
}

/** The metrics a task's table uses (positive weights only), in a stable order. */
export function tableMetrics(weights: Record<string, number>): string[] {
  return Object.keys(weights).filter((m) => weights[m]! > 0);
}
