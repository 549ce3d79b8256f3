/**
 * Colour handling for fusion: BT.601 full-range RGB <-> YCbCr (the JPEG/JFIF transform used
 * throughout the fusion literature), fusion on Y, and the usual chroma rule
 * C = sum_i C_i |C_i - 1/2| / sum_i |C_i - 1/2| (1/2 where both are neutral).
 * The 3x3 matrices come from wgpu-matrix (the inverse is computed, not hand-written).
 */
import { mat3d } from 'wgpu-matrix';
import { collapseGrey, makeImage, type Image } from './image.js';

// rows Y, Cb, Cr; columns R, G, B (values in [0, 1], chroma offset +1/2)
const RGB_TO_YCBCR = [
  [0.299, 0.587, 0.114],
  [-0.168735892, -0.331264108, 0.5],
  [0.5, -0.418687589, -0.081312411],
] as const;

// wgpu-matrix stores mat3 column-major, each column padded to 4 floats: m[col * 4 + row]
const FORWARD = mat3d.create(...[0, 1, 2].flatMap((c) => [0, 1, 2].map((r) => RGB_TO_YCBCR[r]![c]!)));
const INVERSE = mat3d.inverse(FORWARD);
const at = (m: ArrayLike<number>, row: number, col: number) => m[col * 4 + row]!;

export interface YCbCr {
  y: Float32Array;
  cb: Float32Array;
  cr: Float32Array;
}

export function rgbToYCbCr(r: Float32Array, g: Float32Array, b: Float32Array): YCbCr {
  const n = r.length;
  const out = [new Float32Array(n), new Float32Array(n), new Float32Array(n)] as const;
  const m = [0, 1, 2].map((row) => [at(FORWARD, row, 0), at(FORWARD, row, 1), at(FORWARD, row, 2)]);
  for (let i = 0; i < n; i++) {
    const R = r[i]!;
    const G = g[i]!;
    const B = b[i]!;
    for (let k = 0; k < 3; k++) out[k][i] = m[k]![0]! * R + m[k]![1]! * G + m[k]![2]! * B + (k ? 0.5 : 0);
  }
  return { y: out[0], cb: out[1], cr: out[2] };
}

export function yCbCrToRgb({ y, cb, cr }: YCbCr): [Float32Array, Float32Array, Float32Array] {
  const n = y.length;
  const out = [new Float32Array(n), new Float32Array(n), new Float32Array(n)] as [Float32Array, Float32Array, Float32Array];
  const m = [0, 1, 2].map((row) => [at(INVERSE, row, 0), at(INVERSE, row, 1), at(INVERSE, row, 2)]);
  for (let i = 0; i < n; i++) {
    const Y = y[i]!;
    const Cb = cb[i]! - 0.5;
    const Cr = cr[i]! - 0.5;
    for (let k = 0; k < 3; k++) out[k][i] = Math.min(1, Math.max(0, m[k]![0]! * Y + m[k]![1]! * Cb + m[k]![2]! * Cr));
  }
  return out;
}

/** Chroma of two sources: weights |C - 1/2| (the more saturated source dominates). */
export function fuseChroma(c1: Float32Array, c2: Float32Array): Float32Array {
  const out = new Float32Array(c1.length);
  for (let i = 0; i < c1.length; i++) {
    const w1 = Math.abs(c1[i]! - 0.5);
    const w2 = Math.abs(c2[i]! - 0.5);
    out[i] = w1 + w2 === 0 ? 0.5 : (c1[i]! * w1 + c2[i]! * w2) / (w1 + w2);
  }
  return out;
}

/** The luminance plane of an image (grey images are their own luminance). */
export function luminance(img: Image): Float32Array {
  const g = collapseGrey(img);
  if (g.planes.length === 1) return g.planes[0]!;
  return rgbToYCbCr(g.planes[0]!, g.planes[1]!, g.planes[2]!).y;
}

/**
 * Fuses two images with a luminance fuser: Y planes are fused by `fuseY`; the result is colour
 * when either source is colour (chroma by fuseChroma, or the one colour source's chroma).
 */
export function fuseColour(a: Image, b: Image, fuseY: (ya: Float32Array, yb: Float32Array) => Float32Array, source?: string): Image {
  const ga = collapseGrey(a);
  const gb = collapseGrey(b);
  const ca = ga.planes.length === 3 ? rgbToYCbCr(ga.planes[0]!, ga.planes[1]!, ga.planes[2]!) : null;
  const cb = gb.planes.length === 3 ? rgbToYCbCr(gb.planes[0]!, gb.planes[1]!, gb.planes[2]!) : null;
  const y = fuseY(ca ? ca.y : ga.planes[0]!, cb ? cb.y : gb.planes[0]!);
  for (let i = 0; i < y.length; i++) y[i] = Math.min(1, Math.max(0, y[i]!));
  if (!ca && !cb) return makeImage(a.width, a.height, [y], 8, source);
  const chroma = (k: 'cb' | 'cr') => (ca && cb ? fuseChroma(ca[k], cb[k]) : (ca ?? cb)![k]);
  return makeImage(a.width, a.height, yCbCrToRgb({ y, cb: chroma('cb'), cr: chroma('cr') }), 8, source);
}

/** The image with its luminance replaced by y (chroma kept; a grey image becomes y itself). */
export function withLuminance(img: Image, y: Float32Array, source?: string): Image {
  const g = collapseGrey(img);
  const yc = y.map((v) => Math.min(1, Math.max(0, v)));
  if (g.planes.length === 1) return makeImage(img.width, img.height, [yc], 8, source);
  const c = rgbToYCbCr(g.planes[0]!, g.planes[1]!, g.planes[2]!);
  return makeImage(img.width, img.height, yCbCrToRgb({ y: yc, cb: c.cb, cr: c.cr }), 8, source);
}
