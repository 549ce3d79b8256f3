/**
 * Seeded training augmentation: the same random crop and flips applied to every image of a
 * sample (the sources and their label), so they stay aligned. Deterministic for a seed.
 */
import { assertSameSize, imageName, makeImage, type Image } from './image.js';
import { InputError } from '../util/errors.js';
import type { SeededRng } from '../util/rng.js';

export interface CropSpec {
  x: number;
  y: number;
  size: number;
  flipH: boolean;
  flipV: boolean;
}

/** Draws a crop of `size` x `size` and two coin flips from the generator. */
export function drawCrop(width: number, height: number, size: number, rng: SeededRng, source = 'image'): CropSpec {
  if (size > width || size > height) throw new InputError(`${source}: ${width}x${height} is smaller than the ${size}x${size} training crop`);
  return { x: rng.int(width - size + 1), y: rng.int(height - size + 1), size, flipH: rng.next() < 0.5, flipV: rng.next() < 0.5 };
}

/** An unflipped crop at (x, y): the window most samplers take. */
export function windowAt(x: number, y: number, size: number): CropSpec {
  return { x, y, size, flipH: false, flipV: false };
}

/**
 * Copies the crop `c` of a row-major plane `width` pixels wide into `out` from index `at`
 * (size * size values, row-major, flips applied): the one crop loop of every sampler.
 */
export function copyCrop(plane: Float32Array, width: number, c: CropSpec, out: Float32Array, at = 0): Float32Array {
  const S = c.size;
  for (let y = 0; y < S; y++) {
    const row = (c.y + (c.flipV ? S - 1 - y : y)) * width + c.x;
    if (!c.flipH) out.set(plane.subarray(row, row + S), at + y * S);
    else for (let x = 0; x < S; x++) out[at + y * S + x] = plane[row + S - 1 - x]!;
  }
  return out;
}

export function applyCrop(img: Image, c: CropSpec): Image {
  const planes = img.planes.map((p) => copyCrop(p, img.width, c, new Float32Array(c.size * c.size)));
  return makeImage(c.size, c.size, planes, img.bitDepth, img.source);
}

/** One aligned random crop of every image in `imgs` (which must share a size). */
export function randomAlignedCrop(imgs: Image[], size: number, rng: SeededRng): Image[] {
  const first = imgs[0]!;
  for (const im of imgs.slice(1)) assertSameSize('training crop', first, im);
  const c = drawCrop(first.width, first.height, size, rng, imageName(first));
  return imgs.map((im) => applyCrop(im, c));
}
