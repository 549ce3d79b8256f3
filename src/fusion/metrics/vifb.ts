/**
 * Metrics in the VIFB convention (MATLAB toolkit of Zhang et al., CVPRW 2020), reproducing
 * its definitions and quirks so that our numbers match its published per-image table:
 *
 * - Called as f(VI, IR, F). When F has 3 channels each metric is computed per channel
 *   (VI channel k, IR grey or channel k, F channel k) and averaged. When F is grey, colour
 *   sources are converted with rgb2gray (rounded for the metrics that convert uint8 data).
 * - Mutinf uses natural logs after min-max scaling each image to 0..255 and rounding.
 * - Psnr and Rmse use sqrt(sum((S - F)^2)) / (m n) as their "MSE".
 * - Variance is the population standard deviation; Ssim is SSIM(VI,F) + SSIM(IR,F).
 * - Spatial_frequency of an RGB F treats its planes as one m x 3n matrix (MATLAB size()).
 * - Qabf scales images by 255 (im2double of double data), so equal gradient strengths give
 *   GAF = gF rather than 1.
 * - Qcb/Qcv normalise to rounded 0..255, filter with their CSFs in the frequency domain
 *   (complex results; the real part of Qcv is reported), and Qcv's 16x16 blocks are
 *   zero-padded at the border as blkproc does. Qcv is lower-is-better.
 */
import { filterCentred, type Complex2D } from './fft.js';
import { filter2, filterSeparable, gaussian1d, gradient, histogram256, memo, minMax, normalize255, plane, rgb2gray, roundHalfAway, type Plane } from './plane.js';

/** The inputs of one metric call: planes on the 0..255 scale, one per channel. */
export interface MetricInput {
  w: number;
  h: number;
  /** visible (or source A) channels: 1 or 3 */
  vi: Float64Array[];
  /** infrared (or source B) channels: 1 or 3 */
  ir: Float64Array[];
  /** fused channels: 1 or 3 */
  f: Float64Array[];
}

type PairFn = (vi: Float64Array, ir: Float64Array, f: Float64Array, w: number, h: number) => number;

/**
 * The VIFB wrapper: per channel of F when F is colour, otherwise on grey planes.
 * `uint8Gray` says whether the metric's MATLAB code converts colour sources while they are
 * still uint8 (rounded rgb2gray) or after double().
 */
function perChannel(input: MetricInput, fn: PairFn, uint8Gray: boolean): number {
  const { w, h, vi, ir, f } = input;
  const grey = (c: Float64Array[]) => (c.length === 3 ? rgb2gray(c[0]!, c[1]!, c[2]!, uint8Gray) : c[0]!);
  if (f.length === 1) return fn(grey(vi), grey(ir), f[0]!, w, h);
  let s = 0;
  for (let k = 0; k < f.length; k++) s += fn(vi[k] ?? vi[0]!, ir[k] ?? ir[0]!, f[k]!, w, h);
  return s / f.length;
}

function entropyOf(hist: Float64Array, total: number, log: (x: number) => number): number {
  let e = 0;
  for (let k = 0; k < hist.length; k++) {
    const p = hist[k]! / total;
    if (p > 0) e -= p * log(p);
  }
  return e;
}

export function vifbEntropy(input: MetricInput): number {
  return perChannel(input, (_a, _b, f) => entropyOf(histogram256(f), f.length, Math.log2), true);
}

function crossEntropy(a: Float64Array, f: Float64Array): number {
  const h1 = histogram256(a);
  const h2 = histogram256(f);
  let r = 0;
  for (let k = 0; k < 256; k++) {
    const p1 = h1[k]! / a.length;
    const p2 = h2[k]! / a.length;
    if (p1 !== 0 && p2 !== 0) r += p1 * Math.log2(p1 / p2);
  }
  return r;
}

export function vifbCrossEntropy(input: MetricInput): number {
  return perChannel(input, (a, b, f) => (crossEntropy(a, f) + crossEntropy(b, f)) / 2, true);
}

/** Levels 1..256 after min-max scaling and int16 rounding (0 where the image is constant). */
function miLevels(d: Float64Array): Int32Array {
  const [lo, hi] = minMax(d);
  const out = new Int32Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = hi !== lo ? roundHalfAway(((d[i]! - lo) / (hi - lo)) * 255) : 0;
  return out;
}

/** Mutual information in nats from the joint 256x256 histogram of two level images. */
export function mutualInformationLevels(a: Int32Array, b: Int32Array): number {
  const joint = new Float64Array(256 * 256);
  const ha = new Float64Array(256);
  const hb = new Float64Array(256);
  for (let i = 0; i < a.length; i++) {
    joint[a[i]! * 256 + b[i]!]! += 1;
    ha[a[i]!]! += 1;
    hb[b[i]!]! += 1;
  }
  const n = a.length;
  return entropyOf(ha, n, Math.log) + entropyOf(hb, n, Math.log) - entropyOf(joint, n, Math.log);
}

export function vifbMutinf(input: MetricInput): number {
  return perChannel(input, (a, b, f) => {
    const lf = miLevels(f);
    const la = memo(a, 'miLevels', () => miLevels(a));
    const lb = memo(b, 'miLevels', () => miLevels(b));
    return mutualInformationLevels(la, lf) + mutualInformationLevels(lb, lf);
  }, true);
}

/** VIFB's "mse": sqrt(sum of squared differences) / (m n). */
function vifbMse(a: Float64Array, f: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - f[i]!) ** 2;
  return Math.sqrt(s) / a.length;
}

export function vifbPsnr(input: MetricInput): number {
  return perChannel(input, (a, b, f) => 20 * Math.log10(255 / Math.sqrt((vifbMse(a, f) + vifbMse(b, f)) / 2)), false);
}

export function vifbRmse(input: MetricInput): number {
  return perChannel(input, (a, b, f) => (vifbMse(a, f) + vifbMse(b, f)) / 2, false);
}

export function vifbAvgGradient(input: MetricInput): number {
  const { w, h, f } = input;
  let total = 0;
  for (const ch of f) {
    const { dx, dy } = gradient(plane(w, h, ch));
    let s = 0;
    for (let i = 0; i < ch.length; i++) s += Math.sqrt((dx.data[i]! ** 2 + dy.data[i]! ** 2) / 2);
    total += s / ((h - 1) * (w - 1));
  }
  return total / f.length;
}

const SOBEL = Float64Array.from([1, 2, 1, 0, 0, 0, -1, -2, -1]);
const SOBEL_T = Float64Array.from([1, 0, -1, 2, 0, -2, 1, 0, -1]);
const SOBEL_Y_CONV = Float64Array.from([-1, -2, -1, 0, 0, 0, 1, 2, 1]);

export function vifbEdgeIntensity(input: MetricInput): number {
  const { w, h, f } = input;
  let s = 0;
  for (const ch of f) {
    const p = plane(w, h, ch);
    const gx = filter2(SOBEL, 3, 3, p, 'same', 'replicate');
    const gy = filter2(SOBEL_T, 3, 3, p, 'same', 'replicate');
    for (let i = 0; i < ch.length; i++) s += Math.hypot(gx.data[i]!, gy.data[i]!);
  }
  return s / (w * h * f.length);
}

export function vifbVariance(input: MetricInput): number {
  return perChannel(input, (_a, _b, f) => {
    let m = 0;
    for (let i = 0; i < f.length; i++) m += f[i]!;
    m /= f.length;
    let v = 0;
    for (let i = 0; i < f.length; i++) v += (f[i]! - m) ** 2;
    return Math.sqrt(v / f.length);
  }, false);
}

export function vifbSpatialFrequency(input: MetricInput): number {
  // the channel planes side by side: an h x (w * channels) matrix
  const { w, h, f } = input;
  const W = w * f.length;
  const at = (y: number, x: number) => f[Math.floor(x / w)]![y * w + (x % w)]!;
  let rf = 0;
  let cf = 0;
  for (let y = 0; y < h; y++) for (let x = 1; x < W; x++) rf += (at(y, x) - at(y, x - 1)) ** 2;
  for (let x = 0; x < W; x++) for (let y = 1; y < h; y++) cf += (at(y, x) - at(y - 1, x)) ** 2;
  return Math.sqrt(rf / (h * W) + cf / (h * W));
}

// fspecial('gaussian', 11, 1.5) = g g^T with g normalised to sum 1
/** MEFB's Spatial_frequency: the usual per-channel SF, averaged over channels (no side-by-side quirk). */
export function mefbSpatialFrequency(input: MetricInput): number {
  return perChannel(input, (_a, _b, f, w, h) => {
    let rf = 0;
    let cf = 0;
    for (let y = 0; y < h; y++) for (let x = 1; x < w; x++) rf += (f[y * w + x]! - f[y * w + x - 1]!) ** 2;
    for (let y = 1; y < h; y++) for (let x = 0; x < w; x++) cf += (f[y * w + x]! - f[(y - 1) * w + x]!) ** 2;
    return Math.sqrt(rf / (w * h) + cf / (w * h));
  }, false);
}

const SSIM_G = (() => {
  const g = gaussian1d(5, 1.5);
  const s = g.reduce((a, b) => a + b, 0);
  return g.map((v) => v / s);
})();

/** Mean SSIM map (Wang et al. 2004) with an 11x11 Gaussian window, 'valid' borders, L = 255. */
export function ssimMatlab(a: Float64Array, b: Float64Array, w: number, h: number): number {
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  const pa = plane(w, h, a);
  const pb = plane(w, h, b);
  const sq = (x: Float64Array, y: Float64Array) => {
    const o = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) o[i] = x[i]! * y[i]!;
    return plane(w, h, o);
  };
  const f = (p: Plane) => filterSeparable(SSIM_G, SSIM_G, p, 'valid').data;
  const ua = f(pa);
  const ub = f(pb);
  const saa = f(sq(a, a));
  const sbb = f(sq(b, b));
  const sab = f(sq(a, b));
  let s = 0;
  for (let i = 0; i < ua.length; i++) {
    const ma = ua[i]!;
    const mb = ub[i]!;
    const va = saa[i]! - ma * ma;
    const vb = sbb[i]! - mb * mb;
    const cov = sab[i]! - ma * mb;
    s += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
  }
  return s / ua.length;
}

export function vifbSsim(input: MetricInput): number {
  return perChannel(input, (a, b, f, w, h) => ssimMatlab(a, f, w, h) + ssimMatlab(b, f, w, h), true);
}

// ---- Qabf (Xydeas & Petrovic 2000) ----

interface EdgeMap {
  g: Float64Array;
  a: Float64Array;
}

function sobelEdges(d: Float64Array, w: number, h: number, scale: number): EdgeMap {
  const p = plane(w, h, scale === 1 ? d : d.map((v) => v * scale));
  // conv2 with h3 (x) and h1 (y) is correlation with the kernels rotated by 180 degrees;
  // the signs matter: an undefined angle (x response 0) is set to +pi/2, not mirrored
  const sx = filter2(SOBEL_T, 3, 3, p, 'same', 'zero').data;
  const sy = filter2(SOBEL_Y_CONV, 3, 3, p, 'same', 'zero').data;
  const g = new Float64Array(d.length);
  const a = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) {
    g[i] = Math.sqrt(sx[i]! ** 2 + sy[i]! ** 2);
    a[i] = sx[i] === 0 ? Math.PI / 2 : Math.atan(sy[i]! / sx[i]!);
  }
  return { g, a };
}

const QABF = { Tg: 0.9994, kg: -15, Dg: 0.5, Ta: 0.9879, ka: -22, Da: 0.8 };

/** Edge preservation Q^{S->F} per pixel, VIFB's variant (GAF = gF where strengths are equal). */
function edgePreservation(s: EdgeMap, f: EdgeMap, i: number): number {
  const gs = s.g[i]!;
  const gf = f.g[i]!;
  const G = gs > gf ? gf / gs : gs === gf ? gf : gs / gf;
  const A = 1 - Math.abs(s.a[i]! - f.a[i]!) / (Math.PI / 2);
  const qg = QABF.Tg / (1 + Math.exp(QABF.kg * (G - QABF.Dg)));
  const qa = QABF.Ta / (1 + Math.exp(QABF.ka * (A - QABF.Da)));
  return qg * qa;
}

export function qabfPlanes(a: Float64Array, b: Float64Array, f: Float64Array, w: number, h: number, scale = 255): number {
  const ea = memo(a, `sobel${scale}`, () => sobelEdges(a, w, h, scale));
  const eb = memo(b, `sobel${scale}`, () => sobelEdges(b, w, h, scale));
  const ef = sobelEdges(f, w, h, scale);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += edgePreservation(ea, ef, i) * ea.g[i]! + edgePreservation(eb, ef, i) * eb.g[i]!;
    den += ea.g[i]! + eb.g[i]!;
  }
  return num / den;
}

export function vifbQabf(input: MetricInput): number {
  return perChannel(input, (a, b, f, w, h) => qabfPlanes(a, b, f, w, h), false);
}

// ---- Qcb (Chen & Blum 2009) ----

// 31x31 Gaussians exp(-(x^2+y^2)/(2 s^2)) / (2 pi s^2), unnormalised as in the original: separable as g(x) g(y)
const G1 = gaussian1d(15, 2, 1 / (Math.sqrt(2 * Math.PI) * 2));
const G2 = gaussian1d(15, 4, 1 / (Math.sqrt(2 * Math.PI) * 4));

/** |filter2(G1, x) / filter2(G2, x) - 1| for a complex image x, then C^p / (C^q + Z). */
function chenBlumContrast(x: Complex2D): Float64Array {
  const f = (k: Float64Array, d: Float64Array) => filterSeparable(k, k, plane(x.w, x.h, d), 'same').data;
  const ar = f(G1, x.re);
  const ai = f(G1, x.im);
  const br = f(G2, x.re);
  const bi = f(G2, x.im);
  const out = new Float64Array(ar.length);
  for (let i = 0; i < ar.length; i++) {
    // complex division (a / b) - 1
    const den = br[i]! * br[i]! + bi[i]! * bi[i]!;
    const qr = (ar[i]! * br[i]! + ai[i]! * bi[i]!) / den - 1;
    const qi = (ai[i]! * br[i]! - ar[i]! * bi[i]!) / den;
    const c = Math.hypot(qr, qi);
    out[i] = c ** 3 / (c ** 2 + 0.0001);
  }
  return out;
}

export function qcbPlanes(a: Float64Array, b: Float64Array, f: Float64Array, w: number, h: number): number {
  const HH = h / 30;
  const LL = w / 30;
  const csf = (u: number, v: number) => {
    const r = Math.hypot(LL * u, HH * v);
    return Math.exp(-((r / 15.387) ** 2)) - 0.7622 * Math.exp(-((r / 1.3456) ** 2));
  };
  const contrastOf = (d: Float64Array) => chenBlumContrast(filterCentred(normalize255(d), w, h, csf));
  const c1 = memo(a, 'qcbContrast', () => contrastOf(a));
  const c2 = memo(b, 'qcbContrast', () => contrastOf(b));
  const cf = contrastOf(f);
  let s = 0;
  for (let i = 0; i < c1.length; i++) {
    const p1 = c1[i]!;
    const p2 = c2[i]!;
    const pf = cf[i]!;
    const q1 = p1 < pf ? p1 / pf : pf / p1;
    const q2 = p2 < pf ? p2 / pf : pf / p2;
    const l1 = (p1 * p1) / (p1 * p1 + p2 * p2);
    const l2 = (p2 * p2) / (p1 * p1 + p2 * p2);
    s += l1 * q1 + l2 * q2;
  }
  return s / c1.length;
}

export function vifbQcb(input: MetricInput): number {
  return perChannel(input, qcbPlanes, false);
}

// ---- Qcv (Chen & Varshney 2007) ----

function blockSums(d: Float64Array, w: number, h: number, bs: number, fn: (v: number) => number): Float64Array {
  const bw = Math.ceil(w / bs);
  const bh = Math.ceil(h / bs);
  const out = new Float64Array(bw * bh);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[Math.floor(y / bs) * bw + Math.floor(x / bs)]! += fn(d[y * w + x]!);
  return out;
}

export function qcvPlanes(a: Float64Array, b: Float64Array, f: Float64Array, w: number, h: number): number {
  const BS = 16;
  const ALPHA = 5;
  const na = memo(a, 'normalize255', () => normalize255(a));
  const nb = memo(b, 'normalize255', () => normalize255(b));
  const nf = normalize255(f);
  const strength = (d: Float64Array) => {
    const p = plane(w, h, d);
    const x = filter2(Float64Array.from([-1, 0, 1, -2, 0, 2, -1, 0, 1]), 3, 3, p, 'same', 'zero').data;
    const y = filter2(Float64Array.from([-1, -2, -1, 0, 0, 0, 1, 2, 1]), 3, 3, p, 'same', 'zero').data;
    const g = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) g[i] = Math.hypot(x[i]!, y[i]!);
    return g;
  };
  const r1 = memo(a, 'qcvSaliency', () => blockSums(strength(na), w, h, BS, (v) => v ** ALPHA));
  const r2 = memo(b, 'qcvSaliency', () => blockSums(strength(nb), w, h, BS, (v) => v ** ALPHA));
  // Mannos-Sakrison CSF on the centred grid scaled by (w/8, h/8)
  const csf = (u: number, v: number) => {
    const r = Math.hypot((w / 8) * u, (h / 8) * v);
    return 2.6 * (0.0192 + 0.144 * r) * Math.exp(-((0.144 * r) ** 1.1));
  };
  // the filter is linear: filter(s - f) = filter(s) - filter(f), so the sources' part is cached
  const ff = filterCentred(nf, w, h, csf);
  const filteredDiff = (s: Float64Array, key: Float64Array): Complex2D => {
    const fs = memo(key, 'qcvFiltered', () => filterCentred(s, w, h, csf));
    return { w, h, re: fs.re.map((v, i) => v - ff.re[i]!), im: fs.im.map((v, i) => v - ff.im[i]!) };
  };
  // block means of the complex squares (blkproc pads partial blocks with zeros)
  const dist = (x: Complex2D) => {
    const bw = Math.ceil(w / BS);
    const out = new Float64Array(Math.ceil(h / BS) * bw);
    for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
      const i = y * w + xx;
      out[Math.floor(y / BS) * bw + Math.floor(xx / BS)]! += x.re[i]! ** 2 - x.im[i]! ** 2;
    }
    return out.map((v) => v / (BS * BS));
  };
  const d1 = dist(filteredDiff(na, a));
  const d2 = dist(filteredDiff(nb, b));
  let num = 0;
  let den = 0;
  for (let i = 0; i < r1.length; i++) {
    num += r1[i]! * d1[i]! + r2[i]! * d2[i]!;
    den += r1[i]! + r2[i]!;
  }
  return num / den;
}

export function vifbQcv(input: MetricInput): number {
  return perChannel(input, qcvPlanes, false);
}

/** The 13 columns of VIFB's table, by its column names. */
export const VIFB_METRICS: Record<string, (i: MetricInput) => number> = {
  Cross_entropy: vifbCrossEntropy,
  Entropy: vifbEntropy,
  Mutinf: vifbMutinf,
  Psnr: vifbPsnr,
  Avg_gradient: vifbAvgGradient,
  Edge_intensity: vifbEdgeIntensity,
  Qabf: vifbQabf,
  Variance: vifbVariance,
  Spatial_frequency: vifbSpatialFrequency,
  Rmse: vifbRmse,
  Ssim: vifbSsim,
  Qcb: vifbQcb,
  Qcv: vifbQcv,
};
