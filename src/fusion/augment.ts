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

export function applyCrop(img: Image, c: CropSpec): Image {
  const planes = img.planes.map((p) => {
    const out = new Float32Array(c.size * c.size);
    for (let y = 0; y < c.size; y++) for (let x = 0; x < c.size; x++) {
      const sx = c.x + (c.flipH ? c.size - 1 - x : x);
      const sy = c.y + (c.flipV ? c.size - 1 - y : y);
      out[y * c.size + x] = p[sy * img.width + sx]!;
    }
    return out;
  });
  return makeImage(c.size, c.size, planes, img.bitDepth, img.source);
}

/** One aligned random crop of every image in `imgs` (which must share a size). */
export function randomAlignedCrop(imgs: Image[], size: number, rng: SeededRng): Image[] {
  const first = imgs[0]!;
  for (const im of imgs.slice(1)) assertSameSize('training crop', first, im);
  const c = drawCrop(first.width, first.height, size, rng, imageName(first));
  return imgs.map((im) => applyCrop(im, c));
}
