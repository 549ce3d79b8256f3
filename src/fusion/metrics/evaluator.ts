/**
 * Metrics in the convention of the CDDFuse / EMMA Python evaluator (utils/Evaluator.py of
 * MMIF-CDDFuse), used for the medical (Harvard) tables: everything on 8-bit grey images
 * (OpenCV's 0.299/0.587/0.114 conversion, rounded half-to-even as NumPy does), then
 *   EN  256-bin entropy (log2)          SD  population std       SF  sqrt(mean dx^2 + mean dy^2)
 *   AG  mean sqrt((gx^2+gy^2)/2) with np.gradient-style differences
 *   MI  sklearn mutual_info_score(F,A) + (F,B), nats, on the raw values
 *   MSE mean((A-F)^2) and mean((B-F)^2) averaged; PSNR 10 log10(max(F)^2 / MSE)
 *   CC  (corr(A,F) + corr(B,F)) / 2;  SCD corr(A, F-B) + corr(B, F-A)
 *   VIF pixel-domain VIF (4 scales, sigma_n^2 = 2) of A->F plus B->F
 *   Qabf Xydeas-Petrovic on unscaled values (equal strengths give G = gF, as in the original)
 *   SSIM skimage 0.19 defaults (7x7 uniform window, sample covariance) with data_range 2,
 *        the range it assumes for float input: the published numbers carry this quirk.
 * Also MS-SSIM (Wang 2003) and Nabf (artifacts, Kumar's modification), not in that file.
 */
import { filter2, filterSeparable, gaussian1d, plane, type Plane } from './plane.js';
import { qabfPlanes } from './vifb.js';

/** NumPy's round: halves to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** OpenCV COLOR_RGB2GRAY on float data, then np.round. */
export function cvGray(c: Float64Array[]): Float64Array {
  if (c.length === 1) return c[0]!;
  const [r, g, b] = c as [Float64Array, Float64Array, Float64Array];
  return r.map((_, i) => roundHalfEven(0.299 * r[i]! + 0.587 * g[i]! + 0.114 * b[i]!));
}

function meanOf(d: Float64Array): number {
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i]!;
  return s / d.length;
}

export function en(f: Float64Array): number {
  const hgm = new Float64Array(256);
  for (let i = 0; i < f.length; i++) hgm[Math.min(255, Math.max(0, roundHalfEven(f[i]!)))]! += 1;
  let e = 0;
  for (const c of hgm) if (c > 0) e -= (c / f.length) * Math.log2(c / f.length);
  return e;
}

export function sd(f: Float64Array): number {
  const m = meanOf(f);
  let v = 0;
  for (let i = 0; i < f.length; i++) v += (f[i]! - m) ** 2;
  return Math.sqrt(v / f.length);
}

export function sf(f: Float64Array, w: number, h: number): number {
  let rf = 0;
  let cf = 0;
  for (let y = 0; y < h; y++) for (let x = 1; x < w; x++) rf += (f[y * w + x]! - f[y * w + x - 1]!) ** 2;
  for (let y = 1; y < h; y++) for (let x = 0; x < w; x++) cf += (f[y * w + x]! - f[(y - 1) * w + x]!) ** 2;
  return Math.sqrt(rf / (h * (w - 1)) + cf / ((h - 1) * w));
}

export function ag(f: Float64Array, w: number, h: number): number {
  let s = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = y * w + x;
    const gx = w < 2 ? 0 : x === 0 ? f[i + 1]! - f[i]! : x === w - 1 ? f[i]! - f[i - 1]! : (f[i + 1]! - f[i - 1]!) / 2;
    const gy = h < 2 ? 0 : y === 0 ? f[i + w]! - f[i]! : y === h - 1 ? f[i]! - f[i - w]! : (f[i + w]! - f[i - w]!) / 2;
    s += Math.sqrt((gx * gx + gy * gy) / 2);
  }
  return s / (w * h);
}

/** sklearn.metrics.mutual_info_score of two label arrays (natural log). */
export function mutualInfoScore(a: Float64Array, b: Float64Array): number {
  const joint = new Map<number, number>();
  const ca = new Map<number, number>();
  const cb = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const key = x * 65536 + y;
    joint.set(key, (joint.get(key) ?? 0) + 1);
    ca.set(x, (ca.get(x) ?? 0) + 1);
    cb.set(y, (cb.get(y) ?? 0) + 1);
  }
  const n = a.length;
  let mi = 0;
  for (const [key, c] of joint) {
    const x = Math.floor(key / 65536);
    const y = key - x * 65536;
    mi += (c / n) * Math.log((c * n) / (ca.get(x)! * cb.get(y)!));
  }
  return Math.max(0, mi);
}

export function mse(a: Float64Array, b: Float64Array, f: Float64Array): number {
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < f.length; i++) {
    sa += (a[i]! - f[i]!) ** 2;
    sb += (b[i]! - f[i]!) ** 2;
  }
  return (sa / f.length + sb / f.length) / 2;
}

export function psnr(a: Float64Array, b: Float64Array, f: Float64Array): number {
  let mx = -Infinity;
  for (let i = 0; i < f.length; i++) mx = Math.max(mx, f[i]!);
  return 10 * Math.log10((mx * mx) / mse(a, b, f));
}

function corr(x: Float64Array, y: Float64Array): number {
  const mx = meanOf(x);
  const my = meanOf(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / Math.sqrt(sxx * syy);
}

export function cc(a: Float64Array, b: Float64Array, f: Float64Array): number {
  return (corr(a, f) + corr(b, f)) / 2;
}

export function scd(a: Float64Array, b: Float64Array, f: Float64Array): number {
  const fb = f.map((v, i) => v - b[i]!);
  const fa = f.map((v, i) => v - a[i]!);
  return corr(a, fb) + corr(b, fa);
}

/** Pixel-domain VIF of ref -> dist (Sheikh & Bovik), the evaluator's four-scale version. */
export function vifp(ref0: Float64Array, dist0: Float64Array, w0: number, h0: number): number {
  const SN = 2;
  const EPS = 1e-10;
  let ref: Plane = plane(w0, h0, ref0);
  let dist: Plane = plane(w0, h0, dist0);
  let num = 0;
  let den = 0;
  for (let scale = 1; scale <= 4; scale++) {
    const N = 2 ** (4 - scale + 1) + 1;
    const sdv = N / 5;
    const r = (N - 1) / 2;
    const g = gaussian1d(r, sdv);
    // MATLAB fspecial zeroes entries below eps * max of the 2-D kernel; with a separable
    // Gaussian the 2-D entries are products, so threshold them after forming the kernel
    const k2 = new Float64Array(N * N);
    let kmax = 0;
    for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) kmax = Math.max(kmax, (k2[y * N + x] = g[y]! * g[x]!));
    let ksum = 0;
    for (let i = 0; i < k2.length; i++) {
      if (k2[i]! < 2.220446049250313e-16 * kmax) k2[i] = 0;
      ksum += k2[i]!;
    }
    let zeroed = false;
    for (let i = 0; i < k2.length; i++) {
      if (k2[i] === 0) zeroed = true;
      k2[i]! /= ksum;
    }
    // with sigma = N/5 no entry falls below the threshold, so the kernel stays separable and
    // two 1-D passes (2N operations per pixel instead of N^2) give the same result
    const g1 = g.map((v) => v / g.reduce((s, x) => s + x, 0));
    const filt = (p: Plane) => (zeroed ? filter2(k2, N, N, p, 'valid') : filterSeparable(g1, g1, p, 'valid'));
    if (scale > 1) {
      const sub = (p: Plane) => {
        const q = filt(p);
        const ow = Math.ceil(q.w / 2);
        const oh = Math.ceil(q.h / 2);
        const o = plane(ow, oh);
        for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) o.data[y * ow + x] = q.data[2 * y * q.w + 2 * x]!;
        return o;
      };
      ref = sub(ref);
      dist = sub(dist);
    }
    const mu1 = filt(ref).data;
    const mu2 = filt(dist).data;
    const s11 = filt(plane(ref.w, ref.h, ref.data.map((v) => v * v))).data;
    const s22 = filt(plane(dist.w, dist.h, dist.data.map((v) => v * v))).data;
    const s12 = filt(plane(ref.w, ref.h, ref.data.map((v, i) => v * dist.data[i]!))).data;
    for (let i = 0; i < mu1.length; i++) {
      let sigma1 = Math.max(0, s11[i]! - mu1[i]! * mu1[i]!);
      const sigma2 = Math.max(0, s22[i]! - mu2[i]! * mu2[i]!);
      const sigma12 = s12[i]! - mu1[i]! * mu2[i]!;
      let gg = sigma12 / (sigma1 + EPS);
      let sv = sigma2 - gg * sigma12;
      if (sigma1 < EPS) {
        gg = 0;
        sv = sigma2;
        sigma1 = 0;
      }
      if (sigma2 < EPS) {
        gg = 0;
        sv = 0;
      }
      if (gg < 0) {
        sv = sigma2;
        gg = 0;
      }
      if (sv <= EPS) sv = EPS;
      num += Math.log10(1 + (gg * gg * sigma1) / (sv + SN));
      den += Math.log10(1 + sigma1 / SN);
    }
  }
  const v = num / den;
  return Number.isNaN(v) ? 1 : v;
}

export function vif(a: Float64Array, b: Float64Array, f: Float64Array, w: number, h: number): number {
  return vifp(a, f, w, h) + vifp(b, f, w, h);
}

/** skimage.metrics.structural_similarity defaults (7x7 uniform, sample covariance), cropped borders. */
export function ssimSkimage(x: Float64Array, y: Float64Array, w: number, h: number, dataRange = 2): number {
  const WIN = 7;
  const box = new Float64Array(WIN).fill(1 / WIN);
  const f = (d: Float64Array) => filterSeparable(box, box, plane(w, h, d), 'valid').data;
  const ux = f(x);
  const uy = f(y);
  const uxx = f(x.map((v) => v * v));
  const uyy = f(y.map((v) => v * v));
  const uxy = f(x.map((v, i) => v * y[i]!));
  const covNorm = (WIN * WIN) / (WIN * WIN - 1);
  const C1 = (0.01 * dataRange) ** 2;
  const C2 = (0.03 * dataRange) ** 2;
  let s = 0;
  for (let i = 0; i < ux.length; i++) {
    const vx = covNorm * (uxx[i]! - ux[i]! * ux[i]!);
    const vy = covNorm * (uyy[i]! - uy[i]! * uy[i]!);
    const vxy = covNorm * (uxy[i]! - ux[i]! * uy[i]!);
    s += ((2 * ux[i]! * uy[i]! + C1) * (2 * vxy + C2)) / ((ux[i]! ** 2 + uy[i]! ** 2 + C1) * (vx + vy + C2));
  }
  return s / ux.length;
}

export function ssimEvaluator(a: Float64Array, b: Float64Array, f: Float64Array, w: number, h: number): number {
  return ssimSkimage(f, a, w, h) + ssimSkimage(f, b, w, h);
}

export function qabfEvaluator(a: Float64Array, b: Float64Array, f: Float64Array, w: number, h: number): number {
  return qabfPlanes(a, b, f, w, h, 1);
}

/**
 * MS-SSIM (Wang, Simoncelli & Bovik 2003): 5 scales, weights [0.0448, 0.2856, 0.3001,
 * 0.2363, 0.1333], 11x11 Gaussian (sigma 1.5), L = 255, 2x2 mean downsampling; contrast-
 * structure terms at every scale, luminance at the coarsest. Scales that would be smaller
 * than the window are dropped and the weights renormalised.
 */
export function msSsim(x0: Float64Array, y0: Float64Array, w0: number, h0: number): number {
  const weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
  const g = (() => {
    const k = gaussian1d(5, 1.5);
    const s = k.reduce((p, q) => p + q, 0);
    return k.map((v) => v / s);
  })();
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  let x: Plane = plane(w0, h0, x0);
  let y: Plane = plane(w0, h0, y0);
  const levels: { cs: number; l: number }[] = [];
  for (let s = 0; s < weights.length && Math.min(x.w, x.h) >= 11; s++) {
    const f = (d: Float64Array) => filterSeparable(g, g, plane(x.w, x.h, d), 'valid').data;
    const ux = f(x.data);
    const uy = f(y.data);
    const uxx = f(x.data.map((v) => v * v));
    const uyy = f(y.data.map((v) => v * v));
    const uxy = f(x.data.map((v, i) => v * y.data[i]!));
    let cs = 0;
    let l = 0;
    for (let i = 0; i < ux.length; i++) {
      const vx = uxx[i]! - ux[i]! ** 2;
      const vy = uyy[i]! - uy[i]! ** 2;
      const vxy = uxy[i]! - ux[i]! * uy[i]!;
      cs += (2 * vxy + C2) / (vx + vy + C2);
      l += (2 * ux[i]! * uy[i]! + C1) / (ux[i]! ** 2 + uy[i]! ** 2 + C1);
    }
    levels.push({ cs: cs / ux.length, l: l / ux.length });
    const down = (p: Plane) => {
      const ow = Math.floor(p.w / 2);
      const oh = Math.floor(p.h / 2);
      const o = plane(ow, oh);
      for (let yy = 0; yy < oh; yy++) for (let xx = 0; xx < ow; xx++) {
        const b = 2 * yy * p.w + 2 * xx;
        o.data[yy * ow + xx] = (p.data[b]! + p.data[b + 1]! + p.data[b + p.w]! + p.data[b + p.w + 1]!) / 4;
      }
      return o;
    };
    x = down(x);
    y = down(y);
  }
  if (!levels.length) return NaN;
  const ws = weights.slice(0, levels.length);
  const total = ws.reduce((p, q) => p + q, 0);
  let q = 1;
  levels.forEach((lv, i) => {
    const wgt = ws[i]! / total;
    // negative contrast-structure terms (anti-correlated images) are clamped, as common implementations do
    q *= Math.max(lv.cs, 0) ** wgt;
    if (i === levels.length - 1) q *= Math.max(lv.l, 0) ** wgt;
  });
  return q;
}

/**
 * Nabf, the fusion artifact measure (Petrovic & Xydeas), in Kumar's modified form: the
 * gradient-weighted share of edge information lost, counted only where the fused gradient is
 * stronger than both sources' (new edges = artifacts). Lower is better.
 */
export function nabf(a: Float64Array, b: Float64Array, f: Float64Array, w: number, h: number): number {
  const edges = (d: Float64Array) => {
    const p = plane(w, h, d);
    const sx = filter2(Float64Array.from([1, 0, -1, 2, 0, -2, 1, 0, -1]), 3, 3, p, 'same').data;
    const sy = filter2(Float64Array.from([-1, -2, -1, 0, 0, 0, 1, 2, 1]), 3, 3, p, 'same').data;
    return { g: sx.map((v, i) => Math.hypot(v, sy[i]!)), a: sx.map((v, i) => (v === 0 ? Math.PI / 2 : Math.atan(sy[i]! / v))) };
  };
  const ea = edges(a);
  const eb = edges(b);
  const ef = edges(f);
  const q = (s: { g: Float64Array; a: Float64Array }, i: number) => {
    const gs = s.g[i]!;
    const gf = ef.g[i]!;
    const G = gs > gf ? gf / gs : gs === gf ? 1 : gs / gf;
    const A = 1 - Math.abs(s.a[i]! - ef.a[i]!) / (Math.PI / 2);
    return (0.9994 / (1 + Math.exp(-15 * (G - 0.5)))) * (0.9879 / (1 + Math.exp(-22 * (A - 0.8))));
  };
  let num = 0;
  let den = 0;
  for (let i = 0; i < f.length; i++) {
    const wa = ea.g[i]!;
    const wb = eb.g[i]!;
    den += wa + wb;
    if (ef.g[i]! > wa && ef.g[i]! > wb) num += (1 - q(ea, i)) * wa + (1 - q(eb, i)) * wb;
  }
  return den > 0 ? num / den : 0;
}
