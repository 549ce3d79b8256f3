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
const MAX_ROW: u32 = 17u; // (TP - 1) * S + K for TP = 8, S = 2, K = 3
const MAX_TAPS: u32 = 9u;

struct Conv {
  N: u32, Cin: u32, H: u32, W: u32,
  Cout: u32, OH: u32, OW: u32, pad: u32,
  has_bias: u32, xblocks: u32, coblocks: u32, parts: u32,
  chunk: u32, _p0: u32, _p1: u32, _p2: u32,
}
@group(0) @binding(0) var<uniform> u: Conv;

// ---- forward ----
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wp: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
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
  var acc: array<vec4f, 8>;
  for (var ci = 0u; ci < u.Cin; ci++) {
    let cbase = (n * u.Cin + ci) * hw;
    for (var ky = 0u; ky < K; ky++) {
      let iy = i32(oy * S + ky) - i32(u.pad);
      if (iy < 0 || iy >= i32(u.H)) { continue; }
      let rbase = cbase + u32(iy) * u.W;
      var row: array<f32, MAX_ROW>;
      for (var j = 0u; j < row_len; j++) {
        let ix = ix0 + i32(j);
        row[j] = select(0.0, x[rbase + u32(clamp(ix, 0, wmax))], ix >= 0 && ix <= wmax);
      }
      let wbase = (ci * K + ky) * K * u.coblocks + cb;
      for (var kx = 0u; kx < K; kx++) {
        let w = wp[wbase + kx * u.coblocks];
        for (var p = 0u; p < TP; p++) {
          acc[p] += row[p * S + kx] * w;
        }
      }
    }
  }
  let ohw = u.OH * u.OW;
  for (var c = 0u; c < 4u; c++) {
    let co = cb * 4u + c;
    if (co >= u.Cout) { break; }
    let b = select(0.0, bias[co], u.has_bias == 1u);
    let obase = (n * u.Cout + co) * ohw + oy * u.OW;
    for (var p = 0u; p < TP; p++) {
      let ox = ox0 + p;
      if (ox < u.OW) { y[obase + ox] = acc[p][c] + b; }
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
        acc += g_out[gbase + oy * u.OW + ox] * wpt[(co * K * K + ky * K + kx) * ciblocks + cib];
      }
    }
  }
  for (var c = 0u; c < 4u; c++) {
    let ci = cib * 4u + c;
    if (ci < u.Cin) { g_in[(n * u.Cin + ci) * hw + iy * u.W + ix] = acc[c]; }
  }
}

// ---- weight gradient ----
@group(0) @binding(1) var<storage, read> x_w: array<f32>;
@group(0) @binding(2) var<storage, read> gy_w: array<f32>;
@group(0) @binding(3) var<storage, read_write> gw: array<f32>;

@compute @workgroup_size(WG)
fn weight_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  if (t >= u.coblocks * u.Cin * u.parts) { return; }
  let part = t % u.parts;
  let ci = (t / u.parts) % u.Cin;
  let cb = t / (u.parts * u.Cin);
  let ohw = u.OH * u.OW;
  let hw = u.H * u.W;
  let total = u.N * ohw;
  let r0 = part * u.chunk;
  let r1 = min(total, r0 + u.chunk);
  let co0 = cb * 4u;
  // channel offsets of the 4 output channels; channels past Cout read channel co0 and are masked
  let m = vec4f(1.0, select(0.0, 1.0, co0 + 1u < u.Cout), select(0.0, 1.0, co0 + 2u < u.Cout), select(0.0, 1.0, co0 + 3u < u.Cout));
  let d1 = select(0u, ohw, co0 + 1u < u.Cout);
  let d2 = select(0u, 2u * ohw, co0 + 2u < u.Cout);
  let d3 = select(0u, 3u * ohw, co0 + 3u < u.Cout);
  var acc: array<vec4f, MAX_TAPS>;
  var ox = r0 % u.OW;
  var oy = (r0 / u.OW) % u.OH;
  var n = r0 / ohw;
  let wmax = i32(u.W) - 1;
  for (var r = r0; r < r1; r++) {
    let gbase = (n * u.Cout + co0) * ohw + oy * u.OW + ox;
    let g = m * vec4f(gy_w[gbase], gy_w[gbase + d1], gy_w[gbase + d2], gy_w[gbase + d3]);
    let xbase = (n * u.Cin + ci) * hw;
    for (var ky = 0u; ky < K; ky++) {
      let iy = i32(oy * S + ky) - i32(u.pad);
      if (iy < 0 || iy >= i32(u.H)) { continue; }
      let rbase = xbase + u32(iy) * u.W;
      for (var kx = 0u; kx < K; kx++) {
        let ix = i32(ox * S + kx) - i32(u.pad);
        let v = select(0.0, x_w[rbase + u32(clamp(ix, 0, wmax))], ix >= 0 && ix <= wmax);
        acc[ky * K + kx] += v * g;
      }
    }
    ox++;
    if (ox == u.OW) { ox = 0u; oy++; if (oy == u.OH) { oy = 0u; n++; } }
  }
  let kk = K * K;
  for (var c = 0u; c < 4u; c++) {
    let co = co0 + c;
    if (co >= u.Cout) { break; }
    for (var tap = 0u; tap < kk; tap++) {
      gw[((co * u.Cin + ci) * kk + tap) * u.parts + part] = acc[tap][c];
    }
  }
}
