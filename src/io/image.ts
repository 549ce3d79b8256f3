/**
 * Image files: PNG (8/16 bit; grey, grey+alpha, RGB, RGBA, palette) through pngjs and JPEG
 * through jpeg-js, decoded to float planes in [0, 1]; PNG encoding; writes that never leave a
 * half-written or silently overwritten file.
 */
import { existsSync, readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { makeImage, toRgba8, type Image } from '../fusion/image.js';
import { InputError } from '../util/errors.js';
import { writeFileAtomic } from './checkpoint.js';

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47];
const JPEG_SIG = [0xff, 0xd8, 0xff];

function startsWith(b: Uint8Array, sig: number[]): boolean {
  return sig.every((v, i) => b[i] === v);
}

/** Decodes PNG or JPEG bytes; `name` is used in error messages. */
export async function decodeImage(bytes: Uint8Array, name: string): Promise<Image> {
  if (startsWith(bytes, PNG_SIG)) return decodePng(bytes, name);
  if (startsWith(bytes, JPEG_SIG)) return (await libjpeg()) ? decodeJpegLibjpeg(bytes, name) : decodeJpeg(bytes, name);
  throw new InputError(`${name}: unsupported image format (expected PNG or JPEG; the file starts with ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ') || 'nothing'})`);
}

function decodePng(bytes: Uint8Array, name: string): Image {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true });
  } catch (e) {
    throw new InputError(`${name}: cannot read this PNG: ${pngProblem((e as Error).message)}`);
  }
  const { width, height } = png;
  const depth = (png as unknown as { depth: number }).depth ?? 8;
  const colorType = (png as unknown as { colorType: number }).colorType;
  const bitDepth = depth === 16 ? 16 : 8;
  const max = 2 ** bitDepth - 1;
  const data = png.data as unknown as ArrayLike<number>;
  const n = width * height;
  // palette images expand to RGB(A) 8-bit; grey (0, 4) keeps one plane; colour (2, 3, 6) three
  const grey = colorType === 0 || colorType === 4;
  // low bit depths (1, 2, 4) are expanded by pngjs to 8-bit values unless the source is 16-bit
  const scale = depth < 8 && grey ? 255 : max;
  const planes = (grey ? [0] : [0, 1, 2]).map((c) => {
    const p = new Float32Array(n);
    for (let i = 0; i < n; i++) p[i] = data[i * 4 + c]! / scale;
    return p;
  });
  const img = makeImage(width, height, planes, bitDepth, name);
  if (colorType === 4 || colorType === 6 || colorType === 3) {
    for (let i = 0; i < n; i++) if (data[i * 4 + 3]! < max) {
      img.alphaDropped = true;
      break;
    }
  }
  return img;
}

/** What a pngjs (or zlib) error means, in our words: the file is what is wrong, not the decoder. */
function pngProblem(message: string): string {
  // pngjs says 'unrecognised content at end of stream' for damaged data (a flipped checksum too): test it before 'end of'
  if (/unrecognised content|crc|header check|invalid (distance|code|block|stored|literal)|zlib|inflate/i.test(message)) return 'its data is damaged (a chunk does not decode, or its checksum does not match)';
  if (/waiti?ng on finished stream|unexpected end|end of (input|file)|truncat|premature/i.test(message)) return 'the file ends early (truncated, or not completely copied)';
  if (/signature/i.test(message)) return 'it does not start like a PNG file';
  if (/unsupported|not supported|interlace|bit depth|color ?type/i.test(message)) return 'it uses a PNG variant fusionfm cannot decode';
  return 'the file is damaged';
}

/** What a JPEG decoder's error means, in our words. */
function jpegProblem(message: string): string {
  if (/premature|truncat|end of (file|data|input)|unexpected end|eof/i.test(message)) return 'the file ends early (truncated, or not completely copied)';
  if (/unsupported|not supported|arithmetic|lossless/i.test(message)) return 'it uses a JPEG variant fusionfm cannot decode';
  return 'its data is damaged';
}

type Sharp = typeof import('sharp');
let sharpModule: Sharp | null | undefined;

/**
 * JPEG decoding should match libjpeg (MATLAB, PIL and OpenCV use it): chroma is upsampled
 * with libjpeg's "fancy" triangle filter and the IDCT is its integer ISLOW. jpeg-js upsamples
 * chroma by pixel repetition and differs by up to 6 levels in 13% of values of a VIFB image,
 * enough to move published metrics by 0.1-2.5%. sharp (libvips + libjpeg-turbo, an optional
 * dependency) decodes exactly like libjpeg; jpeg-js is the fallback where sharp cannot load.
 */
async function libjpeg(): Promise<Sharp | null> {
  if (sharpModule === undefined) {
    try {
      sharpModule = (await import('sharp')).default as unknown as Sharp;
    } catch {
      sharpModule = null;
    }
  }
  return sharpModule;
}

/** Which JPEG decoder this process uses ('libjpeg-turbo (sharp)' or 'jpeg-js'). */
export async function jpegDecoder(): Promise<string> {
  return (await libjpeg()) ? 'libjpeg-turbo (sharp)' : 'jpeg-js';
}

async function decodeJpegLibjpeg(bytes: Uint8Array, name: string): Promise<Image> {
  const sharp = (await libjpeg())!;
  let out: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    // ignoreIcc: pixels as stored, like MATLAB, PIL and OpenCV (no conversion through an embedded profile)
    out = await sharp(bytes, { failOn: 'truncated', ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new InputError(`${name}: cannot read this JPEG: ${jpegProblem((e as Error).message)}`);
  }
  const { width, height, channels } = out.info;
  const n = width * height;
  const planes = (channels >= 3 ? [0, 1, 2] : [0]).map((c) => {
    const p = new Float32Array(n);
    for (let i = 0; i < n; i++) p[i] = out.data[i * channels + c]! / 255;
    return p;
  });
  return makeImage(width, height, planes, 8, name);
}

function decodeJpeg(bytes: Uint8Array, name: string): Image {
  let raw: { width: number; height: number; data: Uint8Array };
  try {
    raw = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxMemoryUsageInMB: 2048, maxResolutionInMP: 400 });
  } catch (e) {
    throw new InputError(`${name}: cannot read this JPEG: ${jpegProblem((e as Error).message)}`);
  }
  const { width, height, data } = raw;
  const n = width * height;
  if (data.length < n * 3) throw new InputError(`${name}: JPEG decoded to ${data.length} bytes for ${width}x${height}`);
  const planes = [0, 1, 2].map((c) => {
    const p = new Float32Array(n);
    for (let i = 0; i < n; i++) p[i] = data[i * 3 + c]! / 255;
    return p;
  });
  return makeImage(width, height, planes, 8, name);
}

export async function readImage(path: string): Promise<Image> {
  if (!existsSync(path)) throw new InputError(`${path}: image file not found`);
  return decodeImage(new Uint8Array(readFileSync(path)), path);
}

/** 8-bit PNG (grey or RGB), or 16-bit when the image says bitDepth 16; values are clamped to [0, 1] and rounded. NaN is an error, not a black pixel. */
export function encodePng(img: Image): Uint8Array {
  const { width, height } = img;
  const colorType = img.planes.length === 1 ? 0 : 2;
  if (img.bitDepth === 16) return encodePng16(img, colorType);
  const png = new PNG({ width, height, colorType, inputColorType: 6, inputHasAlpha: true });
  png.data.set(toRgba8(img));
  return new Uint8Array(PNG.sync.write(png, { colorType }));
}

function encodePng16(img: Image, colorType: 0 | 2): Uint8Array {
  const { width, height, planes } = img;
  const n = width * height;
  const c = planes.length;
  const samples = new Uint16Array(n * c);
  for (let k = 0; k < c; k++) {
    const p = planes[k]!;
    for (let i = 0; i < n; i++) {
      const v = p[i]!;
      if (Number.isNaN(v)) throw new InputError(`${img.source ?? 'image'}: pixel ${i % width},${Math.floor(i / width)} is NaN; refusing to write it`);
      samples[i * c + k] = Math.round(Math.min(1, Math.max(0, v)) * 65535);
    }
  }
  // pngjs takes 16-bit samples in the platform's order when input and output colour types agree
  const png = new PNG({ width, height, bitDepth: 16, colorType, inputColorType: colorType, inputHasAlpha: false });
  png.data = Buffer.from(samples.buffer);
  return new Uint8Array(PNG.sync.write(png, { bitDepth: 16, colorType, inputColorType: colorType, inputHasAlpha: false }));
}

/** Baseline JPEG (8-bit; quality 95) through jpeg-js's encoder. */
export function encodeJpeg(img: Image, quality = 95): Uint8Array {
  const data = toRgba8(img);
  const out = jpeg.encode({ data: Buffer.from(data.buffer, data.byteOffset, data.byteLength), width: img.width, height: img.height }, quality);
  return new Uint8Array(out.data);
}

/** The output formats, by file extension. */
export const OUTPUT_FORMATS = { '.png': 'PNG', '.jpg': 'JPEG', '.jpeg': 'JPEG' } as const;

/** The format a path's extension asks for, or an error naming the formats supported. */
export function outputFormat(path: string, arg = 'output'): 'PNG' | 'JPEG' {
  const m = /\.[^./\\]+$/.exec(path);
  const ext = (m?.[0] ?? '').toLowerCase() as keyof typeof OUTPUT_FORMATS;
  const f = OUTPUT_FORMATS[ext];
  if (!f) throw new InputError(`${arg} ${path}: ${m ? `'${m[0]}' is not a format fusionfm writes` : 'no file extension'}; name the file .png (8 or 16 bit) or .jpg/.jpeg (8 bit)`);
  return f;
}

/** Writes a PNG atomically; refuses to replace an existing file unless overwrite is set. */
export function writePng(path: string, img: Image, opts: { overwrite?: boolean } = {}): void {
  if (!opts.overwrite && existsSync(path)) throw new InputError(`${path}: output exists; pass --overwrite (or choose another path) to replace it`);
  writeFileAtomic(path, encodePng(img));
}

/** Writes PNG or JPEG as the extension says, atomically; refuses to replace an existing file unless overwrite is set. */
export function writeImage(path: string, img: Image, opts: { overwrite?: boolean } = {}): void {
  const format = outputFormat(path);
  if (!opts.overwrite && existsSync(path)) throw new InputError(`${path}: output exists; pass --overwrite (or choose another path) to replace it`);
  writeFileAtomic(path, format === 'PNG' ? encodePng(img) : encodeJpeg(img));
}
