/** float64 CPU references for the smaller kernel families. */

export function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, batch: number, M: number, K: number, N: number, transA: boolean, transB: boolean, batchA = batch, batchB = batch): Float64Array {
  const c = new Float64Array(batch * M * N);
  for (let t = 0; t < batch; t++) {
    const ao = batchA === 1 ? 0 : t * M * K;
    const bo = batchB === 1 ? 0 : t * K * N;
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const av = transA ? a[ao + k * M + i]! : a[ao + i * K + k]!;
        const bv = transB ? b[bo + j * K + k]! : b[bo + k * N + j]!;
        s += av * bv;
      }
      c[t * M * N + i * N + j] = s;
    }
  }
  return c;
}

export function softmaxRef(x: ArrayLike<number>, L: number, scale = 1): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / L; r++) {
    let m = -Infinity;
    for (let j = 0; j < L; j++) m = Math.max(m, x[r * L + j]! * scale);
    let s = 0;
    for (let j = 0; j < L; j++) s += (y[r * L + j] = Math.exp(x[r * L + j]! * scale - m));
    for (let j = 0; j < L; j++) y[r * L + j]! /= s;
  }
  return y;
}

export function softmaxBackwardRef(y: ArrayLike<number>, dy: ArrayLike<number>, L: number, scale = 1): Float64Array {
  const dx = new Float64Array(y.length);
  for (let r = 0; r < y.length / L; r++) {
    let d = 0;
    for (let j = 0; j < L; j++) d += dy[r * L + j]! * y[r * L + j]!;
    for (let j = 0; j < L; j++) dx[r * L + j] = scale * y[r * L + j]! * (dy[r * L + j]! - d);
  }
  return dx;
}

function srcCoord(o: number, n: number): [number, number, number] {
  const s = Math.max((o + 0.5) * 0.5 - 0.5, 0);
  const i0 = Math.min(Math.floor(s), n - 1);
  return [i0, Math.min(i0 + 1, n - 1), s - i0];
}

export function upsampleRef(x: ArrayLike<number>, planes: number, H: number, W: number, mode: 'nearest' | 'bilinear'): Float64Array {
  const OH = 2 * H;
  const OW = 2 * W;
  const y = new Float64Array(planes * OH * OW);
  for (let p = 0; p < planes; p++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const at = (yy: number, xx: number) => x[(p * H + yy) * W + xx]!;
    let v: number;
    if (mode === 'nearest') v = at(oy >> 1, ox >> 1);
    else {
      const [y0, y1, ly] = srcCoord(oy, H);
      const [x0, x1, lx] = srcCoord(ox, W);
      v = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
    }
    y[(p * OH + oy) * OW + ox] = v;
  }
  return y;
}

/** Adjoint of upsampleRef: scatter each output gradient to the inputs it read. */
export function upsampleBackwardRef(dy: ArrayLike<number>, planes: number, H: number, W: number, mode: 'nearest' | 'bilinear'): Float64Array {
  const OH = 2 * H;
  const OW = 2 * W;
  const dx = new Float64Array(planes * H * W);
  for (let p = 0; p < planes; p++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const g = dy[(p * OH + oy) * OW + ox]!;
    const add = (yy: number, xx: number, w: number) => (dx[(p * H + yy) * W + xx]! += w * g);
    if (mode === 'nearest') add(oy >> 1, ox >> 1, 1);
    else {
      const [y0, y1, ly] = srcCoord(oy, H);
      const [x0, x1, lx] = srcCoord(ox, W);
      add(y0, x0, (1 - ly) * (1 - lx));
      add(y0, x1, (1 - ly) * lx);
      add(y1, x0, ly * (1 - lx));
      add(y1, x1, ly * lx);
    }
  }
  return dx;
}

export function avgPoolRef(x: ArrayLike<number>, planes: number, H: number, W: number): Float64Array {
  const OH = Math.floor(H / 2);
  const OW = Math.floor(W / 2);
  const y = new Float64Array(planes * OH * OW);
  for (let p = 0; p < planes; p++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const b = (p * H + 2 * oy) * W + 2 * ox;
    y[(p * OH + oy) * OW + ox] = 0.25 * (x[b]! + x[b + 1]! + x[b + W]! + x[b + W + 1]!);
  }
  return y;
}

export function adamwRef(p: number[], m: number[], v: number[], g: number[], h: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }) {
  const out = { p: [...p], m: [...m], v: [...v] };
  for (let i = 0; i < p.length; i++) {
    out.m[i] = h.beta1 * m[i]! + (1 - h.beta1) * g[i]!;
    out.v[i] = h.beta2 * v[i]! + (1 - h.beta2) * g[i]! ** 2;
    const mh = out.m[i]! / (1 - h.beta1 ** h.step);
    const vh = out.v[i]! / (1 - h.beta2 ** h.step);
    out.p[i] = p[i]! - h.lr * (mh / (Math.sqrt(vh) + h.eps) + h.weightDecay * p[i]!);
  }
  return out;
}

const GELU_K = Math.sqrt(2 / Math.PI);
export const unaryRef: Record<string, (x: number, a: number, b: number) => number> = {
  identity: (x) => x,
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  silu: (x) => x / (1 + Math.exp(-x)),
  gelu: (x) => 0.5 * x * (1 + Math.tanh(GELU_K * (x + 0.044715 * x ** 3))),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  relu: (x) => Math.max(x, 0),
  abs: Math.abs,
  square: (x) => x * x,
  pow: (x, a) => Math.sign(x) ** (Number.isInteger(a) ? a : 1) * Math.abs(x) ** a,
  clamp: (x, a, b) => Math.min(Math.max(x, a), b),
  affine: (x, a, b) => a * x + b,
  rsqrt: (x) => 1 / Math.sqrt(x),
  sign: Math.sign,
  reciprocal: (x) => 1 / x,
};

export const binaryRef: Record<string, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  pow: (x, y) => x ** y,
  maximum: Math.max,
  minimum: Math.min,
  sqdiff: (x, y) => (x - y) ** 2,
  absdiff: (x, y) => Math.abs(x - y),
};

/** float64 attention over [B, D, L] (channel-major tokens): o and the gradients for an output gradient dout. */
export function attentionRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, B: number, D: number, L: number, scale: number, dout?: ArrayLike<number>) {
  const o = new Float64Array(B * D * L);
  const dq = new Float64Array(B * D * L);
  const dk = new Float64Array(B * D * L);
  const dv = new Float64Array(B * D * L);
  const at = (b: number, c: number, i: number) => (b * D + c) * L + i;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const s = new Float64Array(L);
      let m = -Infinity;
      for (let j = 0; j < L; j++) {
        let d = 0;
        for (let c = 0; c < D; c++) d += q[at(b, c, i)]! * k[at(b, c, j)]!;
        s[j] = scale * d;
        m = Math.max(m, s[j]!);
      }
      let z = 0;
      for (let j = 0; j < L; j++) z += (s[j] = Math.exp(s[j]! - m));
      for (let j = 0; j < L; j++) s[j]! /= z;
      for (let c = 0; c < D; c++) {
        let acc = 0;
        for (let j = 0; j < L; j++) acc += s[j]! * v[at(b, c, j)]!;
        o[at(b, c, i)] = acc;
      }
      if (!dout) continue;
      // dP_j = dO_i . v_j; dS_j = P_j (dP_j - sum_j' P_j' dP_j')
      const dp = new Float64Array(L);
      let dsum = 0;
      for (let j = 0; j < L; j++) {
        let d = 0;
        for (let c = 0; c < D; c++) d += dout[at(b, c, i)]! * v[at(b, c, j)]!;
        dp[j] = d;
        dsum += s[j]! * d;
      }
      for (let j = 0; j < L; j++) {
        const ds = s[j]! * (dp[j]! - dsum);
        for (let c = 0; c < D; c++) {
          dq[at(b, c, i)]! += scale * ds * k[at(b, c, j)]!;
          dk[at(b, c, j)]! += scale * ds * q[at(b, c, i)]!;
          dv[at(b, c, j)]! += s[j]! * dout[at(b, c, i)]!;
        }
      }
    }
  }
  return { o, dq, dk, dv };
}
