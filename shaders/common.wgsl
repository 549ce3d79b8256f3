// Prepended to every kernel (see src/kernels/program.ts).
// Dispatches larger than maxComputeWorkgroupsPerDimension are folded into x/y by the
// runtime; kernels recover the linear workgroup index with this helper and then guard
// their own bounds.
fn workgroup_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// Two sums over a workgroup of RW invocations at once (per-segment statistics: norm.wgsl,
// window.wgsl), by a tree in workgroup memory (6 barriers); every invocation gets them.
const RW: u32 = 64u;
var<workgroup> red2: array<vec2f, RW>;
fn reduce_wg2(v: vec2f, lid: u32) -> vec2f {
  red2[lid] = v;
  workgroupBarrier();
  for (var s = RW / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red2[lid] += red2[lid + s]; }
    workgroupBarrier();
  }
  let r = red2[0];
  workgroupBarrier();
  return r;
}

// The sum of v over the workgroup (reduce_wg2's tree, one lane of it).
fn reduce_wg(v: f32, lid: u32) -> f32 {
  return reduce_wg2(vec2f(v, 0.0), lid).x;
}

// Mean and variance of n values from the workgroup's sums of d = x - k and d^2 (one-pass
// statistics, k a value of the segment: the shift keeps the squares from cancelling in float32).
fn shifted_moments(sums: vec2f, k: f32, n: f32, lid: u32) -> vec2f {
  let m = reduce_wg2(sums, lid) / n;
  return vec2f(k + m.x, max(m.y - m.x * m.x, 0.0));
}

// Windows of side w along a side of n (windows of a map: window.wgsl; windowed group norm statistics
// read by window.wgsl's norm_smooth and winograd.wgsl's input_groups_norm_win): window i starts at
// i * w, the last moved back inside so that every window is whole.
fn window_origin(i: u32, w: u32, n: u32) -> u32 { return min(i * w, n - w); }

// The two windows whose centres enclose position p along a side of n (nw windows of w) and the
// second's weight, clamped at the outermost centres.
fn window_between(p: u32, w: u32, n: u32, nw: u32) -> vec3f {
  let c = 0.5 * f32(w - 1u);
  // floor((p - c) / w) in floats: on lavapipe an integer division is a scalar loop over the lanes
  let i0 = min(u32(floor(max(f32(p) - c, 0.0) / f32(w))), nw - 1u);
  if (i0 == nw - 1u) { return vec3f(f32(i0), f32(i0), 0.0); }
  let c0 = f32(window_origin(i0, w, n)) + c;
  let c1 = f32(window_origin(i0 + 1u, w, n)) + c;
  return vec3f(f32(i0), f32(i0 + 1u), clamp((f32(p) - c0) / max(c1 - c0, 1.0), 0.0, 1.0));
}
