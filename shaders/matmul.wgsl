// Batched matmul C[b] = alpha * op(A[b]) op(B[b]), op = optional transpose (override
// TRANS_A / TRANS_B). Each invocation computes a 4x4 register tile; no workgroup memory,
// because barriers are costly on software GPUs (see docs/architecture.md, kernel variants).
// Batch strides may be 0 to broadcast one operand over the batch.

override WG: u32 = 64u;
override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;

struct Params { M: u32, N: u32, K: u32, batch: u32, stride_a: u32, stride_b: u32, alpha: f32, _p: u32 }
@group(0) @binding(0) var<uniform> u: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

fn a_at(base: u32, m: u32, k: u32) -> f32 {
  if (m >= u.M) { return 0.0; }
  if (TRANS_A == 1u) { return A[base + k * u.M + m]; }
  return A[base + m * u.K + k];
}
fn b_at(base: u32, k: u32, n: u32) -> f32 {
  if (n >= u.N) { return 0.0; }
  if (TRANS_B == 1u) { return B[base + n * u.K + k]; }
  return B[base + k * u.N + n];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  let tn = (u.N + 3u) / 4u;
  let tm = (u.M + 3u) / 4u;
  if (t >= tn * tm * u.batch) { return; }
  let nb = t % tn;
  let mb = (t / tn) % tm;
  let b = t / (tn * tm);
  let m0 = mb * 4u;
  let n0 = nb * 4u;
  let abase = b * u.stride_a;
  let bbase = b * u.stride_b;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k = 0u; k < u.K; k++) {
    let bv = vec4f(b_at(bbase, k, n0), b_at(bbase, k, n0 + 1u), b_at(bbase, k, n0 + 2u), b_at(bbase, k, n0 + 3u));
    acc0 += a_at(abase, m0, k) * bv;
    acc1 += a_at(abase, m0 + 1u, k) * bv;
    acc2 += a_at(abase, m0 + 2u, k) * bv;
    acc3 += a_at(abase, m0 + 3u, k) * bv;
  }
  let cbase = b * u.M * u.N;
  let rows = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m < u.M) {
      for (var j = 0u; j < 4u; j++) {
        if (n0 + j < u.N) { C[cbase + m * u.N + n0 + j] = u.alpha * rows[i][j]; }
      }
    }
  }
}
