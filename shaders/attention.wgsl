// Fused attention with online softmax: o = softmax(scale q^T k) applied to v, without the
// L x L score matrix, so memory grows with tokens, not tokens squared.
// Layout (what SelfAttention2d has): q, k, v, o are [B, D, L], channel-major: element (b, c, i)
// at (b * D + c) * L + i. lse is [B, L]: the log of each query's softmax normaliser, kept by the
// forward for the backward. One invocation per query (forward, backward_q) or per key
// (backward_kv); workgroups of WG consecutive positions of one batch entry.
// D (the head dimension) is an override constant: the per-invocation vectors stay in registers.
override WG: u32 = 64u;
override D: u32 = 16u;
const DMAX = 64u;

struct Attn { B: u32, L: u32, scale: f32, groups: u32 }
@group(0) @binding(0) var<uniform> u: Attn;

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;

// which batch entry and position this invocation serves (positions past L return early)
fn position(wid: vec3u, nwg: vec3u, lid: u32) -> vec2u {
  let g = workgroup_index(wid, nwg);
  return vec2u(g / u.groups, (g % u.groups) * WG + lid);
}

// QB queries per invocation share every key and value they load (loads, not arithmetic,
// bound this kernel on CPU-backed adapters); QB * D <= QBD_MAX, QB <= 16.
override QB: u32 = 4u;
const QBD_MAX = 256u;
// keys per block, and room for a block of keys (or values): T * D <= DMAXT; QB * T <= 128
override T: u32 = 4u;
const DMAXT = 256u;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = workgroup_index(wid, nwg);
  let b = g / u.groups;
  let i0 = ((g % u.groups) * WG + lid) * QB;
  if (b >= u.B || i0 >= u.L) { return; }
  let L = u.L;
  let base = b * D * L;
  let nq = min(QB, L - i0);
  var qi: array<f32, QBD_MAX>;
  var acc: array<f32, QBD_MAX>;
  var m: array<f32, 16>;
  var l: array<f32, 16>;
  for (var r = 0u; r < QB; r++) {
    let i = min(i0 + r, L - 1u);
    for (var c = 0u; c < D; c++) { qi[r * D + c] = q[base + c * L + i] * u.scale; acc[r * D + c] = 0.0; }
    m[r] = -3.4e38;
    l[r] = 0.0;
  }
  // keys in blocks of T: the scores of a block first, then one rescale per query and block (no branches: lanes stay together)
  var kt: array<f32, DMAXT>;
  var sc: array<f32, 128>;
  for (var j0 = 0u; j0 < L; j0 += T) {
    let nk = min(T, L - j0);
    for (var t = 0u; t < T; t++) {
      let j = min(j0 + t, L - 1u);
      for (var c = 0u; c < D; c++) { kt[t * D + c] = k[base + c * L + j]; }
    }
    for (var r = 0u; r < QB; r++) {
      var mb = m[r];
      for (var t = 0u; t < T; t++) {
        var s = 0.0;
        for (var c = 0u; c < D; c++) { s += qi[r * D + c] * kt[t * D + c]; }
        // keys past the end (the last block) count for nothing
        s = select(-3.4e38, s, t < nk);
        sc[r * T + t] = s;
        mb = max(mb, s);
      }
      let corr = exp(m[r] - mb);
      l[r] *= corr;
      for (var c = 0u; c < D; c++) { acc[r * D + c] *= corr; }
      m[r] = mb;
    }
    for (var t = 0u; t < T; t++) {
      let j = min(j0 + t, L - 1u);
      for (var c = 0u; c < D; c++) { kt[t * D + c] = v[base + c * L + j]; }
    }
    for (var r = 0u; r < QB; r++) {
      for (var t = 0u; t < T; t++) {
        let p = exp(sc[r * T + t] - m[r]);
        l[r] += p;
        for (var c = 0u; c < D; c++) { acc[r * D + c] += p * kt[t * D + c]; }
      }
    }
  }
  for (var r = 0u; r < nq; r++) {
    let i = i0 + r;
    let inv = 1.0 / l[r];
    for (var c = 0u; c < D; c++) { o[base + c * L + i] = acc[r * D + c] * inv; }
    lse[b * L + i] = m[r] + log(l[r]);
  }
}

// Backward, with P_ij = exp(scale q_i.k_j - lse_i), dP_ij = dO_i.v_j, D_i = dO_i.o_i and
// dS_ij = P_ij (dP_ij - D_i):  dq_i = scale sum_j dS_ij k_j;  dk_j = scale sum_i dS_ij q_i;
// dv_j = sum_i P_ij dO_i. backward_q (per query) also writes D_i for backward_kv (per key).
@group(0) @binding(1) var<storage, read> qb: array<f32>;
@group(0) @binding(2) var<storage, read> kb: array<f32>;
@group(0) @binding(3) var<storage, read> vb: array<f32>;
@group(0) @binding(4) var<storage, read> ob: array<f32>;
@group(0) @binding(5) var<storage, read> dob: array<f32>;
@group(0) @binding(6) var<storage, read> lseb: array<f32>;
@group(0) @binding(7) var<storage, read_write> delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> dq: array<f32>;

@compute @workgroup_size(WG)
fn backward_q(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bi = position(wid, nwg, lid);
  let b = bi.x;
  let i = bi.y;
  if (b >= u.B || i >= u.L) { return; }
  let L = u.L;
  let base = b * D * L;
  var qi: array<f32, DMAX>;
  var doi: array<f32, DMAX>;
  var g: array<f32, DMAX>;
  var di = 0.0;
  for (var c = 0u; c < D; c++) {
    qi[c] = qb[base + c * L + i] * u.scale;
    doi[c] = dob[base + c * L + i];
    di += doi[c] * ob[base + c * L + i];
    g[c] = 0.0;
  }
  delta[b * L + i] = di;
  let li = lseb[b * L + i];
  for (var j = 0u; j < L; j++) {
    var s = 0.0;
    var dp = 0.0;
    for (var c = 0u; c < D; c++) {
      s += qi[c] * kb[base + c * L + j];
      dp += doi[c] * vb[base + c * L + j];
    }
    let ds = exp(s - li) * (dp - di);
    for (var c = 0u; c < D; c++) { g[c] += ds * kb[base + c * L + j]; }
  }
  for (var c = 0u; c < D; c++) { dq[base + c * L + i] = u.scale * g[c]; }
}

@group(0) @binding(1) var<storage, read> qk: array<f32>;
@group(0) @binding(2) var<storage, read> kk: array<f32>;
@group(0) @binding(3) var<storage, read> vk: array<f32>;
@group(0) @binding(4) var<storage, read> dok: array<f32>;
@group(0) @binding(5) var<storage, read> lsek: array<f32>;
@group(0) @binding(6) var<storage, read> deltak: array<f32>;
@group(0) @binding(7) var<storage, read_write> dk: array<f32>;
@group(0) @binding(8) var<storage, read_write> dv: array<f32>;

@compute @workgroup_size(WG)
fn backward_kv(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bj = position(wid, nwg, lid);
  let b = bj.x;
  let j = bj.y;
  if (b >= u.B || j >= u.L) { return; }
  let L = u.L;
  let base = b * D * L;
  var kj: array<f32, DMAX>;
  var vj: array<f32, DMAX>;
  var gk: array<f32, DMAX>;
  var gv: array<f32, DMAX>;
  for (var c = 0u; c < D; c++) {
    kj[c] = kk[base + c * L + j] * u.scale;
    vj[c] = vk[base + c * L + j];
    gk[c] = 0.0;
    gv[c] = 0.0;
  }
  for (var i = 0u; i < L; i++) {
    var s = 0.0;
    var dp = 0.0;
    for (var c = 0u; c < D; c++) {
      s += qk[base + c * L + i] * kj[c];
      dp += dok[base + c * L + i] * vj[c];
    }
    let p = exp(s - lsek[b * L + i]);
    let ds = p * (dp - deltak[b * L + i]);
    for (var c = 0u; c < D; c++) {
      gv[c] += p * dok[base + c * L + i];
      gk[c] += ds * qk[base + c * L + i];
    }
  }
  for (var c = 0u; c < D; c++) {
    dk[base + c * L + j] = u.scale * gk[c];
    dv[base + c * L + j] = gv[c];
  }
}

// Forward where L % 4 == 0, for CPU-backed adapters: each invocation takes four consecutive
// queries as the lanes of vec4s and walks the keys four at a time, so every register is a
// vec4 at a constant index once the loops over D unroll (the kernel above indexes private
// arrays by QB x D, which lavapipe keeps in memory lane by lane). Per key block: the 4 x 4
// scores as four vec4s (one per key, lanes = queries), one online-softmax rescale, then the
// values. q4, k4, v4, o4 are q, k, v, o by vec4s along the tokens; lse4 is lse by vec4s.
@group(0) @binding(1) var<storage, read> q4: array<vec4f>;
@group(0) @binding(2) var<storage, read> k4: array<vec4f>;
@group(0) @binding(3) var<storage, read> v4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> o4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> lse4: array<vec4f>;
const DMAX4 = 64u;
// query quads per invocation: QV * D <= DMAX4 vec4s of q and of the accumulator
override QV: u32 = 1u;

@compute @workgroup_size(WG)
fn forward_q4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bi = position(wid, nwg, lid); // (batch entry, group of QV query quads)
  let b = bi.x;
  let L4 = u.L / 4u;
  let i0 = bi.y * QV;
  if (b >= u.B || i0 >= L4) { return; }
  let base = b * D * L4;
  var qv: array<vec4f, DMAX4>;
  var acc: array<vec4f, DMAX4>;
  var m: array<vec4f, 4>;
  var l: array<vec4f, 4>;
  for (var r = 0u; r < QV; r++) {
    let i = min(i0 + r, L4 - 1u);
    for (var c = 0u; c < D; c++) { qv[r * D + c] = q4[base + c * L4 + i] * u.scale; acc[r * D + c] = vec4f(0.0); }
    m[r] = vec4f(-3.4e38);
    l[r] = vec4f(0.0);
  }
  for (var j = 0u; j < L4; j++) {
    for (var r = 0u; r < QV; r++) {
      // s_t: the scores of key 4j + t against the four queries
      var s0 = vec4f(0.0);
      var s1 = vec4f(0.0);
      var s2 = vec4f(0.0);
      var s3 = vec4f(0.0);
      for (var c = 0u; c < D; c++) {
        let kc = k4[base + c * L4 + j];
        let qc = qv[r * D + c];
        s0 += qc * kc.x;
        s1 += qc * kc.y;
        s2 += qc * kc.z;
        s3 += qc * kc.w;
      }
      let mn = max(m[r], max(max(s0, s1), max(s2, s3)));
      let corr = exp(m[r] - mn);
      let p0 = exp(s0 - mn);
      let p1 = exp(s1 - mn);
      let p2 = exp(s2 - mn);
      let p3 = exp(s3 - mn);
      l[r] = l[r] * corr + ((p0 + p1) + (p2 + p3));
      m[r] = mn;
      for (var c = 0u; c < D; c++) {
        let vc = v4[base + c * L4 + j];
        acc[r * D + c] = acc[r * D + c] * corr + p0 * vc.x + p1 * vc.y + p2 * vc.z + p3 * vc.w;
      }
    }
  }
  for (var r = 0u; r < QV; r++) {
    let i = i0 + r;
    if (i < L4) {
      let inv = 1.0 / l[r];
      for (var c = 0u; c < D; c++) { o4[base + c * L4 + i] = acc[r * D + c] * inv; }
      lse4[b * L4 + i] = m[r] + log(l[r]);
    }
  }
}
