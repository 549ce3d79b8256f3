/**
 * Complex FFT of any length: radix-2 for powers of two, Bluestein's chirp-z otherwise; and
 * the 2-D transform as rows then columns. Used by the frequency-domain metrics (Qcb, Qcv).
 */

export interface Complex2D {
  w: number;
  h: number;
  re: Float64Array;
  im: Float64Array;
}

interface Pow2Plan {
  rev: Uint32Array;
  cos: Float64Array;
  sin: Float64Array;
}
const pow2Plans = new Map<number, Pow2Plan>();

function pow2Plan(n: number): Pow2Plan {
  let p = pow2Plans.get(n);
  if (!p) {
    const rev = new Uint32Array(n);
    const bits = Math.log2(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      rev[i] = r;
    }
    const cos = new Float64Array(n / 2);
    const sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / n);
      sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    pow2Plans.set(n, (p = { rev, cos, sin }));
  }
  return p;
}

/** Iterative radix-2 FFT with tabulated twiddles (exact table values, no recurrence drift). */
function fftPow2(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  const { rev, cos, sin } = pow2Plan(n);
  for (let i = 0; i < n; i++) {
    const j = rev[i]!;
    if (i < j) {
      const tr = re[i]!;
      re[i] = re[j]!;
      re[j] = tr;
      const ti = im[i]!;
      im[i] = im[j]!;
      im[j] = ti;
    }
  }
  const sgn = inverse ? 1 : -1;
  for (let len = 2; len <= n; len <<= 1) {
    const half = len >> 1;
    const step = n / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < half; k++) {
        const cr = cos[k * step]!;
        const ci = sgn * sin[k * step]!;
        const a = i + k;
        const b = a + half;
        const tr = re[b]! * cr - im[b]! * ci;
        const ti = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
      }
    }
  }
}

const chirps = new Map<string, { m: number; wr: Float64Array; wi: Float64Array; br: Float64Array; bi: Float64Array }>();

/** In-place DFT of one complex vector (unnormalised; the inverse is scaled by 1/n). */
export function fft1(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (n <= 1) return;
  if ((n & (n - 1)) === 0) {
    fftPow2(re, im, inverse);
  } else {
    const key = `${n}|${inverse}`;
    let c = chirps.get(key);
    if (!c) {
      let m = 1;
      while (m < 2 * n - 1) m <<= 1;
      const wr = new Float64Array(n);
      const wi = new Float64Array(n);
      const sign = inverse ? 1 : -1;
      for (let k = 0; k < n; k++) {
        const ang = (sign * Math.PI * ((k * k) % (2 * n))) / n;
        wr[k] = Math.cos(ang);
        wi[k] = Math.sin(ang);
      }
      const br = new Float64Array(m);
      const bi = new Float64Array(m);
      br[0] = wr[0]!;
      bi[0] = -wi[0]!;
      for (let k = 1; k < n; k++) {
        br[k] = br[m - k] = wr[k]!;
        bi[k] = bi[m - k] = -wi[k]!;
      }
      fftPow2(br, bi, false);
      c = { m, wr, wi, br, bi };
      chirps.set(key, c);
    }
    const { m, wr, wi, br, bi } = c;
    const ar = new Float64Array(m);
    const ai = new Float64Array(m);
    for (let k = 0; k < n; k++) {
      ar[k] = re[k]! * wr[k]! - im[k]! * wi[k]!;
      ai[k] = re[k]! * wi[k]! + im[k]! * wr[k]!;
    }
    fftPow2(ar, ai, false);
    for (let k = 0; k < m; k++) {
      const r = ar[k]! * br[k]! - ai[k]! * bi[k]!;
      ai[k] = ar[k]! * bi[k]! + ai[k]! * br[k]!;
      ar[k] = r;
    }
    fftPow2(ar, ai, true);
    for (let k = 0; k < n; k++) {
      const r = ar[k]! / m;
      const i = ai[k]! / m;
      re[k] = r * wr[k]! - i * wi[k]!;
      im[k] = r * wi[k]! + i * wr[k]!;
    }
  }
  if (inverse) for (let k = 0; k < n; k++) {
    re[k]! /= n;
    im[k]! /= n;
  }
}

/** 2-D DFT; `realInput` (imaginary parts all zero) transforms two rows per complex FFT. */
export function fft2(x: Complex2D, inverse = false, realInput = false): Complex2D {
  const { w, h } = x;
  const re = x.re.slice();
  const im = x.im.slice();
  const rr = new Float64Array(w);
  const ri = new Float64Array(w);
  let y0 = 0;
  if (realInput && !inverse) {
    // Z = X + iY for real rows X, Y: X_k = (Z_k + conj(Z_{-k}))/2, Y_k = (Z_k - conj(Z_{-k}))/(2i)
    for (; y0 + 1 < h; y0 += 2) {
      rr.set(re.subarray(y0 * w, y0 * w + w));
      ri.set(re.subarray((y0 + 1) * w, (y0 + 1) * w + w));
      fft1(rr, ri, false);
      for (let k = 0; k < w; k++) {
        const nk = (w - k) % w;
        const zr = rr[k]!;
        const zi = ri[k]!;
        const cr = rr[nk]!;
        const ci = -ri[nk]!;
        re[y0 * w + k] = (zr + cr) / 2;
        im[y0 * w + k] = (zi + ci) / 2;
        re[(y0 + 1) * w + k] = (zi - ci) / 2;
        im[(y0 + 1) * w + k] = -(zr - cr) / 2;
      }
    }
  }
  for (let y = y0; y < h; y++) {
    rr.set(re.subarray(y * w, y * w + w));
    ri.set(im.subarray(y * w, y * w + w));
    fft1(rr, ri, inverse);
    re.set(rr, y * w);
    im.set(ri, y * w);
  }
  const cr = new Float64Array(h);
  const ci = new Float64Array(h);
  for (let xx = 0; xx < w; xx++) {
    for (let y = 0; y < h; y++) {
      cr[y] = re[y * w + xx]!;
      ci[y] = im[y * w + xx]!;
    }
    fft1(cr, ci, inverse);
    for (let y = 0; y < h; y++) {
      re[y * w + xx] = cr[y]!;
      im[y * w + xx] = ci[y]!;
    }
  }
  return { w, h, re, im };
}

/**
 * MATLAB's ifft2(ifftshift(fftshift(fft2(x)) .* H)) with H given on the centred grid
 * H(fy, fx), fy/fx from freqspace: multiplies the natural-order spectrum by H at each bin's
 * centred frequency. Returns the complex result.
 */
export function filterCentred(x: Float64Array, w: number, h: number, H: (u: number, v: number) => number): Complex2D {
  const F = fft2({ w, h, re: x, im: new Float64Array(w * h) }, false, true);
  // natural-order bin i has centred index (i + floor(n/2)) mod n, frequency (that - floor(n/2)) * 2/n
  const fx = new Float64Array(w);
  const fy = new Float64Array(h);
  for (let i = 0; i < w; i++) fx[i] = ((((i + Math.floor(w / 2)) % w) - Math.floor(w / 2)) * 2) / w;
  for (let i = 0; i < h; i++) fy[i] = ((((i + Math.floor(h / 2)) % h) - Math.floor(h / 2)) * 2) / h;
  for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
    const g = H(fx[xx]!, fy[y]!);
    F.re[y * w + xx]! *= g;
    F.im[y * w + xx]! *= g;
  }
  return fft2(F, true);
}
