/** Images as the fusion layer sees them: 1 or 3 float planes in [0, 1], with their bit depth. */
import { InputError } from '../util/errors.js';

export interface Image {
  width: number;
  height: number;
  /** 1 plane (grey) or 3 (R, G, B), row-major, values in [0, 1] */
  planes: Float32Array[];
  /** bit depth of the source file (8 or 16), so metrics can recover integer levels exactly */
  bitDepth: number;
  /** where it came from, for error messages */
  source?: string;
  /** the file had an alpha channel that was not fully opaque; fusion ignores alpha, so it was dropped */
  alphaDropped?: boolean;
}

export function imageName(img: Image): string {
  return img.source ?? `image ${img.width}x${img.height}`;
}

export function makeImage(width: number, height: number, planes: Float32Array[], bitDepth = 8, source?: string): Image {
  if (planes.length !== 1 && planes.length !== 3) throw new InputError(`${source ?? 'image'}: expected 1 or 3 planes, got ${planes.length}`);
  for (const p of planes) if (p.length !== width * height) throw new InputError(`${source ?? 'image'}: plane of ${p.length} values for ${width}x${height}`);
  return { width, height, planes, bitDepth, source };
}

/** True when the three planes are identical (a grey image stored as RGB). */
export function isGreyRGB(img: Image): boolean {
  if (img.planes.length !== 3) return false;
  const [r, g, b] = img.planes as [Float32Array, Float32Array, Float32Array];
  for (let i = 0; i < r.length; i++) if (r[i] !== g[i] || r[i] !== b[i]) return false;
  return true;
}

/** Grey images stored as RGB become one plane; others are returned as they are. */
export function collapseGrey(img: Image): Image {
  return isGreyRGB(img) ? { ...img, planes: [img.planes[0]!] } : img;
}

/**
 * A plane on the 0..255 scale in float64. 8-bit sources give exact integers (the value was
 * k/255 in float32, so rounding recovers k), 16-bit sources scaled values.
 */
export function levels255(img: Image, plane: number): Float64Array {
  const p = img.planes[plane];
  if (!p) throw new InputError(`${imageName(img)}: no plane ${plane}`);
  const out = new Float64Array(p.length);
  if (img.bitDepth === 8) for (let i = 0; i < p.length; i++) out[i] = Math.round(p[i]! * 255);
  else {
    const max = 2 ** img.bitDepth - 1;
    for (let i = 0; i < p.length; i++) out[i] = (Math.round(p[i]! * max) * 255) / max;
  }
  return out;
}

export function assertSameSize(what: string, a: Image, b: Image): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new InputError(`${what}: ${imageName(a)} is ${a.width}x${a.height} but ${imageName(b)} is ${b.width}x${b.height}; the sources of a pair must have the same size`);
  }
}

/** Plane i of an image, repeating a grey plane for every colour channel. */
export function planeOrGrey(img: Image, i: number): Float32Array {
  return img.planes.length === 1 ? img.planes[0]! : img.planes[i]!;
}

/** The pixel mean of two same-size images (a grey one counts as grey in every channel), 8-bit. */
export function averageImages(x: Image, y: Image, source: string): Image {
  const n = Math.max(x.planes.length, y.planes.length);
  const planes = Array.from({ length: n }, (_, c) => planeOrGrey(x, c).map((v, i) => 0.5 * (v + planeOrGrey(y, c)[i]!)));
  return makeImage(x.width, x.height, planes, 8, source);
}

/**
 * 8-bit RGBA pixels (what a PNG file or a canvas holds): values clamped to [0, 1] and rounded,
 * grey repeated in R, G and B, alpha opaque. A NaN pixel is an error, never a silent black.
 */
export function toRgba8(img: Image): Uint8ClampedArray<ArrayBuffer> {
  const n = img.width * img.height;
  const out = new Uint8ClampedArray(n * 4);
  for (let c = 0; c < 3; c++) {
    const p = planeOrGrey(img, c);
    for (let i = 0; i < n; i++) {
      const v = p[i]!;
      if (Number.isNaN(v)) throw new InputError(`${imageName(img)}: pixel ${i % img.width},${Math.floor(i / img.width)} is NaN; refusing to write it`);
      out[i * 4 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  for (let i = 0; i < n; i++) out[i * 4 + 3] = 255;
  return out;
}
