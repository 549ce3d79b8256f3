/**
 * MEF-SSIM (Ma, Zeng & Wang, IEEE TIP 2015): structural similarity of a fused image to a
 * "desired" patch built from the source sequence (local contrast from the strongest source,
 * structure as a consistency-weighted blend), over three scales with weights
 * [0.0448, 0.2856, 0.3001] (normalised), 11x11 Gaussian window, K = 0.03, 2x2 mean +
 * symmetric padding between scales. Grey inputs on the 0..255 scale.
 */
import { filterSeparable, gaussian1d, memo, plane, type Plane } from './plane.js';

const WS = 11;
const BD = 5;
const EPS = 2.220446049250313e-16;

const GAUSS = (() => {
  const g = gaussian1d(5, 1.5);
  const s = g.reduce((a, b) => a + b, 0);
  return g.map((v) => v / s);
})();
const WINDOW = (() => {
  const w = new Float64Array(WS * WS);
  for (let y = 0; y < WS; y++) for (let x = 0; x < WS; x++) w[y * WS + x] = GAUSS[y]! * GAUSS[x]!;
  return w;
})();

/**
 * The source side of one scale: per window position, the desired patch x = sum_k a_k (d_k - mu_k)
 * (a_k folds the structure weights, 1/||d_k - mu_k|| and the contrast scale), its Gaussian mean
 * and variance. It does not depend on the fused image, so it is computed once per source set.
 */
interface SourceLevel {
  ow: number;
  oh: number;
  a: Float64Array[];
  mu: Float64Array[];
  mu1: Float64Array;
  s1: Float64Array;
}

function sourceLevel(seq: Plane[]): SourceLevel {
  const { w, h } = seq[0]!;
  const ow = w - 2 * BD;
  const oh = h - 2 * BD;
  const box = new Float64Array(WS).fill(1 / WS);
  const K = seq.length;
  const mu: Float64Array[] = [];
  const ed: Float64Array[] = [];
  for (const img of seq) {
    const m = filterSeparable(box, box, img, 'valid').data;
    const sq = plane(w, h, img.data.map((v) => v * v));
    const m2 = filterSeparable(box, box, sq, 'valid').data;
    mu.push(m);
    ed.push(m.map((v, i) => Math.sqrt(Math.max(WS * WS * (m2[i]! - v * v), 0)) + 0.001));
  }
  const a = seq.map(() => new Float64Array(ow * oh));
  const mu1 = new Float64Array(ow * oh);
  const s1 = new Float64Array(ow * oh);
  const rBlock = new Float64Array(WS * WS);
  const sumVec = new Float64Array(WS * WS);
  for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const o = i * ow + j;
    // structural consistency R: |sum of centred patches| / sum of |centred patches|
    let den = 0;
    sumVec.fill(0);
    for (let k = 0; k < K; k++) {
      const d = seq[k]!.data;
      let n2 = 0;
      for (let u = 0; u < WS; u++) for (let v = 0; v < WS; v++) {
        const x = d[(i + u) * w + (j + v)]!;
        sumVec[u * WS + v]! += x;
        n2 += (x - mu[k]![o]!) ** 2;
      }
      den += Math.sqrt(n2);
    }
    let sm = 0;
    for (let t = 0; t < WS * WS; t++) sm += sumVec[t]!;
    sm /= WS * WS;
    let num = 0;
    for (let t = 0; t < WS * WS; t++) num += (sumVec[t]! - sm) ** 2;
    let R = (Math.sqrt(num) + EPS) / (den + EPS);
    if (R > 1) R = 1 - EPS;
    if (R < 0) R = EPS;
    const p = Math.min(Math.tan((Math.PI / 2) * R), 10);
    let norm = 0;
    let maxEd = 0;
    const wts: number[] = [];
    for (let k = 0; k < K; k++) {
      const wk = (ed[k]![o]! / WS) ** p + EPS;
      wts.push(wk);
      norm += wk;
      maxEd = Math.max(maxEd, ed[k]![o]!);
    }
    rBlock.fill(0);
    for (let k = 0; k < K; k++) {
      const d = seq[k]!.data;
      const c = wts[k]! / norm / ed[k]![o]!;
      for (let u = 0; u < WS; u++) for (let v = 0; v < WS; v++) rBlock[u * WS + v]! += c * (d[(i + u) * w + (j + v)]! - mu[k]![o]!);
    }
    let rn = 0;
    for (let t = 0; t < WS * WS; t++) rn += rBlock[t]! ** 2;
    rn = Math.sqrt(rn);
    const scale = rn > 0 ? maxEd / rn : 1;
    for (let k = 0; k < K; k++) a[k]![o] = (scale * wts[k]!) / norm / ed[k]![o]!;
    let m1 = 0;
    for (let t = 0; t < WS * WS; t++) m1 += WINDOW[t]! * rBlock[t]! * scale;
    let v1 = 0;
    for (let t = 0; t < WS * WS; t++) v1 += WINDOW[t]! * (rBlock[t]! * scale - m1) ** 2;
    mu1[o] = m1;
    s1[o] = v1;
  }
  return { ow, oh, a, mu, mu1, s1 };
}

/**
 * SSIM of f against the desired patches. With x = sum_k a_k (d_k - mu_k) the cross term is
 * sum_k a_k (G(d_k f) - mu_k G(f)), so the fused side needs only Gaussian-filtered images.
 */
function mefSsimLevel(seq: Plane[], src: SourceLevel, f: Plane): number {
  const { ow, oh, a, mu, mu1, s1 } = src;
  const G = (p: Plane) => filterSeparable(GAUSS, GAUSS, p, 'valid').data;
  const mu2 = G(f);
  const ff = G(plane(f.w, f.h, f.data.map((v) => v * v)));
  const cross = seq.map((d) => G(plane(f.w, f.h, f.data.map((v, i) => v * d.data[i]!))));
  const C = (0.03 * 255) ** 2;
  let total = 0;
  for (let o = 0; o < ow * oh; o++) {
    let xf = 0;
    for (let k = 0; k < seq.length; k++) xf += a[k]![o]! * (cross[k]![o]! - mu[k]![o]! * mu2[o]!);
    const s2 = ff[o]! - mu2[o]! * mu2[o]!;
    const s12 = xf - mu1[o]! * mu2[o]!;
    total += (2 * s12 + C) / (s1[o]! + s2 + C);
  }
  return total / (ow * oh);
}

/** 2x2 mean with symmetric borders ('same'), keeping every second sample. */
function downsample(p: Plane): Plane {
  const ow = Math.ceil(p.w / 2);
  const oh = Math.ceil(p.h / 2);
  const out = plane(ow, oh);
  // imfilter 'same' with a 2x2 kernel: centre at (1,1) 1-based, so output(y,x) = mean of rows y..y+1, cols x..x+1
  const at = (y: number, x: number) => p.data[Math.min(y, 2 * p.h - 1 - y) * p.w + Math.min(x, 2 * p.w - 1 - x)]!;
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    const yy = 2 * y;
    const xx = 2 * x;
    out.data[y * ow + x] = (at(yy, xx) + at(yy, xx + 1) + at(yy + 1, xx) + at(yy + 1, xx + 1)) / 4;
  }
  return out;
}

/** MEF-SSIM of fused `f` against sources `seq` (grey planes, 0..255). NaN when an image is too small for three scales. */
export function mefSsim(seq: Plane[], f: Plane): number {
  const weights = [0.0448, 0.2856, 0.3001];
  const wsum = weights.reduce((a, b) => a + b, 0);
  if (Math.min(f.w, f.h) / 4 < WS) return NaN;
  // the source pyramid and its desired patches, once per source set (keyed by the arrays)
  const levels = memo(seq[0]!.data, `mefssim:${seq.length}`, () => ({ others: seq.slice(1).map((p) => p.data), levels: [] as { seq: Plane[]; src: SourceLevel }[] }));
  const cached = levels.others.every((d, k) => d === seq[k + 1]!.data) ? levels.levels : [];
  let fi = f;
  let q = 1;
  for (let l = 0; l < 3; l++) {
    if (!cached[l]) {
      const s = l === 0 ? seq : cached[l - 1]!.seq.map(downsample);
      cached[l] = { seq: s, src: sourceLevel(s) };
    }
    q *= mefSsimLevel(cached[l]!.seq, cached[l]!.src, fi) ** (weights[l]! / wsum);
    if (l < 2) fi = downsample(fi);
  }
  return q;
}
