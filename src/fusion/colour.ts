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
/** the nine coefficients row by row, for loops that keep them in locals */
const rowMajor = (m: ArrayLike<number>) => [0, 1, 2].flatMap((row) => [at(m, row, 0), at(m, row, 1), at(m, row, 2)]) as [number, number, number, number, number, number, number, number, number];

export interface YCbCr {
  y: Float32Array;
  cb: Float32Array;
  cr: Float32Array;
}

// The loops below read the nine coefficients from locals: indexing nested arrays per pixel made
// a 640x480 conversion several times slower, and it runs on every fused colour image. Same
// arithmetic in the same order as the matrix product, so the values are unchanged.
export function rgbToYCbCr(r: Float32Array, g: Float32Array, b: Float32Array): YCbCr {
  const n = r.length;
  const y = new Float32Array(n);
  const cb = new Float32Array(n);
  const cr = new Float32Array(n);
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = rowMajor(FORWARD);
  for (let i = 0; i < n; i++) {
    const R = r[i]!;
    const G = g[i]!;
    const B = b[i]!;
    y[i] = m00 * R + m01 * G + m02 * B + 0;
    cb[i] = m10 * R + m11 * G + m12 * B + 0.5;
    cr[i] = m20 * R + m21 * G + m22 * B + 0.5;
  }
  return { y, cb, cr };
}

export function yCbCrToRgb({ y, cb, cr }: YCbCr): [Float32Array, Float32Array, Float32Array] {
  const n = y.length;
  const r = new Float32Array(n);
  const g = new Float32Array(n);
  const b = new Float32Array(n);
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = rowMajor(INVERSE);
  for (let i = 0; i < n; i++) {
    const Y = y[i]!;
    const Cb = cb[i]! - 0.5;
    const Cr = cr[i]! - 0.5;
    r[i] = Math.min(1, Math.max(0, m00 * Y + m01 * Cb + m02 * Cr));
    g[i] = Math.min(1, Math.max(0, m10 * Y + m11 * Cb + m12 * Cr));
    b[i] = Math.min(1, Math.max(0, m20 * Y + m21 * Cb + m22 * Cr));
  }
  return [r, g, b];
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
  // Y alone, by rgbToYCbCr's arithmetic (the same values without the two chroma planes)
  const [r, gr, b] = g.planes as [Float32Array, Float32Array, Float32Array];
  const [m00, m01, m02] = rowMajor(FORWARD);
  const y = new Float32Array(r.length);
  for (let i = 0; i < y.length; i++) y[i] = m00 * r[i]! + m01 * gr[i]! + m02 * b[i]! + 0;
  return y;
}

/** The Y planes of two sources and how a fused Y becomes the output image: fuseColour's two halves, for fusers that are async. */
export interface ColourSplit {
  ya: Float32Array;
  yb: Float32Array;
  /** clamps y to [0, 1] in place; colour when either source is colour (chroma by fuseChroma, or the one colour source's chroma) */
  compose(y: Float32Array): Image;
}

export function splitColour(a: Image, b: Image, source?: string): ColourSplit {
  const ga = collapseGrey(a);
  const gb = collapseGrey(b);
  const ca = ga.planes.length === 3 ? rgbToYCbCr(ga.planes[0]!, ga.planes[1]!, ga.planes[2]!) : null;
  const cb = gb.planes.length === 3 ? rgbToYCbCr(gb.planes[0]!, gb.planes[1]!, gb.planes[2]!) : null;
  return {
    ya: ca ? ca.y : ga.planes[0]!,
    yb: cb ? cb.y : gb.planes[0]!,
    compose(y) {
      for (let i = 0; i < y.length; i++) y[i] = Math.min(1, Math.max(0, y[i]!));
      if (!ca && !cb) return makeImage(a.width, a.height, [y], 8, source);
      const chroma = (k: 'cb' | 'cr') => (ca && cb ? fuseChroma(ca[k], cb[k]) : (ca ?? cb)![k]);
      return makeImage(a.width, a.height, yCbCrToRgb({ y, cb: chroma('cb'), cr: chroma('cr') }), 8, source);
    },
  };
}

/** Fuses two images with a luminance fuser: Y planes are fused by `fuseY` (see splitColour for the rest). */
export function fuseColour(a: Image, b: Image, fuseY: (ya: Float32Array, yb: Float32Array) => Float32Array, source?: string): Image {
  const s = splitColour(a, b, source);
  return s.compose(fuseY(s.ya, s.yb));
}

/** The image with its luminance replaced by y (chroma kept; a grey image becomes y itself). */
export function withLuminance(img: Image, y: Float32Array, source?: string): Image {
  const g = collapseGrey(img);
  const yc = y.map((v) => Math.min(1, Math.max(0, v)));
  if (g.planes.length === 1) return makeImage(img.width, img.height, [yc], 8, source);
  const c = rgbToYCbCr(g.planes[0]!, g.planes[1]!, g.planes[2]!);
  return makeImage(img.width, img.height, yCbCrToRgb({ y: yc, cb: c.cb, cr: c.cr }), 8, source);
}
