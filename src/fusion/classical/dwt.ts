/**
 * Discrete wavelet transform fusion with the Haar wavelet: a multi-level 2-D DWT of both
 * images, detail coefficients fused by larger absolute value, approximation averaged, then
 * the inverse transform. Odd sizes are padded by replication at each level and cropped back.
 */
import { grid, type Grid } from './grid.js';

interface Level {
  w: number;
  h: number;
  lh: Float32Array;
  hl: Float32Array;
  hh: Float32Array;
}

function forward(g: Grid): { ll: Grid; level: Level } {
  const w2 = Math.ceil(g.w / 2);
  const h2 = Math.ceil(g.h / 2);
  const at = (y: number, x: number) => g.d[Math.min(y, g.h - 1) * g.w + Math.min(x, g.w - 1)]!;
  const ll = grid(w2, h2);
  const lh = new Float32Array(w2 * h2);
  const hl = new Float32Array(w2 * h2);
  const hh = new Float32Array(w2 * h2);
  for (let y = 0; y < h2; y++) for (let x = 0; x < w2; x++) {
    const a = at(2 * y, 2 * x);
    const b = at(2 * y, 2 * x + 1);
    const c = at(2 * y + 1, 2 * x);
    const d = at(2 * y + 1, 2 * x + 1);
    const i = y * w2 + x;
    ll.d[i] = (a + b + c + d) / 2;
    lh[i] = (a - b + c - d) / 2;
    hl[i] = (a + b - c - d) / 2;
    hh[i] = (a - b - c + d) / 2;
  }
  return { ll, level: { w: g.w, h: g.h, lh, hl, hh } };
}

function inverse(ll: Grid, lv: Level): Grid {
  const out = grid(lv.w, lv.h);
  const w2 = ll.w;
  for (let y = 0; y < ll.h; y++) for (let x = 0; x < w2; x++) {
    const i = y * w2 + x;
    const s = ll.d[i]!;
    const p = lv.lh[i]!;
    const q = lv.hl[i]!;
    const r = lv.hh[i]!;
    const vals = [(s + p + q + r) / 2, (s - p + q - r) / 2, (s + p - q - r) / 2, (s - p - q + r) / 2];
    const pos = [[2 * y, 2 * x], [2 * y, 2 * x + 1], [2 * y + 1, 2 * x], [2 * y + 1, 2 * x + 1]] as const;
    pos.forEach(([yy, xx], k) => {
      if (yy < lv.h && xx < lv.w) out.d[yy * lv.w + xx] = vals[k]!;
    });
  }
  return out;
}

export function dwtFuse(a: Float32Array, b: Float32Array, w: number, h: number, levels = 3): Float32Array {
  let ga = grid(w, h, a);
  let gb = grid(w, h, b);
  const details: Level[] = [];
  for (let l = 0; l < levels && Math.min(ga.w, ga.h) >= 2; l++) {
    const fa = forward(ga);
    const fb = forward(gb);
    const pick = (x: Float32Array, y: Float32Array) => x.map((v, i) => (Math.abs(v) >= Math.abs(y[i]!) ? v : y[i]!));
    details.push({ w: fa.level.w, h: fa.level.h, lh: pick(fa.level.lh, fb.level.lh), hl: pick(fa.level.hl, fb.level.hl), hh: pick(fa.level.hh, fb.level.hh) });
    ga = fa.ll;
    gb = fb.ll;
  }
  let cur = grid(ga.w, ga.h, ga.d.map((v, i) => (v + gb.d[i]!) / 2));
  for (let l = details.length - 1; l >= 0; l--) cur = inverse(cur, details[l]!);
  return cur.d;
}
