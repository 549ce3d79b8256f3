/** Classical fusers by name: no training, any task; colour handled through YCbCr. */
import { fuseColour } from '../colour.js';
import { assertSameSize, type Image } from '../image.js';
import { InputError } from '../../util/errors.js';
import { dwtFuse } from './dwt.js';
import { exposureFuse } from './exposure.js';
import { gffFuse } from './gff.js';
import { laplacianFuse } from './pyramid.js';
import { averageFuse, maxFuse } from './simple.js';

type LumaFuser = (a: Float32Array, b: Float32Array, w: number, h: number) => Float32Array;

export const CLASSICAL: Record<string, { description: string; fuse: LumaFuser }> = {
  average: { description: 'pixel average', fuse: (a, b) => averageFuse(a, b) },
  max: { description: 'choose-max per pixel', fuse: (a, b) => maxFuse(a, b) },
  laplacian: { description: 'Laplacian pyramid, 5 levels, max-abs details, averaged base', fuse: (a, b, w, h) => laplacianFuse(a, b, w, h) },
  dwt: { description: 'Haar DWT, 3 levels, max-abs details, averaged approximation', fuse: (a, b, w, h) => dwtFuse(a, b, w, h) },
  gff: { description: 'guided filtering fusion (Li et al. 2013)', fuse: (a, b, w, h) => gffFuse(a, b, w, h) },
  exposure: { description: 'Laplacian pyramid to a few pixels, max-abs details, coarsest level blended by exposure-fusion weights (for multi-exposure)', fuse: (a, b, w, h) => exposureFuse(a, b, w, h) },
};

export function classicalNames(): string[] {
  return Object.keys(CLASSICAL);
}

/** Fuses a pair with a classical method; colour in, colour out. */
export function fuseClassical(method: string, a: Image, b: Image): Image {
  const m = CLASSICAL[method];
  if (!m) throw new InputError(`unknown classical fuser '${method}'; known: ${classicalNames().join(', ')}`);
  assertSameSize(method, a, b);
  return fuseColour(a, b, (ya, yb) => m.fuse(ya, yb, a.width, a.height), `${method}(${a.source ?? 'A'}, ${b.source ?? 'B'})`);
}
