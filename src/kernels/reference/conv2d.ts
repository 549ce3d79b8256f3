/** float64 CPU references for conv2d and its gradients (NCHW, zero padding). */
export interface RefConv { N: number; Cin: number; H: number; W: number; Cout: number; K: number; stride: number; pad: number }

export function outSize(c: RefConv): [number, number] {
  return [Math.floor((c.H + 2 * c.pad - c.K) / c.stride) + 1, Math.floor((c.W + 2 * c.pad - c.K) / c.stride) + 1];
}

export function conv2dRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, c: RefConv): Float64Array {
  const [OH, OW] = outSize(c);
  const y = new Float64Array(c.N * c.Cout * OH * OW);
  for (let n = 0; n < c.N; n++) for (let co = 0; co < c.Cout; co++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    let s = b ? b[co]! : 0;
    for (let ci = 0; ci < c.Cin; ci++) for (let ky = 0; ky < c.K; ky++) for (let kx = 0; kx < c.K; kx++) {
      const iy = oy * c.stride + ky - c.pad;
      const ix = ox * c.stride + kx - c.pad;
      if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
      s += x[((n * c.Cin + ci) * c.H + iy) * c.W + ix]! * w[((co * c.Cin + ci) * c.K + ky) * c.K + kx]!;
    }
    y[((n * c.Cout + co) * OH + oy) * OW + ox] = s;
  }
  return y;
}

export function conv2dInputGradRef(dy: ArrayLike<number>, w: ArrayLike<number>, c: RefConv): Float64Array {
  const [OH, OW] = outSize(c);
  const dx = new Float64Array(c.N * c.Cin * c.H * c.W);
  for (let n = 0; n < c.N; n++) for (let co = 0; co < c.Cout; co++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const g = dy[((n * c.Cout + co) * OH + oy) * OW + ox]!;
    for (let ci = 0; ci < c.Cin; ci++) for (let ky = 0; ky < c.K; ky++) for (let kx = 0; kx < c.K; kx++) {
      const iy = oy * c.stride + ky - c.pad;
      const ix = ox * c.stride + kx - c.pad;
      if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
      dx[((n * c.Cin + ci) * c.H + iy) * c.W + ix]! += g * w[((co * c.Cin + ci) * c.K + ky) * c.K + kx]!;
    }
  }
  return dx;
}

export function conv2dWeightGradRef(x: ArrayLike<number>, dy: ArrayLike<number>, c: RefConv): Float64Array {
  const [OH, OW] = outSize(c);
  const dw = new Float64Array(c.Cout * c.Cin * c.K * c.K);
  for (let n = 0; n < c.N; n++) for (let co = 0; co < c.Cout; co++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const g = dy[((n * c.Cout + co) * OH + oy) * OW + ox]!;
    for (let ci = 0; ci < c.Cin; ci++) for (let ky = 0; ky < c.K; ky++) for (let kx = 0; kx < c.K; kx++) {
      const iy = oy * c.stride + ky - c.pad;
      const ix = ox * c.stride + kx - c.pad;
      if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
      dw[((co * c.Cin + ci) * c.K + ky) * c.K + kx]! += g * x[((n * c.Cin + ci) * c.H + iy) * c.W + ix]!;
    }
  }
  return dw;
}
