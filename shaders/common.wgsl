// Prepended to every kernel (see src/kernels/program.ts).
// Dispatches larger than maxComputeWorkgroupsPerDimension are folded into x/y by the
// runtime; kernels recover the linear workgroup index with this helper and then guard
// their own bounds.
fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// The sum of v over a workgroup of RW invocations (per-segment statistics: norm.wgsl,
// window.wgsl), by a tree in workgroup memory (6 barriers); every invocation gets it.
const RW: u32 = 64u;
var<workgroup> red: array<f32, RW>;
fn reduce_wg(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = RW / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
