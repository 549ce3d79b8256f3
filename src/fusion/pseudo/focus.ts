/**
 * Fidelity to the in-focus source for multi-focus fusion: an all-in-focus reference takes each
 * pixel from the source whose neighbourhood is sharper (energy of the Laplacian, smoothed over
 * a 15x15 Gaussian window), and the fused image is compared with it by SSIM. Plain SSIM against
 * both sources would reward the blurred half of every pair.
 */
import { ssimSkimage } from '../metrics/evaluator.js';
import { convolveSeparable, gaussianKernel, grid } from '../classical/grid.js';

/** Smoothed squared Laplacian: the focus measure per pixel. */
export function focusMeasure(d: Float64Array, w: number, h: number): Float32Array {
  const lap = new Float32Array(w * h);
  const at = (y: number, x: number) => d[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))]!;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const l = at(y - 1, x) + at(y + 1, x) + at(y, x - 1) + at(y, x + 1) - 4 * at(y, x);
    lap[y * w + x] = l * l;
  }
  return convolveSeparable(grid(w, h, lap), gaussianKernel(7, 3)).d;
}

/** Per pixel the source with the larger focus measure (A on ties). */
export function inFocusReference(a: Float64Array, b: Float64Array, w: number, h: number): Float64Array {
  const fa = focusMeasure(a, w, h);
  const fb = focusMeasure(b, w, h);
  return a.map((v, i) => (fa[i]! >= fb[i]! ? v : b[i]!));
}

export function focusSsim(a: Float64Array, b: Float64Array, f: Float64Array, w: number, h: number): number {
  return ssimSkimage(f, inFocusReference(a, b, w, h), w, h, 255);
}
