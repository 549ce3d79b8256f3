// Prepended to every kernel (see src/kernels/program.ts).
// Dispatches larger than maxComputeWorkgroupsPerDimension are folded into x/y by the
// runtime; kernels recover the linear workgroup index with this helper and then guard
// their own bounds.
fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}
