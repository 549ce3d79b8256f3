/**
 * The metric registry: every metric by name, with the toolkit convention it follows.
 * Where conventions differ, both are selectable as `NAME@convention` (e.g. `SSIM@vifb`,
 * `SSIM@cddfuse`); a bare name picks the default convention listed here.
 *
 * - vifb:    VIFB's MATLAB toolkit (also MEFB's for the shared metrics), per colour channel
 *            of F, with its quirks (see vifb.ts). Verified against VIFB's and MEFB's tables.
 * - mefb:    MEFB's definitions where they differ from VIFB's (per-channel SF, MEF-SSIM).
 * - cddfuse: the CDDFuse/EMMA Python evaluator on 8-bit grey images (see evaluator.ts).
 */
import type { Image } from '../image.js';
import { levels255 } from '../image.js';
import { ag, cc, cvGray, en, mse, msSsim, mutualInfoScore, nabf, psnr, qabfEvaluator, scd, sd, sf, ssimEvaluator, vif } from './evaluator.js';
import { mefSsim } from './mefssim.js';
import { plane, rgb2gray } from './plane.js';
import { mefbSpatialFrequency, VIFB_METRICS, type MetricInput } from './vifb.js';
import { InputError } from '../../util/errors.js';

export type Convention = 'vifb' | 'mefb' | 'cddfuse';
export type { MetricInput };

export interface MetricSpec {
  /** canonical name, e.g. "SSIM@cddfuse" */
  id: string;
  name: string;
  convention: Convention;
  higherIsBetter: boolean;
  description: string;
  compute(input: MetricInput): number;
}

type GreyFn = (a: Float64Array, b: Float64Array, f: Float64Array, w: number, h: number) => number;

/** Evaluator-style metric: sources and F converted to OpenCV grey first. */
function grey(fn: GreyFn): (i: MetricInput) => number {
  return (i) => fn(cvGray(i.vi), cvGray(i.ir), cvGray(i.f), i.w, i.h);
}

const vifb = (col: string) => VIFB_METRICS[col]!;

const SPECS: Omit<MetricSpec, 'id'>[] = [
  { name: 'EN', convention: 'vifb', higherIsBetter: true, description: 'entropy of F (VIFB Entropy, per channel)', compute: vifb('Entropy') },
  { name: 'EN', convention: 'cddfuse', higherIsBetter: true, description: 'entropy of grey F', compute: grey((_a, _b, f) => en(f)) },
  { name: 'SD', convention: 'vifb', higherIsBetter: true, description: 'standard deviation of F (VIFB Variance)', compute: vifb('Variance') },
  { name: 'SD', convention: 'cddfuse', higherIsBetter: true, description: 'standard deviation of grey F', compute: grey((_a, _b, f) => sd(f)) },
  { name: 'SF', convention: 'vifb', higherIsBetter: true, description: 'spatial frequency, VIFB (colour planes side by side)', compute: vifb('Spatial_frequency') },
  { name: 'SF', convention: 'mefb', higherIsBetter: true, description: 'spatial frequency per channel, averaged', compute: mefbSpatialFrequency },
  { name: 'SF', convention: 'cddfuse', higherIsBetter: true, description: 'spatial frequency of grey F', compute: grey((_a, _b, f, w, h) => sf(f, w, h)) },
  { name: 'AG', convention: 'vifb', higherIsBetter: true, description: 'average gradient, sum / ((m-1)(n-1))', compute: vifb('Avg_gradient') },
  { name: 'AG', convention: 'cddfuse', higherIsBetter: true, description: 'average gradient, mean over pixels', compute: grey((_a, _b, f, w, h) => ag(f, w, h)) },
  { name: 'MI', convention: 'vifb', higherIsBetter: true, description: 'VIFB Mutinf: MI(A,F)+MI(B,F) after min-max to 0..255, nats', compute: vifb('Mutinf') },
  { name: 'MI', convention: 'cddfuse', higherIsBetter: true, description: 'sklearn mutual_info_score(F,A)+(F,B), nats', compute: grey((a, b, f) => mutualInfoScore(f, a) + mutualInfoScore(f, b)) },
  { name: 'Qabf', convention: 'vifb', higherIsBetter: true, description: 'Xydeas-Petrovic edge preservation (VIFB, x255 scaling)', compute: vifb('Qabf') },
  { name: 'Qabf', convention: 'cddfuse', higherIsBetter: true, description: 'Xydeas-Petrovic edge preservation on grey images', compute: grey(qabfEvaluator) },
  { name: 'SSIM', convention: 'vifb', higherIsBetter: true, description: 'SSIM(A,F)+SSIM(B,F), Gaussian 11x11, L=255', compute: vifb('Ssim') },
  { name: 'SSIM', convention: 'cddfuse', higherIsBetter: true, description: 'skimage SSIM(F,A)+SSIM(F,B) with data_range 2 (the published quirk)', compute: grey(ssimEvaluator) },
  { name: 'PSNR', convention: 'vifb', higherIsBetter: true, description: 'VIFB Psnr: 20 log10(255 / sqrt(mean of sqrt(SSE)/(mn)))', compute: vifb('Psnr') },
  { name: 'PSNR', convention: 'cddfuse', higherIsBetter: true, description: '10 log10(max(F)^2 / MSE)', compute: grey((a, b, f) => psnr(a, b, f)) },
  { name: 'MSE', convention: 'cddfuse', higherIsBetter: false, description: 'mean of MSE(A,F) and MSE(B,F)', compute: grey((a, b, f) => mse(a, b, f)) },
  { name: 'RMSE', convention: 'vifb', higherIsBetter: false, description: 'VIFB Rmse: mean of sqrt(SSE)/(mn)', compute: vifb('Rmse') },
  { name: 'CC', convention: 'cddfuse', higherIsBetter: true, description: 'mean correlation coefficient of F with A and B', compute: grey((a, b, f) => cc(a, b, f)) },
  { name: 'SCD', convention: 'cddfuse', higherIsBetter: true, description: 'sum of the correlations of differences', compute: grey((a, b, f) => scd(a, b, f)) },
  { name: 'VIF', convention: 'cddfuse', higherIsBetter: true, description: 'pixel-domain VIF(A->F)+VIF(B->F)', compute: grey(vif) },
  { name: 'MS-SSIM', convention: 'cddfuse', higherIsBetter: true, description: 'MS-SSIM(A,F)+MS-SSIM(B,F) on grey images (Wang 2003)', compute: grey((a, b, f, w, h) => msSsim(a, f, w, h) + msSsim(b, f, w, h)) },
  { name: 'Nabf', convention: 'cddfuse', higherIsBetter: false, description: 'fusion artifacts (Kumar-modified Nabf)', compute: grey(nabf) },
  { name: 'Cross_entropy', convention: 'vifb', higherIsBetter: false, description: 'mean cross-entropy of the sources to F (log2)', compute: vifb('Cross_entropy') },
  { name: 'Edge_intensity', convention: 'vifb', higherIsBetter: true, description: 'mean Sobel magnitude of F (replicate borders)', compute: vifb('Edge_intensity') },
  { name: 'Mutinf', convention: 'vifb', higherIsBetter: true, description: 'VIFB Mutinf (same as MI@vifb)', compute: vifb('Mutinf') },
  { name: 'Qcb', convention: 'vifb', higherIsBetter: true, description: 'Chen-Blum perceptual quality', compute: vifb('Qcb') },
  { name: 'Qcv', convention: 'vifb', higherIsBetter: false, description: 'Chen-Varshney perceptual distortion', compute: vifb('Qcv') },
  {
    name: 'MEF-SSIM', convention: 'mefb', higherIsBetter: true, description: 'MEF-SSIM (Ma et al. 2015), three scales, grey',
    compute: (i) => {
      const g = (c: Float64Array[]) => plane(i.w, i.h, c.length === 3 ? rgb2gray(c[0]!, c[1]!, c[2]!, true) : c[0]!);
      return mefSsim([g(i.vi), g(i.ir)], g(i.f));
    },
  },
];

export const METRICS: Map<string, MetricSpec> = new Map(SPECS.map((s) => [`${s.name}@${s.convention}`, { ...s, id: `${s.name}@${s.convention}` }]));

/** Default convention per bare name: VIFB's where it exists (its numbers are verified), else the only one. */
const DEFAULTS = new Map<string, string>();
for (const s of SPECS) if (!DEFAULTS.has(s.name) || s.convention === 'vifb') DEFAULTS.set(s.name, `${s.name}@${s.convention}`);

export function metricNames(): string[] {
  return [...METRICS.keys()];
}

/**
 * Resolves "SSIM" or "SSIM@cddfuse" to its spec, or throws naming the choices. A bare name
 * takes `prefer`'s convention where the metric has one, else the default.
 */
export function getMetric(name: string, prefer?: Convention): MetricSpec {
  const id = name.includes('@') ? name : prefer && METRICS.has(`${name}@${prefer}`) ? `${name}@${prefer}` : DEFAULTS.get(name);
  const spec = id ? METRICS.get(id) : undefined;
  if (!spec) throw new InputError(`unknown metric '${name}'; known: ${[...DEFAULTS.keys()].join(', ')} (or NAME@vifb|mefb|cddfuse: ${metricNames().join(', ')})`);
  return spec;
}

/** The convention of a dataset's published tables: the Python evaluator for medical sets, VIFB's MATLAB toolkit otherwise. */
export function conventionFor(datasetId: string): Convention {
  return datasetId.startsWith('mif/') ? 'cddfuse' : datasetId.startsWith('mef/') ? 'mefb' : 'vifb';
}

/** Metric input from images: A and B sources (grey or colour) and the fused image, 0..255 planes. */
export function metricInput(a: Image, b: Image, f: Image): MetricInput {
  for (const [n, img] of [['source A', a], ['source B', b]] as const) {
    if (img.width !== f.width || img.height !== f.height) {
      throw new InputError(`${img.source ?? n} is ${img.width}x${img.height} but the fused image ${f.source ?? ''} is ${f.width}x${f.height}`);
    }
  }
  const lv = (img: Image) => img.planes.map((_, k) => levels255(img, k));
  return { w: f.width, h: f.height, vi: lv(a), ir: lv(b), f: lv(f) };
}
