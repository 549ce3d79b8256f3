/**
 * Laplacian pyramid fusion (Burt & Adelson 1983; Burt & Kolczynski 1993): 5-tap binomial
 * Gaussian pyramid, detail levels fused by larger absolute value, the coarsest (base) level
 * averaged. Odd sizes are handled by expanding to the finer level's exact size.
 */
import { convolveSeparable, grid, type Grid } from './grid.js';

const BINOMIAL = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];

function reduce(g: Grid): Grid {
  const s = convolveSeparable(g, BINOMIAL);
  const w = Math.ceil(g.w / 2);
  const h = Math.ceil(g.h / 2);
  const out = grid(w, h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.d[y * w + x] = s.d[2 * y * g.w + 2 * x]!;
  return out;
}

function expand(g: Grid, w: number, h: number): Grid {
  const up = grid(w, h);
  for (let y = 0; y < h; y += 2) for (let x = 0; x < w; x += 2) up.d[y * w + x] = 4 * g.d[(y >> 1) * g.w + (x >> 1)]!;
  return convolveSeparable(up, BINOMIAL);
}

/** Gaussian pyramid: the plane itself, then each level reduced from the one before. */
export function gaussianPyramid(g: Grid, levels: number): Grid[] {
  const out: Grid[] = [g];
  while (out.length < levels && Math.min(out[out.length - 1]!.w, out[out.length - 1]!.h) >= 2) out.push(reduce(out[out.length - 1]!));
  return out;
}

export function laplacianPyramid(g: Grid, levels: number): Grid[] {
  const out: Grid[] = [];
  let cur = g;
  for (let l = 0; l < levels - 1 && Math.min(cur.w, cur.h) >= 2; l++) {
    const next = reduce(cur);
    const e = expand(next, cur.w, cur.h);
    out.push(grid(cur.w, cur.h, cur.d.map((v, i) => v - e.d[i]!)));
    cur = next;
  }
  out.push(cur);
  return out;
}

export function collapse(pyr: Grid[]): Grid {
  let cur = pyr[pyr.length - 1]!;
  for (let l = pyr.length - 2; l >= 0; l--) {
    const lap = pyr[l]!;
    const e = expand(cur, lap.w, lap.h);
    cur = grid(lap.w, lap.h, lap.d.map((v, i) => v + e.d[i]!));
  }
  return cur;
}

export function laplacianFuse(a: Float32Array, b: Float32Array, w: number, h: number, levels = 5): Float32Array {
  const pa = laplacianPyramid(grid(w, h, a), levels);
  const pb = laplacianPyramid(grid(w, h, b), levels);
  const fused = pa.map((la, l) => {
    const lb = pb[l]!;
    const base = l === pa.length - 1;
    return grid(la.w, la.h, la.d.map((v, i) => (base ? (v + lb.d[i]!) / 2 : Math.abs(v) >= Math.abs(lb.d[i]!) ? v : lb.d[i]!)));
  });
  return collapse(fused).d;
}
