// Winograd F(RxR, 3x3), R = 2 or 4, for the stride-1, pad-1 3x3 convolution (NCHW, f32):
//   y = A^T [ (G g G^T) . (B^T d B) ] A   per RxR output tile and channel pair,
// as three passes around one batched GEMM (src/kernels/winograd.ts), with P = R + 2:
//   weights: U[e][ci][co] = (G g G^T)[e]        (once per weight update, kept with the weights)
//   input:   V[e][t][ci]  = (B^T d B)[e]         d: the PxP input patch of tile t (zeros outside)
//   GEMM:    M[e] = V[e] x U[e]                  P*P products [T, Cin] x [Cin, Cout] (matmul.wgsl)
//   output:  y = A^T M A (+ bias, + residual)    the RxR outputs of tile t
// Multiplies per RxR outputs: P*P instead of 9*R*R (R = 2: 16 vs 36; R = 4: 36 vs 144), and the
// GEMM's output is P*P / (R*R) times the convolution's (4x; 2.25x). Matrices from Lavin & Gray,
// "Fast Algorithms for Convolutional Neural Networks" (2016), interpolation points 0, +-1, +-2.
// Every invocation of input and output handles four channels as one vec4 (Cin and Cout are
// multiples of 4), so the GEMM's operands are vec4-aligned along their contiguous axis.

override WG: u32 = 64u;
override R: u32 = 2u;

// G (P x 3), row-major (B^T and A^T are written out term by term below)
const G2 = array<f32, 12>(1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1);
const G4 = array<f32, 18>(
  0.25, 0, 0,
  -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0,
  -1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0,
  1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0,
  1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0,
  0, 0, 1);

fn gm(r: u32, k: u32) -> f32 { if (R == 2u) { return G2[r * 3u + k]; } return G4[r * 3u + k]; }

// The three transforms of one line of a tile (P values in, written out term by term so that no
// multiply by 0 or 1 is left to the compiler: lavapipe spent more in the matrix-loop form of
// these passes than in the GEMM between them). Lines past P (R = 2) are left zero.
// B^T d
fn bt_line(d: array<vec4f, 6>) -> array<vec4f, 6> {
  var o: array<vec4f, 6>;
  if (R == 2u) {
    o[0] = d[0] - d[2]; o[1] = d[1] + d[2]; o[2] = d[2] - d[1]; o[3] = d[1] - d[3];
  } else {
    let a = d[4] - 4.0 * d[2];
    let b = d[3] - 4.0 * d[1];
    let c = d[4] - d[2];
    let e = 2.0 * (d[3] - d[1]);
    o[0] = 4.0 * d[0] - 5.0 * d[2] + d[4];
    o[1] = a + b; o[2] = a - b;
    o[3] = c + e; o[4] = c - e;
    o[5] = 4.0 * d[1] - 5.0 * d[3] + d[5];
  }
  return o;
}
// A^T m (P values to R)
fn at_line(m: array<vec4f, 6>) -> array<vec4f, 4> {
  var o: array<vec4f, 4>;
  if (R == 2u) {
    o[0] = m[0] + m[1] + m[2]; o[1] = m[1] - m[2] - m[3];
  } else {
    let a = m[1] + m[2]; let b = m[1] - m[2];
    let c = m[3] + m[4]; let e = m[3] - m[4];
    o[0] = m[0] + a + c; o[1] = b + 2.0 * e; o[2] = a + 4.0 * c; o[3] = b + 8.0 * e + m[5];
  }
  return o;
}
// A v (R values to P): the output gradient's transform
fn a_line(v: array<vec4f, 4>) -> array<vec4f, 6> {
  var o: array<vec4f, 6>;
  if (R == 2u) {
    o[0] = v[0]; o[1] = v[0] + v[1]; o[2] = v[0] - v[1]; o[3] = -v[1];
  } else {
    let a = v[0] + v[2]; let b = v[1] + v[3];
    let c = v[0] + 4.0 * v[2]; let e = 2.0 * v[1] + 8.0 * v[3];
    o[0] = v[0]; o[1] = a + b; o[2] = a - b; o[3] = c + e; o[4] = c - e; o[5] = v[3];
  }
  return o;
}

// C: the channels of the pass; T = N * TH * TW tiles, TH = ceil(H / R), TW = ceil(W / R);
// bias_mode as in conv2d.wgsl (0 none, 1 [Cout], 2 [N, Cout]); mode: see weights
struct Wino {
  N: u32, Cin: u32, Cout: u32, H: u32,
  W: u32, TH: u32, TW: u32, T: u32,
  bias_mode: u32, has_res: u32, mode: u32, norm_groups: u32,
  win_h: u32, win_w: u32, win_ny: u32, win_nx: u32,
  // the tile-group kernels' first tile row: a convolution in slabs of tile rows (TH of them here)
  th0: u32, pad0: u32, pad1: u32, pad2: u32,
}
@group(0) @binding(0) var<uniform> u: Wino;

// tile index -> (column, row, sample) of the TW x TH tiles of each of the N images
fn tile_at(tile: u32) -> vec3u {
  return vec3u(tile % u.TW, (tile / u.TW) % u.TH, tile / (u.TW * u.TH));
}

// invocation -> its tile (column tw, row th, sample n) and vec4 of channels c4 of cq (t: the
// invocation, tile-major with channels fastest; inside: false past the last tile)
struct TileTask { t: u32, cq: u32, c4: u32, tw: u32, th: u32, n: u32, inside: bool }
fn tile_task(wid: vec3u, nwg: vec3u, lid: u32, channels: u32) -> TileTask {
  let cq = channels / 4u;
  let t = workgroup_index(wid, nwg) * WG + lid;
  let pos = tile_at(t / cq);
  return TileTask(t, cq, t % cq, pos.x, pos.y, pos.z, t < u.T * cq);
}

// ---- weights: g [Cout][Cin][3][3] -> U [P*P][Cin][Cout]; mode 1: the stride-1 input gradient's
//      weights (transposed and flipped: in and out channels swap, g'[ci][co] = g[co][ci] rotated) ----
@group(0) @binding(1) var<storage, read> g_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> u_dst: array<f32>;

@compute @workgroup_size(WG)
fn weights(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  // u.Cin, u.Cout: the channels of the convolution this U serves (for mode 1, of the gradient's)
  let t = workgroup_index(wid, nwg) * WG + lid;
  if (t >= u.Cin * u.Cout) { return; }
  let P = R + 2u;
  let co = t % u.Cout;
  let ci = t / u.Cout;
  var g: array<f32, 9>;
  for (var k = 0u; k < 9u; k++) {
    if (u.mode == 0u) { g[k] = g_src[(co * u.Cin + ci) * 9u + k]; }
    else { g[k] = g_src[(ci * u.Cout + co) * 9u + (8u - k)]; }
  }
  var h: array<f32, 18>; // G g: P x 3
  for (var r = 0u; r < P; r++) {
    for (var c = 0u; c < 3u; c++) {
      h[r * 3u + c] = gm(r, 0u) * g[c] + gm(r, 1u) * g[3u + c] + gm(r, 2u) * g[6u + c];
    }
  }
  let plane = u.Cin * u.Cout;
  for (var r = 0u; r < P; r++) {
    for (var q = 0u; q < P; q++) {
      u_dst[(r * P + q) * plane + t] = h[r * 3u] * gm(q, 0u) + h[r * 3u + 1u] * gm(q, 1u) + h[r * 3u + 2u] * gm(q, 2u);
    }
  }
}

// ---- input: x [N][Cin][H][W] -> V [P*P][T][Cin] ----
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<vec4f>;

@compute @workgroup_size(WG)
fn input(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tk = tile_task(wid, nwg, lid, u.Cin);
  if (!tk.inside) { return; }
  let cq = tk.cq; let t = tk.t; let c4 = tk.c4; let tw = tk.tw; let th = tk.th; let n = tk.n;
  let P = R + 2u;
  let y0 = i32(th * R) - 1;
  let x0 = i32(tw * R) - 1;
  let hw = u.H * u.W;
  let cbase = (n * u.Cin + c4 * 4u) * hw;
  // d: the P x P patch, four channels per element
  var d: array<vec4f, 36>;
  for (var r = 0u; r < P; r++) {
    let iy = y0 + i32(r);
    for (var c = 0u; c < P; c++) {
      let ix = x0 + i32(c);
      var p = vec4f(0.0);
      if (iy >= 0 && iy < i32(u.H) && ix >= 0 && ix < i32(u.W)) {
        let o = cbase + u32(iy) * u.W + u32(ix);
        p = vec4f(x[o], x[o + hw], x[o + 2u * hw], x[o + 3u * hw]);
      }
      d[r * P + c] = p;
    }
  }
  var s: array<vec4f, 36>; // B^T d, column by column
  for (var c = 0u; c < P; c++) {
    var col: array<vec4f, 6>;
    for (var k = 0u; k < P; k++) { col[k] = d[k * P + c]; }
    let o = bt_line(col);
    for (var r = 0u; r < P; r++) { s[r * P + c] = o[r]; }
  }
  let plane = u.T * cq;
  for (var r = 0u; r < P; r++) { // (B^T d) B, row by row
    var row: array<vec4f, 6>;
    for (var k = 0u; k < P; k++) { row[k] = s[r * P + k]; }
    let o = bt_line(row);
    for (var q = 0u; q < P; q++) { v[(r * P + q) * plane + t] = o[q]; }
  }
}

// ---- input_rows: the input transform for R = 4 and W a multiple of 4, loading each patch row of
//      each channel as three aligned vec4s (the tile's four columns and one neighbour on either side)
//      instead of six scattered floats. Same arithmetic as input. ----
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;

// columns 4*tw - 1 .. 4*tw + 4 of row iy of the channel plane starting at vec4 index base (zeros
// outside the image)
fn patch_row(base: u32, iy: i32, tw: u32) -> array<f32, 6> {
  // zeroed explicitly: inlined into input_rows' loop, a bare var could keep the last row's values
  // on lavapipe (scripts/repro/loop-var-zero-init.mjs)
  var o = array<f32, 6>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
  if (iy < 0 || iy >= i32(u.H)) { return o; }
  let w4 = u.W / 4u;
  let at = base + u32(iy) * w4 + tw;
  let mid = x4[at];
  var left = 0.0;
  if (tw > 0u) { left = x4[at - 1u].w; }
  var right = 0.0;
  if (tw + 1u < w4) { right = x4[at + 1u].x; }
  o[0] = left; o[1] = mid.x; o[2] = mid.y; o[3] = mid.z; o[4] = mid.w; o[5] = right;
  return o;
}

@compute @workgroup_size(WG)
fn input_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tk = tile_task(wid, nwg, lid, u.Cin);
  if (!tk.inside) { return; }
  let cq = tk.cq; let t = tk.t; let c4 = tk.c4; let tw = tk.tw; let th = tk.th; let n = tk.n;
  let y0 = i32(th * 4u) - 1;
  let hw4 = u.H * u.W / 4u;
  let cbase = (n * u.Cin + c4 * 4u) * hw4;
  var s: array<vec4f, 36>; // d B, row by row (the row transform as each row is loaded)
  for (var r = 0u; r < 6u; r++) {
    let iy = y0 + i32(r);
    let a = patch_row(cbase, iy, tw);
    let b = patch_row(cbase + hw4, iy, tw);
    let c = patch_row(cbase + 2u * hw4, iy, tw);
    let e = patch_row(cbase + 3u * hw4, iy, tw);
    var row: array<vec4f, 6>;
    for (var k = 0u; k < 6u; k++) { row[k] = vec4f(a[k], b[k], c[k], e[k]); }
    let o = bt_line(row);
    for (var q = 0u; q < 6u; q++) { s[r * 6u + q] = o[q]; }
  }
  let plane = u.T * cq;
  for (var q = 0u; q < 6u; q++) { // B^T (d B), column by column
    var col: array<vec4f, 6>;
    for (var k = 0u; k < 6u; k++) { col[k] = s[k * 6u + q]; }
    let o = bt_line(col);
    for (var r = 0u; r < 6u; r++) { v[(r * 6u + q) * plane + t] = o[r]; }
  }
}

// ---- output: M [P*P][T][Cout] -> y [N][Cout][H][W] (+ bias, + residual) ----
@group(0) @binding(1) var<storage, read> m: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;

// A^T M of tile t, column by column (R x P, row-major with stride P): the first half of both
// output transforms. plane: T * cq, the stride between M's P*P elements.
fn at_columns(t: u32, plane: u32) -> array<vec4f, 24> {
  let P = R + 2u;
  var s: array<vec4f, 24>;
  for (var c = 0u; c < P; c++) {
    var col: array<vec4f, 6>;
    for (var k = 0u; k < P; k++) { col[k] = m[(k * P + c) * plane + t]; }
    let o = at_line(col);
    for (var r = 0u; r < R; r++) { s[r * P + c] = o[r]; }
  }
  return s;
}

// the bias of output channels co .. co + 3 of sample n (bias_mode 0: none, 1: [Cout], 2: [N, Cout])
fn bias4(n: u32, co: u32) -> vec4f {
  if (u.bias_mode == 1u) { return vec4f(bias[co], bias[co + 1u], bias[co + 2u], bias[co + 3u]); }
  if (u.bias_mode == 2u) { let o = n * u.Cout + co; return vec4f(bias[o], bias[o + 1u], bias[o + 2u], bias[o + 3u]); }
  return vec4f(0.0);
}

@compute @workgroup_size(WG)
fn output(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tk = tile_task(wid, nwg, lid, u.Cout);
  if (!tk.inside) { return; }
  let cq = tk.cq; let t = tk.t; let c4 = tk.c4; let tw = tk.tw; let th = tk.th; let n = tk.n;
  let P = R + 2u;
  let s = at_columns(t, u.T * cq); // A^T M: R x P
  let co = c4 * 4u;
  let b4 = bias4(n, co);
  let hw = u.H * u.W;
  let cbase = (n * u.Cout + co) * hw;
  for (var r = 0u; r < R; r++) {
    let oy = th * R + r;
    if (oy >= u.H) { continue; }
    var row: array<vec4f, 6>;
    for (var k = 0u; k < P; k++) { row[k] = s[r * P + k]; }
    let line = at_line(row); // (A^T M) A
    for (var q = 0u; q < R; q++) {
      let ox = tw * R + q;
      if (ox >= u.W) { continue; }
      var val = b4 + line[q];
      let o = cbase + oy * u.W + ox;
      if (u.has_res == 1u) { val += vec4f(res[o], res[o + hw], res[o + 2u * hw], res[o + 3u * hw]); }
      y[o] = val.x; y[o + hw] = val.y; y[o + 2u * hw] = val.z; y[o + 3u * hw] = val.w;
    }
  }
}

// ---- output_rows: the output transform for R = 4 and W a multiple of 4, writing each tile row of
//      each channel as one vec4 (16 stores of four floats instead of 64 scattered ones; the tile's
//      four columns are contiguous and 16-byte aligned in NCHW). Same arithmetic as output. ----
@group(0) @binding(3) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(4) var<storage, read> res4: array<vec4f>;

@compute @workgroup_size(WG)
fn output_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tk = tile_task(wid, nwg, lid, u.Cout);
  if (!tk.inside) { return; }
  let cq = tk.cq; let t = tk.t; let c4 = tk.c4; let tw = tk.tw; let th = tk.th; let n = tk.n;
  let s = at_columns(t, u.T * cq); // A^T M: 4 x 6 (R = 4 here)
  let co = c4 * 4u;
  let b4 = bias4(n, co);
  let hw4 = u.H * u.W / 4u; // one channel plane in vec4s
  let w4 = u.W / 4u;
  let cbase = (n * u.Cout + co) * hw4;
  for (var r = 0u; r < 4u; r++) {
    let oy = th * 4u + r;
    if (oy >= u.H) { continue; }
    var row: array<vec4f, 6>;
    for (var k = 0u; k < 6u; k++) { row[k] = s[r * 6u + k]; }
    let l = at_line(row); // l[q]: output column q of four channels
    let o = cbase + oy * w4 + tw;
    // transpose: channel j's row is (l[0][j], l[1][j], l[2][j], l[3][j])
    var v0 = vec4f(l[0].x, l[1].x, l[2].x, l[3].x) + b4.x;
    var v1 = vec4f(l[0].y, l[1].y, l[2].y, l[3].y) + b4.y;
    var v2 = vec4f(l[0].z, l[1].z, l[2].z, l[3].z) + b4.z;
    var v3 = vec4f(l[0].w, l[1].w, l[2].w, l[3].w) + b4.w;
    if (u.has_res == 1u) {
      v0 += res4[o]; v1 += res4[o + hw4]; v2 += res4[o + 2u * hw4]; v3 += res4[o + 3u * hw4];
    }
    y4[o] = v0; y4[o + hw4] = v1; y4[o + 2u * hw4] = v2; y4[o + 3u * hw4] = v3;
  }
}

// ---- input_groups / output_groups: F(4x4) with W a multiple of 16, transformed operands laid out
//      channel-major with four neighbouring tiles of a tile row per vec4: V [P*P][Cin][T] and
//      M [P*P][Cout][T] (T a multiple of 4). With W a multiple of 4 only (byPartialGroups in
//      src/kernels/winograd.ts) u.TW counts each tile row's tiles rounded up to whole groups: the
//      last group's tiles past the image (tw >= W / 4) read zeros and store nothing. An invocation takes one channel and four tiles: a
//      patch row of the four is 18 pixels, six aligned vec4 loads (the 16 columns and one
//      neighbour on either side), against three per tile and channel by rows (input_rows), so
//      the input transform loads half as many vec4s for the same stores. The GEMM between them
//      runs as M = U^T V (src/kernels/winograd.ts). Same arithmetic as input and output; the
//      four tiles ride in the vec4's lanes. ----

// invocation -> its channel c and group g of four tiles (groups fastest, so that neighbouring
// invocations store neighbouring vec4s); the group's first tile column tw0, row th (of the image:
// the slab's rows start at th0) and sample n
struct GroupTask { c: u32, g: u32, tw0: u32, th: u32, n: u32, inside: bool }
fn group_task(wid: vec3u, nwg: vec3u, lid: u32, channels: u32) -> GroupTask {
  let groups = u.T / 4u;
  let i = workgroup_index(wid, nwg) * WG + lid;
  let g = i % groups;
  let pos = tile_at(g * 4u);
  return GroupTask(i / groups, g, pos.x, pos.y + u.th0, pos.z, i < groups * channels);
}

// columns 4*tw0 - 1 .. 4*tw0 + 16 of row iy of the channel plane starting at vec4 index base,
// as the six columns of each of the four tiles (lane j: tile tw0 + j); zeros outside the image
fn group_row(base: u32, iy: i32, tw0: u32) -> array<vec4f, 6> {
  // zeroed explicitly (the loop-variable bug, scripts/repro/loop-var-zero-init.mjs)
  var o = array<vec4f, 6>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  if (iy < 0 || iy >= i32(u.H)) { return o; }
  let w4 = u.W / 4u;
  let at = base + u32(iy) * w4 + tw0;
  // a partial last group: its tiles past the row read zeros, not the next row
  let m0 = x4[at];
  let m1 = select(vec4f(0.0), x4[at + 1u], tw0 + 1u < w4);
  let m2 = select(vec4f(0.0), x4[at + 2u], tw0 + 2u < w4);
  let m3 = select(vec4f(0.0), x4[at + 3u], tw0 + 3u < w4);
  var left = 0.0;
  if (tw0 > 0u) { left = x4[at - 1u].w; }
  var right = 0.0;
  if (tw0 + 4u < w4) { right = x4[at + 4u].x; }
  // tile j's columns are pixels 4j - 1 .. 4j + 4 of the 16
  o[0] = vec4f(left, m0.w, m1.w, m2.w);
  o[1] = vec4f(m0.x, m1.x, m2.x, m3.x);
  o[2] = vec4f(m0.y, m1.y, m2.y, m3.y);
  o[3] = vec4f(m0.z, m1.z, m2.z, m3.z);
  o[4] = vec4f(m0.w, m1.w, m2.w, m3.w);
  o[5] = vec4f(m1.x, m2.x, m3.x, right);
  return o;
}

@compute @workgroup_size(WG)
fn input_groups(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tk = group_task(wid, nwg, lid, u.Cin);
  if (!tk.inside) { return; }
  let y0 = i32(tk.th * 4u) - 1;
  let hw4 = u.H * u.W / 4u;
  let base = (tk.n * u.Cin + tk.c) * hw4;
  var s: array<vec4f, 36>; // d B, row by row
  for (var r = 0u; r < 6u; r++) {
    let o = bt_line(group_row(base, y0 + i32(r), tk.tw0));
    for (var q = 0u; q < 6u; q++) { s[r * 6u + q] = o[q]; }
  }
  store_groups(s, tk.c, tk.g);
}

// B^T (d B) of a tile group's rows s (d B, row by row), column by column, stored into V by
// groups for channel c and group g: the second half of input_groups and its normalising forms
fn store_groups(s: array<vec4f, 36>, c: u32, g: u32) {
  let groups = u.T / 4u;
  for (var q = 0u; q < 6u; q++) {
    var col: array<vec4f, 6>;
    for (var k = 0u; k < 6u; k++) { col[k] = s[k * 6u + q]; }
    let o = bt_line(col);
    for (var r = 0u; r < 6u; r++) { v[((r * 6u + q) * u.Cin + c) * groups + g] = o[r]; }
  }
}

// the six columns of each of four tiles (lane j: tile tw0 + j) from a patch row's 16 pixels
// m0..m3 and its neighbours on either side (group_row's assembly)
fn group_cols(m0: vec4f, m1: vec4f, m2: vec4f, m3: vec4f, left: f32, right: f32) -> array<vec4f, 6> {
  return array<vec4f, 6>(
    vec4f(left, m0.w, m1.w, m2.w),
    vec4f(m0.x, m1.x, m2.x, m3.x),
    vec4f(m0.y, m1.y, m2.y, m3.y),
    vec4f(m0.z, m1.z, m2.z, m3.z),
    vec4f(m0.w, m1.w, m2.w, m3.w),
    vec4f(m1.x, m2.x, m3.x, right));
}

// ---- input_groups_norm: input_groups of silu(groupNorm(x)), for a forward without gradient:
//      the normalised map is never written, and its pass over memory is saved. Each invocation
//      normalises its own loads by its channel's scale and shift (from norm.wgsl's stats: mean
//      and 1/std per sample and group; gamma, beta per channel). Pixels outside the image stay
//      zero: the convolution pads the activation, not x. u.norm_groups: the group count. ----
@group(0) @binding(3) var<storage, read> nstats: array<f32>;
@group(0) @binding(4) var<storage, read> ngamma: array<f32>;
@group(0) @binding(5) var<storage, read> nbeta: array<f32>;

// silu((x - mean) * scale + shift), the order of norm.wgsl's apply4
fn norm_silu4(x: vec4f, ms: vec3f) -> vec4f {
  let n = (x - ms.x) * ms.y + ms.z;
  return n / (1.0 + exp(-n));
}

fn norm_silu1(x: f32, ms: vec3f) -> f32 {
  let n = (x - ms.x) * ms.y + ms.z;
  return n / (1.0 + exp(-n));
}

// group_row of the normalised, activated map (ms: mean, scale, shift of the row's channel)
fn group_row_norm(base: u32, iy: i32, tw0: u32, ms: vec3f) -> array<vec4f, 6> {
  if (iy < 0 || iy >= i32(u.H)) { return array<vec4f, 6>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0)); }
  let w4 = u.W / 4u;
  let at = base + u32(iy) * w4 + tw0;
  var left = 0.0;
  if (tw0 > 0u) { left = norm_silu1(x4[at - 1u].w, ms); }
  var right = 0.0;
  if (tw0 + 4u < w4) { right = norm_silu1(x4[at + 4u].x, ms); }
  // a partial last group's tiles past the row stay zero (the activation is padded, not x)
  let m1 = select(vec4f(0.0), norm_silu4(x4[at + 1u], ms), tw0 + 1u < w4);
  let m2 = select(vec4f(0.0), norm_silu4(x4[at + 2u], ms), tw0 + 2u < w4);
  let m3 = select(vec4f(0.0), norm_silu4(x4[at + 3u], ms), tw0 + 3u < w4);
  return group_cols(norm_silu4(x4[at], ms), m1, m2, m3, left, right);
}

@compute @workgroup_size(WG)
fn input_groups_norm(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tk = group_task(wid, nwg, lid, u.Cin);
  if (!tk.inside) { return; }
  let seg = tk.n * u.norm_groups + tk.c / (u.Cin / u.norm_groups);
  let ms = vec3f(nstats[2u * seg], nstats[2u * seg + 1u] * ngamma[tk.c], nbeta[tk.c]);
  let y0 = i32(tk.th * 4u) - 1;
  let base = (tk.n * u.Cin + tk.c) * (u.H * u.W / 4u);
  var s: array<vec4f, 36>; // d B, row by row
  for (var r = 0u; r < 6u; r++) {
    let o = bt_line(group_row_norm(base, y0 + i32(r), tk.tw0, ms));
    for (var q = 0u; q < 6u; q++) { s[r * 6u + q] = o[q]; }
  }
  store_groups(s, tk.c, tk.g);
}

// ---- input_groups_norm_win: input_groups_norm with group norm statistics per window
//      (window.wgsl's stats: [N * win_ny * win_nx * norm_groups, 2], windows of win_h x win_w)
//      interpolated bilinearly between the windows' centres, as window.wgsl's norm_smooth: the
//      one-piece fusion's windowed group norm (ops.ts withNormWindow) folded into the
//      convolution, so that its normalised map is not written and read again. ----

// The horizontal half of the interpolation, the same for every row of an invocation's patch:
// for its 16 pixel columns (four vec4s) and its two neighbours (lanes x, y of a fifth), the
// window column interval k (between the centres of columns k and k + 1; window_between's i0 in
// floats, no integer division per lane) and the weight t of column k + 1.
struct WinColumns { p: array<vec4f, 5>, k: array<vec4f, 5>, t: array<vec4f, 5>, ka: u32, kb: u32 }
fn win_columns(tw0: u32) -> WinColumns {
  var wc: WinColumns;
  let x0 = f32(tw0 * 4u);
  let cx = 0.5 * f32(u.win_w - 1u);
  let last = f32(u.win_nx - 1u);
  let ww = f32(u.win_w);
  let far = f32(u.W - u.win_w); // the last window's origin
  for (var j = 0u; j < 4u; j++) { wc.p[j] = vec4f(x0 + f32(4u * j)) + vec4f(0.0, 1.0, 2.0, 3.0); }
  // lanes z, w unused: a pixel of the patch, so that every lane lies in one of ka .. kb
  wc.p[4] = vec4f(max(x0 - 1.0, 0.0), min(x0 + 16.0, f32(u.W - 1u)), x0, x0);
  for (var j = 0u; j < 5u; j++) {
    let k = min(floor(max(wc.p[j] - cx, vec4f(0.0)) / ww), vec4f(last));
    let c0 = min(k * ww, vec4f(far)) + cx;
    let c1 = min(min(k + 1.0, vec4f(last)) * ww, vec4f(far)) + cx;
    wc.k[j] = k;
    wc.t[j] = clamp((wc.p[j] - c0) / max(c1 - c0, vec4f(1.0)), vec4f(0.0), vec4f(1.0));
  }
  wc.ka = u32(wc.k[4].x);
  wc.kb = u32(wc.k[4].y);
  return wc;
}

// The statistics of an invocation's 16 pixel columns and two neighbours (wc), interpolated
// across between the window columns' centres, on window rows s0 and s1 (their first segments):
// row 0's and row 1's mean and 1/std, five vec4s each (lanes x, y of the fifth: the neighbours).
// The columns span the intervals ka .. kb (one or two; more only in windows narrower than 18 px
// or where the last window sits close to the one before): each interval's column statistics are
// loaded once and taken by the lanes inside it.
struct WinRows { m0: array<vec4f, 5>, r0: array<vec4f, 5>, m1: array<vec4f, 5>, r1: array<vec4f, 5> }
fn win_rows(wc: WinColumns, s0: u32, s1: u32) -> WinRows {
  // every lane lies in one interval of ka .. kb, so each of h's lanes is written (the select
  // never keeps a value from before: scripts/repro/loop-var-zero-init.mjs)
  var h: WinRows;
  let last = u.win_nx - 1u;
  for (var k = wc.ka; k <= wc.kb; k++) {
    let k1 = min(k + 1u, last);
    let a0 = win_segment(s0, k);
    let b0 = win_segment(s0, k1);
    let a1 = win_segment(s1, k);
    let b1 = win_segment(s1, k1);
    let kf = vec4f(f32(k));
    for (var j = 0u; j < 5u; j++) {
      let inside = wc.k[j] == kf;
      let t = wc.t[j];
      h.m0[j] = select(h.m0[j], mix(vec4f(a0.x), vec4f(b0.x), t), inside);
      h.r0[j] = select(h.r0[j], mix(vec4f(a0.y), vec4f(b0.y), t), inside);
      h.m1[j] = select(h.m1[j], mix(vec4f(a1.x), vec4f(b1.x), t), inside);
      h.r1[j] = select(h.r1[j], mix(vec4f(a1.y), vec4f(b1.y), t), inside);
    }
  }
  return h;
}

// (mean, 1/std) of window column k of the window row whose first segment is s (a column further
// is norm_groups segments on)
fn win_segment(s: u32, k: u32) -> vec2f {
  let a = 2u * (s + k * u.norm_groups);
  return vec2f(nstats[a], nstats[a + 1u]);
}

// group_row_norm with each pixel's statistics interpolated between the windows' centres: down,
// between h's two window rows with weight ty (ga, be: the channel's affine)
fn group_row_norm_win(base: u32, iy: i32, tw0: u32, h: WinRows, ty: f32, ga: f32, be: f32) -> array<vec4f, 6> {
  if (iy < 0 || iy >= i32(u.H)) { return array<vec4f, 6>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0)); }
  let w4 = u.W / 4u;
  let at = base + u32(iy) * w4 + tw0;
  let hasL = tw0 > 0u;
  let hasR = tw0 + 4u < w4;
  // the neighbours on either side ride in lanes x and y of the fifth vec4
  var m = array<vec4f, 5>(x4[at], x4[at + 1u], x4[at + 2u], x4[at + 3u], vec4f(0.0));
  if (hasL) { m[4].x = x4[at - 1u].w; }
  if (hasR) { m[4].y = x4[at + 4u].x; }
  // (x - mean) / std, the affine, SiLU: norm_smooth's order
  for (var j = 0u; j < 5u; j++) {
    let n = (m[j] - mix(h.m0[j], h.m1[j], ty)) * mix(h.r0[j], h.r1[j], ty) * ga + be;
    m[j] = n / (1.0 + exp(-n));
  }
  // a partial last group's tiles past the row stay zero (their statistics lanes may be unset: select, not multiply)
  for (var j = 1u; j < 4u; j++) { m[j] = select(vec4f(0.0), m[j], tw0 + j < w4); }
  var left = 0.0;
  if (hasL) { left = m[4].x; }
  var right = 0.0;
  if (hasR) { right = m[4].y; }
  return group_cols(m[0], m[1], m[2], m[3], left, right);
}

@compute @workgroup_size(WG)
fn input_groups_norm_win(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tk = group_task(wid, nwg, lid, u.Cin);
  if (!tk.inside) { return; }
  let g = tk.c / (u.Cin / u.norm_groups);
  let ga = ngamma[tk.c];
  let be = nbeta[tk.c];
  let nw = u.win_ny * u.win_nx;
  let y0 = i32(tk.th * 4u) - 1;
  let base = (tk.n * u.Cin + tk.c) * (u.H * u.W / 4u);
  // the columns' statistics across, remade only where a row has another pair of window rows
  // than the row before (at most once or twice in six rows of windows of 6 px or more)
  var h: WinRows;
  var pair = 0xffffffffu;
  var s: array<vec4f, 36>; // d B, row by row
  for (var r = 0u; r < 6u; r++) {
    let iy = y0 + i32(r);
    let ty = window_between(u32(clamp(iy, 0, i32(u.H) - 1)), u.win_h, u.H, u.win_ny);
    if (u32(ty.x) != pair) {
      pair = u32(ty.x);
      let wc = win_columns(tk.tw0);
      h = win_rows(wc, (tk.n * nw + pair * u.win_nx) * u.norm_groups + g, (tk.n * nw + u32(ty.y) * u.win_nx) * u.norm_groups + g);
    }
    let o = bt_line(group_row_norm_win(base, iy, tk.tw0, h, ty.z, ga, be));
    for (var q = 0u; q < 6u; q++) { s[r * 6u + q] = o[q]; }
  }
  store_groups(s, tk.c, tk.g);
}

// the bias of output channel co of sample n (bias_mode as in bias4)
fn bias1(n: u32, co: u32) -> f32 {
  if (u.bias_mode == 1u) { return bias[co]; }
  if (u.bias_mode == 2u) { return bias[n * u.Cout + co]; }
  return 0.0;
}

@compute @workgroup_size(WG)
fn output_groups(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tk = group_task(wid, nwg, lid, u.Cout);
  if (!tk.inside) { return; }
  let groups = u.T / 4u;
  var s: array<vec4f, 24>; // A^T M, column by column: 4 x 6
  for (var c = 0u; c < 6u; c++) {
    var col: array<vec4f, 6>;
    for (var k = 0u; k < 6u; k++) { col[k] = m[((k * 6u + c) * u.Cout + tk.c) * groups + tk.g]; }
    let o = at_line(col);
    for (var r = 0u; r < 4u; r++) { s[r * 6u + c] = o[r]; }
  }
  let b = bias1(tk.n, tk.c);
  let hw4 = u.H * u.W / 4u;
  let w4 = u.W / 4u;
  let base = (tk.n * u.Cout + tk.c) * hw4;
  for (var r = 0u; r < 4u; r++) {
    let oy = tk.th * 4u + r;
    if (oy >= u.H) { continue; }
    var row: array<vec4f, 6>;
    for (var k = 0u; k < 6u; k++) { row[k] = s[r * 6u + k]; }
    let l = at_line(row); // l[q]: output column q of the four tiles (lane j: tile tw0 + j)
    let o = base + oy * w4 + tk.tw0;
    // tile j's four pixels are (l[0][j], l[1][j], l[2][j], l[3][j])
    var v0 = vec4f(l[0].x, l[1].x, l[2].x, l[3].x) + b;
    var v1 = vec4f(l[0].y, l[1].y, l[2].y, l[3].y) + b;
    var v2 = vec4f(l[0].z, l[1].z, l[2].z, l[3].z) + b;
    var v3 = vec4f(l[0].w, l[1].w, l[2].w, l[3].w) + b;
    // a partial last group stores only its tiles inside the row
    let n_in = min(4u, w4 - tk.tw0);
    if (u.has_res == 1u) {
      v0 += res4[o];
      if (n_in > 1u) { v1 += res4[o + 1u]; }
      if (n_in > 2u) { v2 += res4[o + 2u]; }
      if (n_in > 3u) { v3 += res4[o + 3u]; }
    }
    y4[o] = v0;
    if (n_in > 1u) { y4[o + 1u] = v1; }
    if (n_in > 2u) { y4[o + 2u] = v2; }
    if (n_in > 3u) { y4[o + 3u] = v3; }
  }
}

// ---- the weight gradient, as the gradient of the transformed product: with U = G g G^T and
//      y_t = A^T (U . V_t) A per tile, dU = sum_t V_t . (A dy_t A^T) (one GEMM over the tiles per
//      element e), then dg = G^T dU G. V is the forward's input transform, recomputed. ----

// grad_output: dy [N][Cout][H][W] -> Wt [P*P][T][Cout], Wt_t = A dy_t A^T (dy_t: the RxR block of
// tile t, zeros past the edge; u.Cin here is unused)
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> wt: array<vec4f>;

@compute @workgroup_size(WG)
fn grad_output(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tk = tile_task(wid, nwg, lid, u.Cout);
  if (!tk.inside) { return; }
  let cq = tk.cq; let t = tk.t; let c4 = tk.c4; let tw = tk.tw; let th = tk.th; let n = tk.n;
  let P = R + 2u;
  let hw = u.H * u.W;
  let cbase = (n * u.Cout + c4 * 4u) * hw;
  var d: array<vec4f, 16>; // the RxR block
  for (var i = 0u; i < R; i++) {
    let oy = th * R + i;
    for (var j = 0u; j < R; j++) {
      let ox = tw * R + j;
      var p = vec4f(0.0);
      if (oy < u.H && ox < u.W) {
        let o = cbase + oy * u.W + ox;
        p = vec4f(gy[o], gy[o + hw], gy[o + 2u * hw], gy[o + 3u * hw]);
      }
      d[i * R + j] = p;
    }
  }
  var s: array<vec4f, 24>; // A dy, column by column: P x R
  for (var j = 0u; j < R; j++) {
    var col: array<vec4f, 4>;
    for (var i = 0u; i < R; i++) { col[i] = d[i * R + j]; }
    let o = a_line(col);
    for (var r = 0u; r < P; r++) { s[r * R + j] = o[r]; }
  }
  let plane = u.T * cq;
  for (var r = 0u; r < P; r++) { // (A dy) A^T, row by row
    var row: array<vec4f, 4>;
    for (var j = 0u; j < R; j++) { row[j] = s[r * R + j]; }
    let o = a_line(row);
    for (var q = 0u; q < P; q++) { wt[(r * P + q) * plane + t] = o[q]; }
  }
}

// grad_output_rows: grad_output for R = 4 and W a multiple of 4, loading each block row of each
// channel as one aligned vec4 (16 loads instead of 64). Same arithmetic as grad_output.
@group(0) @binding(1) var<storage, read> gy4: array<vec4f>;

@compute @workgroup_size(WG)
fn grad_output_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tk = tile_task(wid, nwg, lid, u.Cout);
  if (!tk.inside) { return; }
  let cq = tk.cq; let t = tk.t; let c4 = tk.c4; let tw = tk.tw; let th = tk.th; let n = tk.n;
  let hw4 = u.H * u.W / 4u;
  let w4 = u.W / 4u;
  let cbase = (n * u.Cout + c4 * 4u) * hw4;
  var s: array<vec4f, 24>; // dy A^T, row by row: 4 x 6 (the row transform as each row is loaded)
  for (var i = 0u; i < 4u; i++) {
    let oy = th * 4u + i;
    // zeroed explicitly: lavapipe keeps a loop-body var's last values (scripts/repro/loop-var-zero-init.mjs)
    var row = array<vec4f, 4>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
    if (oy < u.H) {
      let o = cbase + oy * w4 + tw;
      let a = gy4[o]; let b = gy4[o + hw4]; let c = gy4[o + 2u * hw4]; let e = gy4[o + 3u * hw4];
      row[0] = vec4f(a.x, b.x, c.x, e.x); row[1] = vec4f(a.y, b.y, c.y, e.y);
      row[2] = vec4f(a.z, b.z, c.z, e.z); row[3] = vec4f(a.w, b.w, c.w, e.w);
    }
    let o = a_line(row);
    for (var q = 0u; q < 6u; q++) { s[i * 6u + q] = o[q]; }
  }
  let plane = u.T * cq;
  for (var q = 0u; q < 6u; q++) { // A (dy A^T), column by column
    var col: array<vec4f, 4>;
    for (var i = 0u; i < 4u; i++) { col[i] = s[i * 6u + q]; }
    let o = a_line(col);
    for (var r = 0u; r < 6u; r++) { wt[(r * 6u + q) * plane + t] = o[r]; }
  }
}

// weights_grad: dU [P*P][Cin][Cout] -> dg [Cout][Cin][3][3], dg = G^T dU G
@group(0) @binding(1) var<storage, read> du: array<f32>;
@group(0) @binding(2) var<storage, read_write> dg: array<f32>;

@compute @workgroup_size(WG)
fn weights_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  if (t >= u.Cin * u.Cout) { return; }
  let P = R + 2u;
  let co = t % u.Cout;
  let ci = t / u.Cout;
  let plane = u.Cin * u.Cout;
  var h: array<f32, 18>; // G^T dU: 3 x P
  for (var k = 0u; k < 3u; k++) {
    for (var q = 0u; q < P; q++) {
      var a = 0.0;
      for (var r = 0u; r < P; r++) { a += gm(r, k) * du[(r * P + q) * plane + t]; }
      h[k * P + q] = a;
    }
  }
  let base = (co * u.Cin + ci) * 9u;
  for (var k = 0u; k < 3u; k++) {
    for (var l = 0u; l < 3u; l++) {
      var a = 0.0;
      for (var q = 0u; q < P; q++) { a += h[k * P + q] * gm(q, l); }
      dg[base + k * 3u + l] = a;
    }
  }
}
