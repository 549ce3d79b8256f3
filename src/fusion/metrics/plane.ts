/** A 2-D float64 array and the MATLAB-style helpers the metric definitions are written in. */

export interface Plane {
  w: number;
  h: number;
  data: Float64Array;
}

export function plane(w: number, h: number, data?: Float64Array): Plane {
  return { w, h, data: data ?? new Float64Array(w * h) };
}

/** MATLAB round / int16(): halves away from zero. */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

export function mean(p: Plane | Float64Array): number {
  const d = 'data' in p ? p.data : p;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i]!;
  return s / d.length;
}

export function minMax(d: Float64Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

export type Border = 'zero' | 'replicate' | 'symmetric';

/**
 * Correlation of p with an odd-sized kernel k (kh x kw, row-major), MATLAB filter2 /
 * imfilter semantics: 'same' keeps the size with the kernel centred, 'valid' keeps the
 * positions where the kernel fits. Borders: zero (filter2, conv2), replicate or symmetric.
 */
export function filter2(k: Float64Array, kh: number, kw: number, p: Plane, shape: 'same' | 'valid', border: Border = 'zero'): Plane {
  const cy = Math.floor((kh - 1) / 2);
  const cx = Math.floor((kw - 1) / 2);
  if (shape === 'valid') {
    const oh = p.h - kh + 1;
    const ow = p.w - kw + 1;
    const out = plane(Math.max(0, ow), Math.max(0, oh));
    for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let u = 0; u < kh; u++) {
        const row = (y + u) * p.w + x;
        for (let v = 0; v < kw; v++) s += k[u * kw + v]! * p.data[row + v]!;
      }
      out.data[y * ow + x] = s;
    }
    return out;
  }
  const out = plane(p.w, p.h);
  const at = (yy: number, xx: number): number => {
    if (yy >= 0 && yy < p.h && xx >= 0 && xx < p.w) return p.data[yy * p.w + xx]!;
    if (border === 'zero') return 0;
    if (border === 'replicate') return p.data[Math.min(p.h - 1, Math.max(0, yy)) * p.w + Math.min(p.w - 1, Math.max(0, xx))]!;
    const ry = yy < 0 ? -yy - 1 : yy >= p.h ? 2 * p.h - yy - 1 : yy;
    const rx = xx < 0 ? -xx - 1 : xx >= p.w ? 2 * p.w - xx - 1 : xx;
    return p.data[Math.min(p.h - 1, Math.max(0, ry)) * p.w + Math.min(p.w - 1, Math.max(0, rx))]!;
  };
  for (let y = 0; y < p.h; y++) for (let x = 0; x < p.w; x++) {
    let s = 0;
    const inside = y - cy >= 0 && y - cy + kh <= p.h && x - cx >= 0 && x - cx + kw <= p.w;
    for (let u = 0; u < kh; u++) for (let v = 0; v < kw; v++) {
      const kv = k[u * kw + v]!;
      if (kv === 0) continue;
      s += kv * (inside ? p.data[(y - cy + u) * p.w + (x - cx + v)]! : at(y - cy + u, x - cx + v));
    }
    out.data[y * p.w + x] = s;
  }
  return out;
}

/**
 * filter2 with a separable kernel ky (rows) x kx (columns), zero borders: the same result as
 * the full kernel ky^T kx, in (kh + kw) instead of kh * kw operations per pixel.
 */
export function filterSeparable(kx: Float64Array, ky: Float64Array, p: Plane, shape: 'same' | 'valid'): Plane {
  const kw = kx.length;
  const kh = ky.length;
  const cx = Math.floor((kw - 1) / 2);
  const cy = Math.floor((kh - 1) / 2);
  const { w, h, data } = p;
  const ow = shape === 'same' ? w : Math.max(0, w - kw + 1);
  const oh = shape === 'same' ? h : Math.max(0, h - kh + 1);
  const ox = shape === 'same' ? -cx : 0;
  const oy = shape === 'same' ? -cy : 0;
  // rows: every input row filtered along x
  const tmp = new Float64Array(ow * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < ow; x++) {
      let s = 0;
      const x0 = x + ox;
      const v0 = Math.max(0, -x0);
      const v1 = Math.min(kw, w - x0);
      for (let v = v0; v < v1; v++) s += kx[v]! * data[row + x0 + v]!;
      tmp[y * ow + x] = s;
    }
  }
  const out = plane(ow, oh);
  for (let y = 0; y < oh; y++) {
    const y0 = y + oy;
    const u0 = Math.max(0, -y0);
    const u1 = Math.min(kh, h - y0);
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let u = u0; u < u1; u++) s += ky[u]! * tmp[(y0 + u) * ow + x]!;
      out.data[y * ow + x] = s;
    }
  }
  return out;
}

/** Samples of exp(-x^2 / (2 sigma^2)) for x = -r..r, times `scale`. */
export function gaussian1d(r: number, sigma: number, scale = 1): Float64Array {
  const g = new Float64Array(2 * r + 1);
  for (let i = -r; i <= r; i++) g[i + r] = scale * Math.exp(-(i * i) / (2 * sigma * sigma));
  return g;
}

/** Normalised Gaussian window, as fspecial('gaussian', n, sigma). */
export function gaussianWindow(n: number, sigma: number): Float64Array {
  const w = new Float64Array(n * n);
  const c = (n - 1) / 2;
  let s = 0;
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) s += w[y * n + x] = Math.exp(-((x - c) ** 2 + (y - c) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < w.length; i++) w[i]! /= s;
  return w;
}

/** MATLAB gradient() with unit spacing: central differences inside, one-sided at the edges. */
export function gradient(p: Plane): { dx: Plane; dy: Plane } {
  const { w, h, data } = p;
  const dx = plane(w, h);
  const dy = plane(w, h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = y * w + x;
    if (w > 1) dx.data[i] = x === 0 ? data[i + 1]! - data[i]! : x === w - 1 ? data[i]! - data[i - 1]! : (data[i + 1]! - data[i - 1]!) / 2;
    if (h > 1) dy.data[i] = y === 0 ? data[i + w]! - data[i]! : y === h - 1 ? data[i]! - data[i - w]! : (data[i + w]! - data[i - w]!) / 2;
  }
  return { dx, dy };
}

/** 256-bin histogram of integer levels 0..255 (values are floored and clamped). */
export function histogram256(d: Float64Array): Float64Array {
  const hgm = new Float64Array(256);
  for (let i = 0; i < d.length; i++) hgm[Math.min(255, Math.max(0, Math.floor(d[i]!)))]! += 1;
  return hgm;
}

/** Min-max to 0..255 and rounded (Z. Liu's normalize1, used by Qcb and Qcv). */
export function normalize255(d: Float64Array): Float64Array {
  const [lo, hi] = minMax(d);
  if (lo === 0 && hi === 0) return d.slice();
  const out = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = roundHalfAway(((d[i]! - lo) / (hi - lo)) * 255);
  return out;
}

/** MATLAB rgb2gray weights (ITU-R BT.601 luma, as MATLAB states them). */
export const RGB2GRAY = [0.298936021293775, 0.587043074451121, 0.114020904255103] as const;

/** rgb2gray: for integer (uint8) inputs MATLAB rounds the result, for double inputs it does not. */
export function rgb2gray(r: Float64Array, g: Float64Array, b: Float64Array, roundToUint8: boolean): Float64Array {
  const out = new Float64Array(r.length);
  for (let i = 0; i < r.length; i++) {
    const v = RGB2GRAY[0] * r[i]! + RGB2GRAY[1] * g[i]! + RGB2GRAY[2] * b[i]!;
    out[i] = roundToUint8 ? Math.min(255, Math.max(0, roundHalfAway(v))) : v;
  }
  return out;
}

const memos = new WeakMap<object, Map<string, unknown>>();

/**
 * Caches a value derived from one input array (e.g. a source image's edge map), so that
 * scoring many fused results against the same sources computes the source side once.
 * Keyed by the array object: callers must not mutate arrays they pass to metrics.
 */
export function memo<T>(key: object, name: string, compute: () => T): T {
  let m = memos.get(key);
  if (!m) memos.set(key, (m = new Map()));
  if (!m.has(name)) m.set(name, compute());
  return m.get(name) as T;
}
