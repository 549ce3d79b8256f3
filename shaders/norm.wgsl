// Group norm and layer norm as one family: the input is num_seg contiguous segments of
// length L, each normalised on its own. The affine parameter of element j of segment s is
// p = (s % G) * Cg + j / S  (group norm on NCHW: G groups, Cg channels per group, S = H*W;
// layer norm on [rows, D]: G = 1, Cg = D, S = 1).
// stats/backward_stats: one workgroup per segment with a tree reduction in workgroup memory
// (6 barriers per reduction); apply/backward_apply/param_grad: one invocation per element.

override WG: u32 = 64u;
// activation fused into apply: 0 none, 1 SiLU (GroupNorm-SiLU, the pair every ResBlock has)
override ACT: u32 = 0u;

struct Norm {
  num_seg: u32, L: u32, G: u32, Cg: u32,
  S: u32, has_affine: u32, N: u32, eps: f32,
}
@group(0) @binding(0) var<uniform> u: Norm;

fn param_index(seg: u32, j: u32) -> u32 { return (seg % u.G) * u.Cg + j / u.S; }

// ---- stats: mean and 1/sqrt(var + eps) per segment ----
// ONE_PASS = 1 reads the segment once: the sums of x - k and (x - k)^2 with k the segment's first
// value, var = E[(x-k)^2] - E[x-k]^2. The shift keeps the data's offset from cancelling in float32
// (a segment with mean 1,000 and unit spread loses its variance to rounding without it); on
// lavapipe the second read of a two-pass (0: the mean, then the centred squares) cost as much as
// the first.
override ONE_PASS: u32 = 1u;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats_out: array<f32>;

@compute @workgroup_size(RW)
fn stats(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let seg = workgroup_index(wid, nwg);
  if (seg >= u.num_seg) { return; }
  let base = seg * u.L;
  var mean: f32;
  var variance: f32;
  if (ONE_PASS == 1u) {
    let k = xs[base];
    var acc = vec2f(0.0);
    for (var i = lid; i < u.L; i += RW) { let d = xs[base + i] - k; acc += vec2f(d, d * d); }
    let mv = shifted_moments(acc, k, f32(u.L), lid);
    mean = mv.x;
    variance = mv.y;
  } else {
    var s = 0.0;
    for (var i = lid; i < u.L; i += RW) { s += xs[base + i]; }
    mean = reduce_wg(s, lid) / f32(u.L);
    var v = 0.0;
    for (var i = lid; i < u.L; i += RW) { let d = xs[base + i] - mean; v += d * d; }
    variance = reduce_wg(v, lid) / f32(u.L);
  }
  if (lid == 0u) {
    stats_out[2u * seg] = mean;
    stats_out[2u * seg + 1u] = inverseSqrt(variance + u.eps);
  }
}

// ---- apply ----
@group(0) @binding(1) var<storage, read> xa: array<f32>;
@group(0) @binding(2) var<storage, read> stats_a: array<f32>;
@group(0) @binding(3) var<storage, read> gamma_a: array<f32>;
@group(0) @binding(4) var<storage, read> beta_a: array<f32>;
@group(0) @binding(5) var<storage, read_write> ya: array<f32>;

@compute @workgroup_size(WG)
fn apply(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  if (i >= u.num_seg * u.L) { return; }
  let seg = i / u.L;
  let xhat = (xa[i] - stats_a[2u * seg]) * stats_a[2u * seg + 1u];
  var n = xhat;
  if (u.has_affine == 1u) {
    let p = param_index(seg, i % u.L);
    n = xhat * gamma_a[p] + beta_a[p];
  }
  if (ACT == 1u) { n = n / (1.0 + exp(-n)); }
  ya[i] = n;
}

// ---- the fused activation's backward: dn = dy * silu'(n), n recomputed from x and the stats ----
@group(0) @binding(1) var<storage, read> xg: array<f32>;
@group(0) @binding(2) var<storage, read> dyg: array<f32>;
@group(0) @binding(3) var<storage, read> stats_g: array<f32>;
@group(0) @binding(4) var<storage, read> gamma_g: array<f32>;
@group(0) @binding(5) var<storage, read> beta_g: array<f32>;
@group(0) @binding(6) var<storage, read_write> dn: array<f32>;

@compute @workgroup_size(WG)
fn act_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  if (i >= u.num_seg * u.L) { return; }
  let seg = i / u.L;
  var n = (xg[i] - stats_g[2u * seg]) * stats_g[2u * seg + 1u];
  if (u.has_affine == 1u) {
    let p = param_index(seg, i % u.L);
    n = n * gamma_g[p] + beta_g[p];
  }
  let sg = 1.0 / (1.0 + exp(-n));
  dn[i] = dyg[i] * sg * (1.0 + n * (1.0 - sg));
}

// ---- backward: per-segment sums of dy*gamma and dy*gamma*xhat ----
@group(0) @binding(1) var<storage, read> xb: array<f32>;
@group(0) @binding(2) var<storage, read> dyb: array<f32>;
@group(0) @binding(3) var<storage, read> stats_b: array<f32>;
@group(0) @binding(4) var<storage, read> gamma_b: array<f32>;
@group(0) @binding(5) var<storage, read_write> bstats: array<f32>;

fn gamma_at(seg: u32, j: u32) -> f32 {
  if (u.has_affine == 1u) { return gamma_b[param_index(seg, j)]; }
  return 1.0;
}

@compute @workgroup_size(RW)
fn backward_stats(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let seg = workgroup_index(wid, nwg);
  if (seg >= u.num_seg) { return; }
  let base = seg * u.L;
  let mean = stats_b[2u * seg];
  let rstd = stats_b[2u * seg + 1u];
  var a = 0.0;
  var b = 0.0;
  for (var j = lid; j < u.L; j += RW) {
    let g = dyb[base + j] * gamma_at(seg, j);
    a += g;
    b += g * (xb[base + j] - mean) * rstd;
  }
  let sab = reduce_wg2(vec2f(a, b), lid);
  if (lid == 0u) {
    bstats[2u * seg] = sab.x / f32(u.L);
    bstats[2u * seg + 1u] = sab.y / f32(u.L);
  }
}

// ---- backward: dx = rstd * (dy*gamma - mean(dy*gamma) - xhat * mean(dy*gamma*xhat)) ----
@group(0) @binding(1) var<storage, read> xc: array<f32>;
@group(0) @binding(2) var<storage, read> dyc: array<f32>;
@group(0) @binding(3) var<storage, read> stats_c: array<f32>;
@group(0) @binding(4) var<storage, read> bstats_c: array<f32>;
@group(0) @binding(5) var<storage, read> gamma_c: array<f32>;
@group(0) @binding(6) var<storage, read_write> dxc: array<f32>;

@compute @workgroup_size(WG)
fn backward_apply(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  if (i >= u.num_seg * u.L) { return; }
  let seg = i / u.L;
  let rstd = stats_c[2u * seg + 1u];
  let xhat = (xc[i] - stats_c[2u * seg]) * rstd;
  var g = dyc[i];
  if (u.has_affine == 1u) { g *= gamma_c[param_index(seg, i % u.L)]; }
  dxc[i] = rstd * (g - bstats_c[2u * seg] - xhat * bstats_c[2u * seg + 1u]);
}

// ---- backward: gradients of gamma and beta ----
@group(0) @binding(1) var<storage, read> xd: array<f32>;
@group(0) @binding(2) var<storage, read> dyd: array<f32>;
@group(0) @binding(3) var<storage, read> stats_d: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;

@compute @workgroup_size(WG)
fn param_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let p = workgroup_index(wid, nwg) * WG + lid;
  if (p >= u.G * u.Cg) { return; }
  let g = p / u.Cg;
  let j0 = (p % u.Cg) * u.S;
  var sg = 0.0;
  var sb = 0.0;
  for (var n = 0u; n < u.N; n++) {
    let seg = n * u.G + g;
    let mean = stats_d[2u * seg];
    let rstd = stats_d[2u * seg + 1u];
    let base = seg * u.L + j0;
    for (var j = 0u; j < u.S; j++) {
      let dy = dyd[base + j];
      sg += dy * (xd[base + j] - mean) * rstd;
      sb += dy;
    }
  }
  dgamma[p] = sg;
  dbeta[p] = sb;
}

// ---- apply, act_grad and backward_apply four elements at a time (S % 4 == 0, so the four share
//      a segment and a channel): one set of the index divisions, which lavapipe runs lane by lane
//      (no SIMD integer division), per four elements instead of per element, and vec4 loads ----
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> ya4: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> out4: array<vec4f>;

// VQ vec4s per invocation (S % (4 VQ) == 0: all in one channel), one set of divisions for them
override VQ: u32 = 1u;

@compute @workgroup_size(WG)
fn apply4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q0 = (workgroup_index(wid, nwg) * WG + lid) * VQ;
  let i = q0 * 4u;
  if (i >= u.num_seg * u.L) { return; }
  let seg = i / u.L;
  // (x - mean) first: folding the mean into a shift would cancel where |mean| >> std
  let mean = stats_a[2u * seg];
  var scale = stats_a[2u * seg + 1u];
  var shift = 0.0;
  if (u.has_affine == 1u) {
    let p = param_index(seg, i % u.L);
    scale *= gamma_a[p];
    shift = beta_a[p];
  }
  for (var j = 0u; j < VQ; j++) {
    var n = (x4[q0 + j] - mean) * scale + shift;
    if (ACT == 1u) { n = n / (1.0 + exp(-n)); }
    ya4[q0 + j] = n;
  }
}

@compute @workgroup_size(WG)
fn act_grad4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q0 = (workgroup_index(wid, nwg) * WG + lid) * VQ;
  let i = q0 * 4u;
  if (i >= u.num_seg * u.L) { return; }
  let seg = i / u.L;
  let mean = stats_g[2u * seg];
  let rstd = stats_g[2u * seg + 1u];
  var gm = 1.0;
  var bt = 0.0;
  if (u.has_affine == 1u) {
    let p = param_index(seg, i % u.L);
    gm = gamma_g[p];
    bt = beta_g[p];
  }
  for (var j = 0u; j < VQ; j++) {
    let n = ((x4[q0 + j] - mean) * rstd) * gm + bt;
    let sg = 1.0 / (1.0 + exp(-n));
    out4[q0 + j] = dy4[q0 + j] * sg * (1.0 + n * (1.0 - sg));
  }
}

@compute @workgroup_size(WG)
fn backward_apply4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q0 = (workgroup_index(wid, nwg) * WG + lid) * VQ;
  let i = q0 * 4u;
  if (i >= u.num_seg * u.L) { return; }
  let seg = i / u.L;
  let mean = stats_c[2u * seg];
  let rstd = stats_c[2u * seg + 1u];
  let b0 = bstats_c[2u * seg];
  let b1 = bstats_c[2u * seg + 1u];
  var gm = 1.0;
  if (u.has_affine == 1u) { gm = gamma_c[param_index(seg, i % u.L)]; }
  for (var j = 0u; j < VQ; j++) {
    let xhat = (x4[q0 + j] - mean) * rstd;
    out4[q0 + j] = rstd * (dy4[q0 + j] * gm - b0 - xhat * b1);
  }
}

// ---- the backward by channel planes (S % 4 == 0: group norm over maps): one workgroup per
//      (sample, channel) plane sums dy and dy*xhat over its S pixels as vec4s; backward_finish
//      turns those N*C pairs into the per-segment means that backward_apply takes (each segment's
//      channels weighted by gamma) and the parameter gradients (sums over the samples), which
//      backward_stats and param_grad would each read the whole input for, param_grad with one
//      invocation per channel looping over every sample's map ----
@group(0) @binding(4) var<storage, read_write> psums: array<f32>;

@compute @workgroup_size(RW)
fn backward_sums4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let plane = workgroup_index(wid, nwg);
  let C = u.G * u.Cg;
  if (plane >= u.N * C) { return; }
  let seg = (plane / C) * u.G + (plane % C) / u.Cg;
  let mean = stats_b[2u * seg];
  let rstd = stats_b[2u * seg + 1u];
  let S4 = u.S / 4u;
  let base = plane * S4; // the plane's pixels are contiguous in NCHW
  var a = vec4f(0.0);
  var b = vec4f(0.0);
  for (var j = lid; j < S4; j += RW) {
    let dy = dy4[base + j];
    a += dy;
    b += dy * (x4[base + j] - mean) * rstd;
  }
  let sab = reduce_wg2(vec2f(a.x + a.y + a.z + a.w, b.x + b.y + b.z + b.w), lid);
  if (lid == 0u) {
    psums[2u * plane] = sab.x;
    psums[2u * plane + 1u] = sab.y;
  }
}

@group(0) @binding(1) var<storage, read> psums_in: array<f32>;
@group(0) @binding(2) var<storage, read> gamma_f: array<f32>;
@group(0) @binding(3) var<storage, read_write> bstats_f: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgamma_f: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta_f: array<f32>;

// invocation i: segment i's means (i < num_seg) and channel i's parameter gradients (i < C, with affine)
@compute @workgroup_size(WG)
fn backward_finish(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = workgroup_index(wid, nwg) * WG + lid;
  let C = u.G * u.Cg;
  if (i < u.num_seg) {
    let n = i / u.G;
    let g = i % u.G;
    var a = 0.0;
    var b = 0.0;
    for (var j = 0u; j < u.Cg; j++) {
      let c = g * u.Cg + j;
      var gm = 1.0;
      if (u.has_affine == 1u) { gm = gamma_f[c]; }
      a += gm * psums_in[2u * (n * C + c)];
      b += gm * psums_in[2u * (n * C + c) + 1u];
    }
    bstats_f[2u * i] = a / f32(u.L);
    bstats_f[2u * i + 1u] = b / f32(u.L);
  }
  if (u.has_affine == 1u && i < C) {
    var sg = 0.0;
    var sb = 0.0;
    for (var n = 0u; n < u.N; n++) {
      sb += psums_in[2u * (n * C + i)];
      sg += psums_in[2u * (n * C + i) + 1u];
    }
    dgamma_f[i] = sg;
    dbeta_f[i] = sb;
  }
}
