/** Reflection padding of planes: networks need sizes that are multiples of their stride. */

/** Index i mirrored into [0, n) without repeating the edge (as numpy's 'reflect'). */
export function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  let j = i;
  while (j < 0 || j >= n) j = j < 0 ? -j : 2 * (n - 1) - j;
  return j;
}

/** Copies a (x0, y0, pw, ph) window of a sw x sh plane, reflecting outside it. */
export function reflectWindow(src: Float32Array, sw: number, sh: number, x0: number, y0: number, pw: number, ph: number): Float32Array {
  const out = new Float32Array(pw * ph);
  for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) out[y * pw + x] = src[reflect(y0 + y, sh) * sw + reflect(x0 + x, sw)]!;
  return out;
}

/** The top-left w x h of a pw-wide plane. */
export function cropTopLeft(src: Float32Array, pw: number, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) out.set(src.subarray(y * pw, y * pw + w), y * w);
  return out;
}

/** The w x h window at (x0, y0) of a pw-wide plane. */
export function cropWindow(src: Float32Array, pw: number, x0: number, y0: number, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) out.set(src.subarray((y0 + y) * pw + x0, (y0 + y) * pw + x0 + w), y * w);
  return out;
}
