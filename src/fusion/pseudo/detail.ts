/**
 * Stage 2's arithmetic (the Fusion Refiner's "conquer" step), on luminance planes in [0, 1]:
 *
 *   D_S   = HP(S) - HP(P_S(F))     detail of source S that the label F cannot reproduce
 *                                  (P_S: the probe that maps the label back to source S)
 *   W_S   = sqrt(E(D_S)) / (sqrt(E(D_A)) + sqrt(E(D_B)))   which source's lost detail
 *                                  dominates here (E: Gaussian-smoothed energy)
 *   rho   = E(HP(F)) / max(E(HP(A)), E(HP(B)))    how much of the sources' local structure
 *                                  the label already carries
 *   M     = [rho < c], softened by a small Gaussian   the protection mask: 0 where the label
 *                                  agrees with the sources, so those pixels stay as they are
 *   F'    = clamp(F + alpha * M * (W_A D_A + W_B D_B), 0, 1)
 *
 * HP(x) = x - G_2(x), a Gaussian high-pass with sigma 2 px.
 */
import { convolveSeparable, gaussianKernel, grid } from '../classical/grid.js';

export interface RefineParams {
  /** protection threshold on rho: pixels whose label carries at least c of the sources' structure are left alone */
  c: number;
  /** global strength of the added detail */
  alpha: number;
}

const HP_KERNEL = gaussianKernel(6, 2);
const ENERGY_KERNEL = gaussianKernel(9, 3);
const MASK_KERNEL = gaussianKernel(3, 1);
const EPS = 1e-6;

function blur(d: Float32Array, w: number, h: number, k: readonly number[]): Float32Array {
  return convolveSeparable(grid(w, h, d), k).d;
}

export function highPass(d: Float32Array, w: number, h: number): Float32Array {
  const low = blur(d, w, h, HP_KERNEL);
  return d.map((v, i) => v - low[i]!);
}

export function localEnergy(d: Float32Array, w: number, h: number): Float32Array {
  return blur(d.map((v) => v * v), w, h, ENERGY_KERNEL);
}

export interface Refinement {
  y: Float32Array;
  /** protection mask (1 = refined, 0 = protected) */
  mask: Float32Array;
  /** W_A (W_B = 1 - W_A) */
  weightA: Float32Array;
}

/**
 * f: the label's luminance; a, b: the sources'; pa, pb: the probes' reconstructions of the
 * sources from the label. All planes w x h in [0, 1].
 */
export function refineLuma(f: Float32Array, a: Float32Array, b: Float32Array, pa: Float32Array, pb: Float32Array, w: number, h: number, p: RefineParams): Refinement {
  const hpA = highPass(a, w, h);
  const hpB = highPass(b, w, h);
  const hpPA = highPass(pa, w, h);
  const hpPB = highPass(pb, w, h);
  const dA = hpA.map((v, i) => v - hpPA[i]!);
  const dB = hpB.map((v, i) => v - hpPB[i]!);
  const eA = localEnergy(dA, w, h);
  const eB = localEnergy(dB, w, h);
  const eF = localEnergy(highPass(f, w, h), w, h);
  const eSA = localEnergy(hpA, w, h);
  const eSB = localEnergy(hpB, w, h);
  const hard = new Float32Array(w * h);
  for (let i = 0; i < hard.length; i++) {
    const rho = eF[i]! / (Math.max(eSA[i]!, eSB[i]!) + EPS);
    hard[i] = rho < p.c ? 1 : 0;
  }
  // soften the edges of the mask, but never let it leak into fully protected regions
  const soft = blur(hard, w, h, MASK_KERNEL);
  const mask = soft.map((v, i) => (hard[i] ? v : 0));
  const weightA = new Float32Array(w * h);
  const y = new Float32Array(w * h);
  for (let i = 0; i < y.length; i++) {
    const sa = Math.sqrt(eA[i]!);
    const sb = Math.sqrt(eB[i]!);
    const wa = sa + sb > EPS ? sa / (sa + sb) : 0.5;
    weightA[i] = wa;
    const add = p.alpha * mask[i]! * (wa * dA[i]! + (1 - wa) * dB[i]!);
    y[i] = Math.min(1, Math.max(0, f[i]! + add));
  }
  return { y, mask, weightA };
}
