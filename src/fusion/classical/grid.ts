/** Float planes with their size, and the small filters the classical fusers share. */

export interface Grid {
  w: number;
  h: number;
  d: Float32Array;
}

export function grid(w: number, h: number, d?: Float32Array): Grid {
  return { w, h, d: d ?? new Float32Array(w * h) };
}

/** Mean over a (2r+1)^2 window clipped at the borders (divides by the pixels inside), via integral images. */
export function boxMean(g: Grid, r: number): Grid {
  const { w, h, d } = g;
  const S = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += d[y * w + x]!;
      S[(y + 1) * (w + 1) + x + 1] = S[y * (w + 1) + x + 1]! + row;
    }
  }
  const out = grid(w, h);
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(h, y + r + 1);
    for (let x = 0; x < w; x++) {
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(w, x + r + 1);
      const s = S[y1 * (w + 1) + x1]! - S[y0 * (w + 1) + x1]! - S[y1 * (w + 1) + x0]! + S[y0 * (w + 1) + x0]!;
      out.d[y * w + x] = s / ((y1 - y0) * (x1 - x0));
    }
  }
  return out;
}

/** Separable filter with a symmetric odd kernel and mirrored borders. */
export function convolveSeparable(g: Grid, k: readonly number[]): Grid {
  const { w, h, d } = g;
  const r = (k.length - 1) / 2;
  const mirror = (i: number, n: number) => {
    if (n === 1) return 0;
    let j = i;
    while (j < 0 || j >= n) j = j < 0 ? -j : 2 * (n - 1) - j;
    return j;
  };
  const tmp = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let s = 0;
    for (let t = -r; t <= r; t++) s += k[t + r]! * d[y * w + mirror(x + t, w)]!;
    tmp[y * w + x] = s;
  }
  const out = grid(w, h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let s = 0;
    for (let t = -r; t <= r; t++) s += k[t + r]! * tmp[mirror(y + t, h) * w + x]!;
    out.d[y * w + x] = s;
  }
  return out;
}

export function gaussianKernel(r: number, sigma: number): number[] {
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const s = k.reduce((a, b) => a + b, 0);
  return k.map((v) => v / s);
}

/** |4-neighbour Laplacian| with clamped borders: the saliency both GFF and exposure fusion weigh by. */
export function laplacianAbs(g: Grid): Grid {
  const { w, h, d } = g;
  const out = grid(w, h);
  const at = (y: number, x: number) => d[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))]!;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.d[y * w + x] = Math.abs(at(y - 1, x) + at(y + 1, x) + at(y, x - 1) + at(y, x + 1) - 4 * at(y, x));
  return out;
}
