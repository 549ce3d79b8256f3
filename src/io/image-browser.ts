/**
 * Browser image decoding (no Node built-ins): the browser's own decoders through
 * createImageBitmap and an OffscreenCanvas, giving the same Image type as the Node reader.
 * 8-bit only (canvases are 8-bit); colour management is disabled so pixels stay as stored.
 */
import { collapseGrey, makeImage, type Image } from '../fusion/image.js';
import { InputError } from '../util/errors.js';

export async function decodeImageInBrowser(blob: Blob, name: string): Promise<Image> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new InputError(`${name}: the browser could not decode this file as an image (${(e as Error).message})`);
  }
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new InputError(`${name}: no 2D canvas context to read pixels`);
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const data = ctx.getImageData(0, 0, width, height).data;
  const n = width * height;
  const planes = [0, 1, 2].map((c) => {
    const p = new Float32Array(n);
    for (let i = 0; i < n; i++) p[i] = data[i * 4 + c]! / 255;
    return p;
  });
  // grey files come back as R = G = B: one plane, as the fusers treat grey stored as RGB
  return collapseGrey(makeImage(width, height, planes, 8, name));
}
