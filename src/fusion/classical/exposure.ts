/**
 * Exposure-weighted pyramid fusion, for multi-exposure pairs: the Laplacian pyramid's rule for
 * detail (larger absolute value per level), but the coarsest level is not averaged: it is blended
 * by Mertens, Kautz & Van Reeth's (2007) exposure-fusion weights, contrast (|3x3 Laplacian|) times
 * well-exposedness (a Gaussian around mid-grey, sigma 0.2), normalised over the two sources and
 * reduced to that level with the sources (their Gaussian pyramid). So the overall tone follows
 * whichever source is well exposed there instead of the mean of an under- and an over-exposed
 * frame, which the averaged base makes grey and flat. The pyramid goes down to a few pixels (as
 * in Mertens et al.), where the weights are nearly global: stopping at a finer level (the
 * Laplacian fuser's 5) made the base follow the noisy full-resolution weights in blotches.
 * Mertens' saturation term needs colour and is left out (the fusers here see luminance; chroma
 * follows colour.ts's rule).
 *
 * Chosen on MEFB's train pairs by the stage-1 composite (MEF-SSIM, Qabf, EN): 0.920 against the
 * Laplacian pyramid's 0.907 (bench/results/exposure-fuser/). As training labels it does not work:
 * its tone is set by the whole image, which the net's 64 px crops do not show.
 */
import { collapse, gaussianPyramid, laplacianPyramid } from './pyramid.js';
import { grid, laplacianAbs, type Grid } from './grid.js';

const WELL_EXPOSED_SIGMA = 0.2;
// keeps the weights defined where both sources are flat and far from mid-grey
const WEIGHT_FLOOR = 1e-12;

/** Mertens et al.'s weight of one source, without the colour-only saturation term. */
function exposureWeight(g: Grid): Float32Array {
  const c = laplacianAbs(g).d;
  const k = 1 / (2 * WELL_EXPOSED_SIGMA * WELL_EXPOSED_SIGMA);
  return c.map((v, i) => v * Math.exp(-((g.d[i]! - 0.5) ** 2) * k) + WEIGHT_FLOOR);
}

/** Pyramid depth: down to a level of 2-3 pixels on the shorter side. */
export function exposureLevels(w: number, h: number): number {
  return Math.max(1, Math.floor(Math.log2(Math.min(w, h))) - 1);
}

export function exposureFuse(a: Float32Array, b: Float32Array, w: number, h: number, levels = exposureLevels(w, h)): Float32Array {
  const ga = grid(w, h, a);
  const gb = grid(w, h, b);
  const wa = exposureWeight(ga);
  const wb = exposureWeight(gb);
  const pa = laplacianPyramid(ga, levels);
  const pb = laplacianPyramid(gb, levels);
  const top = pa.length - 1;
  const share = gaussianPyramid(grid(w, h, wa.map((v, i) => v / (v + wb[i]!))), pa.length)[top]!;
  const fused = pa.map((la, l) => {
    const lb = pb[l]!;
    if (l === top) return grid(la.w, la.h, la.d.map((v, i) => share.d[i]! * v + (1 - share.d[i]!) * lb.d[i]!));
    return grid(la.w, la.h, la.d.map((v, i) => (Math.abs(v) >= Math.abs(lb.d[i]!) ? v : lb.d[i]!)));
  });
  return collapse(fused).d;
}
