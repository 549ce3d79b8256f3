// Softmax over the last axis (rows of length L), numerically stable (max subtracted),
// and its backward dx = y * (dy - sum(dy * y)). One invocation per row.
override WG: u32 = 64u;
struct Params { rows: u32, L: u32, scale: f32, _p: u32 }
@group(0) @binding(0) var<uniform> u: Params;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = workgroup_index(wid, nwg) * WG + lid;
  if (r >= u.rows) { return; }
  let base = r * u.L;
  var m = -3.4e38;
  for (var j = 0u; j < u.L; j++) { m = max(m, x[base + j] * u.scale); }
  var s = 0.0;
  for (var j = 0u; j < u.L; j++) { let e = exp(x[base + j] * u.scale - m); y[base + j] = e; s += e; }
  let inv = 1.0 / s;
  for (var j = 0u; j < u.L; j++) { y[base + j] *= inv; }
}

@group(0) @binding(1) var<storage, read> yb: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = workgroup_index(wid, nwg) * WG + lid;
  if (r >= u.rows) { return; }
  let base = r * u.L;
  var d = 0.0;
  for (var j = 0u; j < u.L; j++) { d += dy[base + j] * yb[base + j]; }
  for (var j = 0u; j < u.L; j++) { dx[base + j] = u.scale * yb[base + j] * (dy[base + j] - d); }
}

// The same by vec4s where L % 4 == 0 (u.L counts vec4s here): a quarter of the loads and stores,
// each of which lavapipe bounds-checks lane by lane.
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4f>;

@compute @workgroup_size(WG)
fn forward4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = workgroup_index(wid, nwg) * WG + lid;
  if (r >= u.rows) { return; }
  let base = r * u.L;
  var m4 = vec4f(-3.4e38);
  for (var j = 0u; j < u.L; j++) { m4 = max(m4, x4[base + j] * u.scale); }
  let m = max(max(m4.x, m4.y), max(m4.z, m4.w));
  var s4 = vec4f(0.0);
  for (var j = 0u; j < u.L; j++) { let e = exp(x4[base + j] * u.scale - m); y4[base + j] = e; s4 += e; }
  let inv = 1.0 / (s4.x + s4.y + s4.z + s4.w);
  for (var j = 0u; j < u.L; j++) { y4[base + j] *= inv; }
}

@group(0) @binding(1) var<storage, read> yb4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dx4: array<vec4f>;

@compute @workgroup_size(WG)
fn backward4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = workgroup_index(wid, nwg) * WG + lid;
  if (r >= u.rows) { return; }
  let base = r * u.L;
  var d4 = vec4f(0.0);
  for (var j = 0u; j < u.L; j++) { d4 += dy4[base + j] * yb4[base + j]; }
  let d = d4.x + d4.y + d4.z + d4.w;
  for (var j = 0u; j < u.L; j++) { dx4[base + j] = u.scale * yb4[base + j] * (dy4[base + j] - d); }
}

// Softmax over the second-to-last axis: each column of [B, R, C] (u.L = R; u._p = C / 4 column
// quads per batch entry; u.rows = B * C / 4). One invocation per four adjacent columns, so every
// load and store is one contiguous vec4 and no lane waits on another's row: what attention's
// transposed scores k^T q need, whose columns are the queries.
@compute @workgroup_size(WG)
fn columns4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = workgroup_index(wid, nwg) * WG + lid;
  if (g >= u.rows) { return; }
  let C4 = u._p;
  let base = (g / C4) * u.L * C4 + g % C4;
  var m4 = vec4f(-3.4e38);
  for (var r = 0u; r < u.L; r++) { m4 = max(m4, x4[base + r * C4] * u.scale); }
  var s4 = vec4f(0.0);
  for (var r = 0u; r < u.L; r++) { let e = exp(x4[base + r * C4] * u.scale - m4); y4[base + r * C4] = e; s4 += e; }
  let inv = 1.0 / s4;
  for (var r = 0u; r < u.L; r++) { y4[base + r * C4] *= inv; }
}

// columns4's backward: dx = scale * y * (dy - sum over the column of dy * y), by column quads.
@compute @workgroup_size(WG)
fn columns_backward4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = workgroup_index(wid, nwg) * WG + lid;
  if (g >= u.rows) { return; }
  let C4 = u._p;
  let base = (g / C4) * u.L * C4 + g % C4;
  var d4 = vec4f(0.0);
  for (var r = 0u; r < u.L; r++) { d4 += dy4[base + r * C4] * yb4[base + r * C4]; }
  for (var r = 0u; r < u.L; r++) { dx4[base + r * C4] = u.scale * yb4[base + r * C4] * (dy4[base + r * C4] - d4); }
}
