/**
 * Guided filtering based fusion (GFF; Li, Kang & Hu, IEEE TIP 2013): two-scale decomposition
 * (base = 31x31 mean, detail = rest), saliency = Gaussian-smoothed |Laplacian| (r 5, sigma 5),
 * binary weight maps of the most salient source refined by guided filtering with the source
 * as guide (base: r 45, eps 0.3; detail: r 7, eps 1e-6), weights normalised per pixel.
 */
import { boxMean, convolveSeparable, gaussianKernel, grid, laplacianAbs, type Grid } from './grid.js';

/** He et al.'s guided filter of p with guide I (box radius r, regulariser eps). */
export function guidedFilter(I: Grid, p: Grid, r: number, eps: number): Grid {
  const mul = (x: Grid, y: Grid) => grid(x.w, x.h, x.d.map((v, i) => v * y.d[i]!));
  const mI = boxMean(I, r);
  const mp = boxMean(p, r);
  const mIp = boxMean(mul(I, p), r);
  const mII = boxMean(mul(I, I), r);
  const a = grid(I.w, I.h);
  const b = grid(I.w, I.h);
  for (let i = 0; i < a.d.length; i++) {
    const cov = mIp.d[i]! - mI.d[i]! * mp.d[i]!;
    const v = mII.d[i]! - mI.d[i]! * mI.d[i]!;
    a.d[i] = cov / (v + eps);
    b.d[i] = mp.d[i]! - a.d[i]! * mI.d[i]!;
  }
  const ma = boxMean(a, r);
  const mb = boxMean(b, r);
  return grid(I.w, I.h, I.d.map((v, i) => ma.d[i]! * v + mb.d[i]!));
}

export function gffFuse(a: Float32Array, b: Float32Array, w: number, h: number): Float32Array {
  const srcs = [grid(w, h, a), grid(w, h, b)];
  const bases = srcs.map((s) => boxMean(s, 15));
  const detail = srcs.map((s, k) => grid(w, h, s.d.map((v, i) => v - bases[k]!.d[i]!)));
  const gk = gaussianKernel(5, 5);
  const sal = srcs.map((s) => convolveSeparable(laplacianAbs(s), gk));
  const P = [grid(w, h), grid(w, h)];
  for (let i = 0; i < w * h; i++) {
    const k = sal[0]!.d[i]! >= sal[1]!.d[i]! ? 0 : 1;
    P[k]!.d[i] = 1;
  }
  const wb = srcs.map((s, k) => guidedFilter(s, P[k]!, 45, 0.3));
  const wd = srcs.map((s, k) => guidedFilter(s, P[k]!, 7, 1e-6));
  const out = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) {
    const b0 = Math.max(wb[0]!.d[i]!, 0);
    const b1 = Math.max(wb[1]!.d[i]!, 0);
    const d0 = Math.max(wd[0]!.d[i]!, 0);
    const d1 = Math.max(wd[1]!.d[i]!, 0);
    const sb = b0 + b1 || 1;
    const sd = d0 + d1 || 1;
    out[i] = (b0 * bases[0]!.d[i]! + b1 * bases[1]!.d[i]!) / sb + (d0 * detail[0]!.d[i]! + d1 * detail[1]!.d[i]!) / sd;
  }
  return out;
}
