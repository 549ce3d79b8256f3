// 2-D convolution, NCHW, f32, square kernels (K = 1 or 3), stride S (1 or 2).
//
// forward: each invocation owns TP consecutive output pixels of one row times 4 output
//   channels, accumulated in registers (TP x vec4). Weights are first packed to
//   [ci][ky][kx][co padded to 4] so the 4 channels load as one vec4. No workgroup memory:
//   on lavapipe barriers cost more than the reloads they save (docs/architecture.md).
// The stride-1 input gradient is the same forward kernel over dy with weights packed
//   transposed and flipped (mode 1) and padding K-1-pad. Strided input gradients use
//   input_grad, a gather over the output pixels that saw each input pixel.
// weight_grad: each invocation owns 4 output channels x one input channel x all K*K taps and
//   sums over a chunk of the N*OH*OW positions (split-K, parts summed by the reduce kernel).

override WG: u32 = 64u;
override K: u32 = 3u;
override S: u32 = 1u;
override TP: u32 = 8u;
// output channels per invocation in vec4s (1: 4 channels, 2: 8, 4: 16, the software wide tile)
override COV: u32 = 1u;
const MAX_ROW: u32 = 33u; // (TP - 1) * S + K for TP = 16, S = 2, K = 3
const MAX_TP: u32 = 16u;
const MAX_TAPS: u32 = 9u;
// ROWV: read each input row segment as aligned vec4s (needs W % 4 == 0 and TP * S % 4 == 0).
// lavapipe turns every storage load into a bounds-checked load per lane (about ten
// instructions), and a vec4 load costs 2-4x a scalar one (bench/engine/load-probe.ts), so the
// 18-float rows of the 16-pixel tile take 5 loads instead of 18 (measured gain: docs/architecture.md).
// PAD carries the padding as a constant, so the row's offset into the vec4s is constant.
override ROWV: bool = false;
override PAD: u32 = 0u;
const MAX_ROWV: u32 = 10u; // vec4s covering MAX_ROW floats from an offset of up to 3

// bias_mode: 0 none, 1 one value per output channel [Cout], 2 one per sample and channel
//   [N, Cout] (a ResBlock's bias plus its time embedding, fused); has_res: add a residual
//   [N, Cout, OH, OW] (a ResBlock's skip path, fused)
struct Conv {
  N: u32, Cin: u32, H: u32, W: u32,
  Cout: u32, OH: u32, OW: u32, pad: u32,
  bias_mode: u32, xblocks: u32, coblocks: u32, parts: u32,
  chunk: u32, wstride: u32, has_res: u32, _p2: u32,
}
@group(0) @binding(0) var<uniform> u: Conv;

// ---- forward ----
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<f32>;
@group(0) @binding(6) var<storage, read> x4: array<vec4f>; // x again, as vec4s (ROWV)

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // u.coblocks counts groups of 4*COV output channels; packed weights have coblocks*COV vec4 per tap
  let t = workgroup_index(wid, nwg) * WG + lid;
  if (t >= u.xblocks * u.OH * u.coblocks * u.N) { return; }
  let xb = t % u.xblocks;
  var q = t / u.xblocks;
  let oy = q % u.OH;
  q = q / u.OH;
  let cb = q % u.coblocks;
  let n = q / u.coblocks;
  let ox0 = xb * TP;
  let ix0 = i32(ox0 * S) - i32(u.pad);
  let row_len = (TP - 1u) * S + K;
  let hw = u.H * u.W;
  let wmax = i32(u.W) - 1;
  let wstride = u.wstride; // vec4s per tap in the packed weights
  var acc: array<vec4f, MAX_TP>;
  var acc2: array<vec4f, MAX_TP>;
  var acc3: array<vec4f, MAX_TP>;
  var acc4: array<vec4f, MAX_TP>;
  for (var ci = 0u; ci < u.Cin; ci++) {
    let cbase = (n * u.Cin + ci) * hw;
    for (var ky = 0u; ky < K; ky++) {
      let iy = i32(oy * S + ky) - i32(u.pad);
      if (iy < 0 || iy >= i32(u.H)) { continue; }
      let rbase = cbase + u32(iy) * u.W;
      var row: array<f32, MAX_ROW>;
      if (ROWV) {
        let off = (4u - PAD % 4u) % 4u; // ix0 sits off floats past a multiple of 4
        let a0 = ix0 - i32(off);
        var v4: array<vec4f, MAX_ROWV>;
        for (var v = 0u; v < (off + row_len + 3u) / 4u; v++) {
          let ia = a0 + i32(4u * v); // a whole vec4 lies inside the row or outside it
          v4[v] = select(vec4f(0.0), x4[(rbase + u32(clamp(ia, 0, wmax - 3))) / 4u], ia >= 0 && ia <= wmax);
        }
        for (var j = 0u; j < row_len; j++) { row[j] = v4[(off + j) / 4u][(off + j) % 4u]; }
      } else {
        for (var j = 0u; j < row_len; j++) {
          let ix = ix0 + i32(j);
          row[j] = select(0.0, x[rbase + u32(clamp(ix, 0, wmax))], ix >= 0 && ix <= wmax);
        }
      }
      let wbase = (ci * K + ky) * K * wstride + cb * COV;
      for (var kx = 0u; kx < K; kx++) {
        let w = wp[wbase + kx * wstride];
        for (var p = 0u; p < TP; p++) {
          acc[p] += row[p * S + kx] * w;
        }
        if (COV >= 2u) {
          let w2 = wp[wbase + kx * wstride + 1u];
          for (var p = 0u; p < TP; p++) {
            acc2[p] += row[p * S + kx] * w2;
          }
        }
        if (COV >= 4u) {
          let w3 = wp[wbase + kx * wstride + 2u];
          let w4 = wp[wbase + kx * wstride + 3u];
          for (var p = 0u; p < TP; p++) {
            acc3[p] += row[p * S + kx] * w3;
            acc4[p] += row[p * S + kx] * w4;
          }
        }
      }
    }
  }
  let ohw = u.OH * u.OW;
  for (var c = 0u; c < 4u * COV; c++) {
    let co = cb * 4u * COV + c;
    if (co >= u.Cout) { break; }
    var b = 0.0;
    if (u.bias_mode == 1u) { b = bias[co]; } else if (u.bias_mode == 2u) { b = bias[n * u.Cout + co]; }
    let obase = (n * u.Cout + co) * ohw + oy * u.OW;
    for (var p = 0u; p < TP; p++) {
      let ox = ox0 + p;
      var v: f32;
      if (c < 4u) { v = acc[p][c]; } else if (c < 8u) { v = acc2[p][c - 4u]; } else if (c < 12u) { v = acc3[p][c - 8u]; } else { v = acc4[p][c - 12u]; }
      if (ox < u.OW) {
        var r = 0.0;
        if (u.has_res == 1u) { r = res[obase + ox]; }
        y[obase + ox] = v + b + r;
      }
    }
  }
}

// ---- weight packing ----
// packed[(a * K*K + tap) * BP + b], BP = B rounded up to 4, zero padded.
// mode 0 (forward):            a = ci, b = co, value W[co][ci][tap]
// mode 1 (stride-1 input grad): a = co, b = ci, value W[co][ci][K*K-1-tap]
// mode 2 (strided input grad):  a = co, b = ci, value W[co][ci][tap]
struct Pack { A: u32, B: u32, BP: u32, Cin: u32, mode: u32, total: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> pk: Pack;
@group(0) @binding(1) var<storage, read> w_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> w_dst: array<f32>;

@compute @workgroup_size(WG)
fn pack(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  if (t >= pk.total) { return; }
  let kk = K * K;
  let b = t % pk.BP;
  let tap = (t / pk.BP) % kk;
  let a = t / (pk.BP * kk);
  var v = 0.0;
  if (b < pk.B) {
    if (pk.mode == 0u) { v = w_src[(b * pk.Cin + a) * kk + tap]; }
    else if (pk.mode == 1u) { v = w_src[(a * pk.Cin + b) * kk + (kk - 1u - tap)]; }
    else { v = w_src[(a * pk.Cin + b) * kk + tap]; }
  }
  w_dst[t] = v;
}

// ---- strided input gradient ----
@group(0) @binding(1) var<storage, read> g_out: array<f32>;
@group(0) @binding(2) var<storage, read> wpt: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> g_in: array<f32>;

@compute @workgroup_size(WG)
fn input_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  let hw = u.H * u.W;
  let ciblocks = (u.Cin + 3u) / 4u;
  if (t >= u.N * ciblocks * hw) { return; }
  let ix = t % u.W;
  let iy = (t / u.W) % u.H;
  let cib = (t / hw) % ciblocks;
  let n = t / (hw * ciblocks);
  let ohw = u.OH * u.OW;
  var acc = vec4f(0.0);
  for (var co = 0u; co < u.Cout; co++) {
    let gbase = (n * u.Cout + co) * ohw;
    for (var ky = 0u; ky < K; ky++) {
      let ny = i32(iy + u.pad) - i32(ky);
      if (ny < 0 || u32(ny) % S != 0u || u32(ny) / S >= u.OH) { continue; }
      let oy = u32(ny) / S;
      for (var kx = 0u; kx < K; kx++) {
        let nx = i32(ix + u.pad) - i32(kx);
        if (nx < 0 || u32(nx) % S != 0u || u32(nx) / S >= u.OW) { continue; }
        let ox = u32(nx) / S;
        acc += g_out[gbase + oy * u.OW + ox] * wpt[(co * K * K + ky * K + kx) * u.wstride + cib];
      }
    }
  }
  for (var c = 0u; c < 4u; c++) {
    let ci = cib * 4u + c;
    if (ci < u.Cin) { g_in[(n * u.Cin + ci) * hw + iy * u.W + ix] = acc[c]; }
  }
}

// ---- weight gradient ----
// Each invocation owns 4 output channels x one input channel x all K*K taps and sums over a
// chunk of output rows (n, oy); along a row it takes TP positions at a time, loading each input
// row segment once for all taps and positions (the last OW % TP positions one at a time).
// Note: `g` is assigned in full on every block. A loop-body `var` left to its implicit zero
// initialisation kept the previous block's values on lavapipe (scripts/repro/loop-var-zero-init.mjs).
@group(0) @binding(1) var<storage, read> x_w: array<f32>;
@group(0) @binding(2) var<storage, read> gy_w: array<f32>;
@group(0) @binding(3) var<storage, read_write> gw: array<f32>;

@compute @workgroup_size(WG)
fn weight_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  if (t >= u.coblocks * u.Cin * u.parts) { return; }
  // neighbouring invocations take neighbouring input channels: their output-gradient loads are
  // the same addresses, so one SIMD group of lavapipe lanes streams dy once
  let ci = t % u.Cin;
  let cb = (t / u.Cin) % u.coblocks;
  let part = t / (u.coblocks * u.Cin);
  let ohw = u.OH * u.OW;
  let hw = u.H * u.W;
  let rows = u.N * u.OH;
  let r0 = part * u.chunk;
  let r1 = min(rows, r0 + u.chunk);
  let co0 = cb * 4u * COV;
  // channel offsets (relative to co0) of the 4*COV channels; those past Cout re-read co0 and are masked
  var off: array<u32, 8>;
  var msk: array<f32, 8>;
  for (var c = 0u; c < 8u; c++) {
    let ok = co0 + c < u.Cout && c < 4u * COV;
    off[c] = select(0u, c * ohw, ok);
    msk[c] = select(0.0, 1.0, ok);
  }
  let m = vec4f(msk[0], msk[1], msk[2], msk[3]);
  let m2 = vec4f(msk[4], msk[5], msk[6], msk[7]);
  let wmax = i32(u.W) - 1;
  let row_len = (TP - 1u) * S + K;
  let full_end = (u.OW / TP) * TP; // positions [0, full_end) go in blocks of TP, the rest one by one
  var acc: array<vec4f, MAX_TAPS>;
  var acc2: array<vec4f, MAX_TAPS>;
  for (var r = r0; r < r1; r++) {
    let n = r / u.OH;
    let oy = r % u.OH;
    let xbase = (n * u.Cin + ci) * hw;
    let gbase = (n * u.Cout + co0) * ohw + oy * u.OW;
    for (var ox0 = 0u; ox0 < full_end; ox0 += TP) {
      var g: array<vec4f, MAX_TP>;
      var g2: array<vec4f, MAX_TP>;
      for (var p = 0u; p < TP; p++) {
        let b = gbase + ox0 + p;
        g[p] = m * vec4f(gy_w[b], gy_w[b + off[1]], gy_w[b + off[2]], gy_w[b + off[3]]);
        if (COV == 2u) { g2[p] = m2 * vec4f(gy_w[b + off[4]], gy_w[b + off[5]], gy_w[b + off[6]], gy_w[b + off[7]]); }
      }
      let ix0 = i32(ox0 * S) - i32(u.pad);
      for (var ky = 0u; ky < K; ky++) {
        let iy = i32(oy * S + ky) - i32(u.pad);
        if (iy < 0 || iy >= i32(u.H)) { continue; }
        let rbase = xbase + u32(iy) * u.W;
        var row: array<f32, MAX_ROW>;
        for (var j = 0u; j < row_len; j++) {
          let ix = ix0 + i32(j);
          row[j] = select(0.0, x_w[rbase + u32(clamp(ix, 0, wmax))], ix >= 0 && ix <= wmax);
        }
        for (var kx = 0u; kx < K; kx++) {
          for (var p = 0u; p < TP; p++) {
            acc[ky * K + kx] += row[p * S + kx] * g[p];
            if (COV == 2u) { acc2[ky * K + kx] += row[p * S + kx] * g2[p]; }
          }
        }
      }
    }
    for (var ox = full_end; ox < u.OW; ox++) {
      let b = gbase + ox;
      let g = m * vec4f(gy_w[b], gy_w[b + off[1]], gy_w[b + off[2]], gy_w[b + off[3]]);
      var g2 = vec4f(0.0);
      if (COV == 2u) { g2 = m2 * vec4f(gy_w[b + off[4]], gy_w[b + off[5]], gy_w[b + off[6]], gy_w[b + off[7]]); }
      for (var ky = 0u; ky < K; ky++) {
        let iy = i32(oy * S + ky) - i32(u.pad);
        if (iy < 0 || iy >= i32(u.H)) { continue; }
        let rbase = xbase + u32(iy) * u.W;
        for (var kx = 0u; kx < K; kx++) {
          let ix = i32(ox * S + kx) - i32(u.pad);
          let v = select(0.0, x_w[rbase + u32(clamp(ix, 0, wmax))], ix >= 0 && ix <= wmax);
          acc[ky * K + kx] += v * g;
          if (COV == 2u) { acc2[ky * K + kx] += v * g2; }
        }
      }
    }
  }
  let kk = K * K;
  for (var c = 0u; c < 4u * COV; c++) {
    let co = co0 + c;
    if (co >= u.Cout) { break; }
    for (var tap = 0u; tap < kk; tap++) {
      var v: f32;
      if (c < 4u) { v = acc[tap][c]; } else { v = acc2[tap][c - 4u]; }
      gw[((co * u.Cin + ci) * kk + tap) * u.parts + part] = v;
    }
  }
}
