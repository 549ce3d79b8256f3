// Batched matmul C[b] = alpha * op(A[b]) op(B[b]), op = optional transpose (override
// TRANS_A / TRANS_B). Each invocation computes a TM x (4*TNV) register tile; no workgroup
// memory, because barriers cost more than reloads on software GPUs (docs/architecture.md).
// Batch strides may be 0 to broadcast one operand over the batch.

override WG: u32 = 64u;
override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;
override TM: u32 = 4u;   // rows per invocation (<= 8)
override TNV: u32 = 1u;  // vec4 columns per invocation (1 or 2)

struct Params { M: u32, N: u32, K: u32, batch: u32, stride_a: u32, stride_b: u32, alpha: f32, _p: u32 }
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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  let tn = (u.N + 4u * TNV - 1u) / (4u * TNV);
  let tm = (u.M + TM - 1u) / TM;
  if (t >= tn * tm * u.batch) { return; }
  let nb = t % tn;
  let mb = (t / tn) % tm;
  let b = t / (tn * tm);
  let m0 = mb * TM;
  let n0 = nb * 4u * TNV;
  let abase = b * u.stride_a;
  let bbase = b * u.stride_b;
  var acc: array<vec4f, 8>;
  var acc2: array<vec4f, 8>;
  for (var k = 0u; k < u.K; k++) {
    let bv = b4(bbase, k, n0);
    var bv2 = vec4f(0.0);
    if (TNV == 2u) { bv2 = b4(bbase, k, n0 + 4u); }
    for (var i = 0u; i < TM; i++) {
      let a = a_at(abase, m0 + i, k);
      acc[i] += a * bv;
      if (TNV == 2u) { acc2[i] += a * bv2; }
    }
  }
  let cbase = b * u.M * u.N;
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
