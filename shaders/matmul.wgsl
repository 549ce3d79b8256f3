// Batched matmul C[b] = alpha * op(A[b]) op(B[b]), op = optional transpose (override
// TRANS_A / TRANS_B). Each invocation computes a TM x (4*TNV) register tile; no workgroup
// memory, because barriers cost more than reloads on software GPUs (docs/architecture.md).
// Batch strides may be 0 to broadcast one operand over the batch.
// k_split > 1 splits the inner dimension into that many chunks (multiples of 4 long), each
// written as a partial product to C[b * k_split + chunk]; the launcher sums them
// (src/kernels/matmul.ts: for products with few output tiles and a long K, which would
// otherwise keep one workgroup busy while the others idle).

override WG: u32 = 64u;
override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;
override TM: u32 = 4u;   // rows per invocation (<= 8; main_vec4: 4, 8, 12 or 16)
override TNV: u32 = 1u;  // vec4 columns per invocation (1 or 2; main_vec4: 1, 2 or 4)

struct Params { M: u32, N: u32, K: u32, batch: u32, stride_a: u32, stride_b: u32, alpha: f32, k_split: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

// out-of-range rows/columns read a valid element and are masked, so loads never branch
fn a_at(base: u32, m: u32, k: u32) -> f32 {
  let mm = min(m, u.M - 1u);
  var v: f32;
  if (TRANS_A == 1u) { v = A[base + k * u.M + mm]; } else { v = A[base + mm * u.K + k]; }
  return select(0.0, v, m < u.M);
}
fn b_at(base: u32, k: u32, n: u32) -> f32 {
  let nn = min(n, u.N - 1u);
  var v: f32;
  if (TRANS_B == 1u) { v = B[base + nn * u.K + k]; } else { v = B[base + k * u.N + nn]; }
  return select(0.0, v, n < u.N);
}
fn b4(base: u32, k: u32, n0: u32) -> vec4f {
  return vec4f(b_at(base, k, n0), b_at(base, k, n0 + 1u), b_at(base, k, n0 + 2u), b_at(base, k, n0 + 3u));
}

// The output tile of invocation t: its batch entry, first row and first column, the k range it
// sums and the output slab it writes (its batch entry, or that entry's chunk of a split K);
// neighbouring invocations take neighbouring column blocks. inside is false past the last tile.
struct Tile { b: u32, m0: u32, n0: u32, k0: u32, k1: u32, slab: u32, inside: bool }
fn tile_of(t: u32) -> Tile {
  let tn = (u.N + 4u * TNV - 1u) / (4u * TNV);
  let tm = (u.M + TM - 1u) / TM;
  let parts = max(u.k_split, 1u);
  let slab = t / (tn * tm);
  // chunks of a multiple of 4, so that main_vec4's k0 steps stay aligned
  let chunk = (((u.K + parts - 1u) / parts + 3u) / 4u) * 4u;
  let c = slab % parts;
  let k0 = min(u.K, c * chunk);
  return Tile(slab / parts, ((t / tn) % tm) * TM, (t % tn) * 4u * TNV, k0, min(u.K, k0 + chunk), slab, t < tn * tm * u.batch * parts);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tl = tile_of(workgroup_index(wid, nwg) * WG + lid);
  if (!tl.inside) { return; }
  let b = tl.b;
  let m0 = tl.m0;
  let n0 = tl.n0;
  let abase = b * u.stride_a;
  let bbase = b * u.stride_b;
  var acc: array<vec4f, 8>;
  var acc2: array<vec4f, 8>;
  for (var k = tl.k0; k < tl.k1; k++) {
    let bv = b4(bbase, k, n0);
    var bv2 = vec4f(0.0);
    if (TNV == 2u) { bv2 = b4(bbase, k, n0 + 4u); }
    for (var i = 0u; i < TM; i++) {
      let a = a_at(abase, m0 + i, k);
      acc[i] += a * bv;
      if (TNV == 2u) { acc2[i] += a * bv2; }
    }
  }
  let cbase = tl.slab * u.M * u.N;
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= u.M) { break; }
    for (var j = 0u; j < 4u * TNV; j++) {
      var v: f32;
      if (j < 4u) { v = acc[i][j]; } else { v = acc2[i][j - 4u]; }
      if (n0 + j < u.N) { C[cbase + m * u.N + n0 + j] = u.alpha * v; }
    }
  }
}

// The same product with every load a vec4 along the operand's contiguous axis, and a register
// tile of up to 16 x 16 (TM rows, 4*TNV columns, TNV in 1, 2, 4): on lavapipe a load costs far
// more than a multiply-add (docs/architecture.md), and the scalar kernel's 8 x 8 tile makes 16
// scalar loads per 64 of them; at 16 x 16 this one makes 8 vec4 loads per 256, as the conv does
// (measured best on lavapipe: 8 x 16, the tile src/kernels/matmul.ts picks there).
// A not transposed (stored along k) is read four k at a time, a vec4 per row, and shuffled;
// A transposed and B (never transposed here: the launcher copies a transposed B to [K, N] with
// transpose_b, which ran faster than shuffling it) as vec4s of four rows or columns per k.
// Needs TM % 4 == 0, K % 4 == 0, N % 4 == 0, M % 4 == 0 when A is transposed;
// src/kernels/matmul.ts checks this and falls back to `main`.
@group(0) @binding(1) var<storage, read> A4: array<vec4f>;
@group(0) @binding(2) var<storage, read> B4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> C4: array<vec4f>;
const MAX_TM4 = 16u;

// A[m][k0..k0+3] (A not transposed); rows past M read row M-1 and are zeroed
fn a_row4(base: u32, m: u32, k0: u32) -> vec4f {
  let v = A4[(base + min(m, u.M - 1u) * u.K + k0) / 4u];
  return select(vec4f(0.0), v, m < u.M);
}
// A^T[k][m0..m0+3] (A transposed: stored [K, M]); M % 4 == 0, so a group is all in or all out
fn a_col4(base: u32, k: u32, m0: u32) -> vec4f {
  let v = A4[(base + k * u.M + min(m0, u.M - 4u)) / 4u];
  return select(vec4f(0.0), v, m0 < u.M);
}
// B[k][n0..n0+3] (B not transposed); N % 4 == 0
fn b_row4(base: u32, k: u32, n0: u32) -> vec4f {
  let v = B4[(base + k * u.N + min(n0, u.N - 4u)) / 4u];
  return select(vec4f(0.0), v, n0 < u.N);
}

// alpha * v into row m, columns n0 + 4v .. n0 + 4v + 3 of the tile's output slab, where they
// exist. N % 4 == 0: each row's four-column groups are whole and aligned, stored as vec4s (on
// lavapipe every store pays its own address and bounds arithmetic: a quarter of the stores ran
// the Winograd GEMMs 1.27-1.33x faster, quiet, per-dispatch GPU time)
fn store_c4(tl: Tile, m: u32, v: u32, value: vec4f) {
  let n = tl.n0 + 4u * v;
  if (n < u.N) { C4[(tl.slab * u.M + m) * (u.N / 4u) + n / 4u] = u.alpha * value; }
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tl = tile_of(workgroup_index(wid, nwg) * WG + lid);
  if (!tl.inside) { return; }
  let b = tl.b;
  let m0 = tl.m0;
  let n0 = tl.n0;
  let abase = b * u.stride_a;
  let bbase = b * u.stride_b;
  // acc0..acc3[i]: row m0 + i, columns n0 + 4v .. n0 + 4v + 3 for v = 0..3
  var acc0: array<vec4f, MAX_TM4>;
  var acc1: array<vec4f, MAX_TM4>;
  var acc2: array<vec4f, MAX_TM4>;
  var acc3: array<vec4f, MAX_TM4>;
  for (var k0 = tl.k0; k0 < tl.k1; k0 += 4u) {
    // A stored along k, over k0..k0+3: a[i] row m0 + i
    // (assigned in full where used, every iteration: see the loop-variable bug in docs/architecture.md)
    var a: array<vec4f, MAX_TM4>;
    if (TRANS_A == 0u) {
      for (var i = 0u; i < TM; i++) { a[i] = a_row4(abase, m0 + i, k0); }
    }
    for (var kk = 0u; kk < 4u; kk++) {
      let k = k0 + kk;
      // r[v]: row k of B over columns n0 + 4v .. n0 + 4v + 3
      var r: array<vec4f, 4>;
      for (var v = 0u; v < TNV; v++) { r[v] = b_row4(bbase, k, n0 + 4u * v); }
      for (var g = 0u; g < TM; g += 4u) {
        var col: vec4f;
        if (TRANS_A == 1u) { col = a_col4(abase, k, m0 + g); } else { col = vec4f(a[g][kk], a[g + 1u][kk], a[g + 2u][kk], a[g + 3u][kk]); }
        for (var e = 0u; e < 4u; e++) {
          let ai = col[e];
          acc0[g + e] += ai * r[0];
          if (TNV >= 2u) { acc1[g + e] += ai * r[1]; }
          if (TNV >= 4u) {
            acc2[g + e] += ai * r[2];
            acc3[g + e] += ai * r[3];
          }
        }
      }
    }
  }
  for (var i = 0u; i < TM; i++) {
    if (m0 + i >= u.M) { break; }
    store_c4(tl, m0 + i, 0u, acc0[i]);
    if (TNV >= 2u) { store_c4(tl, m0 + i, 1u, acc1[i]); }
    if (TNV >= 4u) {
      store_c4(tl, m0 + i, 2u, acc2[i]);
      store_c4(tl, m0 + i, 3u, acc3[i]);
    }
  }
}

// B stored transposed ([batch, N, K]) rewritten as [batch, K, N], so that the vec4 kernel reads
// its rows along n (src/kernels/matmul.ts: a transposed B made main_vec4 slower than the scalar
// kernel, and the copy costs K * N against the product's M * K * N). Writes run along n.
@group(0) @binding(1) var<storage, read> bt: array<f32>;
@group(0) @binding(2) var<storage, read_write> bn: array<f32>;

@compute @workgroup_size(WG)
fn transpose_b(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  if (t >= u.batch * u.K * u.N) { return; }
  let n = t % u.N;
  let k = (t / u.N) % u.K;
  let b = t / (u.N * u.K);
  bn[t] = bt[(b * u.N + n) * u.K + k];
}

// The NT product (A [M, K], B [N, K]: both stored along k) as dot products of vec4s along k:
// per four k, TM vec4s of A and 4*TNV of B give TM x 4*TNV dot products, no shuffles and no copy
// of B. For the products whose B is transposed and whose M is too small to repay transpose_b's
// copy (a 1x1 convolution's weight gradient, dy x^T over every pixel). K % 4 == 0, N % 4 == 0.
// B^T row n over k0..k0+3 (rows past N read row N-1 and are zeroed)
fn bt_row4(base: u32, n: u32, k0: u32) -> vec4f {
  let v = B4[(base + min(n, u.N - 1u) * u.K + k0) / 4u];
  return select(vec4f(0.0), v, n < u.N);
}

@compute @workgroup_size(WG)
fn main_nt4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tl = tile_of(workgroup_index(wid, nwg) * WG + lid);
  if (!tl.inside) { return; }
  let m0 = tl.m0;
  let n0 = tl.n0;
  let abase = tl.b * u.stride_a;
  let bbase = tl.b * u.stride_b;
  var acc0: array<vec4f, MAX_TM4>;
  var acc1: array<vec4f, MAX_TM4>;
  for (var k0 = tl.k0; k0 < tl.k1; k0 += 4u) {
    // assigned in full every iteration (the loop-variable bug in docs/architecture.md)
    var bq = array<vec4f, 8>(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
    for (var j = 0u; j < 4u * TNV; j++) { bq[j] = bt_row4(bbase, n0 + j, k0); }
    for (var i = 0u; i < TM; i++) {
      let a = a_row4(abase, m0 + i, k0);
      acc0[i] += vec4f(dot(a, bq[0]), dot(a, bq[1]), dot(a, bq[2]), dot(a, bq[3]));
      if (TNV >= 2u) { acc1[i] += vec4f(dot(a, bq[4]), dot(a, bq[5]), dot(a, bq[6]), dot(a, bq[7])); }
    }
  }
  for (var i = 0u; i < TM; i++) {
    if (m0 + i >= u.M) { break; }
    store_c4(tl, m0 + i, 0u, acc0[i]);
    if (TNV >= 2u) { store_c4(tl, m0 + i, 1u, acc1[i]); }
  }
}
