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
