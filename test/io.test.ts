import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { makeImage } from '../src/fusion/image.js';
import { decodeImage, encodePng, jpegDecoder, readImage, writePng } from '../src/io/image.js';
import { hostCpu } from '../src/io/provenance.js';

function pngOf(colorType: 0 | 2 | 4 | 6, bitDepth: 8 | 16, w: number, h: number, pixel: (i: number, c: number) => number): Uint8Array {
  const png = new PNG({ width: w, height: h, colorType, bitDepth, inputColorType: 6, inputHasAlpha: true } as never);
  const data = bitDepth === 16 ? new Uint16Array(w * h * 4) : png.data;
  for (let i = 0; i < w * h; i++) for (let c = 0; c < 4; c++) data[i * 4 + c] = pixel(i, c);
  if (bitDepth === 16) (png as unknown as { data: Uint16Array }).data = data as Uint16Array;
  return new Uint8Array(PNG.sync.write(png, { colorType, bitDepth, inputColorType: 6, inputHasAlpha: true } as never));
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function chunk(type: string, data: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), Buffer.from(data)]);
  let c = 0xffffffff;
  for (const b of td) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return Buffer.concat([len, td, crc]);
}
/** A 2x1 palette PNG written by hand (pngjs cannot encode palettes). */
function palettePng(): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 3; // palette
  const plte = Uint8Array.from([255, 0, 0, 0, 0, 255]);
  const raw = Uint8Array.from([0, 0, 1]); // filter 0, indices 0 and 1
  return new Uint8Array(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('PLTE', plte), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array())]));
}

describe('image decoding', () => {
  it('8-bit grey, grey+alpha, RGB and RGBA PNGs become 1 or 3 planes in [0, 1]', async () => {
    const grey = await decodeImage(pngOf(0, 8, 3, 2, (i, c) => (c === 3 ? 255 : i * 40)), 'grey.png');
    expect(grey.planes.length).toBe(1);
    expect(Array.from(grey.planes[0]!).map((v) => Math.round(v * 255))).toEqual([0, 40, 80, 120, 160, 200]);
    const ga = await decodeImage(pngOf(4, 8, 2, 1, (i, c) => (c === 3 ? 7 : 100 + i)), 'ga.png');
    expect(ga.planes.length).toBe(1);
    const rgb = await decodeImage(pngOf(2, 8, 2, 1, (i, c) => (c === 3 ? 255 : [10, 20, 30][c]! + i)), 'rgb.png');
    expect(rgb.planes.map((p) => Math.round(p[1]! * 255))).toEqual([11, 21, 31]);
    const rgba = await decodeImage(pngOf(6, 8, 1, 1, (_i, c) => [1, 2, 3, 4][c]!), 'rgba.png');
    expect(rgba.planes.length).toBe(3);
    expect(rgba.bitDepth).toBe(8);
  });
  it('16-bit PNGs keep their precision', async () => {
    const img = await decodeImage(pngOf(0, 16, 2, 1, (i, c) => (c === 3 || i ? 65535 : 257)), 'g16.png');
    expect(img.bitDepth).toBe(16);
    expect(img.planes[0]![0]).toBeCloseTo(257 / 65535, 6);
    expect(img.planes[0]![1]).toBe(1);
  });
  it('palette PNGs expand to RGB', async () => {
    const img = await decodeImage(palettePng(), 'pal.png');
    expect(img.planes.length).toBe(3);
    expect(img.planes.map((p) => Array.from(p))).toEqual([[1, 0], [0, 0], [0, 1]]);
  });
  it('JPEG decodes with libjpeg semantics where sharp is available', async () => {
    const img = await readImage('samples/ivf-VIFB/carWhite_b.jpg');
    expect([img.width, img.height, img.planes.length]).toEqual([448, 324, 3]);
    expect(['libjpeg-turbo (sharp)', 'jpeg-js']).toContain(await jpegDecoder());
  });
  it('names the file and the problem for corrupt, truncated, unsupported and missing files', async () => {
    const good = readFileSync('samples/mif-MRI-CT/13_a.png');
    await expect(decodeImage(new Uint8Array(good.subarray(0, 200)), 'cut.png')).rejects.toThrow('cut.png: cannot read this PNG: the file ends early (truncated, or not completely copied)');
    const jpg = readFileSync('samples/ivf-VIFB/carWhite_a.jpg');
    await expect(decodeImage(new Uint8Array(jpg.subarray(0, 300)), 'cut.jpg')).rejects.toThrow(/^cut.jpg: cannot read this JPEG: (the file ends early \(truncated, or not completely copied\)|its data is damaged)$/);
    await expect(decodeImage(new TextEncoder().encode('GIF89a....'), 'x.gif')).rejects.toThrow(/x.gif: unsupported image format \(expected PNG or JPEG; the file starts with 47 49 46 38\)/);
    await expect(readImage('nope/missing.png')).rejects.toThrow('nope/missing.png: image file not found');
  });
});

describe('image writing', () => {
  it('round-trips through PNG, refuses to overwrite, and refuses NaN', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffm-io-'));
    const img = makeImage(3, 1, [Float32Array.from([0, 0.5, 1]), Float32Array.from([1, 0, 0]), Float32Array.from([0, 0, 1])]);
    const path = join(dir, 'o.png');
    writePng(path, img);
    const back = await readImage(path);
    expect(back.planes.map((p) => Array.from(p).map((v) => Math.round(v * 255)))).toEqual([[0, 128, 255], [255, 0, 0], [0, 0, 255]]);
    expect(() => writePng(path, img)).toThrow(/o.png: output exists; pass --overwrite/);
    writeFileSync(join(dir, 'keep.txt'), 'x');
    const bad = makeImage(1, 1, [Float32Array.from([NaN])]);
    expect(() => writePng(join(dir, 'nan.png'), bad)).toThrow(/pixel 0,0 is NaN/);
    expect(existsSync(join(dir, 'nan.png'))).toBe(false);
    expect(encodePng(img).length).toBeGreaterThan(0);
  });
});

describe('benchmark provenance', () => {
  it('names the host CPU beside the adapter: model, core count and only known vector extensions', () => {
    const h = hostCpu();
    expect(h.model.length).toBeGreaterThan(0);
    expect(h.cores).toBeGreaterThanOrEqual(1);
    for (const f of h.simd) expect(['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16']).toContain(f);
    // a Linux x86 host lists at least SSE4.2 (lavapipe needs it); elsewhere the list may be empty
    if (process.platform === 'linux' && process.arch === 'x64') expect(h.simd).toContain('sse4_2');
  });
});
