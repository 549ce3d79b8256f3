/** Metrics on tiny images whose values can be worked out by hand. */
import { describe, expect, it } from 'vitest';
import { makeImage } from '../src/fusion/image.js';
import { en, mutualInfoScore, roundHalfEven, sd, sf, ag, cc, scd, ssimSkimage, vifp, msSsim, nabf, psnr } from '../src/fusion/metrics/evaluator.js';
import { fft2 } from '../src/fusion/metrics/fft.js';
import { getMetric, metricInput, METRICS } from '../src/fusion/metrics/index.js';
import { mefSsim } from '../src/fusion/metrics/mefssim.js';
import { plane } from '../src/fusion/metrics/plane.js';
import { qabfPlanes, ssimMatlab, vifbCrossEntropy, vifbEntropy, vifbSpatialFrequency, vifbVariance, vifbMutinf, vifbPsnr, vifbAvgGradient } from '../src/fusion/metrics/vifb.js';
import { SeededRng } from '../src/util/rng.js';

function texture(w: number, h: number, seed: number): Float64Array {
  const r = new SeededRng(seed);
  return Float64Array.from({ length: w * h }, (_, i) => Math.round(128 + 60 * Math.sin((i % w) / 3 + seed) + 50 * Math.cos(Math.floor(i / w) / 4) + 20 * (r.next() - 0.5)));
}
const one = (f: Float64Array, w: number, h: number, a = f, b = f) => ({ w, h, vi: [a], ir: [b], f: [f] });

describe('entropy, SD, SF, AG', () => {
  it('a half-black half-white image has 1 bit of entropy and SD 127.5', () => {
    const f = Float64Array.from({ length: 16 }, (_, i) => (i < 8 ? 0 : 255));
    expect(vifbEntropy(one(f, 4, 4))).toBeCloseTo(1, 12);
    expect(en(f)).toBeCloseTo(1, 12);
    expect(vifbVariance(one(f, 4, 4))).toBeCloseTo(127.5, 12);
    expect(sd(f)).toBeCloseTo(127.5, 12);
  });
  it('a constant image has zero entropy, SD, SF and AG', () => {
    const f = new Float64Array(25).fill(77);
    for (const v of [en(f), sd(f), sf(f, 5, 5), ag(f, 5, 5), vifbEntropy(one(f, 5, 5)), vifbSpatialFrequency(one(f, 5, 5)), vifbAvgGradient(one(f, 5, 5))]) expect(v).toBe(0);
  });
  it('SF of vertical stripes 0,10,0,10 (4x2): row differences only', () => {
    const f = Float64Array.from([0, 10, 0, 10, 0, 10, 0, 10]);
    // RF = 6 * 100 / 8 in VIFB (divides by m*n); the evaluator divides by h*(w-1) = 6
    expect(vifbSpatialFrequency(one(f, 4, 2))).toBeCloseTo(Math.sqrt(600 / 8), 12);
    expect(sf(f, 4, 2)).toBeCloseTo(10, 12);
  });
  it('VIFB SF of a colour image lays the channels side by side (the MATLAB size() quirk)', () => {
    const r = Float64Array.from([0, 0, 0, 0]);
    const g = Float64Array.from([10, 10, 10, 10]);
    const input = { w: 2, h: 2, vi: [r, r, r], ir: [r], f: [r, g, r] };
    // 2 x 6 matrix [0 0 10 10 0 0]: two jumps of 10 per row, 2 rows, over 12 cells
    expect(vifbSpatialFrequency(input)).toBeCloseTo(Math.sqrt(400 / 12), 12);
  });
});

describe('information measures', () => {
  it('MI of an image with itself is its entropy in nats; cross-entropy with itself is 0', () => {
    const f = Float64Array.from([0, 0, 255, 255, 100, 100, 100, 100]);
    const h = -(0.25 * Math.log(0.25) * 2 + 0.5 * Math.log(0.5));
    expect(mutualInfoScore(f, f)).toBeCloseTo(h, 12);
    expect(vifbMutinf(one(f, 4, 2))).toBeCloseTo(2 * h, 12);
    expect(vifbCrossEntropy(one(f, 4, 2))).toBe(0);
  });
  it('MI of independent halves is 0', () => {
    const a = Float64Array.from([0, 0, 1, 1]);
    const b = Float64Array.from([0, 1, 0, 1]);
    expect(mutualInfoScore(a, b)).toBeCloseTo(0, 12);
  });
});

describe('structural measures', () => {
  const w = 24;
  const h = 20;
  const a = texture(w, h, 1);
  const b = texture(w, h, 2);
  it('SSIM of identical images is 1 in every convention', () => {
    expect(ssimMatlab(a, a, w, h)).toBeCloseTo(1, 12);
    expect(ssimSkimage(a, a, w, h)).toBeCloseTo(1, 12);
    expect(msSsim(a, a, w, h)).toBeCloseTo(1, 12);
    expect(ssimMatlab(a, b, w, h)).toBeLessThan(0.9);
  });
  it('Qabf of a source with itself is Tg * Ta / (1 + e^-4.4) under VIFB scaling and with G = 1 unscaled', () => {
    const qa = 0.9879 / (1 + Math.exp(-22 * (1 - 0.8)));
    expect(qabfPlanes(a, a, a, w, h, 255)).toBeCloseTo(0.9994 * qa, 10);
    // unscaled: equal strengths give G = gF (= the strength itself), as the Python evaluator does
    expect(qabfPlanes(a, a, a, w, h, 1)).toBeGreaterThan(0.97);
    expect(qabfPlanes(a, b, b, w, h)).toBeLessThan(qabfPlanes(a, a, a, w, h));
  });
  it('VIF of an image with itself is 1; CC is 1; Nabf is 0; PSNR is infinite', () => {
    expect(vifp(a, a, w, h)).toBeCloseTo(1, 10);
    expect(cc(a, a, a)).toBeCloseTo(1, 12);
    expect(nabf(a, a, a, w, h)).toBe(0);
    expect(psnr(a, a, a)).toBe(Infinity);
  });
  it('SCD of F = A + B is 2 (each difference is the other source)', () => {
    expect(scd(a, b, a.map((v, i) => v + b[i]!))).toBeCloseTo(2, 12);
  });
  it('MEF-SSIM of a source against itself twice is close to 1, and lower for another image', () => {
    const big = texture(64, 64, 3);
    const other = texture(64, 64, 4);
    const p = plane(64, 64, big);
    expect(mefSsim([p, p], p)).toBeGreaterThan(0.99);
    expect(mefSsim([p, p], plane(64, 64, other))).toBeLessThan(mefSsim([p, p], p) - 0.2);
  });
});

describe('numerics', () => {
  it('NumPy rounding is half-to-even', () => {
    expect([0.5, 1.5, 2.5, -0.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, 2, 3]);
  });
  it('FFT of any size matches the direct DFT', () => {
    const w = 6;
    const h = 5;
    const x = Float64Array.from({ length: 30 }, (_, i) => Math.sin(i) + (i % 4));
    const F = fft2({ w, h, re: x, im: new Float64Array(30) }, false, true);
    for (const [u, v] of [[0, 0], [1, 2], [5, 4]] as const) {
      let sr = 0;
      let si = 0;
      for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
        const ang = -2 * Math.PI * ((u * xx) / w + (v * y) / h);
        sr += x[y * w + xx]! * Math.cos(ang);
        si += x[y * w + xx]! * Math.sin(ang);
      }
      expect(F.re[v * w + u]).toBeCloseTo(sr, 10);
      expect(F.im[v * w + u]).toBeCloseTo(si, 10);
    }
    const back = fft2(F, true);
    for (let i = 0; i < 30; i++) expect(back.re[i]).toBeCloseTo(x[i]!, 10);
  });
  it('VIFB PSNR uses sqrt(SSE)/(mn) as its MSE', () => {
    const a = Float64Array.from([0, 0, 0, 0]);
    const f = Float64Array.from([2, 2, 2, 2]);
    // sqrt(4 * 4) / 4 = 1 for both sources -> 20 log10(255 / 1)
    expect(vifbPsnr(one(f, 2, 2, a, a))).toBeCloseTo(20 * Math.log10(255), 12);
  });
});

describe('registry', () => {
  it('every metric runs on a small colour triple and bare names pick a convention', () => {
    const img = (seed: number) => makeImage(40, 36, [0, 1, 2].map((k) => Float32Array.from(texture(40, 36, seed + k), (v) => Math.min(255, Math.max(0, v)) / 255)));
    const input = metricInput(img(1), img(5), img(9));
    for (const m of METRICS.values()) expect(Number.isFinite(m.compute(input)) || m.name === 'MEF-SSIM', m.id).toBe(true);
    expect(getMetric('SSIM').id).toBe('SSIM@vifb');
    expect(getMetric('SSIM', 'cddfuse').id).toBe('SSIM@cddfuse');
    expect(getMetric('VIF', 'vifb').id).toBe('VIF@cddfuse');
    expect(() => getMetric('XYZ')).toThrow(/unknown metric 'XYZ'; known: /);
  });
});
