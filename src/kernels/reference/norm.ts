/** float64 CPU reference for the segment normalisation behind group norm and layer norm. */
import type { NormPlan } from '../norm.js';

/** Mean and 1/sqrt(var + eps) of segment s (two-pass). */
function segmentStats(x: ArrayLike<number>, p: NormPlan, s: number): [number, number] {
  let m = 0;
  for (let j = 0; j < p.L; j++) m += x[s * p.L + j]!;
  m /= p.L;
  let v = 0;
  for (let j = 0; j < p.L; j++) v += (x[s * p.L + j]! - m) ** 2;
  return [m, 1 / Math.sqrt(v / p.L + p.eps)];
}

export function normRef(x: ArrayLike<number>, p: NormPlan, gamma: ArrayLike<number> | null, beta: ArrayLike<number> | null): Float64Array {
  const y = new Float64Array(x.length);
  for (let s = 0; s < p.numSeg; s++) {
    const [m, rstd] = segmentStats(x, p, s);
    for (let j = 0; j < p.L; j++) {
      const i = s * p.L + j;
      const k = (s % p.G) * p.Cg + Math.floor(j / p.S);
      y[i] = (x[i]! - m) * rstd * (gamma ? gamma[k]! : 1) + (beta ? beta[k]! : 0);
    }
  }
  return y;
}

/** Gradients of sum(dy * norm(x)) by the closed form, in float64. */
export function normBackwardRef(x: ArrayLike<number>, dy: ArrayLike<number>, p: NormPlan, gamma: ArrayLike<number> | null) {
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(p.params);
  const dbeta = new Float64Array(p.params);
  for (let s = 0; s < p.numSeg; s++) {
    const [m, rstd] = segmentStats(x, p, s);
    let a = 0;
    let b = 0;
    for (let j = 0; j < p.L; j++) {
      const i = s * p.L + j;
      const k = (s % p.G) * p.Cg + Math.floor(j / p.S);
      const xh = (x[i]! - m) * rstd;
      const g = dy[i]! * (gamma ? gamma[k]! : 1);
      a += g;
      b += g * xh;
      dgamma[k]! += dy[i]! * xh;
      dbeta[k]! += dy[i]!;
    }
    a /= p.L;
    b /= p.L;
    for (let j = 0; j < p.L; j++) {
      const i = s * p.L + j;
      const k = (s % p.G) * p.Cg + Math.floor(j / p.S);
      const xh = (x[i]! - m) * rstd;
      dx[i] = rstd * (dy[i]! * (gamma ? gamma[k]! : 1) - a - xh * b);
    }
  }
  return { dx, dgamma, dbeta };
}

/**
 * Group norm of x [N, C, H, W] by windowed statistics (ops.ts withNormWindow), in float64: each
 * square window of `side` (the last of a row or column moved back inside the map) has its
 * group's mean and 1/sqrt(var + eps); a pixel takes them interpolated bilinearly between the
 * centres of the windows around it, clamped at the outermost centres.
 */
export function windowNormRef(x: ArrayLike<number>, [N, C, H, W]: readonly number[], G: number, side: number, gamma: ArrayLike<number> | null, beta: ArrayLike<number> | null, eps = 1e-5): Float64Array {
  const origins = (n: number) => { const s = Math.min(side, n); return { s, o: Array.from({ length: Math.ceil(n / s) }, (_, i) => Math.min(i * s, n - s)) }; };
  const [ry, rx] = [origins(H), origins(W)];
  const Cg = C / G;
  const stat = (n: number, g: number, y0: number, x0: number): [number, number] => {
    let [m, q, count] = [0, 0, 0];
    for (let c = g * Cg; c < (g + 1) * Cg; c++) for (let y = y0; y < y0 + ry.s; y++) for (let xx = x0; xx < x0 + rx.s; xx++) { m += x[((n * C + c) * H + y) * W + xx]!; count++; }
    m /= count;
    for (let c = g * Cg; c < (g + 1) * Cg; c++) for (let y = y0; y < y0 + ry.s; y++) for (let xx = x0; xx < x0 + rx.s; xx++) q += (x[((n * C + c) * H + y) * W + xx]! - m) ** 2;
    return [m, 1 / Math.sqrt(q / count + eps)];
  };
  // the two centres around p and the second's weight
  const around = (p: number, r: { s: number; o: number[] }): [number, number, number] => {
    const cs = r.o.map((v) => v + (r.s - 1) / 2);
    if (p <= cs[0]!) return [0, 0, 0];
    for (let i = 0; i + 1 < cs.length; i++) if (p <= cs[i + 1]!) return [i, i + 1, (p - cs[i]!) / (cs[i + 1]! - cs[i]!)];
    return [cs.length - 1, cs.length - 1, 0];
  };
  const y = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++) for (let g = 0; g < G; g++) {
    const stats = ry.o.map((oy) => rx.o.map((ox) => stat(n, g, oy, ox)));
    for (let yy = 0; yy < H; yy++) for (let xx = 0; xx < W; xx++) {
      const [y0, y1, ty] = around(yy, ry);
      const [x0, x1, tx] = around(xx, rx);
      let [m, r] = [0, 0];
      for (const [iy, wy] of [[y0, 1 - ty], [y1, ty]] as const) for (const [ix, wx] of [[x0, 1 - tx], [x1, tx]] as const) {
        m += wy * wx * stats[iy]![ix]![0];
        r += wy * wx * stats[iy]![ix]![1];
      }
      for (let c = g * Cg; c < (g + 1) * Cg; c++) {
        const i = ((n * C + c) * H + yy) * W + xx;
        y[i] = (x[i]! - m) * r * (gamma ? gamma[c]! : 1) + (beta ? beta[c]! : 0);
      }
    }
  }
  return y;
}
