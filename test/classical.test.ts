import { describe, expect, it } from 'vitest';
import { CLASSICAL, fuseClassical } from '../src/fusion/classical/index.js';
import { dwtFuse } from '../src/fusion/classical/dwt.js';
import { exposureFuse, exposureLevels } from '../src/fusion/classical/exposure.js';
import { gffFuse } from '../src/fusion/classical/gff.js';
import { laplacianFuse } from '../src/fusion/classical/pyramid.js';
import { fuseChroma, rgbToYCbCr, yCbCrToRgb, luminance } from '../src/fusion/colour.js';
import { isGreyRGB, makeImage } from '../src/fusion/image.js';
import { qabfPlanes } from '../src/fusion/metrics/vifb.js';
import { readImage } from '../src/io/image.js';
import { SeededRng } from '../src/util/rng.js';

function texture(w: number, h: number, seed: number): Float32Array {
  const r = new SeededRng(seed);
  return Float32Array.from({ length: w * h }, (_, i) => 0.5 + 0.3 * Math.sin((i % w) / 2 + seed) * Math.cos(Math.floor(i / w) / 3) + 0.1 * (r.next() - 0.5));
}

describe('colour', () => {
  it('RGB -> YCbCr -> RGB round-trips (BT.601 full range) and grey has neutral chroma', () => {
    const r = Float32Array.from([0, 1, 0.2, 0.5]);
    const g = Float32Array.from([0, 0, 0.7, 0.5]);
    const b = Float32Array.from([0, 0, 0.1, 0.5]);
    const ycc = rgbToYCbCr(r, g, b);
    expect(ycc.y[1]).toBeCloseTo(0.299, 6);
    expect(ycc.cb[3]).toBeCloseTo(0.5, 6);
    expect(ycc.cr[3]).toBeCloseTo(0.5, 6);
    const [r2, g2, b2] = yCbCrToRgb(ycc);
    for (let i = 0; i < 4; i++) {
      expect(r2[i]).toBeCloseTo(r[i]!, 5);
      expect(g2[i]).toBeCloseTo(g[i]!, 5);
      expect(b2[i]).toBeCloseTo(b[i]!, 5);
    }
  });
  it('the chroma rule weights by distance from neutral', () => {
    expect(Array.from(fuseChroma(Float32Array.from([0.5, 0.9, 0.5]), Float32Array.from([0.5, 0.5, 0.1])))).toEqual([0.5, Math.fround(0.9), Math.fround(0.1)]);
    const mixed = fuseChroma(Float32Array.from([0.7]), Float32Array.from([0.4]));
    expect(mixed[0]).toBeCloseTo((0.7 * 0.2 + 0.4 * 0.1) / 0.3, 6);
  });
  it('grey images stored as RGB are detected; output is colour when either source is', async () => {
    const ir = await readImage('samples/ivf-VIFB/carWhite_a.jpg');
    const vi = await readImage('samples/ivf-VIFB/carWhite_b.jpg');
    expect(isGreyRGB(ir)).toBe(true);
    expect(isGreyRGB(vi)).toBe(false);
    const f = fuseClassical('average', ir, vi);
    expect(f.planes.length).toBe(3);
    const ct = fuseClassical('average', await readImage('samples/mif-MRI-CT/13_a.png'), await readImage('samples/mif-MRI-CT/13_b.png'));
    expect(ct.planes.length).toBe(1);
    expect(luminance(ir)).toBe(ir.planes[0]);
  });
});

describe('classical fusers', () => {
  const w = 37;
  const h = 29; // odd sizes on purpose
  const a = texture(w, h, 1);
  it('fusing an image with itself returns it (multi-scale transforms reconstruct exactly)', () => {
    for (const [name, m] of Object.entries(CLASSICAL)) {
      const f = m.fuse(a, a, w, h);
      let err = 0;
      for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(f[i]! - a[i]!));
      expect(err, name).toBeLessThan(name === 'gff' ? 1e-3 : 1e-5);
    }
  });
  it('average and max are what they say', () => {
    const b = texture(w, h, 2);
    expect(CLASSICAL.average!.fuse(a, b, w, h)[5]).toBeCloseTo((a[5]! + b[5]!) / 2, 6);
    expect(CLASSICAL.max!.fuse(a, b, w, h)[7]).toBe(Math.max(a[7]!, b[7]!));
  });
  it('multi-scale fusers keep the edges of both sources (higher Qabf than the average)', () => {
    // A carries detail in its left half, B in its right half
    const left = a.map((v, i) => (i % w < w / 2 ? v : 0.5));
    const right = a.map((v, i) => (i % w >= w / 2 ? v : 0.5));
    const L = Float64Array.from(left, (v) => v * 255);
    const R = Float64Array.from(right, (v) => v * 255);
    const q = (f: Float32Array) => qabfPlanes(L, R, Float64Array.from(f, (v) => v * 255), w, h);
    const avg = q(CLASSICAL.average!.fuse(left, right, w, h));
    for (const f of [laplacianFuse(left, right, w, h), dwtFuse(left, right, w, h), gffFuse(left, right, w, h), exposureFuse(left, right, w, h)]) expect(q(f)).toBeGreaterThan(avg);
  });
  it('exposure fusion takes its tone from the well-exposed source and its detail as the Laplacian pyramid does', () => {
    const W = 64;
    const H = 48;
    const scene = texture(W, H, 3); // about 0.5 +- 0.35
    // one frame crushed towards black, the other exposed around mid-grey with a quarter of the contrast
    const dark = scene.map((v) => 0.04 + 0.1 * v);
    const mid = scene.map((v) => 0.4 + 0.25 * (v - 0.5));
    const mean = (x: Float32Array) => x.reduce((s, v) => s + v, 0) / x.length;
    const exposure = exposureFuse(dark, mid, W, H);
    const laplacian = laplacianFuse(dark, mid, W, H);
    // the averaged base sits halfway between the frames (~0.27); the weighted base follows the mid-grey frame
    expect(mean(laplacian)).toBeLessThan(0.3);
    expect(mean(exposure)).toBeGreaterThan(0.36);
    // below the coarsest level the rule is the Laplacian pyramid's: its gradients agree with
    // laplacianFuse at the same depth (2e-5 here; blending every level by the weights instead: 1.6e-3)
    const deep = laplacianFuse(dark, mid, W, H, exposureLevels(W, H));
    const dx = (f: Float32Array) => Float32Array.from({ length: W - 1 }, (_, x) => f[20 * W + x + 1]! - f[20 * W + x]!);
    const gE = dx(exposure);
    const gL = dx(deep);
    let diff = 0;
    for (let i = 0; i < gE.length; i++) diff = Math.max(diff, Math.abs(gE[i]! - gL[i]!));
    expect(diff).toBeLessThan(2e-4);
    expect(exposureLevels(W, H)).toBe(4);
    expect(exposureLevels(1200, 800)).toBe(8);
  });
  it('rejects sources of different sizes, naming both', () => {
    const x = makeImage(2, 2, [new Float32Array(4)], 8, 'x.png');
    const y = makeImage(3, 2, [new Float32Array(6)], 8, 'y.png');
    expect(() => fuseClassical('gff', x, y)).toThrow('gff: x.png is 2x2 but y.png is 3x2; the sources of a pair must have the same size');
    expect(() => fuseClassical('nope', x, x)).toThrow(/unknown classical fuser 'nope'/);
  });
});
